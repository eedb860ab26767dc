//! `runner worker --db URL [--jobs N] [--until-idle] [--lease-ttl 30s]`: claims due
//! connections from the database the fleet shares, syncs them through the engine into
//! that database, and keeps its leases alive while it works.
//!
//! - The main loop claims as many connections as it has free jobs (one statement, see
//!   [`crate::engine::fleet`]), syncs each on a thread of its own with a stop switch of
//!   its own, and waits for one to end, a stop request, or the next due time.
//! - A heartbeat thread, on its own database session, renews the leases every third of
//!   the TTL; a lease the worker no longer holds stops that sync at once. If the
//!   database cannot be reached for a whole TTL, every sync is stopped: the leases can
//!   no longer be proven, and their commits would be refused anyway.
//! - Every commit of a sync is fenced by its lease's epoch (`Fence`), so a worker that
//!   was paused or cut off past its lease never writes after another took over.
//! - A sync that ends releases its lease; the connection is due again `every` later. On
//!   SIGTERM or Ctrl-C the connectors are stopped (what they checkpointed is committed),
//!   the leases are released at once with the connections still due, and the worker
//!   exits 143 or 130.
//! - `${env:NAME}` values of a configuration are resolved from the worker's environment
//!   at sync time, and masked like secrets wherever they would show.

use std::collections::HashMap;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::{print, Settings, Status};
use crate::engine::destination::postgres::{Fence, Target};
use crate::engine::destination::OutputSpec;
use crate::engine::fleet::{self, Claim, Fleet};
use crate::engine::result::ConnectionResult;
use crate::engine::sync::ConnectionPlan;
use crate::engine::{Engine, Stop, StopSignal, StreamChoice};
use crate::{report, resolve};

/// Longest wait between two claims of an idle worker.
const IDLE_POLL: Duration = Duration::from_secs(5);

/// What `runner worker` was asked to do.
#[derive(Debug, Clone)]
pub struct WorkerRequest {
    /// The database the fleet shares.
    pub db: String,
    /// Connections synced at once.
    pub jobs: usize,
    /// Exit 0 once nothing is due and nothing runs.
    pub until_idle: bool,
    /// How long a lease lasts without a heartbeat.
    pub lease_ttl: Duration,
}

/// The syncs running now, by connection: their epoch and their stop switch.
type Running = Arc<Mutex<HashMap<String, (i64, Stop)>>>;

/// What the main loop waits for.
enum Wake {
    /// A sync ended.
    Finished { name: String, epoch: i64, result: Result<ConnectionResult, String> },
    /// A stop request arrived.
    Stop,
}

/// `runner worker`.
///
/// # Errors
/// A bad `--db`, or the database cannot be reached when the worker starts.
pub fn worker(settings: &Settings, request: &WorkerRequest) -> anyhow::Result<Status> {
    let target = super::connections::database(&request.db)?;
    let worker = format!("{}/{}", crate::engine::destination::host_name(), std::process::id());
    let mut fleet = Fleet::open(&target)?;
    let running: Running = Arc::default();
    let (wake_tx, wake_rx) = mpsc::channel();
    let forward = Arc::clone(&running);
    let wake_on_stop = wake_tx.clone();
    let _subscription = settings.engine.stop.subscribe(move || {
        // Every request reaches every sync: the first stops it gently, a second kills it.
        for (_, stop) in lock(&forward).values() {
            stop.request(StopSignal::Terminate);
        }
        let _ = wake_on_stop.send(Wake::Stop);
    });
    let _heartbeat = Heartbeat::start(&target, &worker, request.lease_ttl, Arc::clone(&running), settings)?;
    settings.console.note(&format!("worker {worker}: claiming connections from {target}"));
    let mut failed = 0usize;
    loop {
        if settings.engine.stop.received().is_none() {
            let free = request.jobs.saturating_sub(lock(&running).len());
            let claims = if free > 0 { fleet.claim(&worker, free, request.lease_ttl)? } else { Vec::new() };
            for claim in claims {
                start_sync(settings, &target, &worker, request.lease_ttl, claim, &running, wake_tx.clone());
            }
        }
        if lock(&running).is_empty() {
            if let Some(signal) = settings.engine.stop.received() {
                return Ok(Status::Stopped(signal));
            }
            if request.until_idle {
                settings.console.note(&format!("worker {worker}: nothing is due; exiting"));
                return Ok(if failed == 0 { Status::Success } else { Status::Failed });
            }
        }
        let wait = fleet.next_due_in()?.unwrap_or(IDLE_POLL).clamp(Duration::from_millis(100), IDLE_POLL);
        match wake_rx.recv_timeout(wait) {
            Ok(Wake::Finished { name, epoch, result }) => {
                lock(&running).remove(&name);
                failed += usize::from(!finished(settings, &mut fleet, &worker, &name, epoch, result)?);
            }
            Ok(Wake::Stop) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => unreachable!("the loop holds a sender"),
        }
    }
}

/// Releases a finished sync's lease and says how it went; `false` when it failed.
fn finished(
    settings: &Settings,
    fleet: &mut Fleet,
    worker: &str,
    name: &str,
    epoch: i64,
    result: Result<ConnectionResult, String>,
) -> anyhow::Result<bool> {
    if settings.engine.stop.received().is_some() {
        // Stopped before its end: another worker resumes it from its last checkpoint now.
        fleet.release(worker, name, epoch)?;
    } else {
        fleet.finish(worker, name, epoch)?;
    }
    let succeeded = match &result {
        Ok(result) => {
            for error in result.errors() {
                settings.console.warn(&format!("connection `{name}`: {error}"));
            }
            result.outcome() == crate::engine::destination::RunOutcome::Succeeded
        }
        Err(reason) => {
            settings.console.warn(&format!("connection `{name}` was not synced: {reason}"));
            false
        }
    };
    if settings.json {
        let line = match &result {
            Ok(result) => report::to_json(std::slice::from_ref(result), result.duration),
            Err(reason) => serde_json::json!({"name": name, "outcome": "failed", "error": reason}),
        };
        print(&format!("{line}\n"))?;
    } else if let Ok(result) = &result {
        let records = result.records();
        let took = crate::human::duration(result.duration);
        settings
            .console
            .note(&format!("connection `{name}`: {}, {records} records in {took}", result.outcome().as_str()));
    }
    Ok(succeeded)
}

/// Syncs one claimed connection on a thread of its own, fenced by its lease.
fn start_sync(
    settings: &Settings,
    target: &Target,
    worker: &str,
    ttl: Duration,
    claim: Claim,
    running: &Running,
    done: Sender<Wake>,
) {
    let stop = Stop::new();
    let name = claim.connection.name.clone();
    lock(running).insert(name.clone(), (claim.epoch, stop.clone()));
    settings.console.note(&format!("connection `{name}`: claimed (epoch {})", claim.epoch));
    let engine = Engine { limits: settings.engine.limits.clone(), stop, events: Arc::clone(&settings.engine.events) };
    let fence = Fence { connection: name.clone(), epoch: claim.epoch, worker: worker.to_owned(), ttl };
    let output = OutputSpec::Postgres(Box::new(target.clone()));
    let epoch = claim.epoch;
    let spawned = std::thread::Builder::new().name(format!("sync {name}")).spawn(move || {
        let result = plan(claim, output, fence).map(|plan| engine.sync_connection(&plan, 1));
        let _ = done.send(Wake::Finished { name, epoch, result });
    });
    if let Err(error) = spawned {
        settings.console.warn(&format!("cannot start a thread for a sync: {error}"));
    }
}

/// The engine's plan for a claimed connection: its references resolved from this
/// worker's environment, its connector found here.
fn plan(claim: Claim, output: OutputSpec, fence: Fence) -> Result<ConnectionPlan, String> {
    let connection = claim.connection;
    let var = |name: &str| std::env::var(name).ok();
    let (config, secrets) = fleet::resolve_references(&connection.config, &var).map_err(|e| e.to_string())?;
    let program = resolve::connector(&connection.connector).map_err(|e| e.to_string())?;
    let cutoff = resolve::cutoff(&connection.cutoff).map_err(|e| e.to_string())?;
    Ok(ConnectionPlan {
        name: Some(connection.name),
        connector: program,
        config,
        streams: connection.streams.map_or(StreamChoice::All, StreamChoice::Ids),
        cutoff,
        output,
        state_file: None,
        skip_invalid: connection.skip_invalid,
        fence: Some(fence),
        secrets,
        wait: false,
    })
}

/// Renews the worker's leases from a session of its own, and stops the syncs whose lease
/// it no longer holds. Stops when dropped.
struct Heartbeat {
    stop: Option<Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    fn start(
        target: &Target,
        worker: &str,
        ttl: Duration,
        running: Running,
        settings: &Settings,
    ) -> anyhow::Result<Heartbeat> {
        let mut fleet = Fleet::open(target)?;
        let (stop, stopped) = mpsc::channel::<()>();
        let (worker, console) = (worker.to_owned(), Arc::clone(&settings.console));
        let thread = std::thread::Builder::new().name("heartbeat".into()).spawn(move || {
            let mut last_renewed = Instant::now();
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(ttl / 3) {
                let held: Vec<(String, i64)> =
                    lock(&running).iter().map(|(name, (epoch, _))| (name.clone(), *epoch)).collect();
                let lost = match fleet.heartbeat(&worker, &held, ttl) {
                    Ok(lost) => {
                        last_renewed = Instant::now();
                        lost
                    }
                    Err(error) if last_renewed.elapsed() >= ttl => {
                        console.warn(&format!("leases not renewed for {}: {error}", crate::human::duration(ttl)));
                        held
                    }
                    Err(error) => {
                        console.warn(&format!("cannot renew leases (retrying): {error}"));
                        Vec::new()
                    }
                };
                for (name, _) in lost {
                    if let Some((_, stop)) = lock(&running).get(&name) {
                        console.warn(&format!(
                            "connection `{name}`: the lease passed to another worker; stopping its sync"
                        ));
                        stop.request(StopSignal::LeaseLost);
                    }
                }
            }
        })?;
        Ok(Heartbeat { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.stop = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_becomes_a_fenced_plan_with_its_references_resolved() {
        std::env::set_var("RUNNER_WORKER_TEST_TOKEN", "tok-from-env-1");
        let claim = Claim {
            connection: fleet::Registered {
                name: "pd".into(),
                connector: "/bin/sh".into(),
                config: serde_json::json!({"apiToken": "${env:RUNNER_WORKER_TEST_TOKEN}"}),
                streams: Some(vec!["s1".into()]),
                cutoff: "2026-01-01".into(),
                every: Duration::from_secs(60),
                skip_invalid: true,
            },
            epoch: 7,
        };
        let output = OutputSpec::parse("postgres://u@h/db").unwrap();
        let fence = Fence { connection: "pd".into(), epoch: 7, worker: "w".into(), ttl: Duration::from_secs(30) };
        let plan = plan(claim.clone(), output.clone(), fence.clone()).unwrap();
        assert_eq!(plan.config, serde_json::json!({"apiToken": "tok-from-env-1"}));
        assert_eq!(plan.secrets, ["tok-from-env-1"]);
        assert_eq!(
            (plan.streams, plan.fence, plan.skip_invalid),
            (StreamChoice::Ids(vec!["s1".into()]), Some(fence.clone()), true)
        );
        let mut missing = claim;
        missing.connection.config = serde_json::json!({"apiToken": "${env:RUNNER_WORKER_TEST_UNSET}"});
        let error = super::plan(missing, output, fence).unwrap_err();
        assert!(error.contains("RUNNER_WORKER_TEST_UNSET is not set"), "{error}");
    }
}
