//! The runner's own terminal output while it works: it renders the engine's events
//! (connector log lines, the connector's stderr with `-v`, the runner's notes, progress
//! bars). Shared by every parallel job.
//!
//! Logs and progress go to stderr; stdout carries only results (the spec, streams, the
//! summary, or records with `--output -`). Progress is drawn only when stderr is a
//! terminal and `-q` is not given; no colours are used, so `NO_COLOR` is honoured. A
//! connector that sends `progress` messages gets a percentage and an estimated time left
//! on its line ([`Estimate`]).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, IsTerminal, Write};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use protocol::{LogLevel, ProgressMessage};

use crate::untrusted::{escape, escape_lines};
use engine::{Event, EventSink};

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
            // The last line of defence: runner notes quote connector text too (a worker's
            // warnings hold whole errors).
            let _ = writeln!(io::stderr().lock(), "{}", escape_lines(text));
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
            self.line(&format!("[{source}] {level}: {}", escape(message)));
        }
    }
}

impl EventSink for Console {
    fn event(&self, event: Event<'_>) {
        match event {
            Event::ConnectorLog { source, level, message } => self.connector_log(source, level, message),
            Event::ConnectorStderr { source, line } if self.verbosity == Verbosity::Verbose => {
                self.line(&format!("[{source}] stderr: {}", escape(line)))
            }
            Event::ConnectorStderr { .. } => {}
            Event::Debug { message } if self.verbosity == Verbosity::Verbose => self.line(&format!("debug: {message}")),
            Event::Debug { .. } => {}
            Event::SecretMasked { message, .. } => self.warn(message),
            Event::FormatDrift { connection, message } => self.warn(&format!("connection `{connection}`, {message}")),
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
            Event::ConnectorProgress { connection, stream, progress: said } => {
                if let Some(bars) = &self.bars {
                    let mut running = bars.running.lock().unwrap_or_else(PoisonError::into_inner);
                    if let Some(progress) = running.get_mut(&(connection.to_owned(), stream.to_owned())) {
                        progress.connector_said(said);
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

/// The progress line of one stream: the connector's percentage and time left when it
/// says how far it has got, then records/s and counts by `_type`.
#[derive(Debug)]
struct Progress {
    bar: ProgressBar,
    started: Instant,
    last_draw: Option<Instant>,
    records: String,
    estimate: Option<Estimate>,
}

impl Progress {
    fn start(bars: &MultiProgress, label: &str) -> Self {
        let bar = bars.add(ProgressBar::new_spinner());
        bar.set_style(ProgressStyle::with_template("{spinner} {prefix} {wide_msg} [{elapsed}]").expect("valid"));
        bar.set_prefix(label.to_owned());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar, started: Instant::now(), last_draw: None, records: String::new(), estimate: None }
    }

    /// New counts of stored records.
    fn update(&mut self, records_by_type: &BTreeMap<String, u64>, rejected: u64) {
        if self.due() {
            self.records = progress_message(records_by_type, rejected, self.started.elapsed());
            self.draw();
        }
    }

    /// A `progress` message of the connector.
    fn connector_said(&mut self, progress: &ProgressMessage) {
        self.estimate.get_or_insert_with(Estimate::default).observe(Instant::now(), progress);
        if self.due() {
            self.draw();
        }
    }

    /// Whether to draw now: at most ten times a second (formatting is not free).
    fn due(&mut self) -> bool {
        if self.last_draw.is_some_and(|at| at.elapsed() < Duration::from_millis(100)) {
            return false;
        }
        self.last_draw = Some(Instant::now());
        true
    }

    fn draw(&self) {
        let message = match &self.estimate {
            Some(estimate) => format!("{}  {}", estimate.text(), self.records),
            None => self.records.clone(),
        };
        self.bar.set_message(message);
    }
}

fn progress_message(records_by_type: &BTreeMap<String, u64>, rejected: u64, elapsed: Duration) -> String {
    let total: u64 = records_by_type.values().sum();
    let rate = total as f64 / elapsed.as_secs_f64().max(0.001);
    let types = records_by_type.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", ");
    let rejected = if rejected > 0 { format!(", {rejected} rejected") } else { String::new() };
    format!("{total} records ({rate:.0}/s){rejected}  {types}")
}

/// How long the rate behind a time-left estimate looks back: long enough to smooth the
/// connector's bursts, short enough to follow a change of pace (a rate limit shared with
/// a sync that has finished).
const RATE_WINDOW: Duration = Duration::from_secs(60);

/// Percent done and time left, from a connector's `progress` messages: the work left
/// divided by the rate of the last [`RATE_WINDOW`].
#[derive(Debug, Default)]
struct Estimate {
    done: u64,
    total: Option<u64>,
    unit: String,
    /// `(when, done)`, oldest first, spanning about the rate window.
    samples: VecDeque<(Instant, u64)>,
}

impl Estimate {
    fn observe(&mut self, at: Instant, progress: &ProgressMessage) {
        self.done = progress.done;
        self.total = progress.total;
        self.unit = progress.unit.clone().unwrap_or_else(|| "items".to_owned());
        self.samples.push_back((at, progress.done));
        while self.samples.len() > 2 && self.samples.get(1).is_some_and(|&(t, _)| at.duration_since(t) >= RATE_WINDOW) {
            self.samples.pop_front();
        }
    }

    /// Whole percent done (never 100 before the work is), when the total is known.
    fn percent(&self) -> Option<u64> {
        let total = self.total.filter(|&t| t > 0)?;
        Some(if self.done >= total { 100 } else { self.done * 100 / total })
    }

    /// Time left at the recent rate; `None` until a second of progress has been seen.
    fn remaining(&self) -> Option<Duration> {
        let total = self.total?;
        let left = total.saturating_sub(self.done);
        if left == 0 {
            return Some(Duration::ZERO);
        }
        let (&(first_at, first), &(last_at, last)) = (self.samples.front()?, self.samples.back()?);
        let span = last_at.duration_since(first_at);
        if span < Duration::from_secs(1) || last <= first {
            return None;
        }
        let rate = (last - first) as f64 / span.as_secs_f64();
        Some(Duration::from_secs_f64((left as f64 / rate).round()))
    }

    fn text(&self) -> String {
        match (self.total, self.percent()) {
            (Some(total), Some(percent)) => {
                let left = self.remaining().filter(|_| percent < 100);
                let left = left.map(|left| format!(", {} left", crate::human::duration(left)));
                format!("{percent}% of {total} {}{}", self.unit, left.unwrap_or_default())
            }
            _ => format!("{} {}", self.done, self.unit),
        }
    }
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

    fn said(done: u64, total: Option<u64>) -> ProgressMessage {
        ProgressMessage::items(done, total)
    }

    #[test]
    fn an_estimate_gives_the_percentage_and_the_time_left_at_the_recent_rate() {
        let t0 = Instant::now();
        let mut estimate = Estimate::default();
        estimate.observe(t0, &said(0, Some(1000)));
        assert_eq!(estimate.text(), "0% of 1000 items", "no rate yet, no time left");
        estimate.observe(t0 + Duration::from_secs(10), &said(100, Some(1000)));
        assert_eq!(estimate.percent(), Some(10));
        assert_eq!(estimate.remaining(), Some(Duration::from_secs(90)));
        assert_eq!(estimate.text(), "10% of 1000 items, 1 min 30 s left");
        // The rate looks back a minute: after a change of pace the old one is forgotten.
        estimate.observe(t0 + Duration::from_secs(70), &said(700, Some(1000)));
        estimate.observe(t0 + Duration::from_secs(130), &said(730, Some(1000)));
        assert_eq!(estimate.remaining(), Some(Duration::from_secs(540)), "30 items in the last minute");
        estimate.observe(t0 + Duration::from_secs(131), &said(1000, Some(1000)));
        assert_eq!((estimate.percent(), estimate.remaining()), (Some(100), Some(Duration::ZERO)));
    }

    #[test]
    fn an_estimate_never_shows_100_before_the_end_or_more_after_it_and_copes_without_a_total() {
        let t0 = Instant::now();
        let mut estimate = Estimate::default();
        estimate.observe(t0, &said(999, Some(1000)));
        assert_eq!(estimate.percent(), Some(99));
        estimate.observe(t0, &said(1200, Some(1000)));
        assert_eq!(estimate.text(), "100% of 1000 items");
        estimate.observe(t0, &ProgressMessage { done: 7, total: None, unit: Some("pages".into()) });
        assert_eq!((estimate.text(), estimate.remaining()), ("7 pages".to_owned(), None));
        estimate.observe(t0, &said(0, Some(0)));
        assert_eq!(estimate.text(), "0 items", "an empty total is no percentage");
    }
}
