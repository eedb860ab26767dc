//! Kill anywhere: SIGKILL the runner (or its connector) at random instants of a sync into
//! each destination, check the store after every kill, run the sync again, and compare
//! the result with one clean run.
//!
//! The connector is `connector-bench`: deterministic ~1.4 KB Incident records, a state
//! `{"emitted": n}` every few records, resuming after record n. Each cycle starts on a
//! fresh store: runs are started and killed after a random delay until one completes.
//! After every kill:
//! - the store opens and is whole (SQLite `integrity_check`, every JSON-lines line parses
//!   but a torn last one, PostgreSQL answers);
//! - the stored state is never ahead of the stored records: every record before
//!   `emitted` is stored, and every stored record is byte-for-byte one the connector sent.
//!
//! After every completed run: the records and the state equal the clean run's, no torn
//! line and no temporary file is left, and no run in the history still claims to be
//! running.
//!
//! The delays are uniform up to a little past the run's expected end (see [`Timing`]), so
//! that most runs are killed somewhere from their start to their end and some finish
//! first; every other delay starts after the start-up every run pays (spawning, `spec`,
//! opening the store), when records and states are being written. They come from a
//! seeded RNG; the seed is printed, and `RELIABILITY_SEED=<seed>` replays the same delays
//! (the instants they hit in the run vary with the machine's load). `RELIABILITY_LONG=1`
//! runs ten times as many kills on a larger sync.

use std::process::Child;
use std::time::{Duration, Instant};

use super::{check_complete, long_mode, seed, Bench};
use crate::destinations::{Kind, Store};
use crate::util::{alive, children_of, shell_connector, stderr_of, wait_for, wait_timeout, PATIENCE};

/// What is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Victim {
    Runner,
    Connector,
}

/// The size of a harness run: kills, and the sync each cycle completes.
fn budget(victim: Victim) -> (usize, Bench) {
    let kills = match victim {
        Victim::Runner => 50,
        // Separately, and fewer: 60 over the three destinations.
        Victim::Connector => 20,
    };
    if long_mode() {
        (kills * 10, Bench { records: 10_000, checkpoint_every: 250 })
    } else {
        (kills, Bench { records: 2_000, checkpoint_every: 50 })
    }
}

/// The most kills in one cycle: then its next run is left to finish, so that every cycle
/// ends even when the machine is slower than [`Timing`] measured.
const MAX_KILLS_PER_CYCLE: usize = 12;

/// The figures of one harness run, printed at its end (RELIABILITY.md quotes them).
#[derive(Debug, Default)]
struct Tally {
    kills: usize,
    completed: usize,
    torn_lines_seen: usize,
    records_lost: usize,
}

/// A harness test per destination and victim.
macro_rules! survives {
    ($($test:ident: $kind:ident, $victim:ident;)*) => {
        $( #[test] fn $test() { survive(Kind::$kind, Victim::$victim) } )*
    };
}

survives! {
    the_runner_killed_anywhere_into_sqlite: Sqlite, Runner;
    the_runner_killed_anywhere_into_json_lines: JsonLines, Runner;
    the_runner_killed_anywhere_into_postgres: Postgres, Runner;
    the_connector_killed_anywhere_into_sqlite: Sqlite, Connector;
    the_connector_killed_anywhere_into_json_lines: JsonLines, Connector;
    the_connector_killed_anywhere_into_postgres: Postgres, Connector;
}

#[test]
fn a_connector_killed_mid_line_is_reported_as_killed_not_as_a_protocol_error() {
    let Some(store) = Store::new(Kind::Sqlite, "kill_mid_line") else { return };
    let body = r#"team 1 a; state 1; printf '{"type":"record","record":{"_ty'; kill -9 $$"#;
    let output = store.sync(&shell_connector(store.dir.path(), "dies", body), &serde_json::json!({}), &[]);
    let stderr = stderr_of(&output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let expected = "(sync) was killed by signal 9; its last line was cut short: broke the protocol: line 3 is not";
    assert!(stderr.contains(expected), "{stderr}");
    assert_eq!(store.state("conn", "s1"), Some(serde_json::json!(1)), "the checkpoint before it is kept");
}

/// One harness run: cycles of kills on fresh stores until the budget's kills are done.
fn survive(kind: Kind, victim: Victim) {
    let name = format!("kill_{victim:?}_{kind:?}").to_lowercase();
    let (kills, bench) = budget(victim);
    let seed = seed(&name);
    let mut rng = fastrand::Rng::with_seed(seed);
    let Some(clean) = Store::new(kind, &format!("{name}_clean")) else { return };
    let (expected, mut timing) = Timing::measure(&bench, &clean);
    let mut tally = Tally::default();
    for cycle in 0.. {
        if tally.kills >= kills {
            break;
        }
        let Some(store) = Store::new(kind, &format!("{name}_{cycle}")) else { return };
        for kill in 0.. {
            let mut run = bench.command(&store).spawn().expect("runner starts");
            if kill == MAX_KILLS_PER_CYCLE {
                let status = wait_timeout(&mut run, PATIENCE).expect("the last run of a cycle ends");
                assert!(status.success(), "{status}: {}", Bench::stderr(&store));
                break;
            }
            let expected_run = timing.expected(&bench, &store);
            let delay = match victim {
                Victim::Runner => timing.delay(expected_run, &mut rng),
                // From the start of the sync's connector, which lives through the data phase.
                Victim::Connector => timing.data_phase(expected_run).mul_f64(1.2 * rng.f64()),
            };
            let started = Instant::now();
            match kill_after(run, delay, victim, &store) {
                Ended::Completed => {
                    timing.observe(expected_run, started.elapsed());
                    break;
                }
                Ended::Killed => {
                    // Records and state are read by two queries: let a COMMIT the runner
                    // sent before it died finish first, or they could see two moments.
                    store.wait_for_sessions_to_end();
                    tally.kills += 1;
                    tally.torn_lines_seen += store.torn_tails().len();
                    tally.records_lost += bench.check_consistent(&store, &expected);
                }
            }
        }
        check_complete(&store, &expected);
        tally.completed += 1;
    }
    eprintln!(
        "{name}: seed {seed}, {} kills of the {victim:?} at random instants (a clean run took {:?}), {} syncs \
         completed and equal to a clean run, {} torn lines cut, records lost: {}",
        tally.kills, timing.full, tally.completed, tally.torn_lines_seen, tally.records_lost
    );
}

/// How long runs take on this machine now: measured before the kills, corrected by every
/// run that completes (the machine's load changes).
struct Timing {
    /// A clean run into a fresh store.
    full: Duration,
    /// A run with nothing left to sync (its state is at the end): what every run pays.
    start: Duration,
    /// Observed over expected, smoothed over the completed runs.
    scale: f64,
}

impl Timing {
    /// Runs the clean run (whose store is the reference) and a second, empty one.
    fn measure(bench: &Bench, clean: &Store) -> (super::Expected, Timing) {
        let started = Instant::now();
        let expected = bench.clean_run(clean);
        let full = started.elapsed();
        let started = Instant::now();
        assert_eq!(bench.clean_run(clean).records, expected.records);
        (expected, Timing { full, start: started.elapsed(), scale: 1.0 })
    }

    /// How long the next run into `store` should take: the start, plus the share of the
    /// records still to sync.
    fn expected(&self, bench: &Bench, store: &Store) -> Duration {
        let left = 1.0 - Bench::emitted(store) as f64 / bench.records as f64;
        (self.start + self.full.saturating_sub(self.start).mul_f64(left)).mul_f64(self.scale)
    }

    /// When to kill a run expected to take `expected`: up to a little past its end, so
    /// that some runs finish first; every other kill after the start every run pays, when
    /// records and states are being written.
    fn delay(&self, expected: Duration, rng: &mut fastrand::Rng) -> Duration {
        let end = expected.mul_f64(1.2);
        let from = if rng.bool() { self.start.mul_f64(self.scale).min(expected) } else { Duration::ZERO };
        from + end.saturating_sub(from).mul_f64(rng.f64())
    }

    /// The part of a run expected to take `expected` after the start every run pays.
    fn data_phase(&self, expected: Duration) -> Duration {
        expected.saturating_sub(self.start.mul_f64(self.scale)).max(expected / 10)
    }

    /// A run expected to take `expected` completed in `took`.
    fn observe(&mut self, expected: Duration, took: Duration) {
        let ratio = took.as_secs_f64() / expected.as_secs_f64().max(1e-3);
        self.scale *= 0.7 + 0.3 * ratio.clamp(0.25, 4.0);
    }
}

enum Ended {
    /// The sync succeeded before its kill.
    Completed,
    /// The victim was killed.
    Killed,
}

/// SIGKILLs the victim after `delay`: the runner `delay` after its start, the connector
/// `delay` after the sync's connector started. A run that ended first must have succeeded.
fn kill_after(mut run: Child, delay: Duration, victim: Victim, store: &Store) -> Ended {
    let completed = |status: std::process::ExitStatus| {
        assert!(status.success(), "{status}: {}", Bench::stderr(store));
        Ended::Completed
    };
    if victim == Victim::Connector {
        // Not the `spec` connector, which every run starts first: the one that syncs.
        loop {
            if let Some(status) = run.try_wait().unwrap() {
                return completed(status);
            }
            if !connectors_of(run.id(), " sync").is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    if let Some(status) = wait_timeout(&mut run, delay) {
        return completed(status);
    }
    match victim {
        Victim::Runner => {
            // Its connector, orphaned, dies of a broken pipe: wait for it, so that no two
            // connectors of one store ever run at once.
            let orphans = connectors_of(run.id(), "");
            run.kill().unwrap();
            run.wait().unwrap();
            wait_gone(&orphans);
            Ended::Killed
        }
        Victim::Connector => {
            let Some(&connector) = connectors_of(run.id(), " sync").first() else {
                // The connector had finished: the runner is storing its last records.
                return completed(run.wait().unwrap());
            };
            // SAFETY: kill(2) on the runner's child, not yet reaped (the runner is alive).
            unsafe { libc::kill(connector, libc::SIGKILL) };
            let status = run.wait().unwrap();
            let stderr = Bench::stderr(store);
            if status.success() {
                // It exited between the look and the kill: the kill hit nothing.
                return Ended::Completed;
            }
            assert_eq!(status.code(), Some(1), "{stderr}");
            assert!(stderr.contains("was killed by signal 9"), "{stderr}");
            Ended::Killed
        }
    }
}

/// The connector processes the runner `pid` started whose command line ends with `command`.
fn connectors_of(pid: u32, command: &str) -> Vec<i32> {
    let children = children_of(pid).into_iter();
    children.filter(|(_, line)| line.contains("connector-bench") && line.ends_with(command)).map(|(p, _)| p).collect()
}

fn wait_gone(pids: &[i32]) {
    for &pid in pids {
        wait_for("the killed runner's connector to exit", || (!alive(pid)).then_some(()));
    }
}
