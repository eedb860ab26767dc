//! The `robust.*` checks: an unknown command is refused on stderr, a closed stdin is an
//! error rather than a hang, and SIGTERM stops the connector within the grace period.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use protocol::Stream;

use engine::supervisor::{Limits, Termination};

use super::check::{self, verdict, Check, Problem};
use super::exec::{ended, Executor, Run, Transcript};
use super::sync_checks::sync_stdin;

/// The command no connector implements.
const UNKNOWN_COMMAND: &str = "kit-unknown-command";
/// Without a first message, SIGTERM is sent after this long.
const SIGTERM_AFTER: Duration = Duration::from_secs(1);

/// The three `robust.*` checks. `stream` is `None` when discover found none (no SIGTERM
/// check then: it interrupts a sync).
pub fn checks(
    executor: &mut Executor<'_>,
    config: &Value,
    stream: Option<&Stream>,
    since: DateTime<Utc>,
    sigterm_grace: Duration,
) -> Vec<Check> {
    let sigterm = match stream {
        Some(stream) => verdict(check::ROBUST_SIGTERM, sigterm(executor, config, stream, since, sigterm_grace)),
        None => Check::skip(check::ROBUST_SIGTERM, "no stream to sync (see discover.streams)"),
    };
    vec![
        verdict(check::ROBUST_UNKNOWN_COMMAND, unknown_command(executor)),
        verdict(check::ROBUST_CLOSED_STDIN, closed_stdin(executor)),
        sigterm,
    ]
}

fn unknown_command(executor: &mut Executor<'_>) -> Result<String, Problem> {
    let t = executor.run(Run::new(format!("{UNKNOWN_COMMAND} (unknown command)"), UNKNOWN_COMMAND, None));
    let outcome = t.outcome.as_ref().map_err(|e| Problem::new(format!("could not be started: {e}")))?;
    match outcome.termination {
        Termination::Exited(0) => Err(Problem::new(format!("`{UNKNOWN_COMMAND}` exited 0; expected a non-zero exit"))),
        Termination::Exited(code) if outcome.stderr.is_blank() => {
            Err(Problem::new(format!("`{UNKNOWN_COMMAND}` exited {code} but wrote nothing on stderr")))
        }
        Termination::Exited(code) => Ok(format!("exited {code} with a message on stderr")),
        ref other => Err(Problem::new(format!("`{UNKNOWN_COMMAND}` {}", ended(other)))),
    }
}

/// `verify`, `discover` and `sync` with stdin closed at once: each must exit non-zero by itself.
fn closed_stdin(executor: &mut Executor<'_>) -> Result<String, Problem> {
    let mut notes = Vec::new();
    for command in ["verify", "discover", "sync"] {
        let t = executor.run(Run::new(format!("{command} (closed stdin)"), command, Some(Vec::new())));
        notes.push(closed_stdin_verdict(command, &t)?);
    }
    Ok(notes.join("; "))
}

fn closed_stdin_verdict(command: &str, t: &Transcript) -> Result<String, Problem> {
    let outcome = t.outcome.as_ref().map_err(|e| Problem::new(format!("{command}: could not be started: {e}")))?;
    match outcome.termination {
        Termination::Exited(0) => Err(Problem::new(format!("{command} exited 0 without a config; expected an error"))),
        Termination::Exited(code) => {
            let said = if t.error_message().is_some() { "an error message" } else { "no error message" };
            Ok(format!("{command}: exit {code}, {said}"))
        }
        ref other => Err(Problem::new(format!("{command} without a config {}", ended(other)))),
    }
}

/// A sync interrupted by SIGTERM after its first message (or after [`SIGTERM_AFTER`]);
/// the supervisor's ladder sends SIGKILL when the grace period runs out.
fn sigterm(
    executor: &mut Executor<'_>,
    config: &Value,
    stream: &Stream,
    since: DateTime<Utc>,
    grace: Duration,
) -> Result<String, Problem> {
    let limits =
        Limits { idle_timeout: None, overall_timeout: Some(SIGTERM_AFTER), grace, ..executor.limits().clone() };
    let run = Run {
        label: "sync (SIGTERM)".into(),
        args: vec!["sync".into()],
        stdin: Some(sync_stdin(config, stream, since, Value::Null)),
        stop_after_first_message: true,
        limits: Some(limits),
    };
    let t = executor.run(run);
    let outcome = t.outcome.as_ref().map_err(|e| Problem::new(format!("could not be started: {e}")))?;
    if outcome.killed {
        return Err(Problem::new(format!(
            "still running {} s after SIGTERM; it was killed with SIGKILL (handle SIGTERM: stop, flush, exit)",
            grace.as_secs_f64()
        )));
    }
    let after = match (t.after_stop, &outcome.termination) {
        (Some(after), _) => Some(after),
        (None, Termination::OverallTimeout(at)) => Some(outcome.elapsed.saturating_sub(*at)),
        (None, _) => None,
    };
    let when = after.map_or_else(
        || "finished before SIGTERM was sent".to_owned(),
        |after| format!("stopped {:.2} s after SIGTERM", after.as_secs_f64()),
    );
    Ok(match outcome.termination {
        Termination::Exited(_) | Termination::Signalled(_) => format!("{when} ({})", ended(&outcome.termination)),
        _ => when,
    })
}
