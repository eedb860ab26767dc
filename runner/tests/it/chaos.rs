//! Chaos: four `runner worker`s share one database while a killer, every 0.5–2 s, picks a
//! worker and SIGKILLs it, SIGTERMs it, freezes it (SIGSTOP) past its lease then thaws it
//! (SIGCONT), or ends one of the fleet's database sessions. Killed workers are restarted.
//! Afterwards every connection has synced to completion with exactly its records, its
//! final state is its last cursor, the checkpoint log proves that no two epochs
//! interleaved for a connection, and no run is left `running`.
//!
//! The killer's choices come from a seeded generator: the seed is printed, and
//! `CHAOS_SEED=<seed>` replays the same choices (the timing of the processes still varies).
//!
//! However fast the machine, the chaos has its say: every third connection waits after
//! its first page until the killer has struck [`MIN_STRIKES`] times, so the syncs cannot
//! all finish before then (a fast run once ended after four strikes, too few to prove
//! anything). Those syncs are live meanwhile, holding leases and checkpoints to take over.

use std::fs::File;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util::signal;
use crate::workers::Fleet;

/// Connections in the fleet.
const CONNECTIONS: u64 = 36;
/// Workers, each syncing up to `JOBS` connections at once.
const WORKERS: usize = 4;
const JOBS: &str = "3";
/// Short leases, so a frozen or killed worker's connections move on within the test.
const LEASE_TTL: Duration = Duration::from_secs(2);
/// The whole test, chaos and recovery, ends within this.
const DEADLINE: Duration = Duration::from_secs(90);
/// Strikes before the gated connections may finish.
const MIN_STRIKES: usize = 5;

/// The fixture's records of connection `i`: 12 to 40, so runs take 0.6–2 s and overlap the chaos.
fn records_of(i: u64) -> u64 {
    12 + (i * 7) % 29
}

#[test]
fn workers_killed_frozen_and_cut_off_at_random_still_sync_everything_exactly_once() {
    let Some(fleet) = Fleet::new("chaos") else { return };
    let gate = fleet.dir.path().join("enough-chaos");
    let entries: Vec<(String, Value)> = (0..CONNECTIONS)
        .map(|i| {
            let mut config = json!({"records": records_of(i), "page": 4, "pause": 0.2});
            if i % 3 == 0 {
                config["wait_for"] = json!(gate.to_str().unwrap());
            }
            (format!("c{i:02}"), config)
        })
        .collect();
    let borrowed: Vec<(&str, Value)> = entries.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
    let file = fleet.write_connections("1h", &borrowed);
    let toml =
        std::fs::read_to_string(&file).unwrap().replace("every = \"1h\"", "every = \"1h\"\nretry_after = \"1s\"");
    std::fs::write(&file, toml).unwrap();
    assert!(fleet.apply(&file, &[]).status.success());

    let seed = std::env::var("CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(time_seed);
    eprintln!("chaos: seed {seed} (CHAOS_SEED={seed} replays the killer's choices)");
    let mut chaos = Chaos {
        fleet: &fleet,
        workers: Vec::new(),
        random: Random(seed),
        log: Vec::new(),
        started: 0,
        killed: Vec::new(),
    };
    for slot in 0..WORKERS {
        chaos.start(slot);
    }
    let begun = Instant::now();
    while !complete(&fleet) {
        assert!(begun.elapsed() < DEADLINE, "not done after {DEADLINE:?}; chaos: {:?}\n{}", chaos.log, chaos.tails());
        let pause = Duration::from_millis(500 + chaos.random.below(1500));
        std::thread::sleep(pause);
        if !complete(&fleet) {
            chaos.strike();
        }
        if chaos.log.len() >= MIN_STRIKES && !gate.exists() {
            File::create(&gate).unwrap();
        }
    }
    // A run whose worker was killed is marked failed by a heartbeat within a lease TTL.
    let running = "SELECT count(*) FROM sync_runs WHERE outcome = 'running' AND finished_at IS NULL \
                   AND backend_pid NOT IN (SELECT pid FROM pg_stat_activity)";
    crate::util::wait_for("the workers to close abandoned runs", || (fleet.sql(running) == "0").then_some(()));
    chaos.stop_all();
    eprintln!("chaos: done in {:?} after {} strikes: {:?}", begun.elapsed(), chaos.log.len(), chaos.log);
    assert!(chaos.log.len() >= MIN_STRIKES, "too little chaos to prove anything: {:?}", chaos.log);
    verify(&fleet, &chaos);
}

/// Every connection's stored cursor, as `c00=12,c01=19,...`.
fn cursors(fleet: &Fleet) -> String {
    fleet.sql("SELECT string_agg(connection || '=' || (state ->> 'cursor'), ',' ORDER BY connection) FROM stream_state")
}

/// Whether every connection has stored its last cursor.
fn complete(fleet: &Fleet) -> bool {
    cursors(fleet) == expected_cursors()
}

fn expected_cursors() -> String {
    (0..CONNECTIONS).map(|i| format!("c{i:02}={}", records_of(i))).collect::<Vec<_>>().join(",")
}

fn verify(fleet: &Fleet, chaos: &Chaos) {
    let tails = || chaos.tails();
    assert_eq!(cursors(fleet), expected_cursors(), "each final state is its last cursor");
    // Exactly T1..TN per connection, each with its fixture's name (no record lost, none
    // doubled, none from elsewhere).
    let stored = fleet.sql(
        "SELECT string_agg(connection || ':' || n || ':' || good, ',' ORDER BY connection) FROM \
         (SELECT connection, count(*) AS n, bool_and(json ->> 'name' = 'Team ' || substr(id, 2) \
           OR (id = 'T1' AND json ->> 'name' = 'Team 1 ')) AS good, \
           count(DISTINCT id) = count(*) AND min(substr(id, 2)::int) = 1 AND max(substr(id, 2)::int) = count(*) AS dense \
          FROM records GROUP BY connection) r WHERE dense",
    );
    let expected: Vec<String> = (0..CONNECTIONS).map(|i| format!("c{i:02}:{}:true", records_of(i))).collect();
    assert_eq!(stored, expected.join(","), "{}", tails());
    // The checkpoint log, in commit order, never goes back to an older epoch for a connection.
    let interleaved = fleet.sql(
        "SELECT count(*) FROM (SELECT epoch < lag(epoch) OVER (PARTITION BY connection ORDER BY id) AS back \
         FROM checkpoint_log) x WHERE back",
    );
    assert_eq!(interleaved, "0", "an older epoch committed after a newer one");
    // Every worker that stopped released its leases; only a SIGKILLed worker's may still
    // run, out within a TTL.
    let held = fleet.sql(
        "SELECT coalesce(string_agg(leased_by, ','), '') FROM connections \
         WHERE leased_by IS NOT NULL AND lease_until > now()",
    );
    for holder in held.split(',').filter(|holder| !holder.is_empty()) {
        let pid = holder.rsplit('/').next().and_then(|pid| pid.parse::<u32>().ok());
        assert!(
            pid.is_some_and(|pid| chaos.killed.contains(&pid)),
            "{holder} holds a lease after it stopped\n{}",
            tails()
        );
    }
    let running = "SELECT count(*) FROM sync_runs WHERE outcome = 'running'";
    assert_eq!(fleet.sql(running), "0", "runs left running: {}", tails());
    let leases = fleet.sql("SELECT count(*) FROM (SELECT DISTINCT connection, epoch FROM checkpoint_log) l");
    let runs = fleet.sql("SELECT string_agg(outcome || ' ' || n, ', ') FROM (SELECT outcome, count(*) AS n FROM sync_runs GROUP BY outcome) o");
    eprintln!("chaos: {} worker processes; {leases} leases committed checkpoints; runs: {runs}", chaos.started);
}

/// The workers and the killer.
struct Chaos<'a> {
    fleet: &'a Fleet,
    workers: Vec<Option<Child>>,
    random: Random,
    log: Vec<String>,
    started: usize,
    /// The pids of the workers killed with SIGKILL.
    killed: Vec<u32>,
}

impl Chaos<'_> {
    fn start(&mut self, slot: usize) {
        let log = |name: &str| File::options().create(true).append(true).open(self.log_path(slot, name)).unwrap();
        let child = self
            .fleet
            .worker(&["--jobs", JOBS, "--lease-ttl", &format!("{}s", LEASE_TTL.as_secs())])
            .stdout(Stdio::from(log("out")))
            .stderr(Stdio::from(log("err")))
            .spawn()
            .unwrap();
        self.started += 1;
        if slot < self.workers.len() {
            self.workers[slot] = Some(child);
        } else {
            self.workers.push(Some(child));
        }
    }

    fn log_path(&self, slot: usize, name: &str) -> std::path::PathBuf {
        self.fleet.dir.path().join(format!("worker{slot}.{name}"))
    }

    /// One blow at a random worker.
    fn strike(&mut self) {
        let slot = self.random.below(WORKERS as u64) as usize;
        let pid = self.workers[slot].as_ref().unwrap().id();
        let action = self.random.below(4);
        let what = match action {
            0 => {
                let mut child = self.workers[slot].take().unwrap();
                self.killed.push(pid);
                child.kill().unwrap();
                child.wait().unwrap();
                self.start(slot);
                "SIGKILL, restarted"
            }
            1 => {
                signal(pid, libc::SIGTERM);
                let status = self.workers[slot].take().unwrap().wait().unwrap();
                assert_eq!(status.code(), Some(143), "a worker exits 143 on SIGTERM\n{}", self.tails());
                self.start(slot);
                "SIGTERM, restarted"
            }
            2 => {
                signal(pid, libc::SIGSTOP);
                // Frozen past its lease: other workers take its connections over.
                std::thread::sleep(LEASE_TTL + Duration::from_millis(700));
                signal(pid, libc::SIGCONT);
                "SIGSTOP past the lease, SIGCONT"
            }
            _ => {
                let ended = self.fleet.sql(&format!(
                    "SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity \
                     WHERE datname = '{}' AND application_name = 'runner' ORDER BY random() LIMIT 1) s",
                    self.fleet.db
                ));
                if ended == "1" {
                    "a database session terminated"
                } else {
                    "no database session to terminate"
                }
            }
        };
        self.log.push(format!("worker{slot}: {what}"));
    }

    /// SIGTERM to every worker (thawed first), and each exits 143.
    fn stop_all(&mut self) {
        for slot in 0..self.workers.len() {
            let mut child = self.workers[slot].take().unwrap();
            signal(child.id(), libc::SIGCONT);
            signal(child.id(), libc::SIGTERM);
            let status = child.wait().unwrap();
            assert_eq!(status.code(), Some(143), "worker{slot} at the end\n{}", self.tails());
        }
    }

    /// The end of every worker's stderr, for a failure message.
    fn tails(&self) -> String {
        (0..WORKERS)
            .map(|slot| {
                let text = std::fs::read_to_string(self.log_path(slot, "err")).unwrap_or_default();
                let start = text.len().saturating_sub(3000);
                let start = (start..text.len()).find(|&i| text.is_char_boundary(i)).unwrap_or(text.len());
                format!("--- worker{slot} stderr (end) ---\n{}", &text[start..])
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for Chaos<'_> {
    fn drop(&mut self) {
        // A failed test leaves no worker behind (thawed, so SIGKILL is not queued forever).
        for child in self.workers.iter_mut().flatten() {
            signal(child.id(), libc::SIGCONT);
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// xorshift64*: small, seeded, good enough to pick blows.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn time_seed() -> u64 {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    (nanos as u64) | 1
}
