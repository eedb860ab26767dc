//! `runner schema diff`: how the records of a connector, or of a store, drift from their
//! schemas. The records come from a sample sync through the engine into a throwaway
//! SQLite file (invalid records kept, `--skip-invalid`, since they are where drift shows),
//! or from a store with `--db`; [`crate::drift`] compares them, one type at a time; this
//! module prints a table per type or one JSON document.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::{print, Settings, Status};
use crate::cli::SchemaDiffArgs;
use crate::console::Verbosity;
use crate::failure::{CommandError, CommandResult};
use crate::resolve::{self, InputError};
use crate::style::Style;
use crate::untrusted::{escape, escape_lines};
use drift::{Observer, Resolver, Schemas, TypeDrift};
use engine::format_drift::FormatDrift;
use engine::sync::ConnectionPlan;
use engine::{ConnectorProgram, StreamChoice};
use store::OutputSpec;

/// The sample's cutoff when `--since` is not given: this many days before now.
const DEFAULT_SINCE_DAYS: i64 = 30;

/// Where the records compared come from.
#[derive(Debug, Clone)]
pub enum DiffSource {
    /// A sample sync of every stream of the connector, back to `since`.
    Sample {
        /// A slug or a path.
        connector: String,
        /// The configuration file.
        config: PathBuf,
        /// `--since` (default: 30 days ago).
        since: Option<String>,
    },
    /// `--db`: a SQLite file, a directory of JSON lines or a postgres:// URL.
    Stored {
        /// As typed.
        db: String,
    },
}

impl TryFrom<SchemaDiffArgs> for DiffSource {
    type Error = InputError;

    /// `CONNECTOR CONFIG [--since]` or `--db`, never both (clap refuses mixes already).
    fn try_from(args: SchemaDiffArgs) -> Result<Self, InputError> {
        match (args.db, args.connector, args.config) {
            (Some(db), None, None) => Ok(DiffSource::Stored { db }),
            (None, Some(connector), Some(config)) => Ok(DiffSource::Sample { connector, config, since: args.since }),
            _ => Err(InputError::Usage("expected CONNECTOR CONFIG, or --db PATH|URL".into())),
        }
    }
}

/// `runner schema diff`.
///
/// # Errors
/// Bad input (connector, config, date, store), a sample sync that failed, a store that
/// cannot be read, or stdout closed.
pub fn diff(settings: &Settings, source: &DiffSource) -> CommandResult<Status> {
    let report = match source {
        DiffSource::Sample { connector, config, since } => {
            // Bad input is refused before the connector runs.
            let (program, config) = (resolve::connector(connector)?, resolve::config_file(config)?);
            let cutoff = sample_cutoff(since.as_deref())?;
            // The connector's own types too: a sample is compared with what its spec declares.
            let client = settings.engine.connector(program.clone());
            let schemas = Schemas::of(&client.spec().and_then(|spec| client.record_schemas(&spec))?);
            let mut drift = FormatDrift::default();
            let mut report =
                compare(&schemas, |visit| sample(settings, connector, program, config, cutoff, visit, &mut drift))?;
            report.format_drift = drift;
            report
        }
        DiffSource::Stored { db } => compare(&Schemas::shared(), |visit| stored(db, visit))?,
    };
    let text = if settings.json {
        format!("{}\n", report.to_json())
    } else if settings.verbosity() > Verbosity::Quiet {
        report.table(Style::for_stdout())
    } else {
        String::new()
    };
    print(&text).context("writing the drift report")?;
    Ok(if report.drifted() { Status::Failed } else { Status::Success })
}

/// Compares every record `read` visits with `schemas`; `read` returns what it read, for
/// the report's first line.
fn compare(
    schemas: &Schemas,
    read: impl FnOnce(&mut dyn FnMut(&str)) -> CommandResult<String>,
) -> CommandResult<Report> {
    let mut comparison = Comparison::new(schemas);
    let described = read(&mut |json| comparison.add(json))?;
    Ok(comparison.finish(described))
}

/// `--since`, or [`DEFAULT_SINCE_DAYS`] before now.
fn sample_cutoff(since: Option<&str>) -> Result<DateTime<Utc>, InputError> {
    match since {
        Some(since) => resolve::cutoff(since),
        None => Ok(Utc::now() - chrono::Duration::days(DEFAULT_SINCE_DAYS)),
    }
}

/// Syncs every stream of the connector back to `since` into a temporary SQLite file that
/// keeps invalid records, then visits every record stored or rejected, and adds the
/// sync's format drift to `format_drift`. Returns what was compared, for the report's
/// first line.
fn sample(
    settings: &Settings,
    connector: &str,
    program: ConnectorProgram,
    config: Value,
    cutoff: DateTime<Utc>,
    visit: &mut dyn FnMut(&str),
    format_drift: &mut FormatDrift,
) -> CommandResult<String> {
    let dir = tempfile::tempdir().context("creating a temporary directory for the sample")?;
    let output = OutputSpec::sqlite(dir.path().join("sample.db"));
    let plan = ConnectionPlan {
        name: None,
        connector: program,
        config,
        streams: StreamChoice::All,
        cutoff,
        output: output.clone(),
        state_file: None,
        skip_invalid: true,
        fence: None,
        secrets: Vec::new(),
        wait: false,
    };
    let result = settings.engine.sync_connection(&plan, 1);
    let mut errors: Vec<_> = result.errors().cloned().collect();
    if let Some(last) = errors.pop() {
        for error in errors {
            let _ = writeln!(std::io::stderr().lock(), "error: {}", escape_lines(&error.to_string()));
        }
        return Err(CommandError::from(last).context("the sample sync failed, so nothing was compared"));
    }
    for stream in &result.streams {
        format_drift.merge(&stream.format_drift);
    }
    output.each_stored_record(visit)?;
    Ok(format!("a sample of `{connector}` since {}", protocol::format_instant(cutoff)))
}

/// Visits every record stored or rejected in `db`.
fn stored(db: &str, visit: &mut dyn FnMut(&str)) -> CommandResult<String> {
    let spec = resolve::output(db)?;
    if spec.is_stdout() {
        return Err(InputError::Usage(
            "--db -: stdout keeps no records to read\nhint: name a SQLite file, a directory of JSON lines or a \
             postgres:// URL"
                .into(),
        )
        .into());
    }
    // A directory that is not there: likely a mistyped database as much as a directory.
    if !spec.has_history() && spec.local_path().is_some_and(|dir| !dir.is_dir()) {
        return Err(InputError::Usage(format!(
            "--db {db}: no such SQLite file (.db, .sqlite, .sqlite3) or directory of JSON lines\nhint: name the \
             store a sync wrote with --output"
        ))
        .into());
    }
    Ok(spec.each_stored_record(visit)?)
}

/// Records as they arrive, one [`Observer`] per type that has a schema.
struct Comparison<'s> {
    schemas: &'s Schemas,
    observers: BTreeMap<String, Observer<'s>>,
    without_schema: BTreeMap<String, u64>,
    unreadable: u64,
}

impl<'s> Comparison<'s> {
    fn new(schemas: &'s Schemas) -> Self {
        Comparison { schemas, observers: BTreeMap::new(), without_schema: BTreeMap::new(), unreadable: 0 }
    }

    fn add(&mut self, json: &str) {
        let Ok(record) = serde_json::from_str::<Value>(json) else {
            self.unreadable += 1;
            return;
        };
        let Some(record_type) = record.get("_type").and_then(Value::as_str) else {
            self.unreadable += 1;
            return;
        };
        if let Some(observer) = self.observers.get_mut(record_type) {
            observer.observe(&record);
        } else if let Some(schema) = self.schemas.of_type(record_type) {
            let resolver: &dyn Resolver = self.schemas;
            let mut observer = Observer::new(record_type, schema, resolver);
            observer.observe(&record);
            self.observers.insert(record_type.to_owned(), observer);
        } else {
            *self.without_schema.entry(record_type.to_owned()).or_default() += 1;
        }
    }

    fn finish(self, source: String) -> Report {
        Report {
            source,
            types: self.observers.into_values().map(Observer::finish).collect(),
            without_schema: self.without_schema,
            unreadable: self.unreadable,
            format_drift: FormatDrift::default(),
        }
    }
}

/// What `schema diff` found.
struct Report {
    source: String,
    types: Vec<TypeDrift>,
    without_schema: BTreeMap<String, u64>,
    unreadable: u64,
    /// Values a sample sync stored that break a format of a third party's schema.
    format_drift: FormatDrift,
}

impl Report {
    /// Records break or leave their schemas, or have a `_type` no schema describes, or
    /// break formats of a third party's schema.
    fn drifted(&self) -> bool {
        self.types.iter().any(TypeDrift::drifted) || !self.without_schema.is_empty() || !self.format_drift.is_empty()
    }

    fn records(&self) -> u64 {
        self.types.iter().map(|t| t.records).sum::<u64>() + self.without_schema.values().sum::<u64>()
    }

    /// `{"source","records","drifted","types":[TypeDrift],"without_schema":[{"type","records"}],"unreadable",
    /// "format_drift":[{"type","field","format","count","example"}]}`.
    fn to_json(&self) -> Value {
        let without: Vec<Value> =
            self.without_schema.iter().map(|(name, count)| json!({"type": name, "records": count})).collect();
        json!({
            "source": self.source,
            "records": self.records(),
            "drifted": self.drifted(),
            "types": self.types,
            "without_schema": without,
            "unreadable": self.unreadable,
            "format_drift": self.format_drift.to_json(),
        })
    }

    /// A heading and a table of findings per type, then one summary line.
    fn table(&self, style: Style) -> String {
        let mut out = String::new();
        for found in &self.types {
            out.push_str(&type_section(found, style));
        }
        for (name, count) in &self.without_schema {
            out.push_str(&format!("{}: {count} records, no schema for this _type\n\n", style.bold(&escape(name))));
        }
        if !self.format_drift.is_empty() {
            out.push_str(&format!("{} ({})\n", style.bold("format drift"), engine::format_drift::HINT));
            for line in self.format_drift.lines() {
                out.push_str(&format!("  {}\n", escape(&line)));
            }
            out.push('\n');
        }
        out.push_str(&self.summary());
        out
    }

    fn summary(&self) -> String {
        let drifted: Vec<&str> = self.types.iter().filter(|t| t.drifted()).map(|t| t.record_type.as_str()).collect();
        let unreadable = match self.unreadable {
            0 => String::new(),
            n => format!(" ({n} stored texts were not records with a _type and were passed over)"),
        };
        let findings = drifted.len() + self.without_schema.len() + usize::from(!self.format_drift.is_empty());
        let verdict = match (self.records(), findings) {
            (0, _) => "nothing to compare".to_owned(),
            (_, 0) => "no drift".to_owned(),
            (_, _) if drifted.is_empty() && self.without_schema.is_empty() => "drift: formats".to_owned(),
            (_, _) if drifted.is_empty() => "drift: types without a schema".to_owned(),
            _ => format!("drift in {}", drifted.join(", ")),
        };
        let types = self.types.len() + self.without_schema.len();
        let verdict = escape(&verdict);
        format!("{} records of {types} types from {}: {verdict}{unreadable}\n", self.records(), self.source)
    }
}

/// One type: a heading with its counts, then a row per finding.
fn type_section(found: &TypeDrift, style: Style) -> String {
    let counts = [
        (found.unnamed_fields.len(), "unnamed"),
        (found.missing_required.len(), "missing required"),
        (found.type_mismatches.len(), "type mismatches"),
        (found.never_seen.len(), "never seen"),
    ];
    let said: Vec<String> = counts.iter().filter(|(n, _)| *n > 0).map(|(n, what)| format!("{n} {what}")).collect();
    let said = if said.is_empty() { "as its schema says".to_owned() } else { said.join(", ") };
    let mut out = format!("{}: {} records, {said}\n", style.bold(&escape(&found.record_type)), found.records);
    let rows = finding_rows(found);
    if rows.len() > 1 {
        out.push_str(&crate::table::columns(&rows));
    }
    out.push('\n');
    out
}

/// The rows of a type's table, a header first; indented by an empty first cell.
fn finding_rows(found: &TypeDrift) -> Vec<[String; 5]> {
    let row = |kind: &str, path: &str, count: String, detail: String| {
        [String::new(), kind.to_owned(), path.to_owned(), count, detail]
    };
    let example = |e: &drift::Example| format!("e.g. `{}` at {}", e.record, e.path);
    let mut rows = vec![row("finding", "path", "count".to_owned(), "detail".to_owned())];
    for unnamed in &found.unnamed_fields {
        let allowed = if unnamed.allowed { "" } else { ", not allowed (additionalProperties: false)" };
        let detail = format!("{}{allowed}; {}", unnamed.types.join(" or "), example(&unnamed.example));
        rows.push(row("unnamed field", &unnamed.path, unnamed.count.to_string(), detail));
    }
    for missing in &found.missing_required {
        let count = format!("{} of {}", missing.count, missing.of);
        rows.push(row("missing required", &missing.path, count, example(&missing.example)));
    }
    for mismatch in &found.type_mismatches {
        let detail = format!("{}, expected {}; {}", mismatch.found, mismatch.expected, example(&mismatch.example));
        rows.push(row("type mismatch", &mismatch.path, mismatch.count.to_string(), detail));
    }
    for never in &found.never_seen {
        rows.push(row("never seen", &never.path, format!("0 of {}", never.of), String::new()));
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(records: &[Value]) -> Report {
        let schemas = Schemas::shared();
        let mut comparison = Comparison::new(&schemas);
        for record in records {
            comparison.add(&record.to_string());
        }
        comparison.add("not json");
        comparison.finish("a test".into())
    }

    fn team(extra: Value) -> Value {
        let mut team = json!({"_type": "Team", "id": "T1", "self": "https://x.test/T1", "name": "Ops"});
        team.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        team
    }

    #[test]
    fn the_table_has_a_section_per_type_and_a_summary() {
        let report = report(&[team(json!({"colour": "red"})), json!({"_type": "Gadget", "id": "g"})]);
        let table = report.table(Style::plain());
        let unnamed_row = table.lines().find(|line| line.contains("unnamed field")).unwrap();
        assert_eq!(
            unnamed_row.split_whitespace().collect::<Vec<_>>()[..5],
            ["unnamed", "field", "colour", "1", "string;"]
        );
        assert!(table.contains("e.g. `T1` at colour"), "{table}");
        assert!(table.contains("Gadget: 1 records, no schema for this _type"), "{table}");
        assert!(table.ends_with(
            "2 records of 2 types from a test: drift in Team (1 stored texts were not records with a _type and were \
             passed over)\n"
        ));
        assert!(report.drifted());
    }

    #[test]
    fn json_is_one_stable_document() {
        let value = report(&[team(json!({}))]).to_json();
        assert_eq!(value["drifted"], false);
        assert_eq!(value["records"], 1);
        assert_eq!(value["unreadable"], 1);
        let team = &value["types"][0];
        assert_eq!(team["type"], "Team");
        let keys: Vec<&str> = team.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["missing_required", "never_seen", "records", "type", "type_mismatches", "unnamed_fields"]);
    }
}
