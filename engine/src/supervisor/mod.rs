//! Supervising one connector process: spawn it, feed its stdin, stream its decoded stdout
//! messages, capture its stderr with bounded memory, enforce the idle and overall
//! timeouts, stop it on Ctrl-C/SIGTERM, and say exactly how it ended.
//!
//! This is the only place the runner spawns processes (the conformance kit and the demo
//! reuse it). Threads, all fed into one bounded channel that [`run`]'s event loop owns:
//! - stdout: a reader framing bounded lines and mapper threads decoding them and applying
//!   the caller's `map` (for `sync`, schema validation) in parallel; the event loop puts
//!   their batches back in order ([`stdout`], the hot path);
//! - stderr: chunks into a [`capture::HeadTail`] buffer, optionally echoed line by line;
//! - a waiter that reaps the child; a writer that feeds stdin and closes it.
//!
//! Stopping follows a ladder: SIGTERM to the connector's process group, a grace period
//! (stdout and stderr are still drained, so the child never blocks on a full pipe), then
//! SIGKILL. A second Ctrl-C kills at once.

pub mod capture;
mod process;
mod stdout;

use std::io::{self, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{ChildStderr, ExitStatus};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use protocol::{CodecError, ConnectorMessage};

pub use capture::Captured;
pub use stdout::{RawLine, StdoutLine};

use super::stop::{Stop, StopSignal};

use capture::HeadTail;
use process::Group;
use stdout::{Mapped, Reorder};

/// One line of the connector's stdout decoded into an owned message, or why it could not
/// be ([`StdoutLine::decode`]).
pub type Incoming = Result<(u64, ConnectorMessage), CodecError>;

/// Called with each complete stderr line (lossy UTF-8, at most [`ECHO_LINE_BYTES`]).
pub type StderrEcho = Box<dyn FnMut(&str) + Send>;

/// Longest stderr line handed to a [`StderrEcho`]; longer lines are split.
pub const ECHO_LINE_BYTES: usize = 4096;

/// Events waiting for the event loop, at most (batches are also bounded by [`stdout`]).
const CHANNEL_EVENTS: usize = 16;
/// How long pipes may stay open after the connector exited (held by a process it left
/// behind) before those processes are killed, and again before they are abandoned.
const LEAK_TIMEOUT: Duration = Duration::from_secs(1);

/// Limits applied to one connector run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest accepted stdout line (`--max-message-bytes`).
    pub max_message_bytes: usize,
    /// Stop the connector when it sends no message for this long (`--idle-timeout`).
    pub idle_timeout: Option<Duration>,
    /// Stop the connector when the whole run takes longer (`--timeout`).
    pub overall_timeout: Option<Duration>,
    /// Between SIGTERM and SIGKILL.
    pub grace: Duration,
    /// Bytes of stderr kept from the start, and again from the end.
    pub stderr_keep: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message_bytes: protocol::DEFAULT_MAX_LINE_BYTES,
            idle_timeout: None,
            overall_timeout: None,
            grace: Duration::from_secs(5),
            stderr_keep: 32 * 1024,
        }
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// The executable.
    pub program: PathBuf,
    /// Its arguments (the protocol command).
    pub args: Vec<String>,
    /// Bytes written to its stdin before stdin is closed; `None` gives it `/dev/null`.
    pub stdin: Option<Vec<u8>>,
    /// Limits.
    pub limits: Limits,
    /// Stop requests (Ctrl-C, SIGTERM) that end the run through the termination ladder.
    pub stop: Stop,
}

/// What the event loop should do after a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Keep going.
    Continue,
    /// Stop the connector (termination ladder) and hand no further batches to the caller.
    Stop(String),
}

/// Why the connector is no longer running.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Termination {
    /// It exited by itself with this code.
    Exited(i32),
    /// It was killed by this signal, not sent by the runner.
    Signalled(i32),
    /// It sent no message for this long and was stopped.
    IdleTimeout(Duration),
    /// The run took longer than this and the connector was stopped.
    OverallTimeout(Duration),
    /// The caller stopped it (a protocol error, an invalid record, a storage failure).
    Stopped(String),
    /// A stop request (Ctrl-C, SIGTERM) arrived and it was stopped.
    Interrupted(StopSignal),
}

/// The full account of one connector run.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Why it ended.
    pub termination: Termination,
    /// Its wait status, if it was reaped.
    pub status: Option<ExitStatus>,
    /// Whether SIGKILL was needed.
    pub killed: bool,
    /// Its stderr, bounded.
    pub stderr: Captured,
    /// From spawn to the end.
    pub elapsed: Duration,
}

impl Outcome {
    /// Whether the connector exited 0 by itself.
    pub fn success(&self) -> bool {
        self.termination == Termination::Exited(0)
    }
}

/// The connector could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SpawnError {
    /// No such file (or its `#!` interpreter is missing).
    #[error("{program} does not exist (or the interpreter on its #! line does not)")]
    NotFound {
        /// The program.
        program: PathBuf,
    },
    /// Not executable.
    #[error("{program} is not executable\nhint: chmod +x {program}")]
    NotExecutable {
        /// The program.
        program: PathBuf,
    },
    /// Any other failure.
    #[error("cannot start {program}: {source}")]
    Other {
        /// The program.
        program: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// What the event loop of [`run`] hears from the threads around the connector (not to be
/// confused with the engine's [`crate::Event`], what the engine tells its driver).
enum Notice<T> {
    /// The mapped lines of one stdout chunk, numbered in reading order.
    Batch(u64, Mapped<T>),
    /// The stdout reader sent this many chunks and stopped.
    StdoutDone {
        chunks: u64,
    },
    StderrDone,
    Exited(ExitStatus),
    Wake,
}

/// Runs one connector to the end.
///
/// `map` runs on the mapper threads for every line: its text when it was read whole
/// (decode it there, and keep the expensive per-message work, such as schema validation,
/// there too; the conformance kit scans the text for secrets), or why it could not be read.
/// `handle` runs on the calling thread for each batch of mapped items, in stdout order,
/// with the text of the batch's lines (which [`StdoutLine::offset`] points into), and may
/// stop the connector. `echo` receives stderr lines as they come.
///
/// # Errors
/// [`SpawnError`] when the process cannot be started; every later failure is an
/// [`Outcome`].
pub fn run<T, M, H>(invocation: Invocation, echo: Option<StderrEcho>, map: M, handle: H) -> Result<Outcome, SpawnError>
where
    T: Send + 'static,
    M: Fn(RawLine<'_>) -> T + Send + Sync + 'static,
    H: FnMut(&str, Vec<T>) -> Control,
{
    let program = invocation.program.clone();
    let mut child = process::spawn(&program, &invocation.args, invocation.stdin.is_some())
        .map_err(|source| spawn_error(program, source))?;
    let started = Instant::now();
    let group = Group::of(&child);
    let (tx, rx) = mpsc::sync_channel(CHANNEL_EVENTS);
    let limits = invocation.limits;
    let capture = Arc::new(Mutex::new(HeadTail::new(limits.stderr_keep, limits.stderr_keep)));

    if let (Some(stdin), Some(bytes)) = (child.stdin.take(), invocation.stdin) {
        spawn_thread("connector-stdin", move || feed_stdin(stdin, &bytes));
    }
    let stdout = child.stdout.take().expect("stdout is piped");
    let reorder = stdout::start(stdout, limits.max_message_bytes, map, &tx);
    let stderr = child.stderr.take().expect("stderr is piped");
    let (stderr_tx, stderr_capture) = (tx.clone(), Arc::clone(&capture));
    spawn_thread("connector-stderr", move || read_stderr(stderr, &stderr_capture, echo, &stderr_tx));
    let (exit_tx, waiter_group) = (tx.clone(), group.clone());
    spawn_thread("connector-wait", move || {
        if let Ok(status) = child.wait() {
            waiter_group.set_reaped();
            let _ = exit_tx.send(Notice::Exited(status));
        }
    });
    let wake_tx = tx;
    let _subscription = invocation.stop.subscribe(move || {
        // A full channel means the loop is awake anyway; it checks the request count.
        let _ = wake_tx.try_send(Notice::Wake);
    });

    let mut event_loop = EventLoop::new(group, limits, invocation.stop, started);
    event_loop.run(&rx, reorder, handle);
    let stderr = capture.lock().unwrap_or_else(|e| e.into_inner()).snapshot();
    Ok(event_loop.into_outcome(stderr))
}

fn spawn_error(program: PathBuf, source: io::Error) -> SpawnError {
    match source.kind() {
        io::ErrorKind::NotFound => SpawnError::NotFound { program },
        io::ErrorKind::PermissionDenied => SpawnError::NotExecutable { program },
        _ => SpawnError::Other { program, source },
    }
}

fn spawn_thread(name: &str, body: impl FnOnce() + Send + 'static) {
    std::thread::Builder::new().name(name.to_owned()).spawn(body).expect("the OS can start a thread");
}

fn feed_stdin(mut stdin: std::process::ChildStdin, bytes: &[u8]) {
    // A connector may exit without reading stdin (EPIPE): its exit status tells the story.
    let _ = stdin.write_all(bytes);
}

/// Where the connector process is.
#[derive(Debug, Clone, Copy)]
enum Process {
    /// Not reaped yet.
    Running,
    /// Reaped with this status at this instant.
    Exited { status: ExitStatus, at: Instant },
}

/// The termination ladder: SIGTERM to the group, a grace period, SIGKILL.
#[derive(Debug, Clone)]
enum Ladder {
    /// Nobody asked the connector to stop.
    Untouched,
    /// SIGTERM was sent for `reason`; SIGKILL follows at `kill_at` if it still runs.
    Terminating { reason: Termination, kill_at: Instant },
    /// SIGTERM was sent for `reason` and the grace period is over: SIGKILL was sent if
    /// it was still running (`killed`).
    Finished { reason: Termination, killed: bool },
}

/// One of the connector's output pipes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Pipe {
    /// Still delivering.
    Open,
    /// Reached its end (every line of stdout delivered).
    Closed,
    /// Held open by processes out of reach, given up on.
    Abandoned,
}

/// Processes the connector left behind holding its pipes after it exited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Leftovers {
    /// None noticed, or not killed yet.
    Spared,
    /// SIGKILL was sent to what remained of the group.
    Killed,
}

/// Whether the caller still wants batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Deliver every batch.
    Delivering,
    /// The caller asked to stop; later batches are drained and dropped.
    Refused,
}

/// The event loop's state: what happened so far and which deadlines are pending.
struct EventLoop {
    group: Group,
    limits: Limits,
    stop: Stop,
    started: Instant,
    last_message: Instant,
    process: Process,
    ladder: Ladder,
    stdout: Pipe,
    stderr: Pipe,
    leftovers: Leftovers,
    delivery: Delivery,
    stop_requests_seen: u32,
}

impl EventLoop {
    fn new(group: Group, limits: Limits, stop: Stop, started: Instant) -> Self {
        EventLoop {
            group,
            limits,
            stop,
            started,
            last_message: started,
            process: Process::Running,
            ladder: Ladder::Untouched,
            stdout: Pipe::Open,
            stderr: Pipe::Open,
            leftovers: Leftovers::Spared,
            delivery: Delivery::Delivering,
            // 0, not the current count: a request that came before the spawn stops it at once.
            stop_requests_seen: 0,
        }
    }

    fn run<T>(
        &mut self,
        rx: &Receiver<Notice<T>>,
        mut reorder: Reorder<T>,
        mut handle: impl FnMut(&str, Vec<T>) -> Control,
    ) {
        loop {
            self.check_stop_requests();
            if self.finished() {
                return;
            }
            let now = Instant::now();
            let event = match self.next_deadline(now) {
                Some(at) => rx.recv_timeout(at.saturating_duration_since(now)),
                None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
            };
            match event {
                Ok(event) => self.on_event(event, &mut reorder, &mut handle),
                Err(RecvTimeoutError::Timeout) => self.on_deadline(Instant::now()),
                Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn finished(&self) -> bool {
        matches!(self.process, Process::Exited { .. }) && self.stdout != Pipe::Open && self.stderr != Pipe::Open
    }

    fn running(&self) -> bool {
        matches!(self.process, Process::Running)
    }

    fn on_batch<T>(&mut self, text: &str, items: Vec<T>, handle: &mut impl FnMut(&str, Vec<T>) -> Control) {
        self.last_message = Instant::now();
        if self.delivery == Delivery::Refused {
            return;
        }
        if let Control::Stop(reason) = handle(text, items) {
            self.delivery = Delivery::Refused;
            self.begin_stop(Termination::Stopped(reason));
        }
    }

    fn on_event<T>(
        &mut self,
        event: Notice<T>,
        reorder: &mut Reorder<T>,
        handle: &mut impl FnMut(&str, Vec<T>) -> Control,
    ) {
        match event {
            Notice::Batch(seq, mapped) => reorder.accept(seq, mapped, |text, items| self.on_batch(text, items, handle)),
            Notice::StdoutDone { chunks } => reorder.end_after(chunks),
            Notice::StderrDone => self.stderr = Pipe::Closed,
            Notice::Exited(status) => self.process = Process::Exited { status, at: Instant::now() },
            Notice::Wake => {}
        }
        if self.stdout == Pipe::Open && reorder.complete() {
            self.stdout = Pipe::Closed;
        }
    }

    fn check_stop_requests(&mut self) {
        let count = self.stop.count();
        if count == self.stop_requests_seen {
            return;
        }
        let mut new_requests = count - self.stop_requests_seen;
        self.stop_requests_seen = count;
        if let (Ladder::Untouched, Some(signal)) = (&self.ladder, self.stop.received()) {
            self.begin_stop(Termination::Interrupted(signal));
            new_requests -= 1;
        }
        // Any further request means "now".
        if new_requests > 0 {
            self.kill();
        }
    }

    fn begin_stop(&mut self, reason: Termination) {
        if matches!(self.ladder, Ladder::Untouched) {
            self.group.terminate();
            self.ladder = Ladder::Terminating { reason, kill_at: Instant::now() + self.limits.grace };
        }
    }

    /// The end of the ladder: SIGKILL if the connector still runs.
    fn kill(&mut self) {
        let reason = match &self.ladder {
            Ladder::Terminating { reason, .. } => reason.clone(),
            Ladder::Untouched | Ladder::Finished { .. } => return,
        };
        let killed = self.running();
        if killed {
            self.group.kill();
        }
        self.ladder = Ladder::Finished { reason, killed };
    }

    fn next_deadline(&self, now: Instant) -> Option<Instant> {
        let mut deadlines = Vec::with_capacity(4);
        match (&self.ladder, self.process) {
            (Ladder::Untouched, Process::Running) => {
                deadlines.extend(self.limits.idle_timeout.map(|idle| self.last_message + idle));
                deadlines.extend(self.limits.overall_timeout.map(|total| self.started + total));
            }
            (Ladder::Terminating { kill_at, .. }, Process::Running) => deadlines.push(*kill_at),
            _ => {}
        }
        if let Process::Exited { at, .. } = self.process {
            // Pipes still open after the exit: something the connector started holds them.
            deadlines.push(at.max(self.last_message) + LEAK_TIMEOUT);
        }
        deadlines.into_iter().min().map(|at| at.max(now))
    }

    fn on_deadline(&mut self, now: Instant) {
        match (&self.ladder, self.process) {
            (_, Process::Exited { at, .. }) => {
                if now >= at.max(self.last_message) + LEAK_TIMEOUT {
                    self.on_pipes_held(now);
                }
            }
            (Ladder::Terminating { kill_at, .. }, Process::Running) => {
                if now >= *kill_at {
                    self.kill();
                }
            }
            (Ladder::Untouched, Process::Running) => {
                if let Some(total) = self.limits.overall_timeout.filter(|total| now >= self.started + *total) {
                    self.begin_stop(Termination::OverallTimeout(total));
                } else if let Some(idle) = self.limits.idle_timeout.filter(|idle| now >= self.last_message + *idle) {
                    self.begin_stop(Termination::IdleTimeout(idle));
                }
            }
            (Ladder::Finished { .. }, Process::Running) => {}
        }
    }

    /// The connector exited but its pipes stay open: kill what it left behind, and if
    /// that does not close them either, abandon them.
    fn on_pipes_held(&mut self, now: Instant) {
        match self.leftovers {
            Leftovers::Spared => {
                self.group.kill_leftovers();
                self.leftovers = Leftovers::Killed;
                self.last_message = now;
            }
            Leftovers::Killed => {
                for pipe in [&mut self.stdout, &mut self.stderr] {
                    if *pipe == Pipe::Open {
                        *pipe = Pipe::Abandoned;
                    }
                }
            }
        }
    }

    fn into_outcome(self, stderr: Captured) -> Outcome {
        let status = match self.process {
            Process::Exited { status, .. } => Some(status),
            Process::Running => None,
        };
        let (stopped_for, killed) = match self.ladder {
            Ladder::Untouched => (None, false),
            Ladder::Terminating { reason, .. } => (Some(reason), false),
            Ladder::Finished { reason, killed } => (Some(reason), killed),
        };
        let termination = match (stopped_for, status) {
            (Some(reason), _) => reason,
            (None, Some(status)) => match (status.code(), status.signal()) {
                (Some(code), _) => Termination::Exited(code),
                (None, Some(signal)) => Termination::Signalled(signal),
                (None, None) => Termination::Exited(-1),
            },
            (None, None) => Termination::Stopped("the connector's pipes closed before it could be reaped".into()),
        };
        Outcome { termination, status, killed, stderr, elapsed: self.started.elapsed() }
    }
}

fn read_stderr<T>(
    mut stderr: ChildStderr,
    capture: &Mutex<HeadTail>,
    mut echo: Option<StderrEcho>,
    tx: &SyncSender<Notice<T>>,
) {
    let mut chunk = vec![0u8; 64 * 1024];
    let mut line = Vec::new();
    loop {
        let n = match stderr.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        capture.lock().unwrap_or_else(|e| e.into_inner()).push(&chunk[..n]);
        if let Some(echo) = echo.as_mut() {
            echo_lines(&chunk[..n], &mut line, echo);
        }
    }
    if let Some(echo) = echo.as_mut().filter(|_| !line.is_empty()) {
        echo(&String::from_utf8_lossy(&line));
    }
    let _ = tx.send(Notice::StderrDone);
}

fn echo_lines(mut bytes: &[u8], line: &mut Vec<u8>, echo: &mut StderrEcho) {
    while !bytes.is_empty() {
        let newline = bytes.iter().position(|&b| b == b'\n');
        let end = newline.unwrap_or(bytes.len()).min(ECHO_LINE_BYTES - line.len());
        line.extend_from_slice(&bytes[..end]);
        let complete = newline == Some(end);
        bytes = &bytes[end + usize::from(complete)..];
        if complete || line.len() >= ECHO_LINE_BYTES {
            echo(String::from_utf8_lossy(line).trim_end_matches('\r'));
            line.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sh(script: &str, stdin: Option<&str>, limits: Limits) -> (Outcome, Vec<String>) {
        let invocation = Invocation {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            stdin: stdin.map(|s| s.as_bytes().to_vec()),
            limits,
            stop: Stop::new(),
        };
        let mut seen = Vec::new();
        let map = |line: RawLine<'_>| match line.and_then(|line| line.decode()) {
            Ok((line, message)) => format!("{line}:{}", message.type_name()),
            Err(error) => format!("error:{error}"),
        };
        let outcome = run(invocation, None, map, |_, batch| {
            seen.extend(batch);
            Control::Continue
        })
        .unwrap();
        (outcome, seen)
    }

    #[test]
    fn messages_are_numbered_and_the_exit_code_is_kept() {
        let script =
            r#"echo '{"type":"log","level":"info","message":"a"}'; echo; echo '{"type":"state","state":1}'; exit 3"#;
        let (outcome, seen) = sh(script, None, Limits::default());
        assert_eq!(seen, ["1:log", "3:state"]);
        assert_eq!(outcome.termination, Termination::Exited(3));
    }

    #[test]
    fn lines_arrive_in_order_across_many_chunks_and_mappers() {
        // ~3 MB of output: several chunks, mapped by several threads, must come back in order.
        let script = "seq 1 60000 | sed 's/.*/{\"type\":\"state\",\"state\":&,\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxx\"}/'";
        let (outcome, seen) = sh(script, None, Limits::default());
        assert!(outcome.success(), "{outcome:?}");
        let numbers: Vec<u64> = seen.iter().map(|s| s.split(':').next().unwrap().parse().unwrap()).collect();
        assert_eq!(numbers, (1..=60000).collect::<Vec<u64>>());
    }

    #[test]
    fn many_lines_longer_than_a_chunk_all_arrive_and_one_over_the_limit_is_refused() {
        // Twelve 1.5 MB lines: each grows a chunk buffer past twice its size, more times than
        // there are buffers; every buffer must still go back to the reader. Then a line over
        // the 4 MB limit is refused without ending the stream.
        let line = r#"printf '{"type":"state","state":"%s"}\n' "$(head -c 1500000 /dev/zero | tr '\0' x)""#;
        let script = format!(
            "for i in 1 2 3 4 5 6 7 8 9 10 11 12; do {line}; done; head -c 5000000 /dev/zero | tr '\\0' y; echo; {line}"
        );
        let limits = Limits { max_message_bytes: 4_000_000, ..Limits::default() };
        let (outcome, seen) = sh(&script, None, limits);
        assert!(outcome.success(), "{outcome:?}");
        assert_eq!(seen.len(), 14, "{seen:?}");
        let states: Vec<&str> = seen.iter().filter(|s| s.ends_with(":state")).map(String::as_str).collect();
        let expected: Vec<String> = (1..=12).chain([14]).map(|n| format!("{n}:state")).collect();
        assert_eq!(states, expected);
        assert!(seen[12].starts_with("error:line 13 "), "{}", seen[12]);
    }

    #[test]
    fn stdin_is_fed_then_closed() {
        let (outcome, seen) = sh("cat", Some("{\"type\":\"state\",\"state\":{}}\n"), Limits::default());
        assert_eq!(seen, ["1:state"]);
        assert!(outcome.success());
    }

    #[test]
    fn garbage_is_reported_with_its_line_number() {
        let (_, seen) = sh("echo '{\"type\":\"state\",\"state\":1}'; echo 'oops'", None, Limits::default());
        assert_eq!(seen[0], "1:state");
        assert!(seen[1].starts_with("error:line 2 is not a valid protocol message"), "{seen:?}");
    }

    #[test]
    fn idle_timeout_stops_a_silent_connector() {
        let limits = Limits { idle_timeout: Some(Duration::from_millis(200)), ..Limits::default() };
        let (outcome, _) = sh("sleep 30", None, limits);
        assert_eq!(outcome.termination, Termination::IdleTimeout(Duration::from_millis(200)));
        assert!(!outcome.killed, "sh dies on SIGTERM");
    }

    #[test]
    fn a_connector_ignoring_sigterm_is_killed_after_the_grace_period() {
        // The script says it is ready on stdout only once its trap is in place; the caller
        // stops it on that line, so SIGTERM can never arrive before the trap.
        let limits = Limits { grace: Duration::from_millis(200), ..Limits::default() };
        let script =
            r#"trap '' TERM; echo '{"type":"log","level":"info","message":"ready"}'; while :; do sleep 1; done"#;
        let invocation = Invocation {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            stdin: None,
            limits,
            stop: Stop::new(),
        };
        let outcome = run(invocation, None, |_| (), |_, _| Control::Stop("ready".into())).unwrap();
        assert_eq!(outcome.termination, Termination::Stopped("ready".into()));
        assert!(outcome.killed, "SIGTERM was ignored, so SIGKILL ended it");
        assert_eq!(outcome.status.and_then(|s| s.signal()), Some(libc::SIGKILL));
    }

    #[test]
    fn a_stop_request_stops_the_connector_and_a_second_kills_it_at_once() {
        // A grace period far longer than the test: only the second request can end it soon.
        let limits = Limits { grace: Duration::from_secs(3600), ..Limits::default() };
        let script =
            r#"trap '' TERM; echo '{"type":"log","level":"info","message":"ready"}'; while :; do sleep 1; done"#;
        let stop = Stop::new();
        let invocation = Invocation {
            program: "/bin/sh".into(),
            args: vec!["-c".into(), script.into()],
            stdin: None,
            limits,
            stop: stop.clone(),
        };
        let mut requests = 0;
        let outcome = run(
            invocation,
            None,
            |_| (),
            |_, _| {
                // First line: the trap is in place. Ask twice, as a user pressing Ctrl-C twice.
                if requests == 0 {
                    stop.request(StopSignal::Interrupt);
                    stop.request(StopSignal::Interrupt);
                }
                requests += 1;
                Control::Continue
            },
        )
        .unwrap();
        assert_eq!(outcome.termination, Termination::Interrupted(StopSignal::Interrupt));
        assert!(outcome.killed, "the second request killed it without waiting for the grace period");
        assert_eq!(outcome.status.and_then(|s| s.signal()), Some(libc::SIGKILL));
    }

    #[test]
    fn a_stop_request_made_before_the_start_stops_the_connector_at_once() {
        let stop = Stop::new();
        stop.request(StopSignal::Terminate);
        let invocation = Invocation {
            program: "/bin/sleep".into(),
            args: vec!["30".into()],
            stdin: None,
            limits: Limits::default(),
            stop,
        };
        let outcome = run(invocation, None, |_| (), |_, _: Vec<()>| Control::Continue).unwrap();
        assert_eq!(outcome.termination, Termination::Interrupted(StopSignal::Terminate));
        assert!(!outcome.killed, "sleep dies on SIGTERM");
    }

    #[test]
    fn stderr_floods_are_bounded_and_drained() {
        let limits = Limits { stderr_keep: 1024, ..Limits::default() };
        let (outcome, _) = sh("head -c 20000000 /dev/zero | tr '\\0' x >&2; echo done >&2", None, limits);
        assert!(outcome.success());
        assert_eq!(outcome.stderr.total_bytes, 20_000_005);
        assert!(outcome.stderr.tail.ends_with("done\n"));
        assert!(outcome.stderr.text().contains("bytes truncated"));
    }

    #[test]
    fn spawn_errors_say_what_is_wrong() {
        let invocation = Invocation {
            program: "/nonexistent/x".into(),
            args: vec![],
            stdin: None,
            limits: Limits::default(),
            stop: Stop::new(),
        };
        let err = run(invocation, None, |_| (), |_, _| Control::Continue).unwrap_err();
        assert!(matches!(err, SpawnError::NotFound { .. }), "{err}");
    }

    #[test]
    fn echo_splits_lines_and_bounds_them() {
        let mut got = Vec::new();
        {
            let mut echo: StderrEcho = Box::new(|_| {});
            let mut line = Vec::new();
            echo_lines(b"a\nbc", &mut line, &mut echo);
            assert_eq!(line, b"bc");
        }
        let collected = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&collected);
        let mut echo: StderrEcho = Box::new(move |l| sink.lock().unwrap().push(l.to_owned()));
        let mut line = Vec::new();
        echo_lines(b"one\r\ntw", &mut line, &mut echo);
        echo_lines(b"o\n", &mut line, &mut echo);
        echo_lines(&vec![b'z'; ECHO_LINE_BYTES + 1], &mut line, &mut echo);
        got.extend(collected.lock().unwrap().iter().map(|l| l.len().min(10)));
        assert_eq!(collected.lock().unwrap()[..2], ["one".to_owned(), "two".to_owned()]);
        assert_eq!(got, [3, 3, 10]);
        assert_eq!(line.len(), 1);
    }
}
