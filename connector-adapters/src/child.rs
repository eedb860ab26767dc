//! The tap (a Singer tap or an Airbyte source) as a child process: started with its
//! arguments, its stdout read line by line with a bound on each line, its stderr passed on
//! to ours with secrets masked while the last few KiB are kept for error messages, its exit
//! status checked.
//!
//! The tap stays in the adapter's process group, so when the runner stops the adapter (it
//! signals the connector's whole group, SIGTERM then SIGKILL) the tap gets the same signals.
//! On Linux the tap is also started with a parent-death signal (SIGKILL): an adapter killed
//! on its own takes its tap with it, so no tap survives its adapter.
//!
//! While a tap runs, SIGTERM and SIGINT to the adapter are passed on to the tap instead of
//! ending the adapter at once: the tap stops, the adapter sees the end of its output and
//! returns through its normal path, removing the private files that hold the tap's
//! configuration (a SIGKILL leaves them, in a 0700 directory under `$TMPDIR`). With no tap
//! running, the signals end the adapter as usual.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Mutex, Once};
use std::thread::JoinHandle;

use connector_sdk::protocol::codec::snippet;
use connector_sdk::Redactor;

/// The longest line accepted from a tap: the runner's own default limit, since every
/// record line the tap writes becomes one line the runner reads.
pub const MAX_LINE_BYTES: usize = connector_sdk::protocol::codec::DEFAULT_MAX_LINE_BYTES;

/// How much of the tap's stderr is kept for error messages (its end).
const STDERR_TAIL_BYTES: usize = 4 * 1024;

/// The running tap's pid, for the signal handler; 0 when none runs.
static TAP_PID: AtomicI32 = AtomicI32::new(0);

/// Passes SIGTERM and SIGINT on to the running tap, or ends the adapter when none runs.
extern "C" fn pass_on(signal: libc::c_int) {
    let pid = TAP_PID.load(Ordering::SeqCst);
    // SAFETY: kill, signal and raise are async-signal-safe.
    unsafe {
        if pid > 0 {
            libc::kill(pid, signal);
        } else {
            libc::signal(signal, libc::SIG_DFL);
            libc::raise(signal);
        }
    }
}

/// Installs [`pass_on`] for SIGTERM and SIGINT, once.
fn pass_signals_on() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        for signal in [libc::SIGTERM, libc::SIGINT] {
            // SAFETY: the handler only calls async-signal-safe functions.
            unsafe { libc::signal(signal, pass_on as extern "C" fn(libc::c_int) as libc::sighandler_t) };
        }
    });
}

/// Why running or reading a tap failed. Every variant names the tap.
#[derive(Debug, thiserror::Error)]
pub enum TapError {
    /// The executable could not be started.
    #[error("cannot start `{program}`: {source} (is it installed? give a path, or put it on PATH)")]
    Spawn {
        /// The program as configured.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Reading its stdout failed.
    #[error("reading the output of `{program}`: {source}")]
    Read {
        /// The program as configured.
        program: String,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// A line longer than [`MAX_LINE_BYTES`].
    #[error("`{program}` wrote a line longer than {max} bytes (line {line}, starting {start})")]
    LineTooLong {
        /// The program as configured.
        program: String,
        /// 1-based line number.
        line: u64,
        /// The limit.
        max: usize,
        /// The start of the line.
        start: String,
    },
    /// A line that is not what the protocol says.
    #[error("`{program}` wrote something that is not a {protocol} message on line {line}: {reason}: {start}")]
    BadLine {
        /// The program as configured.
        program: String,
        /// `Singer` or `Airbyte`.
        protocol: &'static str,
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
        /// The start of the line.
        start: String,
    },
    /// It exited unsuccessfully.
    #[error("`{program}` {status}{tail}")]
    Exited {
        /// The program as configured.
        program: String,
        /// How it ended, e.g. `exited with status 1`.
        status: String,
        /// The end of its stderr, fenced, or nothing.
        tail: String,
    },
}

impl TapError {
    /// A [`TapError::BadLine`] for line `line` with text `text`.
    pub fn bad_line(program: &str, protocol: &'static str, line: u64, text: &str, reason: impl Into<String>) -> Self {
        TapError::BadLine {
            program: program.to_owned(),
            protocol,
            line,
            reason: reason.into(),
            start: snippet(text, 120),
        }
    }
}

/// The last bytes of a stream, with the count of what was dropped before them.
#[derive(Debug, Default)]
struct Tail {
    bytes: VecDeque<u8>,
    dropped: u64,
}

impl Tail {
    fn push(&mut self, chunk: &[u8]) {
        self.bytes.extend(chunk);
        let excess = self.bytes.len().saturating_sub(STDERR_TAIL_BYTES);
        if excess > 0 {
            self.bytes.drain(..excess);
            self.dropped += excess as u64;
        }
    }

    fn text(&self) -> String {
        let (front, back) = self.bytes.as_slices();
        let text = String::from_utf8_lossy(&[front, back].concat()).trim_end().to_owned();
        if self.dropped > 0 {
            format!("[{} bytes before]\n{text}", self.dropped)
        } else {
            text
        }
    }
}

/// A running tap. Dropping it kills the tap if it still runs.
pub struct TapProcess {
    program: String,
    child: Child,
    stdout: Option<BufReader<ChildStdout>>,
    line: u64,
    buffer: Vec<u8>,
    stderr: Option<JoinHandle<()>>,
    tail: Arc<Mutex<Tail>>,
    redactor: Redactor,
}

impl std::fmt::Debug for TapProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TapProcess").field("program", &self.program).field("line", &self.line).finish_non_exhaustive()
    }
}

impl TapProcess {
    /// Starts `program args` with stdin closed; its stderr lines go to ours, masked by
    /// `redactor`.
    ///
    /// # Errors
    /// [`TapError::Spawn`] when it cannot be started.
    pub fn spawn(program: &str, args: &[OsString], redactor: Redactor) -> Result<TapProcess, TapError> {
        pass_signals_on();
        let mut command = Command::new(program);
        command.args(args).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        process_guard::die_with_parent(&mut command);
        // SAFETY: signal(2) is async-signal-safe; nothing else runs between fork and exec.
        unsafe {
            command.pre_exec(|| {
                // The tap gets the default actions back, not the adapter's handler.
                libc::signal(libc::SIGTERM, libc::SIG_DFL);
                libc::signal(libc::SIGINT, libc::SIG_DFL);
                Ok(())
            });
        }
        let mut child = command.spawn().map_err(|source| TapError::Spawn { program: program.to_owned(), source })?;
        TAP_PID.store(i32::try_from(child.id()).unwrap_or(0), Ordering::SeqCst);
        let tail = Arc::new(Mutex::new(Tail::default()));
        let stderr = child.stderr.take().map(|stderr| {
            let (tail, redactor) = (Arc::clone(&tail), redactor.clone());
            std::thread::spawn(move || pass_on_stderr(stderr, &tail, &redactor))
        });
        let stdout = child.stdout.take().map(|stdout| BufReader::with_capacity(256 * 1024, stdout));
        Ok(TapProcess {
            program: program.to_owned(),
            child,
            stdout,
            line: 0,
            buffer: Vec::new(),
            stderr,
            tail,
            redactor,
        })
    }

    /// The program as configured.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The next non-blank line of stdout and its 1-based number, or `None` at its end.
    ///
    /// # Errors
    /// A read error, a line over [`MAX_LINE_BYTES`] or one that is not UTF-8.
    pub fn next_line(&mut self) -> Result<Option<(u64, &str)>, TapError> {
        let Some(stdout) = self.stdout.as_mut() else { return Ok(None) };
        loop {
            self.buffer.clear();
            let read = stdout
                .by_ref()
                .take(MAX_LINE_BYTES as u64 + 1)
                .read_until(b'\n', &mut self.buffer)
                .map_err(|source| TapError::Read { program: self.program.clone(), source })?;
            if read == 0 {
                return Ok(None);
            }
            self.line += 1;
            if self.buffer.last() != Some(&b'\n') && self.buffer.len() > MAX_LINE_BYTES {
                let start = snippet(&self.redactor.redact(&String::from_utf8_lossy(&self.buffer[..200])), 120);
                return Err(TapError::LineTooLong {
                    program: self.program.clone(),
                    line: self.line,
                    max: MAX_LINE_BYTES,
                    start,
                });
            }
            while matches!(self.buffer.last(), Some(b'\n' | b'\r')) {
                self.buffer.pop();
            }
            if self.buffer.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line = self.line;
            return match std::str::from_utf8(&self.buffer) {
                Ok(text) => Ok(Some((line, text))),
                Err(e) => {
                    let text = self.redactor.redact(&String::from_utf8_lossy(&self.buffer)).into_owned();
                    Err(TapError::bad_line(&self.program, "JSON", line, &text, format!("not UTF-8 ({e})")))
                }
            };
        }
    }

    /// Reads the rest of stdout as one document (a Singer catalog may be pretty-printed
    /// over many lines), at most `max` bytes.
    ///
    /// # Errors
    /// A read error, or more than `max` bytes.
    pub fn read_document(&mut self, max: usize) -> Result<String, TapError> {
        let mut text = Vec::new();
        if let Some(stdout) = self.stdout.as_mut() {
            stdout
                .by_ref()
                .take(max as u64 + 1)
                .read_to_end(&mut text)
                .map_err(|source| TapError::Read { program: self.program.clone(), source })?;
        }
        if text.len() > max {
            return Err(TapError::LineTooLong {
                program: self.program.clone(),
                line: 1,
                max,
                start: snippet(&self.redactor.redact(&String::from_utf8_lossy(&text[..text.len().min(200)])), 120),
            });
        }
        Ok(String::from_utf8_lossy(&text).into_owned())
    }

    /// Waits for the tap to exit (after reading stdout to its end).
    ///
    /// # Errors
    /// [`TapError::Exited`] with the end of its stderr when it did not exit with 0.
    pub fn finish(mut self) -> Result<(), TapError> {
        let status = self.wait()?;
        if status.success() {
            return Ok(());
        }
        Err(TapError::Exited { program: self.program.clone(), status: describe(status), tail: self.stderr_tail() })
    }

    /// Kills the tap (a failure on our side, or the tap said it failed) and waits for it.
    pub fn kill(mut self) -> String {
        let _ = self.child.kill();
        self.wait().map(describe).unwrap_or_else(|e| e.to_string())
    }

    /// The end of the tap's stderr, masked and fenced for an error message; empty when it
    /// wrote nothing.
    pub fn stderr_tail(&self) -> String {
        let text = self.tail.lock().map(|tail| tail.text()).unwrap_or_default();
        if text.is_empty() {
            return String::new();
        }
        format!("\n---- stderr (end) ----\n{}\n----------------------", self.redactor.redact(&text))
    }

    fn forget_pid(&self) {
        let pid = i32::try_from(self.child.id()).unwrap_or(0);
        let _ = TAP_PID.compare_exchange(pid, 0, Ordering::SeqCst, Ordering::SeqCst);
    }

    fn wait(&mut self) -> Result<ExitStatus, TapError> {
        // Whatever is left on stdout is drained so the tap never blocks on a full pipe.
        if let Some(mut stdout) = self.stdout.take() {
            let _ = io::copy(&mut stdout, &mut io::sink());
        }
        // Its output has ended: from here a stop request ends the adapter as usual (and the
        // pid, once reaped, may be another process's).
        self.forget_pid();
        let status = self.child.wait().map_err(|source| TapError::Read { program: self.program.clone(), source })?;
        if let Some(stderr) = self.stderr.take() {
            let _ = stderr.join();
        }
        Ok(status)
    }
}

impl Drop for TapProcess {
    fn drop(&mut self) {
        if self.stdout.is_some() || self.stderr.is_some() {
            self.forget_pid();
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `exited with status 1` or `was killed by signal 9`.
fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(signal)) => format!("was killed by signal {signal}"),
        (None, None) => format!("ended: {status}"),
    }
}

/// Copies the tap's stderr to ours line by line, masked, keeping the end in `tail`.
fn pass_on_stderr(stderr: impl Read, tail: &Mutex<Tail>, redactor: &Redactor) {
    let mut reader = BufReader::new(stderr);
    let mut line = Vec::new();
    let mut ours = io::stderr();
    loop {
        line.clear();
        match reader.by_ref().take(64 * 1024).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {
                if let Ok(mut tail) = tail.lock() {
                    tail.push(&line);
                }
                let text = String::from_utf8_lossy(&line);
                let _ = ours.write_all(redactor.redact(&text).as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, redactor: Redactor) -> TapProcess {
        TapProcess::spawn("sh", &["-c".into(), script.into()], redactor).unwrap()
    }

    #[test]
    fn lines_are_numbered_blank_ones_skipped_and_the_exit_status_checked() {
        let mut tap = sh(
            "printf 'a\\n\\n b\\r\\n'; echo 'oops s3cret-value' >&2; exit 3",
            Redactor::new(["s3cret-value".to_owned()]),
        );
        assert_eq!(tap.next_line().unwrap(), Some((1, "a")));
        assert_eq!(tap.next_line().unwrap(), Some((3, " b")));
        assert_eq!(tap.next_line().unwrap(), None);
        let error = tap.finish().unwrap_err().to_string();
        assert!(error.starts_with("`sh` exited with status 3\n---- stderr (end) ----\noops ***"), "{error}");
        assert!(!error.contains("s3cret"), "{error}");
    }

    #[test]
    fn a_missing_program_says_so_and_how_to_fix_it() {
        let error = TapProcess::spawn("no-such-tap-here", &[], Redactor::default()).unwrap_err().to_string();
        assert!(error.starts_with("cannot start `no-such-tap-here`: "), "{error}");
        assert!(error.contains("put it on PATH"), "{error}");
    }

    #[test]
    fn a_line_over_the_limit_is_refused_without_reading_it_all() {
        let mut tap = sh("head -c 17000000 /dev/zero | tr '\\0' x", Redactor::default());
        let error = tap.next_line().unwrap_err();
        assert!(matches!(error, TapError::LineTooLong { line: 1, .. }), "{error}");
        assert!(error.to_string().contains("longer than 16777216 bytes (line 1, starting xxx"), "{error}");
    }

    #[test]
    fn the_stderr_tail_keeps_the_end() {
        let mut tail = Tail::default();
        tail.push(&vec![b'a'; STDERR_TAIL_BYTES]);
        tail.push(b"the end\n");
        let text = tail.text();
        assert!(text.starts_with("[8 bytes before]\n") && text.ends_with("aaathe end"), "{text}");
    }
}
