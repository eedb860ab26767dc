//! Starting a connector in its own process group and signalling that group.
//!
//! Each connector leads a new process group, so a terminal's Ctrl-C reaches only the
//! runner (which then stops the connector on its own terms) and a signal sent to the
//! group also reaches whatever the connector started (a shell script's pipeline).

use std::io;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Spawns `program args` with piped stdout and stderr, stdin piped or `/dev/null`, in a
/// new process group. The runner's own stdin is never inherited.
///
/// On Linux the kernel kills the connector (SIGKILL) if the calling thread ends first,
/// which is how a runner killed by SIGKILL, or dead of an OOM kill, leaves no connector
/// calling an API on its behalf. The calling thread cannot end early on its own: it runs
/// [`super::run`]'s event loop, which returns only once the connector has been reaped.
pub fn spawn(program: &Path, args: &[String], piped_stdin: bool) -> io::Result<Child> {
    let mut command = Command::new(program);
    command
        .args(args)
        .stdin(if piped_stdin { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    process_guard::die_with_parent(&mut command);
    command.spawn()
}

/// Sends signals to a child's process group, until the child has been reaped.
#[derive(Debug, Clone)]
pub struct Group {
    pgid: i32,
    reaped: Arc<AtomicBool>,
}

impl Group {
    /// The group led by `child`.
    pub fn of(child: &Child) -> Group {
        Group { pgid: child.id() as i32, reaped: Arc::new(AtomicBool::new(false)) }
    }

    /// Marks the leader as reaped. Its pid may then be reused, so signals to the group
    /// are only sent while other members may still hold it (see [`Group::kill_leftovers`]).
    pub fn set_reaped(&self) {
        self.reaped.store(true, Ordering::SeqCst);
    }

    /// SIGTERM to the group, while the leader runs.
    pub fn terminate(&self) {
        if !self.reaped.load(Ordering::SeqCst) {
            self.send(libc::SIGTERM);
        }
    }

    /// SIGKILL to the group, while the leader runs.
    pub fn kill(&self) {
        if !self.reaped.load(Ordering::SeqCst) {
            self.send(libc::SIGKILL);
        }
    }

    /// SIGKILL to processes the connector left behind holding its pipes. The group id
    /// stays reserved while any member lives, so this cannot hit an unrelated process
    /// group unless every member is already gone (then it fails with ESRCH).
    pub fn kill_leftovers(&self) {
        self.send(libc::SIGKILL);
    }

    fn send(&self, signal: i32) {
        // SAFETY: kill(2) has no memory-safety preconditions; a negative pid addresses
        // the process group. ESRCH (already gone) is expected and ignored.
        unsafe {
            libc::kill(-self.pgid, signal);
        }
    }
}
