//! Webhook alerts: a JSON POST when a run fails, and when a stream's last success is
//! older than a threshold. `sync` and `sync-all` use it with `--notify-url` and
//! `--stale-after`; a long-running worker can call the same functions after each sync.
//!
//! - [`alerts_for`] turns the results of a command into [`Alert`]s: one per failed stream
//!   run, one per connection that failed before any stream ran, and (with a threshold) one
//!   per stale stream of each connection the command synced, read from its database's
//!   history after the syncs. Interrupted runs (someone stopped them) raise nothing.
//! - [`Notifier::send_all`] POSTs them one by one within one short budget for the whole
//!   command ([`BUDGET`]): a receiver that is down, refuses, or never answers costs at most
//!   that, and never fails the sync; what was not delivered comes back as errors for the
//!   caller to print.
//!
//! The body is JSON with a Slack-compatible `text` (Slack incoming webhooks and most chat
//! tools show it) and the fields a program wants. It holds names, counts, times and the
//! run's error, which the engine masked when it built it; never a configuration value.
//! The URL itself may be a secret (a Slack webhook's path is one), so messages show only
//! its scheme, host and port.

use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

use crate::human;
use engine::result::ConnectionResult;
use engine::FailureKind;
use store::history::{self, is_stale, StreamStatus};
use store::{OutputSpec, RunOutcome};

/// How long all the alerts of one command may take together: connecting, sending and
/// waiting for the answer. Past it, the rest are not sent.
pub const BUDGET: Duration = Duration::from_secs(5);

/// The longest error text sent (the head is the useful part; the stderr tail follows it).
const MAX_ERROR_BYTES: usize = 4096;

/// Something worth telling a person.
#[derive(Debug, Clone, PartialEq)]
pub enum Alert {
    /// A stream's run failed, or the connection failed before any stream ran (`stream` is
    /// `None`).
    RunFailed {
        /// The connection's name.
        connection: String,
        /// The connector as named.
        connector: String,
        /// The stream, if the failure was one stream's.
        stream: Option<String>,
        /// The error, secrets masked by the engine.
        error: String,
        /// Records stored by the run before it failed.
        records: u64,
        /// How long it ran.
        duration: Duration,
    },
    /// A stream has not succeeded within the threshold.
    Stale {
        /// The connection's name.
        connection: String,
        /// The connector as named.
        connector: String,
        /// The stream.
        stream: String,
        /// When its last success ended, if it ever succeeded.
        last_success: Option<DateTime<Utc>>,
        /// The threshold.
        stale_after: Duration,
    },
}

impl Alert {
    /// The alert's JSON body, as of `now`, sent from `host`.
    pub fn body(&self, host: &str, now: DateTime<Utc>) -> Value {
        let at = now.to_rfc3339_opts(SecondsFormat::Secs, true);
        match self {
            Alert::RunFailed { connection, connector, stream, error, records, duration } => {
                let headline = error.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
                let place = stream.as_ref().map_or_else(String::new, |s| format!(" (stream `{s}`)"));
                json!({
                    "text": format!(":x: runner: the sync of `{connection}`{place} failed on {host}: {headline}"),
                    "kind": "run_failed",
                    "connection": connection,
                    "connector": connector,
                    "stream": stream,
                    "outcome": "failed",
                    "error": truncate(error, MAX_ERROR_BYTES),
                    "records": records,
                    "duration_ms": duration.as_millis() as u64,
                    "host": host,
                    "at": at,
                })
            }
            Alert::Stale { connection, connector, stream, last_success, stale_after } => {
                let since = match last_success {
                    Some(when) => format!(
                        "its last success was {} ago ({})",
                        human::age((now - *when).to_std().unwrap_or(Duration::ZERO)),
                        when.to_rfc3339_opts(SecondsFormat::Secs, true)
                    ),
                    None => "it has never succeeded".to_owned(),
                };
                json!({
                    "text": format!(
                        ":warning: runner: `{connection}` (stream `{stream}`) is stale: {since}, more than {} ago",
                        human::age(*stale_after)
                    ),
                    "kind": "stale",
                    "connection": connection,
                    "connector": connector,
                    "stream": stream,
                    "last_success": last_success.map(|t| t.to_rfc3339_opts(SecondsFormat::Secs, true)),
                    "stale_after_s": stale_after.as_secs(),
                    "host": host,
                    "at": at,
                })
            }
        }
    }
}

/// `text` cut to at most `max` bytes at a character boundary, marked when cut.
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}[... {} bytes truncated]", &text[..end], text.len() - end)
}

/// Why an alert was not sent.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// `--notify-url` is not an http(s) URL.
    #[error("--notify-url is not an http:// or https:// URL: {reason}")]
    BadUrl {
        /// What is wrong (never the URL's path or query, which may hold a token).
        reason: String,
    },
    /// The receiver could not be reached, did not answer in time, or refused.
    #[error("alert about `{connection}` not delivered to {receiver}: {reason}")]
    Undelivered {
        /// The alert's connection.
        connection: String,
        /// Scheme, host and port of the URL.
        receiver: String,
        /// The cause.
        reason: String,
    },
    /// The budget ran out before these alerts were sent.
    #[error("{count} alert(s) not sent to {receiver}: the {} s allowed for alerts ran out", BUDGET.as_secs())]
    OutOfTime {
        /// How many.
        count: usize,
        /// Scheme, host and port of the URL.
        receiver: String,
    },
    /// The history needed for staleness could not be read.
    #[error("cannot check whether `{connection}` is stale: {source}")]
    History {
        /// The connection.
        connection: String,
        /// The cause.
        #[source]
        source: history::HistoryError,
    },
    /// The output keeps no history to read staleness from.
    #[error(
        "cannot check whether `{connection}` is stale: its output {output} keeps no history the runner reads \
         (use a SQLite or PostgreSQL --output)"
    )]
    NoHistory {
        /// The connection.
        connection: String,
        /// The output as shown.
        output: String,
    },
}

impl crate::failure::Classify for AlertError {
    fn failure_kind(&self) -> engine::FailureKind {
        crate::failure::bad_input_if(self.is_bad_input())
    }
}

impl AlertError {
    /// True for a bad `--notify-url` (bad input, found before anything runs).
    pub fn is_bad_input(&self) -> bool {
        matches!(self, AlertError::BadUrl { .. })
    }
}

/// Where alerts go, and the client that takes them there.
#[derive(Debug)]
pub struct Notifier {
    url: reqwest::Url,
    receiver: String,
    budget: Duration,
}

impl Notifier {
    /// A notifier for `url`, checked now (before any sync starts).
    ///
    /// # Errors
    /// [`AlertError::BadUrl`].
    pub fn new(url: &str) -> Result<Notifier, AlertError> {
        Notifier::with_budget(url, BUDGET)
    }

    /// As [`Notifier::new`] with another budget (for tests).
    ///
    /// # Errors
    /// [`AlertError::BadUrl`].
    pub fn with_budget(url: &str, budget: Duration) -> Result<Notifier, AlertError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| AlertError::BadUrl { reason: e.to_string() })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(AlertError::BadUrl { reason: format!("the scheme is `{}`", parsed.scheme()) });
        }
        let Some(host) = parsed.host_str() else {
            return Err(AlertError::BadUrl { reason: "it names no host".into() });
        };
        let receiver = match parsed.port() {
            Some(port) => format!("{}://{host}:{port}", parsed.scheme()),
            None => format!("{}://{host}", parsed.scheme()),
        };
        Ok(Notifier { url: parsed, receiver, budget })
    }

    /// Scheme, host and port of the URL: what messages show of it.
    #[cfg(test)]
    pub fn receiver(&self) -> &str {
        &self.receiver
    }

    /// POSTs each alert in turn, all within the budget; returns what was not delivered.
    /// Never fails: a receiver that is down or slow only costs the budget.
    pub fn send_all(&self, alerts: &[Alert], now: DateTime<Utc>) -> Vec<AlertError> {
        if alerts.is_empty() {
            return Vec::new();
        }
        let deadline = Instant::now() + self.budget;
        // No client-wide timeout (reqwest's blocking default is 30 s): each request's own
        // timeout, what is left of the budget, is the one bound.
        let client = match reqwest::blocking::Client::builder()
            .timeout(None)
            .connect_timeout(self.budget)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("runner/", env!("CARGO_PKG_VERSION")))
            .build()
        {
            Ok(client) => client,
            Err(e) => {
                return vec![AlertError::Undelivered {
                    connection: alert_connection(&alerts[0]).to_owned(),
                    receiver: self.receiver.clone(),
                    reason: format!("no HTTP client: {e}"),
                }]
            }
        };
        let host = store::host_name();
        let mut errors = Vec::new();
        for (index, alert) in alerts.iter().enumerate() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                errors.push(AlertError::OutOfTime { count: alerts.len() - index, receiver: self.receiver.clone() });
                break;
            }
            let answer = client.post(self.url.clone()).timeout(left).json(&alert.body(&host, now)).send();
            let reason = match answer {
                Ok(response) if response.status().is_success() => continue,
                Ok(response) => format!("it answered {}", response.status()),
                Err(e) if e.is_timeout() => format!("no answer within {:.1} s", left.as_secs_f64()),
                Err(e) => describe(&e),
            };
            errors.push(AlertError::Undelivered {
                connection: alert_connection(alert).to_owned(),
                receiver: self.receiver.clone(),
                reason,
            });
        }
        errors
    }
}

fn alert_connection(alert: &Alert) -> &str {
    match alert {
        Alert::RunFailed { connection, .. } | Alert::Stale { connection, .. } => connection,
    }
}

/// A reqwest error with its causes, without the URL (which may hold a token).
fn describe(error: &reqwest::Error) -> String {
    let doing = if error.is_connect() { "cannot connect" } else { "cannot send" };
    match std::error::Error::source(error) {
        Some(cause) => format!("{doing}: {}", store::with_causes(cause)),
        None => doing.to_owned(),
    }
}

/// The alerts for the results of a command: each result with the output it synced into.
/// Staleness is checked only with `stale_after`, on every stream of each connection that
/// its database's history knows (a stream synced successfully just now is fresh; one the
/// command did not sync, or that failed, may not be). Returns the alerts and what could
/// not be checked.
pub fn alerts_for(
    results: &[(&ConnectionResult, &OutputSpec)],
    stale_after: Option<Duration>,
    now: DateTime<Utc>,
) -> (Vec<Alert>, Vec<AlertError>) {
    let mut alerts = Vec::new();
    let mut problems = Vec::new();
    for (result, output) in results {
        if let Some(error) = &result.error {
            if matches!(error.kind(), FailureKind::Failed | FailureKind::BadInput) {
                alerts.push(Alert::RunFailed {
                    connection: result.name.clone(),
                    connector: result.connector.clone(),
                    stream: None,
                    error: error.to_string(),
                    records: 0,
                    duration: result.duration,
                });
            }
        }
        for stream in &result.streams {
            if stream.outcome == RunOutcome::Failed {
                alerts.push(Alert::RunFailed {
                    connection: result.name.clone(),
                    connector: result.connector.clone(),
                    stream: Some(stream.stream.clone()),
                    error: stream.error.as_ref().map_or_else(|| "failed".to_owned(), ToString::to_string),
                    records: stream.records(),
                    duration: stream.duration,
                });
            }
        }
        let Some(stale_after) = stale_after else { continue };
        match stale_streams(result, output, stale_after, now) {
            Ok(stale) => alerts.extend(stale.into_iter().map(|status| Alert::Stale {
                connection: status.latest.connection,
                connector: status.latest.connector,
                stream: status.latest.stream_id,
                last_success: status.last_success,
                stale_after,
            })),
            Err(problem) => problems.push(problem),
        }
    }
    (alerts, problems)
}

fn stale_streams(
    result: &ConnectionResult,
    output: &OutputSpec,
    stale_after: Duration,
    now: DateTime<Utc>,
) -> Result<Vec<StreamStatus>, AlertError> {
    if !output.has_history() {
        return Err(AlertError::NoHistory { connection: result.name.clone(), output: output.to_string() });
    }
    let read = |source| AlertError::History { connection: result.name.clone(), source };
    let mut history = match output.history() {
        Ok(history) => history,
        // Nothing was ever stored: the connection has never succeeded, but no stream is
        // known to name; its failure alert says enough.
        Err(history::HistoryError::Missing { .. } | history::HistoryError::NotRunnerDatabase { .. }) => {
            return Ok(Vec::new())
        }
        Err(other) => return Err(read(other)),
    };
    let statuses = history.latest(Some(&result.name)).map_err(read)?;
    Ok(statuses.into_iter().filter(|s| is_stale(s.last_success, now, stale_after)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-03-10T12:00:00Z").unwrap().to_utc()
    }

    #[test]
    fn a_failure_says_where_and_why_in_its_text() {
        let alert = Alert::RunFailed {
            connection: "pd-main".into(),
            connector: "pagerduty".into(),
            stream: Some("acme".into()),
            error: "connector `pagerduty` (sync) failed (auth error): rejected\n---- stderr ----\nGET /teams: 401"
                .into(),
            records: 12,
            duration: Duration::from_millis(1500),
        };
        let body = alert.body("box", now());
        assert_eq!(
            body["text"],
            ":x: runner: the sync of `pd-main` (stream `acme`) failed on box: connector `pagerduty` (sync) failed (auth error): rejected"
        );
        assert_eq!((body["kind"].as_str(), body["stream"].as_str()), (Some("run_failed"), Some("acme")));
        assert_eq!((body["records"].as_u64(), body["duration_ms"].as_u64()), (Some(12), Some(1500)));
        assert!(body["error"].as_str().unwrap().ends_with("GET /teams: 401"));
        assert_eq!(body["at"], "2026-03-10T12:00:00Z");
    }

    #[test]
    fn staleness_says_since_when() {
        let last = now() - chrono::Duration::days(3);
        let stale = |last_success| Alert::Stale {
            connection: "pd".into(),
            connector: "pagerduty".into(),
            stream: "acme".into(),
            last_success,
            stale_after: Duration::from_secs(86_400),
        };
        let body = stale(Some(last)).body("box", now());
        assert_eq!(
            body["text"],
            ":warning: runner: `pd` (stream `acme`) is stale: its last success was 3 d ago (2026-03-07T12:00:00Z), \
             more than 24 h ago"
        );
        assert_eq!(
            (body["stale_after_s"].as_u64(), body["last_success"].as_str()),
            (Some(86_400), Some("2026-03-07T12:00:00Z"))
        );
        let never = stale(None).body("box", now());
        assert!(never["text"].as_str().unwrap().contains("it has never succeeded"));
        assert!(never["last_success"].is_null());
    }

    #[test]
    fn only_http_urls_are_taken_and_messages_never_show_the_path() {
        let notifier = Notifier::new("https://hooks.example/services/T000/B000/SECRET?x=1").unwrap();
        assert_eq!(notifier.receiver(), "https://hooks.example");
        assert_eq!(Notifier::new("http://127.0.0.1:9/x").unwrap().receiver(), "http://127.0.0.1:9");
        for bad in ["ftp://x/y", "not a url", "mailto:ops@example"] {
            let error = Notifier::new(bad).unwrap_err();
            assert!(error.is_bad_input(), "{bad}: {error}");
        }
    }

    #[test]
    fn long_errors_are_cut_on_a_character() {
        assert_eq!(truncate("abc", 3), "abc");
        assert_eq!(truncate("aé", 2), "a[... 2 bytes truncated]");
    }
}
