//! The command line as typed: clap definitions only, importing nothing else of the runner
//! but the one parser of typed durations ([`crate::human::parse_duration`], which every
//! DURATION option uses) and the forms it takes.
//! [`crate::app`] turns it into settings and requests for the commands.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::human::{parse_duration, DURATION_FORMS};

/// Run data connectors: ask them who they are, verify a configuration, discover streams,
/// and sync records into SQLite, JSON-lines files or stdout, validated and durably.
#[derive(Debug, Parser)]
#[command(name = "runner", version, propagate_version = true)]
#[command(after_help = format!("A DURATION is {DURATION_FORMS}.\n\n\
                                Exit codes: 0 success, 1 sync or connector failure (and an invalid configuration \
                                for verify), 2 usage or bad input, 130 Ctrl-C, 143 SIGTERM."))]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
}

/// Options shared by every command.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Show debug logs and the connector's stderr.
    #[arg(short, long, global = true, conflicts_with = "quiet")]
    pub verbose: bool,
    /// Show no logs, progress or summary; errors only.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Machine-readable output on stdout (JSON lines for discover, one summary document for syncs).
    #[arg(long, global = true)]
    pub json: bool,
    /// Stop the connector and fail when it sends no message for this long (like 1800 or 30m).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub idle_timeout: Option<Duration>,
    /// Stop the connector and fail when one connector run takes longer than this (like 600 or 2h).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Longest accepted message line from a connector.
    #[arg(long, global = true, value_name = "N", default_value_t = protocol::DEFAULT_MAX_LINE_BYTES)]
    pub max_message_bytes: usize,
    /// Time between SIGTERM and SIGKILL when stopping a connector (like 5, 0.5 or 1m).
    #[arg(long, global = true, value_name = "DURATION", value_parser = parse_duration, default_value = "5")]
    pub grace: Duration,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print the connector's spec (name, version, configuration schema, record types).
    #[command(after_help = "Examples:\n  runner spec pagerduty\n  runner spec ./connectors/shell/hello-shell")]
    Spec {
        /// A slug (`pagerduty` runs `connector-pagerduty` beside the runner, then on PATH) or a path.
        connector: String,
    },
    /// Check a configuration: exit 0 when valid, 1 with the connector's reasons when not.
    #[command(alias = "verify-configuration")]
    #[command(after_help = "Example:\n  runner verify pagerduty pagerduty.json")]
    Verify {
        /// A slug or a path to an executable.
        connector: String,
        /// The configuration, a JSON object.
        config: PathBuf,
    },
    /// List the connector's streams (a table, or JSON lines of Stream records with --json).
    #[command(alias = "discover-streams")]
    #[command(
        after_help = "Examples:\n  runner discover pagerduty pagerduty.json\n  runner discover pagerduty pagerduty.json --json"
    )]
    Discover {
        /// A slug or a path to an executable.
        connector: String,
        /// The configuration, a JSON object.
        config: PathBuf,
    },
    /// Sync one stream, or every stream, back to the earliest-data cutoff.
    #[command(alias = "sync-stream")]
    #[command(after_help = "Examples:\n  runner sync pagerduty pagerduty.json 2026-01-01\n  \
                            runner sync pagerduty pagerduty.json acme 2026-01-01 --output incidents/\n  \
                            runner sync pagerduty pagerduty.json 2026-01-01 --output - | head")]
    #[command(override_usage = "runner sync [OPTIONS] <CONNECTOR> <CONFIG> [STREAM] <EARLIEST_CUTOFF>")]
    Sync(SyncArgs),
    /// Sync every connection of a TOML file, in parallel (--jobs).
    #[command(after_help = "Example:\n  runner sync-all connections.toml --jobs 2 --output all.db")]
    SyncAll(SyncAllArgs),
    /// The connections a fleet of workers shares in PostgreSQL: apply a file, list them.
    #[command(subcommand)]
    Connections(ConnectionsCommand),
    /// Claim due connections from the shared PostgreSQL database and sync them into it.
    ///
    /// Each claim bumps the connection's epoch, a fencing token every checkpoint re-checks,
    /// so a worker paused or cut off past its lease never writes after another took over.
    /// SIGTERM stops the connectors, commits what is checkpointed, releases the leases at
    /// once and exits 143.
    #[command(after_help = "Examples:\n  \
                            RUNNER_DB=postgres://runner@db/runner runner worker --jobs 4\n  \
                            runner worker --db postgres://runner@db/runner --until-idle   # a CronJob or batch Job")]
    Worker(WorkerArgs),
    /// Check a connector against the protocol: named checks, exit 1 if any fails.
    ///
    /// The conformance kit runs the connector through spec, verify, discover, two syncs and
    /// robustness probes, and prints a table (one JSON document with --json).
    #[command(
        after_help = "Example:\n  runner test-connector ./connectors/shell/hello-shell connectors/shell/config.json"
    )]
    TestConnector(TestConnectorArgs),
    /// Create a connector project that works, is tested and passes test-connector as generated.
    ///
    /// Creates DIR/connector-SLUG/: a connector for a small built-in example source (five incidents,
    /// pages of two, a checkpoint after each page, resuming from it), a sample config.json, tests and a
    /// README saying where the real API calls go. Never overwrites anything.
    #[command(after_help = "Examples:\n  \
                      runner new acme                                  # Rust, in ./connector-acme\n  \
                      runner new acme --lang python --dir connectors   # Python, in connectors/connector-acme\n  \
                      runner new status-board --lang shell             # POSIX sh, in ./connector-status-board")]
    New(NewArgs),
    /// Try everything offline: sync a simulated PagerDuty account into SQLite.
    ///
    /// Starts the PagerDuty simulator (pagerduty-mock, beside the runner), then runs verify,
    /// discover, a full sync and an incremental sync of connector-pagerduty against it, exactly
    /// as typed, stops the simulator and shows what was stored, the requests made, and queries to try.
    Demo(DemoArgs),
    /// Show the latest runs of each connection and stream: outcome, records, duration, error, last success.
    ///
    /// Reads the history a database keeps (SQLite or PostgreSQL); never changes it. One row per
    /// run, newest first within each connection and stream; `last success` says how long ago the
    /// stream last synced successfully, and STALE when that is longer than --stale-after (or never).
    #[command(after_help = "Examples:\n  runner runs\n  runner runs --failed\n  \
                            runner runs --connection pagerduty-main --limit 20\n  \
                            runner runs --db postgres://runner@db.internal/warehouse --json")]
    Runs(RunsArgs),
    /// Write a self-contained HTML report of a database: runs, failures, staleness, records, incidents.
    ///
    /// One file with inline CSS and SVG charts (no network needed to open it): per connection a
    /// timeline of runs coloured by outcome, records per run, failures with their errors and
    /// staleness; records stored per type; and, for PagerDuty data, incidents per week by urgency,
    /// mean time to acknowledge and to resolve by service, the busiest hours and the noisiest services.
    #[command(after_help = "Examples:\n  runner report\n  runner report --db all.db -o /tmp/report.html")]
    Report(ReportArgs),
    /// Compare records with their schemas.
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// List the typed tables (one per record type, beside `records`): columns, types, rows, schema.
    ///
    /// SQLite and PostgreSQL keep a table per record type with a schema, one column per
    /// top-level property, written with the raw records. `rebuild` projects them again from
    /// the stored JSON. RUNNER_TYPED_TABLES=off syncs without them.
    #[command(after_help = "Examples:\n  runner tables\n  runner tables --db postgres://runner@db/runner --json\n  \
                            runner tables rebuild Incident")]
    Tables(TablesArgs),
}

/// `runner tables`.
#[derive(Debug, Args)]
pub struct TablesArgs {
    /// The database: a .db/.sqlite/.sqlite3 file or a postgres:// URL.
    #[arg(long, value_name = "PATH|URL", default_value = "runner.db", global = true)]
    pub db: String,
    /// `rebuild`, or nothing to list.
    #[command(subcommand)]
    pub action: Option<TablesCommand>,
}

/// `runner tables ...`.
#[derive(Debug, Subcommand)]
pub enum TablesCommand {
    /// Rebuild typed tables from the stored JSON (every table, or those of the types named).
    Rebuild {
        /// Record types (`Incident`), all when none.
        types: Vec<String>,
    },
}

/// `runner runs`.
#[derive(Debug, Args)]
pub struct RunsArgs {
    /// The database: a .db/.sqlite/.sqlite3 file or a postgres:// URL.
    #[arg(long, value_name = "PATH|URL", default_value = "runner.db")]
    pub db: String,
    /// Only this connection's runs.
    #[arg(long, value_name = "NAME")]
    pub connection: Option<String>,
    /// Only runs that failed.
    #[arg(long)]
    pub failed: bool,
    /// Runs shown per connection and stream, newest first [default: 1, or 10 with --connection].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub limit: Option<u32>,
    /// A stream whose last success is older than this (e.g. 90m, 6h, 2d, 1w) is marked STALE.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1d")]
    pub stale_after: Duration,
}

/// `runner report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The database: a .db/.sqlite/.sqlite3 file or a postgres:// URL.
    #[arg(long, value_name = "PATH|URL", default_value = "runner.db")]
    pub db: String,
    /// The HTML file to write (replaced atomically).
    #[arg(short, long, value_name = "FILE", default_value = "report.html")]
    pub output: PathBuf,
    /// A stream whose last success is older than this (e.g. 90m, 6h, 2d, 1w) is shown as stale.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "1d")]
    pub stale_after: Duration,
}

/// `runner sync`.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// A slug or a path to an executable.
    pub connector: String,
    /// The configuration, a JSON object.
    pub config: PathBuf,
    /// `[STREAM] EARLIEST_CUTOFF`: an optional stream id or Stream record as JSON (default: every
    /// stream), then the cutoff as YYYY-MM-DD or RFC 3339.
    #[arg(value_name = "ARGS", num_args = 1..=2, required = true)]
    pub rest: Vec<String>,
    /// Name of the connection; state is kept per connection and stream [default: the connector's name].
    #[arg(long, value_name = "NAME")]
    pub connection: Option<String>,
    /// Where records go.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Streams synced in parallel.
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Alerts on failure and staleness.
    #[command(flatten)]
    pub alerts: AlertArgs,
}

/// `--notify-url` and `--stale-after` of `sync`, `sync-all` and `worker`.
#[derive(Debug, Args)]
pub struct AlertArgs {
    /// POST a JSON alert (with a Slack-compatible `text`) to this URL for each failed run; at most 5 s in all.
    #[arg(long, value_name = "URL")]
    pub notify_url: Option<String>,
    /// With --notify-url: also alert when a stream that did not succeed now last succeeded longer ago than this (e.g. 6h, 2d).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, requires = "notify_url")]
    pub stale_after: Option<Duration>,
}

/// `runner sync-all`.
#[derive(Debug, Args)]
pub struct SyncAllArgs {
    /// The connections file (TOML): [defaults] and [[connection]] entries.
    pub connections: PathBuf,
    /// Default output for entries that name none: a .db/.sqlite/.sqlite3 file, a postgres:// URL, a directory, or `-`.
    #[arg(long, value_name = "PATH|URL", default_value = "runner.db")]
    pub output: String,
    /// Store invalid records in the rejected table/file and go on.
    #[arg(long)]
    pub skip_invalid: bool,
    /// When another process syncs one of the connections into the same store, wait for it instead of refusing.
    #[arg(long)]
    pub wait: bool,
    /// Connections synced in parallel.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Alerts on failure and staleness.
    #[command(flatten)]
    pub alerts: AlertArgs,
}

/// `runner test-connector`.
#[derive(Debug, Args)]
pub struct TestConnectorArgs {
    /// A slug or a path to an executable.
    pub connector: String,
    /// The configuration to test with, a JSON object.
    pub config: PathBuf,
    /// Earliest-data cutoff of the test syncs, YYYY-MM-DD or RFC 3339 [default: 30 days ago].
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    /// Overall timeout of each connector run the kit makes (like 60 or 5m).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "60")]
    pub check_timeout: Duration,
    /// How long the connector may take to exit after SIGTERM before it is killed (robust.sigterm; like 10 or 2s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10")]
    pub sigterm_grace: Duration,
}

/// `runner new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The connector's slug: lowercase letters, digits and dashes, starting with a letter.
    pub slug: String,
    /// The connector's language.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    pub lang: Lang,
    /// The directory to create connector-SLUG/ in [default: the current directory].
    #[arg(long, value_name = "PATH")]
    pub dir: Option<PathBuf>,
}

/// `runner connections ...`.
#[derive(Debug, Subcommand)]
pub enum ConnectionsCommand {
    /// Upsert the connections of a TOML file (the sync-all format, each with an `every`) into the database.
    ///
    /// A config value "${env:NAME}" is stored as that reference and resolved from each
    /// worker's environment when it syncs: secrets live with the workers, not in the database.
    #[command(
        after_help = "Example:\n  runner connections apply connections.toml --db postgres://runner@db/runner --prune"
    )]
    Apply {
        /// The connections file (TOML).
        file: PathBuf,
        /// The database the workers share (a postgres:// URL).
        #[arg(long, value_name = "URL", env = "RUNNER_DB", hide_env_values = true)]
        db: String,
        /// Disable the connections no longer in the file (their data stays).
        #[arg(long)]
        prune: bool,
    },
    /// List the connections: schedule, last run and outcome, next due, who holds it now.
    #[command(after_help = "Example:\n  runner connections list --db postgres://runner@db/runner")]
    List {
        /// The database the workers share (a postgres:// URL).
        #[arg(long, value_name = "URL", env = "RUNNER_DB", hide_env_values = true)]
        db: String,
    },
}

/// `runner schema ...`.
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Show how records drift from their schemas: unnamed fields, fields never seen, missing required fields, type mismatches.
    ///
    /// Syncs every stream back to --since into a throwaway SQLite file (invalid records kept), or reads
    /// the records a store already holds (--db), and prints per record type what differs from its
    /// schema. Exit 0 without drift, 1 when records carry unnamed fields, miss required fields, have
    /// values of the wrong type or a _type without a schema (fields never seen alone are no drift).
    #[command(after_help = "Examples:\n  \
                            runner schema diff pagerduty pagerduty.json --since 2026-01-01\n  \
                            runner schema diff --db runner.db --json\n  \
                            runner schema diff --db out/                        # a directory of JSON lines")]
    Diff(SchemaDiffArgs),
}

/// `runner schema diff`.
#[derive(Debug, Args)]
pub struct SchemaDiffArgs {
    /// A slug or a path to an executable (not with --db).
    #[arg(required_unless_present = "db", conflicts_with = "db")]
    pub connector: Option<String>,
    /// The configuration, a JSON object.
    #[arg(required_unless_present = "db", conflicts_with = "db")]
    pub config: Option<PathBuf>,
    /// Earliest-data cutoff of the sample sync, YYYY-MM-DD or RFC 3339 [default: 30 days ago].
    #[arg(long, value_name = "DATE", conflicts_with = "db")]
    pub since: Option<String>,
    /// Compare the records already stored here instead: a .db/.sqlite/.sqlite3 file, a directory of JSON lines, or a postgres:// URL.
    #[arg(long, value_name = "PATH|URL")]
    pub db: Option<String>,
}

/// `runner worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The database the workers share (a postgres:// URL); records go there too.
    #[arg(long, value_name = "URL", env = "RUNNER_DB", hide_env_values = true)]
    pub db: String,
    /// Connections synced at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: u16,
    /// Exit (0, or 1 if a sync failed) once nothing is due and nothing runs: for a CronJob or a batch Job.
    #[arg(long)]
    pub until_idle: bool,
    /// How often an idle worker looks for due connections unasked. It sleeps until the next
    /// connection is due and is woken at once by the database (LISTEN/NOTIFY) when
    /// connections are applied, a sync ends or a lease is released; this is the safety net
    /// (every second while its listening session is down).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub poll: Duration,
    /// How long a lease lasts without a heartbeat (renewed every third of it), like 30, 30s or 2m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "30s")]
    pub lease_ttl: Duration,
    /// Alerts on failed syncs and stale streams.
    #[command(flatten)]
    pub alerts: AlertArgs,
}

/// `runner new --lang`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// A Cargo project on the toolkit's Rust connector SDK.
    Rust,
    /// Python 3.9+, standard library only.
    Python,
    /// Node.js 18+, no dependencies.
    Node,
    /// POSIX sh and standard tools.
    Shell,
}

/// `runner demo`.
#[derive(Debug, Args)]
#[command(after_help = "Needs pagerduty-mock and connector-pagerduty beside the runner: \
                        `cargo build --workspace --release`, then `target/release/runner demo`.\n\n\
                        Examples:\n  runner demo\n  runner demo --incidents 200 --output /tmp/demo.db")]
pub struct DemoArgs {
    /// Incidents the simulator generates over the last 180 days.
    #[arg(long, value_name = "N", default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub incidents: u64,
    /// The SQLite file (.db, .sqlite or .sqlite3) or PostgreSQL URL to sync into; other connections in it are left alone.
    #[arg(long, value_name = "PATH|URL", default_value = "runner.db")]
    pub output: String,
}

/// Where `sync` stores things.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// A .db/.sqlite/.sqlite3 file (SQLite), a postgres://user@host/db URL (PostgreSQL), `-` (records on stdout), or a directory of <Type>.jsonl files.
    #[arg(long, value_name = "PATH|URL", default_value = "runner.db")]
    pub output: String,
    /// Read the starting state from, and write checkpoints to, this JSON file (keyed by stream id).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Store invalid records in the rejected table/file and go on (default: the first one fails the sync).
    #[arg(long)]
    pub skip_invalid: bool,
    /// When another process syncs the same connection into the same store, wait for it instead of refusing.
    #[arg(long)]
    pub wait: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_cli_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn aliases_and_positionals_parse() {
        let cli = Cli::parse_from(["runner", "sync-stream", "pd", "c.json", "acme", "2026-01-01", "--jobs", "2"]);
        let Command::Sync(args) = cli.command else { panic!() };
        assert_eq!(args.rest, ["acme", "2026-01-01"]);
        assert!(Cli::try_parse_from(["runner", "sync", "pd", "c.json"]).is_err());
        assert!(Cli::try_parse_from(["runner", "verify", "pd", "c.json", "--idle-timeout", "-1"]).is_err());
    }

    /// Every option whose value is a duration, in every command.
    fn duration_options(command: &clap::Command) -> Vec<clap::Arg> {
        let own = command
            .get_arguments()
            .filter(|arg| arg.get_value_names().is_some_and(|names| names.iter().any(|name| name == "DURATION")));
        let mut options: Vec<clap::Arg> = own.cloned().collect();
        options.extend(command.get_subcommands().flat_map(duration_options));
        options
    }

    #[test]
    fn every_duration_option_takes_seconds_and_units_with_one_error() {
        let options = duration_options(&Cli::command());
        let names: Vec<&str> = options.iter().filter_map(clap::Arg::get_long).collect();
        for expected in ["timeout", "idle-timeout", "grace", "check-timeout", "sigterm-grace", "lease-ttl"] {
            assert!(names.contains(&expected), "--{expected} is not a DURATION: {names:?}");
        }
        for arg in &options {
            let long = arg.get_long().unwrap_or_default();
            // Its parser alone: some options require others (--stale-after, --notify-url).
            let parser = arg.get_value_parser().clone();
            let alone = clap::Command::new("t").arg(clap::Arg::new("d").long("d").value_parser(parser));
            let parse = |text: &str| alone.clone().try_get_matches_from(["t", "--d", text]);
            for good in ["30", "0.5", "30s", "5m", "2h", "1h30m"] {
                assert!(parse(good).is_ok(), "--{long} {good}");
            }
            let error = parse("6x").unwrap_err().to_string();
            assert!(error.contains(&format!("`6x` is not a duration: expected {DURATION_FORMS}")), "--{long}: {error}");
        }
    }

    #[test]
    fn a_bad_duration_names_the_option_its_value_and_the_forms() {
        let error = Cli::try_parse_from(["runner", "verify", "pd", "c.json", "--timeout", "6x"]).unwrap_err();
        assert_eq!(
            error.to_string().lines().next(),
            Some(&*format!(
                "error: invalid value '6x' for '--timeout <DURATION>': `6x` is not a duration: expected {DURATION_FORMS}"
            ))
        );
    }

    #[test]
    fn no_option_takes_seconds_alone() {
        fn seconds_options(command: &clap::Command) -> Vec<String> {
            let own = command.get_arguments().filter(|arg| {
                arg.get_value_names().is_some_and(|names| names.iter().any(|name| name.as_str().contains("SECOND")))
            });
            let mut names: Vec<String> = own.map(|arg| arg.get_id().to_string()).collect();
            names.extend(command.get_subcommands().flat_map(seconds_options));
            names
        }
        assert_eq!(seconds_options(&Cli::command()), Vec::<String>::new(), "use DURATION and parse_duration");
    }

    #[test]
    fn a_bare_number_and_seconds_are_the_same_timeout() {
        let timeout = |value: &str| {
            let cli = Cli::parse_from(["runner", "verify", "pd", "c.json", "--timeout", value, "--grace", value]);
            (cli.global.timeout, cli.global.grace)
        };
        let thirty = Duration::from_secs(30);
        assert_eq!(timeout("30"), (Some(thirty), thirty));
        assert_eq!(timeout("30s"), timeout("30"));
        assert_eq!(timeout("0.5m"), timeout("30"));
        let Command::Worker(args) = Cli::parse_from(["runner", "worker", "--db", "x.db", "--lease-ttl", "45"]).command
        else {
            panic!()
        };
        assert_eq!(args.lease_ttl, Duration::from_secs(45));
    }

    #[test]
    fn new_defaults_to_rust_in_the_current_directory() {
        let Command::New(args) = Cli::parse_from(["runner", "new", "acme"]).command else { panic!() };
        assert_eq!((args.lang, args.dir), (Lang::Rust, None));
        assert!(Cli::try_parse_from(["runner", "new", "acme", "--lang", "cobol"]).is_err());
    }
}
