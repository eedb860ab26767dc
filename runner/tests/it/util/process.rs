//! Processes under test: signals, waiting for a child with a bound, and the process tree
//! from /proc (a connector's process group, a process's children), so a test can check that
//! nothing outlives a run and a failing test leaves nothing behind.

use std::process::{Child, Output};
use std::time::{Duration, Instant};

use super::PATIENCE;

/// Sends `signal` to process `pid`.
pub fn signal(pid: u32, signal: i32) {
    // SAFETY: kill(2) has no memory-safety preconditions.
    assert_eq!(unsafe { libc::kill(pid as i32, signal) }, 0, "kill({pid}, {signal})");
}

/// Waits for `child` to exit and returns its output; kills it and fails the test if it is
/// still running after [`PATIENCE`].
pub fn finish(child: Child) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(PATIENCE) {
        Ok(output) => output.expect("waiting for the runner"),
        Err(_) => {
            // SAFETY: as in `signal`; the child is not reaped yet (its waiter is blocked).
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("the runner (pid {pid}) was still running after {PATIENCE:?}: killed");
        }
    }
}

/// Waits at most `timeout` for `child` to exit: its status, or `None` while it still runs.
/// Wakes the moment the child exits (a pidfd polled), not at the next tick of a loop.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<std::process::ExitStatus> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let deadline = Instant::now() + timeout;
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new descriptor or -1; the
    // child is not reaped yet (only `child` can reap it), so its pid is still its own.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, child.id() as libc::pid_t, 0) };
    assert!(fd >= 0, "pidfd_open: {}", std::io::Error::last_os_error());
    // SAFETY: the descriptor was just opened and is owned by nothing else.
    let pidfd = unsafe { OwnedFd::from_raw_fd(fd as i32) };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let mut poll = libc::pollfd { fd: pidfd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // Rounded up, so that the wait never ends before the deadline.
        let millis = i32::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i32::MAX);
        // SAFETY: one valid pollfd, for the length given.
        match unsafe { libc::poll(&mut poll, 1, millis) } {
            0 => return child.try_wait().unwrap(),
            n if n > 0 => return Some(child.wait().unwrap()),
            _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
            _ => panic!("poll: {}", std::io::Error::last_os_error()),
        }
    }
}

/// A process as /proc tells it.
struct Process {
    pid: i32,
    state: String,
    ppid: i32,
    pgrp: i32,
    command: String,
}

/// Every process, read from /proc (processes that end meanwhile are left out).
fn processes() -> Vec<Process> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else { continue };
        // /proc/PID/stat: "pid (comm) state ppid pgrp ..."; comm may hold spaces and ')'.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some((_, after_comm)) = stat.rsplit_once(')') else { continue };
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        let number = |i: usize| fields.get(i).and_then(|f| f.parse().ok()).unwrap_or(-1);
        let command = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let command = String::from_utf8_lossy(&command).replace('\0', " ").trim_end().to_owned();
        let state = fields.first().copied().unwrap_or("?").to_owned();
        all.push(Process { pid, state, ppid: number(1), pgrp: number(2), command });
    }
    all
}

/// The live (not zombie) processes of process group `pgid`, as `pid state command`.
pub fn group_members(pgid: i32) -> Vec<String> {
    let members = processes().into_iter().filter(|p| p.pgrp == pgid && p.state != "Z");
    members.map(|p| format!("{} {} {}", p.pid, p.state, p.command)).collect()
}

/// The live (not zombie) children of process `pid`, as (pid, command line).
pub fn children_of(pid: u32) -> Vec<(i32, String)> {
    let children = processes().into_iter().filter(|p| i64::from(p.ppid) == i64::from(pid) && p.state != "Z");
    children.map(|p| (p.pid, p.command)).collect()
}

/// Waits until no live process is left in group `pgid`; otherwise kills them and fails.
pub fn wait_until_group_gone(pgid: i32) {
    let deadline = Instant::now() + PATIENCE;
    while !group_members(pgid).is_empty() {
        if Instant::now() > deadline {
            let left = group_members(pgid);
            // SAFETY: as in `signal`; the group still has members, so its id is still theirs.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
            panic!("the connector's process group {pgid} still had {left:?} after {PATIENCE:?}: killed");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Kills what is left of a connector's process group when a test fails before its end,
/// so a failing test leaves no process behind.
pub struct GroupGuard(pub i32);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if std::thread::panicking() && !group_members(self.0).is_empty() {
            // SAFETY: as in `signal`; the group still has members, so its id is still theirs.
            unsafe { libc::kill(-self.0, libc::SIGKILL) };
        }
    }
}
