//! The PagerDuty simulator as the demo's child process: finding `pagerduty-mock` beside
//! the runner, starting it on a free loopback port, reading its address, calling its
//! control endpoints (request counters, churn), and stopping it.
//!
//! This is the one place outside [`engine::supervisor`] where the runner spawns a process:
//! the supervisor runs a connector to its end, while the simulator is a server that runs
//! until the demo stops it. [`Simulator`] owns the child, and its `Drop` kills and reaps
//! it, so no exit path (an error, a panic, Ctrl-C) leaves a server behind. On Linux the
//! child also asks the kernel to kill it should the runner itself be killed outright.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::Value;

use engine::error::StderrTail;
use engine::supervisor::capture::HeadTail;

/// The simulator's executable, expected beside the runner.
pub const PROGRAM: &str = "pagerduty-mock";

/// How long the simulator may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// Read and write timeout of one control request.
const CONTROL_TIMEOUT: Duration = Duration::from_secs(10);
/// Bytes of the simulator's stderr kept for error messages (head and tail each).
const STDERR_KEEP: usize = 8 * 1024;

/// Why the simulator could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SimulatorError {
    /// The executable could not be started.
    #[error("cannot start the simulator {program}: {source}")]
    Spawn {
        /// The executable.
        program: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// It did not print `listening on http://...` as its first line.
    #[error("the simulator {program} did not start: {reason}{stderr}")]
    NotListening {
        /// The executable.
        program: PathBuf,
        /// What happened instead.
        reason: String,
        /// Its stderr, fenced, or empty.
        stderr: String,
    },
    /// A control request failed.
    #[error("the simulator did not answer {method} {path}: {reason}")]
    Control {
        /// `GET` or `POST`.
        method: &'static str,
        /// The path and query.
        path: String,
        /// Why.
        reason: String,
    },
}

impl crate::failure::Classify for SimulatorError {
    /// The simulator is the demo's own part: it failing is a failure, never bad input.
    fn failure_kind(&self) -> engine::FailureKind {
        engine::FailureKind::Failed
    }
}

/// Request counts of the simulator since its counters were last reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestStats {
    /// API requests answered (control requests are not counted).
    pub total: u64,
}

/// What a churn did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Churn {
    /// Incidents created.
    pub created: usize,
    /// Incidents resolved.
    pub resolved: usize,
}

/// How to start the simulator.
#[derive(Debug, Clone)]
pub struct SimulatorConfig {
    /// The `pagerduty-mock` executable.
    pub program: PathBuf,
    /// `--incidents`.
    pub incidents: u64,
    /// `--days`.
    pub days: u32,
    /// `--seed`.
    pub seed: u64,
    /// `--token` (the user-level API token it accepts).
    pub token: String,
}

/// A running simulator; dropping it kills and reaps the process.
#[derive(Debug)]
pub struct Simulator {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    address: SocketAddr,
}

impl Simulator {
    /// Starts the simulator and waits (bounded) for its address.
    ///
    /// # Errors
    /// [`SimulatorError`] when it cannot be started, exits, or prints something else first.
    pub fn start(config: &SimulatorConfig) -> Result<Simulator, SimulatorError> {
        let mut child = command(config)
            .spawn()
            .map_err(|source| SimulatorError::Spawn { program: config.program.clone(), source })?;
        let (stderr, stderr_reader) = drain_stderr(child.stderr.take().expect("stderr is piped"));
        let first_line = first_line(child.stdout.take().expect("stdout is piped"));
        // From here on a `Simulator` owns the child, so every failure below still stops it.
        let mut simulator = Simulator { child, base_url: String::new(), address: ([127, 0, 0, 1], 0).into() };
        let listening = match first_line.recv_timeout(START_TIMEOUT) {
            Ok(Ok(line)) => parse_listening(&line),
            Ok(Err(reason)) => Err(reason),
            Err(_) => Err(format!("no address after {} s", START_TIMEOUT.as_secs())),
        };
        match listening {
            Ok((base_url, address)) => {
                simulator.base_url = base_url;
                simulator.address = address;
                Ok(simulator)
            }
            Err(reason) => {
                // Stop it and read its stderr to the end: that is where it says why.
                simulator.kill();
                let _ = stderr_reader.join();
                Err(SimulatorError::NotListening {
                    program: config.program.clone(),
                    reason,
                    stderr: stderr_block(&stderr),
                })
            }
        }
    }

    /// Clears the request counters.
    ///
    /// # Errors
    /// [`SimulatorError::Control`].
    pub fn reset_stats(&self) -> Result<(), SimulatorError> {
        self.control("POST", "/__mock/stats/reset").map(drop)
    }

    /// The request counters.
    ///
    /// # Errors
    /// [`SimulatorError::Control`], also when the answer lacks `total`.
    pub fn stats(&self) -> Result<RequestStats, SimulatorError> {
        let path = "/__mock/stats";
        let body = self.control("GET", path)?;
        let total = body["total"].as_u64().ok_or_else(|| bad_answer("GET", path, "no `total` count"))?;
        Ok(RequestStats { total })
    }

    /// Creates `new` incidents and resolves `resolve` open ones, now.
    ///
    /// # Errors
    /// [`SimulatorError::Control`], also when the answer lacks the lists.
    pub fn churn(&self, new: u32, resolve: u32) -> Result<Churn, SimulatorError> {
        let path = format!("/__mock/churn?new={new}&resolve={resolve}");
        let body = self.control("POST", &path)?;
        let count = |key: &str| body[key].as_array().map(Vec::len);
        match (count("created"), count("resolved")) {
            (Some(created), Some(resolved)) => Ok(Churn { created, resolved }),
            _ => Err(bad_answer("POST", &path, "no `created` and `resolved` lists")),
        }
    }

    /// Stops the simulator and waits for it (also done on drop).
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        // The simulator keeps nothing worth a graceful shutdown: SIGKILL, then reap.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn control(&self, method: &'static str, path: &str) -> Result<Value, SimulatorError> {
        let fail = |reason: String| SimulatorError::Control { method, path: path.to_owned(), reason };
        let (status, body) = http_request(self.address, method, path).map_err(|e| fail(e.to_string()))?;
        if !(200..300).contains(&status) {
            return Err(fail(format!("HTTP {status}: {}", body.trim())));
        }
        if body.trim().is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&body).map_err(|e| fail(format!("the answer is not JSON ({e})")))
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.kill();
    }
}

fn bad_answer(method: &'static str, path: &str, reason: &str) -> SimulatorError {
    SimulatorError::Control { method, path: path.to_owned(), reason: reason.to_owned() }
}

/// The command line: a free port, the demo's data, its own process group (a terminal's
/// Ctrl-C reaches the runner, which then stops everything in order).
fn command(config: &SimulatorConfig) -> Command {
    let mut command = Command::new(&config.program);
    command
        .args(["--port", "0", "--seed", &config.seed.to_string()])
        .args(["--incidents", &config.incidents.to_string(), "--days", &config.days.to_string()])
        .args(["--token", &config.token])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    // The kernel kills the simulator when the runner dies, even by SIGKILL.
    process_guard::die_with_parent(&mut command);
    command
}

/// Reads stderr into a bounded buffer until the simulator closes it.
fn drain_stderr(mut stderr: ChildStderr) -> (Arc<Mutex<HeadTail>>, JoinHandle<()>) {
    let buffer = Arc::new(Mutex::new(HeadTail::new(STDERR_KEEP, STDERR_KEEP)));
    let sink = Arc::clone(&buffer);
    let reader = thread::spawn(move || {
        let mut chunk = [0u8; 4096];
        while let Ok(n @ 1..) = stderr.read(&mut chunk) {
            sink.lock().unwrap_or_else(|e| e.into_inner()).push(&chunk[..n]);
        }
    });
    (buffer, reader)
}

fn stderr_block(stderr: &Mutex<HeadTail>) -> String {
    let captured = stderr.lock().unwrap_or_else(|e| e.into_inner()).snapshot();
    StderrTail::of(&captured, &protocol::Redactor::default()).map(|tail| format!("\n{tail}")).unwrap_or_default()
}

/// Sends the first stdout line (or why there is none), then keeps draining stdout so
/// the simulator can never block writing to it.
fn first_line(stdout: ChildStdout) -> mpsc::Receiver<Result<String, String>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let first = match reader.read_line(&mut line) {
            Ok(0) => Err("it exited before printing its address".to_owned()),
            Ok(_) => Ok(line.trim_end().to_owned()),
            Err(e) => Err(format!("cannot read its stdout: {e}")),
        };
        let _ = tx.send(first);
        let _ = io::copy(&mut reader, &mut io::sink());
    });
    rx
}

/// `listening on http://127.0.0.1:PORT` into the URL and the socket address.
fn parse_listening(line: &str) -> Result<(String, SocketAddr), String> {
    let unexpected = || format!("expected `listening on http://127.0.0.1:PORT` first, got `{line}`");
    let url = line.strip_prefix("listening on ").ok_or_else(unexpected)?;
    let address: SocketAddr = url.strip_prefix("http://").and_then(|a| a.parse().ok()).ok_or_else(unexpected)?;
    Ok((url.to_owned(), address))
}

/// One HTTP/1.1 request with an empty body, on loopback; returns the status and body.
/// (The control endpoints answer small JSON bodies with a Content-Length, so a minimal
/// client is enough and the runner needs no HTTP library.)
fn http_request(address: SocketAddr, method: &str, path: &str) -> io::Result<(u16, String)> {
    let mut stream = TcpStream::connect_timeout(&address, CONTROL_TIMEOUT)?;
    stream.set_read_timeout(Some(CONTROL_TIMEOUT))?;
    stream.set_write_timeout(Some(CONTROL_TIMEOUT))?;
    let request =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer)?;
    parse_response(&String::from_utf8_lossy(&answer))
}

fn parse_response(answer: &str) -> io::Result<(u16, String)> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("malformed HTTP answer: {what}"));
    let (head, body) = answer.split_once("\r\n\r\n").ok_or_else(|| invalid("no end of headers"))?;
    let status =
        head.split_whitespace().nth(1).and_then(|code| code.parse().ok()).ok_or_else(|| invalid("no status code"))?;
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return Err(invalid("chunked bodies are not expected from the simulator"));
    }
    Ok((status, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_listening_line_gives_url_and_address() {
        let (url, address) = parse_listening("listening on http://127.0.0.1:41234").unwrap();
        assert_eq!(url, "http://127.0.0.1:41234");
        assert_eq!(address.port(), 41234);
        let err = parse_listening("starting...").unwrap_err();
        assert!(err.contains("expected `listening on http://127.0.0.1:PORT` first, got `starting...`"), "{err}");
    }

    #[test]
    fn responses_give_status_and_body() {
        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 11\r\n\r\n{\"total\":3}";
        assert_eq!(parse_response(answer).unwrap(), (200, "{\"total\":3}".to_owned()));
        assert_eq!(parse_response("HTTP/1.1 204 No Content\r\n\r\n").unwrap(), (204, String::new()));
        assert!(parse_response("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc").is_err());
        assert!(parse_response("garbage").is_err());
    }

    #[test]
    fn a_program_that_exits_at_once_is_reported_with_its_stderr() {
        let config =
            SimulatorConfig { program: PathBuf::from("/bin/sh"), incidents: 1, days: 1, seed: 1, token: "t".into() };
        // `sh --port 0 ...` fails at once with a complaint on stderr.
        let err = Simulator::start(&config).unwrap_err().to_string();
        assert!(err.starts_with("the simulator /bin/sh did not start: it exited before printing its address"), "{err}");
        assert!(err.contains("---- stderr"), "{err}");
    }
}
