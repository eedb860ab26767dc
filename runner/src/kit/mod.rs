//! The conformance kit, `runner test-connector`: runs a connector through every command
//! and reports named checks (pass, fail or skip, with the reason and the offending line).
//!
//! Order: `spec` (which says which configuration values are secret), `verify` three
//! times, `discover`, two syncs of the first stream, the robustness runs (unknown command,
//! closed stdin, SIGTERM), and last the secrets check over the raw stdout and stderr of
//! every run; the report lists the checks in [`check::ALL`]'s order, the one list of them.
//! Every run goes through [`engine::supervisor`] with the per-check
//! timeout as its overall timeout, and records are validated exactly as `runner sync`
//! validates them ([`engine::validate`]). Check names are stable; `runner/KIT.md` documents each.
//!
//! - [`check`]: a check's verdict and the names; [`exec`]: one run and its transcript;
//! - [`spec`], [`verify`], [`sync_checks`], [`robust`]: the checks; [`leaks`]: the secret scan;
//! - [`scorecard`]: every check's verdict in order, counted, as a table or one JSON document.

pub mod check;
pub mod exec;
pub mod leaks;
pub mod robust;
pub mod scorecard;
pub mod spec;
pub mod sync_checks;
pub mod verify;

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::cli::TestConnectorArgs;
use crate::commands::{print, Settings, Status};
use crate::failure::CommandResult;
use crate::resolve;
use crate::style::Style;
use engine::ConnectorClient;

use check::Check;
use exec::Executor;
use leaks::{Leak, Scanner};
use scorecard::Scorecard;

/// `--since` when not given: this many days before now.
pub const DEFAULT_SINCE_DAYS: i64 = 30;

/// Leak locations listed in the secrets check's reason, at most.
const LEAKS_SHOWN: usize = 5;

/// One kit run, resolved.
#[derive(Debug, Clone)]
pub struct KitPlan {
    /// The connector (the engine's limits give the idle timeout, grace period and line limit).
    pub connector: ConnectorClient,
    /// The configuration to test with.
    pub config: Value,
    /// The earliest-data cutoff of the syncs.
    pub since: DateTime<Utc>,
    /// Overall timeout of every connector run.
    pub check_timeout: Duration,
    /// How long the connector may take to stop after SIGTERM (robust.sigterm).
    pub sigterm_grace: Duration,
}

/// `runner test-connector`: resolves the inputs, runs the kit, prints the report;
/// [`Status::Failed`] if a check failed.
///
/// # Errors
/// Bad input (connector, config file, `--since`) or a failed write to stdout.
pub fn command(settings: &Settings, request: &TestConnectorArgs) -> CommandResult<Status> {
    let connector = settings.connector(&request.connector)?;
    let config = resolve::config_file(&request.config)?;
    let since = match &request.since {
        Some(date) => resolve::cutoff(date)?,
        None => Utc::now() - chrono::Duration::days(DEFAULT_SINCE_DAYS),
    };
    let plan = KitPlan {
        connector,
        config,
        since,
        check_timeout: request.check_timeout,
        sigterm_grace: request.sigterm_grace,
    };
    let report = run(&plan);
    let text = if settings.json { format!("{}\n", report.to_json()) } else { report.table(Style::for_stdout()) };
    print(&text).context("writing the report")?;
    Ok(if report.passed() { Status::Success } else { Status::Failed })
}

/// Runs every check. Never fails: a connector that cannot even start fails its checks.
pub fn run(plan: &KitPlan) -> Scorecard {
    let mut executor = Executor::new(&plan.connector, plan.check_timeout);
    let (mut checks, spec) = spec::checks(&mut executor, &plan.config);
    let schema = spec.as_ref().map(|s| &s.config_schema);
    if let Some(schema) = schema {
        executor.set_scanner(Scanner::new(schema, &plan.config));
    }
    checks.extend(verify::checks(&mut executor, &plan.config, schema));
    let (sync_checks, stream) = sync_checks::checks(&mut executor, &plan.config, plan.since);
    checks.extend(sync_checks);
    checks.extend(robust::checks(&mut executor, &plan.config, stream.as_ref(), plan.since, plan.sigterm_grace));
    checks.push(secrets(spec.is_some(), executor.scanner(), executor.leaks()));
    for check in &mut checks {
        check.reason = executor.scanner().mask(&check.reason).into_owned();
    }
    Scorecard { connector: plan.connector.name().to_owned(), checks: check::in_report_order(checks) }
}

fn secrets(have_spec: bool, scanner: &Scanner, leaks: &[Leak]) -> Check {
    let name = check::SECRETS_NOT_LEAKED;
    if !have_spec {
        return Check::skip(name, "no usable spec, so no way to tell which values are secret");
    }
    if scanner.is_empty() {
        return Check::skip(name, "the configuration has no writeOnly value (of 4 characters or more) to look for");
    }
    if leaks.is_empty() {
        return Check::pass(name, "no writeOnly value in the stdout or stderr of any run");
    }
    let mut places: Vec<String> = leaks.iter().take(LEAKS_SHOWN).map(ToString::to_string).collect();
    if leaks.len() > LEAKS_SHOWN {
        places.push(format!("and {} more", leaks.len() - LEAKS_SHOWN));
    }
    let first_stdout_line = leaks.iter().find(|l| l.stream == "stdout").map(|l| l.line);
    Check::fail(name, format!("the value of a writeOnly field appears in: {}", places.join(", "))).at(first_stdout_line)
}
