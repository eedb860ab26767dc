//! One conformance check's verdict ([`Check`]: name, status, reason, offending line), the
//! stable check names and [`ALL`], the one list of the kit's checks in report order.
//! KIT.md's table lists exactly these: what each checks, why, how to fix.

use serde::Serialize;

/// Exactly one valid `spec` message, exit 0, protocol 1.
pub const SPEC_SINGLE_MESSAGE: &str = "spec.single_message";
/// `config_schema` compiles as a JSON Schema (draft 2020-12).
pub const SPEC_CONFIG_SCHEMA_VALID: &str = "spec.config_schema_valid";
/// The given configuration validates against `config_schema`.
pub const SPEC_CONFIG_MATCHES_SCHEMA: &str = "spec.config_matches_schema";
/// Secret-looking properties carry `"writeOnly": true`.
pub const SPEC_SECRETS_WRITE_ONLY: &str = "spec.secrets_write_only";
/// The spec's declared record types (`record_schemas`) are accepted: none redefines a
/// shared type, each requires `_type` and `id`, and compiles.
pub const SPEC_RECORD_SCHEMAS_VALID: &str = "spec.record_schemas_valid";
/// `verify` of the given configuration answers valid=true.
pub const VERIFY_VALID_CONFIG: &str = "verify.valid_config";
/// `verify` of `{}` answers valid=false with a reason, and exits 0.
pub const VERIFY_EMPTY_CONFIG_INVALID: &str = "verify.empty_config_invalid";
/// `verify` of a configuration with a wrongly typed value answers valid=false, exit 0.
pub const VERIFY_WRONG_VALUE_INVALID: &str = "verify.wrong_value_invalid";
/// `discover` emits at least one valid Stream, ids unique.
pub const DISCOVER_STREAMS: &str = "discover.streams";
/// Every stdout line of `sync` is a valid protocol message.
pub const SYNC_PROTOCOL_LINES: &str = "sync.protocol_lines";
/// Every record validates against the shared schema of its `_type`.
pub const SYNC_RECORDS_VALID: &str = "sync.records_valid";
/// The sync emits at least one `state`.
pub const SYNC_STATE_EMITTED: &str = "sync.state_emitted";
/// The sync ends by itself, within the idle and per-check timeouts.
pub const SYNC_TERMINATES: &str = "sync.terminates";
/// The sync exits 0 without an `error` message.
pub const SYNC_EXIT_ZERO: &str = "sync.exit_zero";
/// Record ids are unique per `_type` within one sync.
pub const SYNC_UNIQUE_IDS: &str = "sync.unique_ids";
/// A second sync from the final state succeeds and does not re-emit (nearly) everything.
pub const SYNC_INCREMENTAL: &str = "sync.incremental";
/// No `writeOnly` configuration value appears in any stdout or stderr.
pub const SECRETS_NOT_LEAKED: &str = "secrets.not_leaked";
/// An unknown command exits non-zero with a message on stderr.
pub const ROBUST_UNKNOWN_COMMAND: &str = "robust.unknown_command";
/// A closed stdin (no config) is an error, not a hang.
pub const ROBUST_CLOSED_STDIN: &str = "robust.closed_stdin";
/// The connector stops within the grace period after SIGTERM.
pub const ROBUST_SIGTERM: &str = "robust.sigterm";

/// Every check the kit makes, in report order: the one list of them. The report is put in
/// this order, a debug build (every test's) asserts that a kit run made exactly these, and a
/// unit test that KIT.md's table lists exactly these, so adding a check starts here.
pub const ALL: &[&str] = &[
    SPEC_SINGLE_MESSAGE,
    SPEC_CONFIG_SCHEMA_VALID,
    SPEC_CONFIG_MATCHES_SCHEMA,
    SPEC_SECRETS_WRITE_ONLY,
    SPEC_RECORD_SCHEMAS_VALID,
    VERIFY_VALID_CONFIG,
    VERIFY_EMPTY_CONFIG_INVALID,
    VERIFY_WRONG_VALUE_INVALID,
    DISCOVER_STREAMS,
    SYNC_PROTOCOL_LINES,
    SYNC_RECORDS_VALID,
    SYNC_STATE_EMITTED,
    SYNC_TERMINATES,
    SYNC_EXIT_ZERO,
    SYNC_UNIQUE_IDS,
    SYNC_INCREMENTAL,
    ROBUST_UNKNOWN_COMMAND,
    ROBUST_CLOSED_STDIN,
    ROBUST_SIGTERM,
    SECRETS_NOT_LEAKED,
];

/// `checks` in [`ALL`]'s order; in a debug build, asserts that they are its checks, each once.
pub fn in_report_order(mut checks: Vec<Check>) -> Vec<Check> {
    checks.sort_by_key(|check| ALL.iter().position(|name| *name == check.name));
    let names: Vec<&str> = checks.iter().map(|check| check.name).collect();
    debug_assert_eq!(names, ALL, "the kit's checks are not check::ALL: add a new check to the list");
    checks
}

/// The verdict of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The connector does what the protocol asks.
    Pass,
    /// It does not; the reason says what and where.
    Fail,
    /// The check could not run (an earlier step failed, or nothing applies).
    Skip,
}

impl Status {
    /// `PASS`, `FAIL` or `SKIP`.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::Skip => "SKIP",
        }
    }
}

/// One named check and its verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// A stable identifier such as `sync.records_valid`.
    pub name: &'static str,
    /// Pass, fail or skip.
    pub status: Status,
    /// Why, for humans: what was seen, or why the check was skipped.
    pub reason: String,
    /// The stdout line of the connector that shows the problem, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
}

impl Check {
    /// A passed check.
    pub fn pass(name: &'static str, reason: impl Into<String>) -> Self {
        Check { name, status: Status::Pass, reason: reason.into(), line: None }
    }

    /// A failed check.
    pub fn fail(name: &'static str, reason: impl Into<String>) -> Self {
        Check { name, status: Status::Fail, reason: reason.into(), line: None }
    }

    /// A skipped check.
    pub fn skip(name: &'static str, reason: impl Into<String>) -> Self {
        Check { name, status: Status::Skip, reason: reason.into(), line: None }
    }

    /// A failed check from a [`Problem`].
    pub fn failed(name: &'static str, problem: Problem) -> Self {
        Check { name, status: Status::Fail, reason: problem.reason, line: problem.line }
    }

    /// The same check with its offending line.
    pub fn at(mut self, line: Option<u64>) -> Self {
        self.line = line;
        self
    }
}

/// What went wrong in a connector run, and on which stdout line if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What went wrong.
    pub reason: String,
    /// The stdout line.
    pub line: Option<u64>,
}

impl Problem {
    /// A problem not tied to a line.
    pub fn new(reason: impl Into<String>) -> Self {
        Problem { reason: reason.into(), line: None }
    }

    /// A problem at a stdout line.
    pub fn at(line: u64, reason: impl Into<String>) -> Self {
        Problem { reason: reason.into(), line: Some(line) }
    }

    /// The same problem at `line`, if known.
    pub fn with_line(mut self, line: Option<u64>) -> Self {
        self.line = line;
        self
    }
}

/// Turns a check's outcome into a verdict: `Ok(reason)` passes, `Err` fails.
pub fn verdict(name: &'static str, outcome: Result<String, Problem>) -> Check {
    match outcome {
        Ok(reason) => Check::pass(name, reason),
        Err(problem) => Check::failed(name, problem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_dotted() {
        let mut names = ALL.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert!(ALL.iter().all(|name| name.split('.').count() == 2), "{ALL:?}");
    }

    /// The check names of the first column of KIT.md's table of checks, in its order.
    fn kit_md_table() -> Vec<&'static str> {
        let kit_md = include_str!("../../KIT.md");
        let section = kit_md.split_once("\n## The checks\n").map_or("", |(_, rest)| rest);
        let table = section.split("\n## ").next().unwrap_or_default();
        let names = table.lines().filter_map(|line| line.strip_prefix("| `")?.split_once('`'));
        names.map(|(name, _)| name).collect()
    }

    #[test]
    fn kit_md_lists_exactly_the_kits_checks_in_report_order() {
        assert_eq!(kit_md_table(), ALL, "runner/KIT.md's table of checks differs from check::ALL");
    }

    #[test]
    fn checks_are_reported_in_the_lists_order() {
        let made = ALL.iter().rev().map(|&name| Check::pass(name, "ok")).collect();
        let names: Vec<&str> = in_report_order(made).iter().map(|check| check.name).collect();
        assert_eq!(names, ALL);
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "not check::ALL")]
    fn a_check_missing_from_the_list_is_caught_in_a_debug_build() {
        let mut made: Vec<Check> = ALL.iter().map(|&name| Check::pass(name, "ok")).collect();
        made.push(Check::pass("sync.new_check", "ok"));
        in_report_order(made);
    }

    #[test]
    fn the_line_is_serialised_only_when_known() {
        let check = verdict(SYNC_RECORDS_VALID, Err(Problem::at(7, "bad")));
        assert_eq!(
            serde_json::to_value(&check).unwrap(),
            serde_json::json!({"name":"sync.records_valid","status":"fail","reason":"bad","line":7})
        );
        let check = verdict(SYNC_RECORDS_VALID, Ok("fine".into()));
        assert_eq!(serde_json::to_value(&check).unwrap().get("line"), None);
    }
}
