//! Waiting for an event (a file, a row, a process gone) with a bound that only guards
//! against a hang, and whether a process is still alive.

use std::time::{Duration, Instant};

use crate::PATIENCE;

/// Polls `probe` until it gives a value, and returns it.
///
/// # Panics
///
/// After [`PATIENCE`] without one, naming `what` was awaited.
pub fn wait_for<T>(what: &str, mut probe: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(Instant::now() < deadline, "waited {PATIENCE:?} for {what}");
        // A poll, not a guess of time: the probe decides, this only spaces its calls.
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Whether process `pid` exists and runs: not a zombie waiting to be reaped, not dead.
pub fn alive(pid: i32) -> bool {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // /proc/PID/stat: "pid (comm) state ..."; comm may hold spaces and ')'.
    let state = stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().next());
    matches!(state, Some(state) if state != "Z" && state != "X")
}
