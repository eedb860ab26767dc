//! `runner demo`: the whole product, offline, in one command. It starts the PagerDuty
//! simulator (`pagerduty-mock`, beside the runner), then runs `verify`, `discover` and a
//! full `sync` of the real `connector-pagerduty` against it through the runner's own
//! command functions ([`crate::commands`], the same code and output as typing them),
//! makes some incidents change, runs an incremental sync that resumes from the stored
//! state, stops the simulator, prints a summary with queries to try, and writes the HTML
//! report of the database (`runner report`) beside it, printing its path.
//!
//! - [`simulator`]: the simulator process and its control endpoints;
//! - [`database`]: the example queries, the demo connection's rows, record counts;
//! - [`summary`]: the closing summary (durations from [`crate::human`], colours from
//!   [`crate::style`]).
//!
//! Decisions: the demo always syncs as connection [`database::CONNECTION`] and first
//! forgets what an earlier demo stored under that name (never other connections), so a
//! rerun starts with a full sync and `./runner.db` can be shared with real data. The
//! configuration (a fake token and the simulator's address) lives in a private temporary
//! directory removed at the end. `-q` silences the steps but still prints the summary.

pub mod database;
mod simulator;
mod summary;

use std::fs::{self, DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use chrono::{DateTime, Utc};

use crate::cli::DemoArgs;
use crate::commands::sync::SyncRequest;
use crate::commands::{history, inspect, sync, Settings, Status};
use crate::console::Verbosity;
use crate::failure::CommandResult;
use crate::resolve::{self, InputError};
use crate::style::Style;
use store::OutputSpec;

use simulator::{Simulator, SimulatorConfig};
use summary::{Summary, SyncStep};

/// The connector's slug, resolved like `runner sync pagerduty` does.
const CONNECTOR: &str = "pagerduty";
/// The fake API token the simulator accepts; it protects nothing.
const TOKEN: &str = "demo-token";
/// Days of simulated history.
pub const DAYS: u32 = 180;
/// Seed of the simulated data, so every demo shows the same account.
const SEED: u64 = 1;
/// Incidents created, then resolved, between the two syncs.
const CHURN_NEW: u32 = 5;
const CHURN_RESOLVED: u32 = 3;
/// Steps announced with a `[n/6]` header.
const STEPS: usize = 6;

/// Runs the demo.
///
/// # Errors
/// Bad input (`--output` not a SQLite file or PostgreSQL URL, `--json`, a missing sibling executable), a
/// simulator that does not start or answer, or a step that cannot run at all. A step that
/// runs and fails has printed its own error; how it ended is returned as `Ok`.
pub fn command(settings: &Settings, args: &DemoArgs) -> CommandResult<Status> {
    if settings.json {
        return Err(InputError::Usage(
            "the demo has no --json output; run the commands it prints with --json instead".into(),
        )
        .into());
    }
    let output = demo_output(&args.output)?;
    let mock = sibling(simulator::PROGRAM)?;
    resolve::connector(CONNECTOR).map_err(|_| missing(&format!("connector-{CONNECTOR}")))?;
    let started = Instant::now();
    let mut demo = Demo { settings, style: Style::for_stdout(), step: 0 };
    demo.intro(args.incidents);
    let config =
        SimulatorConfig { program: mock, incidents: args.incidents, days: DAYS, seed: SEED, token: TOKEN.into() };
    demo.header(
        "Start the PagerDuty simulator",
        &format!("pagerduty-mock --incidents {} --days {DAYS}", args.incidents),
    );
    let simulator = Simulator::start(&config)?;
    demo.note(&format!("listening on {}", simulator.base_url));
    let config_dir = ConfigDir::create(&simulator.base_url)?;
    let removed = output.spec.forget_connection(database::CONNECTION)?.unwrap_or(0);
    if removed > 0 {
        demo.note(&format!("removed {removed} rows an earlier demo left in {}", output.spec));
    }
    let outcome = demo.steps(&simulator, &config_dir.file, &output)?;
    simulator.stop();
    drop(config_dir);
    let (full, incremental) = match outcome {
        Ok(syncs) => syncs,
        Err(status) => return Ok(status),
    };
    let records = output.spec.records_by_type(database::CONNECTION)?.unwrap_or_default();
    let summary = Summary { output: &output.spec, records, full, incremental, elapsed: started.elapsed() };
    print!("{}", summary.render(demo.style));
    let report = report_path(&output.spec);
    match history::write_report(&output.arg, &report, REPORT_STALE_AFTER) {
        Ok(path) => println!(
            "\n{} {}\n  (again at any time: runner report --db {} -o {})",
            demo.style.bold("Pictures of it all:"),
            demo.style.green(&path.display().to_string()),
            shell_word(&output.spec.to_string()),
            shell_word(&path.display().to_string())
        ),
        Err(error) => {
            let text = store::with_causes(error.error().as_ref());
            eprintln!("warning: the report could not be written: {}", crate::untrusted::escape_lines(&text))
        }
    }
    Ok(Status::Success)
}

/// The report's staleness threshold: the demo's runs are minutes old.
const REPORT_STALE_AFTER: Duration = Duration::from_secs(86_400);

/// Where the demo writes its report: `report.html` beside a SQLite file, else in the
/// working directory.
fn report_path(output: &OutputSpec) -> PathBuf {
    output.local_path().map_or_else(|| PathBuf::from("report.html"), |file| file.with_file_name("report.html"))
}

/// `text` as one shell word: quoted when it holds anything but plain characters.
fn shell_word(text: &str) -> String {
    if text.chars().all(|c| c.is_ascii_alphanumeric() || "/._-:@".contains(c)) {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// The two syncs, or how the step that stopped the demo ended.
type StepsOutcome = Result<(SyncStep, SyncStep), Status>;

/// The demo in progress: how to run commands and print headers.
struct Demo<'a> {
    settings: &'a Settings,
    style: Style,
    step: usize,
}

impl Demo<'_> {
    fn intro(&self, incidents: u64) {
        let title = format!(
            "runner demo: a simulated PagerDuty account ({incidents} incidents over {DAYS} days) synced into SQLite, offline"
        );
        self.say(&self.style.bold(&title));
    }

    fn steps(&mut self, simulator: &Simulator, config: &Path, output: &DemoOutput) -> CommandResult<StepsOutcome> {
        let config_arg = config.display().to_string();
        self.header("Verify the configuration", &format!("runner verify {CONNECTOR} {config_arg}"));
        if let Some(status) = self.check(inspect::verify(self.settings, CONNECTOR, config)?) {
            return Ok(Err(status));
        }
        self.header("Discover the streams", &format!("runner discover {CONNECTOR} {config_arg}"));
        if let Some(status) = self.check(inspect::discover(self.settings, CONNECTOR, config)?) {
            return Ok(Err(status));
        }
        let full = match self.sync("Full sync", simulator, config, output)? {
            Ok(step) => step,
            Err(status) => return Ok(Err(status)),
        };
        let churn_url = format!("{}/__mock/churn?new={CHURN_NEW}&resolve={CHURN_RESOLVED}", simulator.base_url);
        self.header("Meanwhile, in PagerDuty: incidents change", &format!("curl -X POST '{churn_url}'"));
        let churn = simulator.churn(CHURN_NEW, CHURN_RESOLVED)?;
        self.note(&format!("{} incidents were triggered and {} resolved", churn.created, churn.resolved));
        let incremental =
            match self.sync("Incremental sync, resuming from the stored state", simulator, config, output)? {
                Ok(step) => SyncStep { churn: Some(churn), ..step },
                Err(status) => return Ok(Err(status)),
            };
        Ok(Ok((full, incremental)))
    }

    /// One `runner sync`, with the simulator's request count and the time it took.
    fn sync(
        &mut self,
        title: &str,
        simulator: &Simulator,
        config: &Path,
        output: &DemoOutput,
    ) -> CommandResult<Result<SyncStep, Status>> {
        let cutoff = cutoff(Utc::now());
        // The command as shown: the URL without its password.
        let line = format!(
            "runner sync {CONNECTOR} {} {cutoff} --connection {} --output {}",
            config.display(),
            database::CONNECTION,
            output.spec
        );
        self.header(title, &line);
        simulator.reset_stats()?;
        let started = Instant::now();
        let request = SyncRequest {
            connector: CONNECTOR.into(),
            config: config.to_owned(),
            stream: None,
            cutoff,
            connection: Some(database::CONNECTION.into()),
            output: output.arg.clone(),
            state: None,
            skip_invalid: false,
            jobs: 1,
            wait: false,
            alerts: None,
        };
        if let Some(status) = self.check(sync::sync(self.settings, &request)?) {
            return Ok(Err(status));
        }
        let elapsed = started.elapsed();
        let requests = simulator.stats()?.total;
        Ok(Ok(SyncStep { requests, elapsed, churn: None }))
    }

    /// `Some(status)` when a step did not succeed (it has printed why) or a stop request
    /// arrived meanwhile.
    fn check(&self, status: Status) -> Option<Status> {
        self.settings.stopped().or((status != Status::Success).then_some(status))
    }

    fn header(&mut self, title: &str, command_line: &str) {
        self.step += 1;
        self.say("");
        self.say(&self.style.bold(&format!("[{}/{STEPS}] {title}", self.step)));
        if !command_line.is_empty() {
            self.say(&self.style.cyan(&format!("$ {command_line}")));
        }
    }

    fn note(&self, text: &str) {
        self.say(&self.style.dim(text));
    }

    /// A line on stdout, in order with the steps' own output (not with `-q`).
    fn say(&self, text: &str) {
        if self.settings.verbosity() > Verbosity::Quiet {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{text}");
            let _ = out.flush();
        }
    }
}

/// The earliest-data cutoff: a day before the simulated history that ends at `now`
/// starts, as YYYY-MM-DD.
fn cutoff(now: DateTime<Utc>) -> String {
    let start = now - chrono::Duration::days(i64::from(DAYS) + 1);
    start.date_naive().to_string()
}

/// Where the demo syncs: the `--output` to pass on (with its password, if any) and what
/// it names.
#[derive(Debug)]
struct DemoOutput {
    arg: String,
    spec: OutputSpec,
}

/// `--output` as an absolute path to a SQLite file, or a PostgreSQL URL.
fn demo_output(output: &str) -> Result<DemoOutput, InputError> {
    let spec = resolve::output(output)?;
    if spec.sql_dialect().is_none() {
        return Err(InputError::Usage(format!(
            "the demo writes a database: --output `{output}` must end in .db, .sqlite or .sqlite3, or be a \
             postgres:// URL"
        )));
    }
    let Some(file) = spec.local_path() else { return Ok(DemoOutput { arg: output.to_owned(), spec }) };
    // A file, absolute: the demo's commands run from other directories.
    let path =
        std::path::absolute(file).map_err(|e| InputError::Usage(format!("cannot resolve --output {output}: {e}")))?;
    let arg = path.to_str().ok_or_else(|| InputError::Usage("the --output path is not valid UTF-8".into()))?;
    Ok(DemoOutput { arg: arg.to_owned(), spec: resolve::output(arg)? })
}

/// An executable beside the runner (`cargo build` puts all the workspace's binaries there).
fn sibling(program: &str) -> Result<PathBuf, InputError> {
    let dir = runner_dir();
    let candidate = dir.join(program);
    if candidate.is_file() {
        Ok(candidate)
    } else {
        Err(missing(program))
    }
}

fn runner_dir() -> PathBuf {
    crate::resolve::runner_dir().unwrap_or_else(|| ".".into())
}

fn missing(program: &str) -> InputError {
    InputError::Usage(format!(
        "the demo needs {program} beside the runner (looked in {}): build everything with \
         `cargo build --workspace --release`",
        runner_dir().display()
    ))
}

/// The demo's configuration file, in a private temporary directory removed on drop.
struct ConfigDir {
    dir: PathBuf,
    file: PathBuf,
}

impl ConfigDir {
    fn create(base_url: &str) -> CommandResult<ConfigDir> {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).subsec_nanos();
        let dir = std::env::temp_dir().join(format!("runner-demo-{}-{nanos}", std::process::id()));
        DirBuilder::new()
            .mode(0o700)
            .create(&dir)
            .with_context(|| format!("cannot create the demo's config directory {}", dir.display()))?;
        // Owned from here, so a failure below still removes the directory.
        let config_dir = ConfigDir { file: dir.join("pagerduty-demo.json"), dir };
        let config = serde_json::json!({ "apiToken": TOKEN, "apiBaseUrl": base_url });
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&config_dir.file)
            .with_context(|| format!("cannot write the demo config {}", config_dir.file.display()))?;
        writeln!(file, "{config}")
            .with_context(|| format!("cannot write the demo config {}", config_dir.file.display()))?;
        Ok(config_dir)
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_databases_are_accepted_and_sqlite_paths_made_absolute() {
        assert!(Path::new(&demo_output("runner.db").unwrap().arg).is_absolute());
        assert!(demo_output("x/demo.SQLITE3").unwrap().arg.ends_with("x/demo.SQLITE3"));
        let postgres = demo_output("postgres://u:pw@h/db").unwrap();
        assert_eq!(
            (postgres.arg.as_str(), postgres.spec.to_string()),
            ("postgres://u:pw@h/db", "postgres://u:***@h:5432/db".into())
        );
        let err = demo_output("out-dir").unwrap_err().to_string();
        assert_eq!(
            err,
            "the demo writes a database: --output `out-dir` must end in .db, .sqlite or .sqlite3, or be a postgres:// URL"
        );
        assert!(demo_output("-").is_err());
    }

    #[test]
    fn a_missing_sibling_says_where_and_how_to_build() {
        let err = sibling("surely-not-built").unwrap_err().to_string();
        assert!(err.starts_with("the demo needs surely-not-built beside the runner (looked in /"), "{err}");
        assert!(err.ends_with("`cargo build --workspace --release`"), "{err}");
    }

    #[test]
    fn the_config_dir_is_private_and_removed_on_drop() {
        let config = ConfigDir::create("http://127.0.0.1:9").unwrap();
        let text = fs::read_to_string(&config.file).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["apiBaseUrl"], "http://127.0.0.1:9");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(&config.dir).unwrap().permissions().mode() & 0o777, 0o700);
        assert_eq!(fs::metadata(&config.file).unwrap().permissions().mode() & 0o777, 0o600);
        let dir = config.dir.clone();
        drop(config);
        assert!(!dir.exists());
    }

    #[test]
    fn the_report_goes_beside_a_sqlite_file() {
        assert_eq!(report_path(&OutputSpec::sqlite("/data/x.db")), PathBuf::from("/data/report.html"));
        let postgres = OutputSpec::parse("postgres://u@h/db").unwrap();
        assert_eq!(report_path(&postgres), PathBuf::from("report.html"));
        assert_eq!(shell_word("/tmp/a b.db"), "'/tmp/a b.db'");
        assert_eq!(shell_word("it's"), "'it'\\''s'");
        assert_eq!(shell_word("/tmp/x.db"), "/tmp/x.db");
    }

    #[test]
    fn the_cutoff_is_a_day_before_the_history() {
        // Fixed instants (one just before midnight), never the clock: the test cannot
        // straddle a day boundary.
        let at = |text: &str| DateTime::parse_from_rfc3339(text).unwrap().with_timezone(&Utc);
        assert_eq!(DAYS, 180);
        assert_eq!(cutoff(at("2026-11-29T12:00:00Z")), "2026-06-01");
        assert_eq!(cutoff(at("2026-11-29T23:59:59Z")), "2026-06-01");
        assert_eq!(cutoff(at("2026-11-30T00:00:00Z")), "2026-06-02");
    }
}
