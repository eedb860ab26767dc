//! `runner worker --db URL [--jobs N] [--until-idle] [--lease-ttl 30s]`: claims due
//! connections from the database the fleet shares, syncs them through the engine into
//! that database, and keeps its leases alive while it works.
//!
//! - The main loop claims as many connections as it has free jobs (one statement, see
//!   [`store::fleet`]), syncs each on a thread of its own with a stop switch of
//!   its own, and waits for one to end, a stop request, or the next due time.
//! - A heartbeat thread, on its own database session, renews the leases every third of
//!   the TTL; a lease the worker no longer holds stops that sync at once. If the
//!   database cannot be reached for a whole TTL, every sync is stopped: the leases can
//!   no longer be proven, and their commits would be refused anyway. Once per TTL it
//!   also marks `failed` the runs whose runner's session is gone (a killed worker's).
//! - A lost database session is opened again, at once, by the call that found it lost
//!   (which then runs again): the worker outlives a database restart or failover, and
//!   exits 1 only when the database failed for two minutes.
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

use super::sync::{notifier, send_alerts, Alerting};
use super::{print, Settings, Status};
use crate::alert::Notifier;
use crate::cli::WorkerArgs;
use crate::console::Console;
use crate::failure::CommandResult;
use crate::{resolve, summary};
use engine::result::ConnectionResult;
use engine::sync::ConnectionPlan;
use engine::{Engine, Stop, StopSignal, StreamChoice};
use store::fleet::{self, Claim, Fleet, Listener};
use store::postgres::{Fence, Target};
use store::{DestinationError, OutputSpec, RunOutcome};

/// Longest wait between two claims of an idle worker whose listening session is down:
/// without notifications, a lease released by a stopping worker is taken over within it
/// (the claim is one cheap statement). While it listens, `--poll` is the longest wait.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// The shortest wait of the loop, so a connection due "now" on another clock is not
/// claimed in a busy loop.
const SHORTEST_WAIT: Duration = Duration::from_millis(100);
/// How long the worker waits before trying the database again after it failed.
const DATABASE_RETRY: Duration = Duration::from_secs(1);
/// How long the database may stay unreachable before the worker stops its syncs and
/// exits 1 (so that an orchestrator restarts it, and its operators see it).
const DATABASE_PATIENCE: Duration = Duration::from_secs(120);

/// The syncs running now, by connection: their epoch and their stop switch.
type Running = Arc<Mutex<HashMap<String, (i64, Stop)>>>;

/// What the main loop waits for.
enum Wake {
    /// A sync ended.
    Finished { name: String, epoch: i64, result: Result<ConnectionResult, String> },
    /// A stop request arrived.
    Stop,
    /// The database said a connection may be due (applied, finished, released).
    Notified,
}

/// `runner worker`.
///
/// # Errors
/// A bad `--db` or `--notify-url`, the database cannot be reached when the worker starts,
/// or it stayed unreachable for [`DATABASE_PATIENCE`].
pub fn worker(settings: &Settings, request: &WorkerArgs) -> CommandResult<Status> {
    let target = super::connections::database(&request.db)?;
    let alerts = notifier(Alerting::from_args(&request.alerts).as_ref())?.map(Arc::new);
    let worker = format!("{}/{}", store::host_name(), std::process::id());
    let mut fleet = Reconnecting::open(&target, Arc::clone(&settings.console))?;
    let running: Running = Arc::default();
    let (wake_tx, wake_rx) = mpsc::channel();
    let _subscription = forward_stops(settings, &running, wake_tx.clone());
    let _heartbeat = Heartbeat::start(&target, &worker, request.lease_ttl, Arc::clone(&running), settings)?;
    let notified = wake_tx.clone();
    let listener = Listener::start(&target, move || {
        let _ = notified.send(Wake::Notified);
    })?;
    settings.console.note(&format!("worker {worker}: claiming connections from {target}"));
    let mut failed = 0usize;
    loop {
        let stopping = settings.engine.stop.received().is_some() || fleet.gave_up().is_some();
        let mut idle = false;
        if !stopping {
            let free = usize::from(request.jobs).saturating_sub(lock(&running).len());
            let claims = if free > 0 {
                fleet.call("claim connections", |f| f.claim(&worker, free, request.lease_ttl))
            } else {
                Some(Vec::new())
            };
            idle = claims.as_ref().is_some_and(Vec::is_empty);
            for claim in claims.unwrap_or_default() {
                let sync = SyncJob {
                    settings,
                    target: &target,
                    worker: &worker,
                    ttl: request.lease_ttl,
                    alerts: alerts.clone(),
                };
                sync.start(claim, &running, wake_tx.clone());
            }
        }
        if lock(&running).is_empty() {
            if let Some(signal) = settings.engine.stop.received() {
                return Ok(Status::Stopped(signal));
            }
            if let Some(outage) = fleet.gave_up() {
                return Err(anyhow::anyhow!("{outage}").into());
            }
            if request.until_idle && idle {
                settings.console.note(&format!("worker {worker}: nothing is due; exiting"));
                return Ok(if failed == 0 { Status::Success } else { Status::Failed });
            }
        } else if fleet.gave_up().is_some() {
            stop_all(&running);
        }
        let longest = if listener.is_listening() { request.poll.max(SHORTEST_WAIT) } else { IDLE_POLL };
        let wait = match fleet.call("read the schedule", Fleet::next_due_in) {
            Some(due) => due.unwrap_or(longest).clamp(SHORTEST_WAIT, longest),
            None => DATABASE_RETRY,
        };
        match wake_rx.recv_timeout(wait) {
            Ok(Wake::Finished { name, epoch, result }) => {
                lock(&running).remove(&name);
                failed += usize::from(!finished(settings, &mut fleet, &worker, &name, epoch, result)?);
            }
            Ok(Wake::Stop | Wake::Notified) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => unreachable!("the loop holds a sender"),
        }
    }
}

/// Forwards every stop request to every running sync (the first stops it gently, a
/// second kills it) and wakes the main loop.
fn forward_stops(settings: &Settings, running: &Running, wake: Sender<Wake>) -> engine::stop::Subscription {
    let running = Arc::clone(running);
    settings.engine.stop.subscribe(move || {
        stop_all(&running);
        let _ = wake.send(Wake::Stop);
    })
}

fn stop_all(running: &Running) {
    for (_, stop) in lock(running).values() {
        stop.request(StopSignal::Terminate);
    }
}

/// The fleet's database session, opened again after it failed: a worker outlives a
/// restart or a failover of the database, and gives up only after [`DATABASE_PATIENCE`].
struct Reconnecting {
    target: Target,
    fleet: Option<Fleet>,
    console: Arc<Console>,
    /// Since when, and the last error, while the database fails.
    outage: Option<(Instant, String)>,
}

impl Reconnecting {
    /// Connects now: a worker that cannot reach its database when it starts says so at once.
    fn open(target: &Target, console: Arc<Console>) -> Result<Reconnecting, DestinationError> {
        let fleet = Fleet::open(target)?;
        Ok(Reconnecting { target: target.clone(), fleet: Some(fleet), console, outage: None })
    }

    /// Runs `operation` on the session (opening one if the last failed); `None` when the
    /// database failed, said once per outage.
    ///
    /// When it fails on a session that was already open, it runs once more at once on a
    /// new session: the old one may have been ended meanwhile (a failover, a proxy's idle
    /// timeout, `pg_terminate_backend`), and a lease release that waited for the next
    /// call would hold the connection back for a whole TTL. Every operation is safe to
    /// repeat: releases and finishes match their epoch, a claim whose answer was lost
    /// only leaves leases that run out, and the rest read.
    fn call<T>(
        &mut self,
        what: &str,
        mut operation: impl FnMut(&mut Fleet) -> Result<T, DestinationError>,
    ) -> Option<T> {
        let reused = self.fleet.is_some();
        let mut result = self.attempt(&mut operation);
        if result.is_err() && reused {
            result = self.attempt(&mut operation);
        }
        match result {
            Ok(value) => {
                if let Some((since, _)) = self.outage.take() {
                    let took = crate::human::duration(since.elapsed());
                    self.console.note(&format!("the database answers again (after {took})"));
                }
                Some(value)
            }
            Err(error) => {
                let message = format!("cannot {what}: {error}");
                if self.outage.is_none() {
                    self.console.warn(&format!("{message} (retrying)"));
                }
                let since = self.outage.as_ref().map_or_else(Instant::now, |(since, _)| *since);
                self.outage = Some((since, message));
                None
            }
        }
    }

    /// `operation` on the session, opened first if there is none; a session that failed
    /// is dropped.
    fn attempt<T>(
        &mut self,
        operation: &mut impl FnMut(&mut Fleet) -> Result<T, DestinationError>,
    ) -> Result<T, DestinationError> {
        let mut fleet = match self.fleet.take() {
            Some(fleet) => fleet,
            None => Fleet::open(&self.target)?,
        };
        let value = operation(&mut fleet)?;
        self.fleet = Some(fleet);
        Ok(value)
    }

    /// Why the worker gives up, once the database has failed for [`DATABASE_PATIENCE`].
    fn gave_up(&self) -> Option<String> {
        let (since, message) = self.outage.as_ref()?;
        let patience = crate::human::duration(DATABASE_PATIENCE);
        (since.elapsed() >= DATABASE_PATIENCE)
            .then(|| format!("the database failed for {patience}; giving up: {message}"))
    }
}

/// Releases a finished sync's lease and says how it went; `false` when it failed.
fn finished(
    settings: &Settings,
    fleet: &mut Reconnecting,
    worker: &str,
    name: &str,
    epoch: i64,
    result: Result<ConnectionResult, String>,
) -> CommandResult<bool> {
    let succeeded = match &result {
        Ok(result) => {
            for error in result.errors() {
                settings.console.warn(&format!("connection `{name}`: {error}"));
            }
            result.outcome() == RunOutcome::Succeeded
        }
        Err(reason) => {
            settings.console.warn(&format!("connection `{name}` was not synced: {reason}"));
            false
        }
    };
    // If the database does not answer, the lease runs out by itself and the connection,
    // still due, is claimed again: at least once, never lost.
    if settings.engine.stop.received().is_some() || fleet.gave_up().is_some() {
        // Stopped before its end: another worker resumes it from its last checkpoint now.
        fleet.call("release a lease", |f| f.release(worker, name, epoch));
    } else {
        fleet.call("release a lease", |f| f.finish(worker, name, epoch, succeeded));
    }
    if settings.json {
        let line = match &result {
            Ok(result) => summary::to_json(std::slice::from_ref(result), result.duration),
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

/// What a worker's sync needs besides its claim.
struct SyncJob<'a> {
    settings: &'a Settings,
    target: &'a Target,
    worker: &'a str,
    ttl: Duration,
    alerts: Option<Arc<(Notifier, Option<Duration>)>>,
}

impl SyncJob<'_> {
    /// Syncs one claimed connection on a thread of its own, fenced by its lease, then
    /// sends its alerts (on that thread: a slow receiver never delays the claims).
    fn start(self, claim: Claim, running: &Running, done: Sender<Wake>) {
        let SyncJob { settings, target, worker, ttl, alerts } = self;
        let stop = Stop::new();
        let name = claim.connection.name.clone();
        lock(running).insert(name.clone(), (claim.epoch, stop.clone()));
        settings.console.note(&format!("connection `{name}`: claimed (epoch {})", claim.epoch));
        let engine =
            Engine { limits: settings.engine.limits.clone(), stop, events: Arc::clone(&settings.engine.events) };
        let fence = Fence { connection: name.clone(), epoch: claim.epoch, worker: worker.to_owned(), ttl };
        let output = OutputSpec::postgres(target.clone());
        let epoch = claim.epoch;
        let spawned = std::thread::Builder::new().name(format!("sync {name}")).spawn(move || {
            let result = plan(claim, output.clone(), fence).map(|plan| engine.sync_connection(&plan, 1));
            if let (Some(alerts), Ok(result)) = (&alerts, &result) {
                if engine.stop.received().is_none() {
                    send_alerts(&alerts.0, alerts.1, std::slice::from_ref(result), std::slice::from_ref(&output));
                }
            }
            let _ = done.send(Wake::Finished { name, epoch, result });
        });
        if let Err(error) = spawned {
            settings.console.warn(&format!("cannot start a thread for a sync: {error}"));
        }
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
    ) -> CommandResult<Heartbeat> {
        let mut fleet = Reconnecting::open(target, Arc::clone(&settings.console))?;
        let (stop, stopped) = mpsc::channel::<()>();
        let (worker, console) = (worker.to_owned(), Arc::clone(&settings.console));
        let thread = std::thread::Builder::new().name("heartbeat".into()).spawn(move || {
            let (mut last_renewed, mut last_closed) = (Instant::now(), None::<Instant>);
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(ttl / 3) {
                // Runs of dead workers show as failed within a TTL, not at the next run.
                if last_closed.is_none_or(|at| at.elapsed() >= ttl) {
                    fleet.call("close abandoned runs", Fleet::close_abandoned_runs);
                    last_closed = Some(Instant::now());
                }
                let held: Vec<(String, i64)> =
                    lock(&running).iter().map(|(name, (epoch, _))| (name.clone(), *epoch)).collect();
                let (lost, why) = match fleet.call("renew leases", |f| f.heartbeat(&worker, &held, ttl)) {
                    Some(lost) => {
                        last_renewed = Instant::now();
                        (lost, "the lease passed to another worker")
                    }
                    // Past the TTL another worker may hold them: their commits would be
                    // refused anyway, so stop now rather than sync for nothing.
                    None if last_renewed.elapsed() >= ttl => (held, "its lease could not be renewed for a whole TTL"),
                    None => (Vec::new(), ""),
                };
                for (name, _) in lost {
                    if let Some((_, stop)) = lock(&running).get(&name) {
                        console.warn(&format!("connection `{name}`: {why}; stopping its sync"));
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

    /// A session ended under the worker costs no call: the same call runs again at once on
    /// a new session, so a lease release is never left to run out.
    #[test]
    fn a_session_ended_meanwhile_is_replaced_within_the_same_call() {
        let Some(cluster) = throwaway_postgres::require("a_session_ended_meanwhile") else { return };
        cluster.create_database("worker_session").unwrap();
        let target = Target::parse(&cluster.url("worker_session")).unwrap();
        let console = Arc::new(Console::new(crate::console::Verbosity::Quiet));
        let mut fleet = Reconnecting::open(&target, console).unwrap();
        assert_eq!(fleet.call("read the schedule", Fleet::next_due_in), Some(None), "nothing is due");
        // Waits (up to 10 s) until the session is gone, as a failover would leave it.
        let ended = "SELECT count(pg_terminate_backend(pid, 10000)) FROM pg_stat_activity \
                     WHERE datname = 'worker_session' AND pid <> pg_backend_pid()";
        assert_eq!(cluster.psql("worker_session", ended).unwrap(), "1");
        assert_eq!(fleet.call("read the schedule", Fleet::next_due_in), Some(None), "{:?}", fleet.outage);
        assert!(fleet.outage.is_none(), "no outage to report");
    }

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
                retry_after: Duration::from_secs(10),
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
