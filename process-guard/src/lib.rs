//! Child processes that cannot outlive their parent.
//!
//! A helper process (the PagerDuty simulator of `runner demo`, a throwaway PostgreSQL
//! server, a Singer tap under its adapter) is useless without the process that started
//! it. When that process ends normally it stops its children itself; when it is killed
//! with SIGKILL, nothing runs, and the children would live on holding ports, files and
//! CPU. [`die_with_parent`] asks the kernel to kill the child then.
//!
//! Linux only (`prctl(PR_SET_PDEATHSIG)`); elsewhere it does nothing. Two things to know:
//! - The "parent" is the *thread* that spawned the child: the child is killed when that
//!   thread ends, even if the process goes on. Spawn long-lived children from a thread
//!   that lives as long as they should.
//! - If the parent dies between `fork` and the `prctl`, the kernel would never send the
//!   signal; the child sees that it was re-parented and exits at once instead.

use std::process::Command;

/// Makes the child `command` spawns receive SIGKILL when the spawning thread ends.
///
/// Call before `spawn`; other `pre_exec` hooks may be added before or after it.
#[cfg(target_os = "linux")]
pub fn die_with_parent(command: &mut Command) {
    use std::io;
    use std::os::unix::process::CommandExt;

    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe calls (prctl, getppid, _exit).
    unsafe {
        let parent = libc::getpid();
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl: then nobody would stop us.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Does nothing outside Linux.
#[cfg(not(target_os = "linux"))]
pub fn die_with_parent(_command: &mut Command) {}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    use super::*;

    fn sleeper() -> Command {
        let mut command = Command::new("sleep");
        command.arg("600").stdin(Stdio::null()).stdout(Stdio::null());
        command
    }

    #[test]
    fn the_child_is_killed_when_the_thread_that_spawned_it_ends() {
        let mut child = std::thread::spawn(|| {
            let mut command = sleeper();
            die_with_parent(&mut command);
            command.spawn().unwrap()
        })
        .join()
        .unwrap();
        // Bounded, so that a regression fails instead of waiting for `sleep` to end.
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || tx.send(child.wait().unwrap()));
        let Ok(status) = rx.recv_timeout(std::time::Duration::from_secs(30)) else {
            // SAFETY: kill(2) on our own child, which has not been waited for.
            unsafe { libc::kill(pid as i32, libc::SIGKILL) };
            panic!("the child outlived the thread that spawned it");
        };
        assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    }

    #[test]
    fn without_it_the_child_outlives_the_thread() {
        let mut child = std::thread::spawn(|| sleeper().spawn().unwrap()).join().unwrap();
        assert!(child.try_wait().unwrap().is_none(), "still running after its thread ended");
        child.kill().unwrap();
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
    }
}
