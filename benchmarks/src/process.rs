//! Child processes measured with `wait4`: exit status, peak RSS and CPU time, and a guard
//! that never lets a child outlive the run that started it.
//!
//! `Child::wait` returns only the exit status; `wait4` also returns the child's
//! `rusage`. On Linux that `rusage` covers the child *and every descendant it reaped*:
//! for the runner, `ru_maxrss` is the maximum over the runner and its connector, and the
//! CPU time is the sum of both.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// How long a child that is being abandoned gets between SIGTERM and SIGKILL: enough for
/// the runner to stop its connector's process group cleanly.
const TERMINATE_GRACE: Duration = Duration::from_secs(3);

/// What `wait4` reported about a child that exited.
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    /// How it ended.
    pub status: ExitStatus,
    /// Peak resident set size in KiB (`ru_maxrss`), over the child and its reaped descendants.
    pub max_rss_kib: u64,
    /// User plus system CPU time, over the child and its reaped descendants.
    pub cpu: Duration,
}

/// A running child with a name for messages. Dropped before it was waited for, it is
/// terminated (SIGTERM, then SIGKILL) and reaped, so an error path never leaks it.
pub struct Running {
    name: String,
    child: Child,
    reaped: bool,
}

impl Running {
    /// Spawns `command`; `name` says what it is in errors (e.g. "`runner sync`").
    pub fn spawn(name: impl Into<String>, command: &mut Command) -> Result<Running> {
        let name = name.into();
        let child = command.spawn().with_context(|| format!("cannot start {name} ({:?})", command.get_program()))?;
        Ok(Running { name, child, reaped: false })
    }

    /// The child's stdout pipe, if it was spawned with `Stdio::piped()`.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// Waits for the child to exit and returns its resource usage.
    pub fn wait(mut self) -> Result<Usage> {
        let pid = libc::pid_t::try_from(self.child.id()).context("a process id out of range")?;
        let (status, usage) = wait4(pid).with_context(|| format!("cannot wait for {}", self.name))?;
        self.reaped = true;
        Ok(Usage { status, max_rss_kib: non_negative(usage.ru_maxrss), cpu: cpu_time(&usage) })
    }

    /// Waits for the child to exit like [`Running::wait`], and also returns the child's
    /// *own* peak RSS in KiB: its `VmHWM`, sampled every `interval` while it runs. Unlike
    /// `ru_maxrss` it excludes descendants and starts from zero at `exec` on every kernel,
    /// so a big parent (a test harness) cannot raise it. The high-water mark only grows,
    /// so the last sample before exit is within `interval` of the true peak.
    pub fn wait_sampling_own_peak(self, interval: Duration) -> Result<(Usage, u64)> {
        let pid = libc::pid_t::try_from(self.child.id()).context("a process id out of range")?;
        let status_path = format!("/proc/{pid}/status");
        let mut peak_kib = 0;
        // `WNOWAIT` leaves an exited child unreaped, so its pid cannot be reused while this
        // loop still reads `/proc/<pid>`.
        while !has_exited(pid).with_context(|| format!("cannot watch {}", self.name))? {
            if let Some(kib) = std::fs::read_to_string(&status_path).ok().as_deref().and_then(high_water_mark_kib) {
                peak_kib = peak_kib.max(kib);
            }
            std::thread::sleep(interval);
        }
        Ok((self.wait()?, peak_kib))
    }

    fn terminate(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: plain kill(2) on a child we spawned and have not reaped, so the pid
            // cannot have been reused.
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let deadline = Instant::now() + TERMINATE_GRACE;
        while Instant::now() < deadline {
            if !matches!(self.child.try_wait(), Ok(None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.reaped {
            self.terminate();
        }
    }
}

/// This process's own peak RSS in KiB. Linux starts a spawned child's `ru_maxrss` at its
/// parent's RSS (the memory it had before `exec`), so this is a floor under every peak RSS
/// measured here.
pub fn own_peak_rss_kib() -> u64 {
    // SAFETY: rusage is a plain C struct for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage(2) fills the struct it is given.
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } != 0 {
        return 0;
    }
    non_negative(usage.ru_maxrss)
}

/// Whether the child `pid` has exited, without reaping it.
fn has_exited(pid: libc::pid_t) -> io::Result<bool> {
    // SAFETY: siginfo_t is a plain C struct for which all-zero bytes are a valid value.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `info` is a live local of the right type; WNOWAIT leaves the child as is.
        let done = unsafe {
            libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT)
        };
        if done == 0 {
            // With WNOHANG, a zero si_pid means no child has changed state yet.
            // SAFETY: waitid filled `info` for a child-state change, where si_pid is valid.
            return Ok(unsafe { info.si_pid() } != 0);
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// The `VmHWM:` line of a `/proc/<pid>/status` file, in KiB (absent once the process has
/// exited and released its memory).
fn high_water_mark_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()
}

/// `wait4(pid, .., 0, ..)`, retried on EINTR.
fn wait4(pid: libc::pid_t) -> io::Result<(ExitStatus, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is a plain C struct for which all-zero bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live locals of the right types.
        let waited = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if waited == pid {
            return Ok((ExitStatus::from_raw(status), usage));
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

fn non_negative(value: libc::c_long) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

fn cpu_time(usage: &libc::rusage) -> Duration {
    let time =
        |t: libc::timeval| Duration::from_secs(non_negative(t.tv_sec)) + Duration::from_micros(non_negative(t.tv_usec));
    time(usage.ru_utime) + time(usage.ru_stime)
}

/// Fails unless `usage` is a zero exit; the message names the process, its status and the
/// end of its stderr (captured in `stderr_file`).
pub fn check_success(name: &str, usage: &Usage, stderr_file: &Path) -> Result<()> {
    if usage.status.success() {
        return Ok(());
    }
    let tail = stderr_tail(stderr_file, 2048);
    let tail =
        if tail.trim().is_empty() { String::from(" (no stderr)") } else { format!("; its stderr ends:\n{tail}") };
    bail!("{name} failed: {}{tail}", describe(usage.status))
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// The last `max` bytes of a file, lossily decoded; empty if it cannot be read.
pub fn stderr_tail(path: &Path, max: u64) -> String {
    let read = || -> io::Result<String> {
        let mut file = File::open(path)?;
        let length = file.metadata()?.len();
        file.seek(SeekFrom::Start(length.saturating_sub(max)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    read().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wait_reports_status_and_usage() {
        let usage = Running::spawn("true", &mut Command::new("true")).unwrap().wait().unwrap();
        assert!(usage.status.success());
        assert!(usage.max_rss_kib > 0);
    }

    #[test]
    fn a_failure_names_the_process_and_its_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let stderr = dir.path().join("stderr");
        let mut command = Command::new("sh");
        command.args(["-c", "echo boom >&2; exit 3"]).stderr(File::create(&stderr).unwrap());
        let usage = Running::spawn("sh", &mut command).unwrap().wait().unwrap();
        let message = check_success("`sh`", &usage, &stderr).unwrap_err().to_string();
        assert!(message.contains("`sh` failed: exit status 3") && message.contains("boom"), "{message}");
    }

    #[test]
    fn an_abandoned_child_is_terminated_and_reaped() {
        let running = Running::spawn("sleep", Command::new("sleep").arg("30")).unwrap();
        let pid = running.child.id();
        drop(running);
        // SAFETY: signal 0 only checks whether the pid exists.
        let alive = unsafe { libc::kill(pid as libc::pid_t, 0) } == 0;
        assert!(!alive, "the child is gone (reaped, so not even a zombie)");
    }

    #[test]
    fn the_high_water_mark_is_read_from_a_status_file() {
        let status = "Name:\trunner\nVmPeak:\t  20000 kB\nVmHWM:\t    5120 kB\nVmRSS:\t    4096 kB\n";
        assert_eq!(high_water_mark_kib(status), Some(5120));
        assert_eq!(high_water_mark_kib("Name:\tzombie\nState:\tZ (zombie)\n"), None);
    }

    #[test]
    fn a_sampled_child_reports_its_own_peak_and_its_status() {
        let mut command = Command::new("sh");
        command.args(["-c", "sleep 0.2; exit 3"]);
        let (usage, peak) =
            Running::spawn("sh", &mut command).unwrap().wait_sampling_own_peak(Duration::from_millis(5)).unwrap();
        assert_eq!(usage.status.code(), Some(3));
        assert!(peak > 0 && peak < 64 * 1024, "{peak} KiB for a shell");
    }
}
