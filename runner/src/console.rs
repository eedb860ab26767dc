//! The runner's own terminal output while it works: it renders the engine's events
//! (connector log lines, the connector's stderr with `-v`, the runner's notes, progress
//! bars). Shared by every parallel job.
//!
//! Logs and progress go to stderr; stdout carries only results (the spec, streams, the
//! summary, or records with `--output -`). Progress is drawn only when stderr is a
//! terminal and `-q` is not given; no colours are used, so `NO_COLOR` is honoured.

use std::collections::{BTreeMap, HashMap};
use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use protocol::LogLevel;

use crate::engine::{Event, EventSink};

/// How much the runner says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Verbosity {
    /// `-q`: errors and results only.
    Quiet,
    /// Info and above from connectors, progress, summary.
    Normal,
    /// `-v`: debug logs and connector stderr too.
    Verbose,
}

/// Where the runner's messages go: stderr, with progress bars on a terminal.
#[derive(Debug)]
pub struct Console {
    verbosity: Verbosity,
    bars: Option<Bars>,
    // Serialises whole lines from parallel jobs.
    lock: Mutex<()>,
}

/// The progress bars being drawn, one per running stream sync.
#[derive(Debug)]
struct Bars {
    multi: MultiProgress,
    running: Mutex<HashMap<(String, String), Progress>>,
}

impl Console {
    /// A console; progress bars are drawn only on a terminal and without `-q`.
    pub fn new(verbosity: Verbosity) -> Self {
        let draw = verbosity > Verbosity::Quiet && io::stderr().is_terminal();
        let bars = draw.then(|| Bars {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()),
            running: Mutex::new(HashMap::new()),
        });
        Console { verbosity, bars, lock: Mutex::new(()) }
    }

    /// The verbosity.
    pub fn verbosity(&self) -> Verbosity {
        self.verbosity
    }

    /// A runner note (not with `-q`).
    pub fn note(&self, message: &str) {
        if self.verbosity > Verbosity::Quiet {
            self.line(message);
        }
    }

    /// A warning, always shown.
    pub fn warn(&self, message: &str) {
        self.line(&format!("warning: {message}"));
    }

    fn line(&self, text: &str) {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        let write = || {
            let _ = writeln!(io::stderr().lock(), "{text}");
        };
        match &self.bars {
            Some(bars) => bars.multi.suspend(write),
            None => write(),
        }
    }

    fn connector_log(&self, source: &str, level: LogLevel, message: &str) {
        let shown = match self.verbosity {
            Verbosity::Quiet => false,
            Verbosity::Normal => level <= LogLevel::Info,
            Verbosity::Verbose => true,
        };
        if shown {
            self.line(&format!("[{source}] {level}: {message}"));
        }
    }
}

impl EventSink for Console {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::ConnectorLog { source, level, message } => self.connector_log(source, level, message),
            Event::ConnectorStderr { source, line } if self.verbosity == Verbosity::Verbose => {
                self.line(&format!("[{source}] stderr: {line}"))
            }
            Event::ConnectorStderr { .. } => {}
            Event::Debug { message } if self.verbosity == Verbosity::Verbose => self.line(&format!("debug: {message}")),
            Event::Debug { .. } => {}
            Event::SecretMasked { message, .. } => self.warn(message),
            Event::WaitingForConnection { connection, holder } => self.note(&format!(
                "waiting: connection `{connection}` is being synced by {holder}; this sync starts when it ends \
                 (Ctrl-C to give up)"
            )),
            Event::StreamStarted { connection, stream } => {
                if let Some(bars) = &self.bars {
                    let progress = Progress::start(&bars.multi, &format!("{connection} {stream}"));
                    let key = (connection.to_owned(), stream.to_owned());
                    bars.running.lock().unwrap_or_else(PoisonError::into_inner).insert(key, progress);
                }
            }
            Event::Progress { connection, stream, records_by_type, rejected } => {
                if let Some(bars) = &self.bars {
                    let mut running = bars.running.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Some(progress) = running.get_mut(&(connection.to_owned(), stream.to_owned())) {
                        progress.update(records_by_type, rejected);
                    }
                }
            }
            Event::StreamFinished { connection, result } => {
                if let Some(bars) = &self.bars {
                    let key = (connection.to_owned(), result.stream.clone());
                    let finished = bars.running.lock().unwrap_or_else(PoisonError::into_inner).remove(&key);
                    if let Some(progress) = finished {
                        progress.bar.finish_and_clear();
                    }
                }
            }
        }
    }

    fn wants_stderr(&self) -> bool {
        self.verbosity == Verbosity::Verbose
    }
}

/// The progress line of one stream: records/s and counts by `_type`.
#[derive(Debug)]
struct Progress {
    bar: ProgressBar,
    started: Instant,
    last_draw: Option<Instant>,
}

impl Progress {
    fn start(bars: &MultiProgress, label: &str) -> Self {
        let bar = bars.add(ProgressBar::new_spinner());
        bar.set_style(ProgressStyle::with_template("{spinner} {prefix} {wide_msg} [{elapsed}]").expect("valid"));
        bar.set_prefix(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar, started: Instant::now(), last_draw: None }
    }

    /// Updates the line, at most ten times a second (formatting is not free).
    fn update(&mut self, records_by_type: &BTreeMap<String, u64>, rejected: u64) {
        if self.last_draw.is_some_and(|at| at.elapsed() < Duration::from_millis(100)) {
            return;
        }
        self.last_draw = Some(Instant::now());
        self.bar.set_message(progress_message(records_by_type, rejected, self.started.elapsed()));
    }
}

fn progress_message(records_by_type: &BTreeMap<String, u64>, rejected: u64, elapsed: Duration) -> String {
    let total: u64 = records_by_type.values().sum();
    let rate = total as f64 / elapsed.as_secs_f64().max(0.001);
    let types = records_by_type.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", ");
    let rejected = if rejected > 0 { format!(", {rejected} rejected") } else { String::new() };
    format!("{total} records ({rate:.0}/s){rejected}  {types}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_message_has_rate_and_counts_by_type() {
        let counts = BTreeMap::from([("Incident".to_owned(), 300), ("Team".to_owned(), 100)]);
        let message = progress_message(&counts, 2, Duration::from_secs(2));
        assert_eq!(message, "400 records (200/s), 2 rejected  Incident 300, Team 100");
    }
}
