//! The results of `sync` and `sync-all`, and their two renderings: a plain-text summary
//! table for people and one JSON document (`--json`) for machines.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::connector::{ConnectorError, FailureKind};
use crate::destination::RunOutcome;

/// How one stream sync ended.
#[derive(Debug, Clone)]
pub struct StreamReport {
    /// The stream's id.
    pub stream: String,
    /// Succeeded, failed or interrupted.
    pub outcome: RunOutcome,
    /// Stored records by `_type`.
    pub records_by_type: BTreeMap<String, u64>,
    /// Rejected records (`--skip-invalid`).
    pub rejected: u64,
    /// Checkpoints stored.
    pub checkpoints: u64,
    /// Whether at least one checkpoint was stored.
    pub state_saved: bool,
    /// How long it took.
    pub duration: Duration,
    /// Why it failed.
    pub error: Option<ConnectorError>,
}

impl StreamReport {
    /// Stored records, all types.
    pub fn records(&self) -> u64 {
        self.records_by_type.values().sum()
    }
}

/// How one connection (one connector, one configuration) ended.
#[derive(Debug, Clone)]
pub struct ConnectionReport {
    /// The connection name.
    pub name: String,
    /// The connector as named by the user.
    pub connector: String,
    /// One per stream synced.
    pub streams: Vec<StreamReport>,
    /// A failure before any stream could sync (spec, discover, opening the destination).
    pub error: Option<ConnectorError>,
    /// How long it took.
    pub duration: Duration,
}

impl ConnectionReport {
    /// The connection's outcome: interrupted, else failed, else succeeded.
    pub fn outcome(&self) -> RunOutcome {
        let kinds = self.errors().map(|e| e.kind);
        worst(kinds, self.streams.iter().map(|s| s.outcome))
    }

    fn errors(&self) -> impl Iterator<Item = &ConnectorError> {
        self.error.iter().chain(self.streams.iter().filter_map(|s| s.error.as_ref()))
    }
}

fn worst(kinds: impl Iterator<Item = FailureKind>, outcomes: impl Iterator<Item = RunOutcome>) -> RunOutcome {
    let mut result = RunOutcome::Succeeded;
    let from_kinds = kinds.map(|kind| match kind {
        FailureKind::Interrupted(_) => RunOutcome::Interrupted,
        _ => RunOutcome::Failed,
    });
    for outcome in from_kinds.chain(outcomes) {
        result = match (result, outcome) {
            (RunOutcome::Interrupted, _) | (_, RunOutcome::Interrupted) => RunOutcome::Interrupted,
            (RunOutcome::Failed, _) | (_, RunOutcome::Failed) => RunOutcome::Failed,
            _ => RunOutcome::Succeeded,
        };
    }
    result
}

/// The outcome of a whole command over several connections.
pub fn overall(connections: &[ConnectionReport]) -> RunOutcome {
    worst(std::iter::empty(), connections.iter().map(ConnectionReport::outcome))
}

/// The `--json` document.
pub fn to_json(connections: &[ConnectionReport], duration: Duration) -> Value {
    let connections: Vec<Value> = connections
        .iter()
        .map(|c| {
            json!({
                "name": c.name,
                "connector": c.connector,
                "outcome": c.outcome().as_str(),
                "error": c.error.as_ref().map(ToString::to_string),
                "duration_ms": c.duration.as_millis() as u64,
                "streams": c.streams.iter().map(stream_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    let records: u64 = connections_records(&connections);
    json!({
        "outcome": overall_from_json(&connections),
        "records": records,
        "duration_ms": duration.as_millis() as u64,
        "connections": connections,
    })
}

fn connections_records(connections: &[Value]) -> u64 {
    connections
        .iter()
        .flat_map(|c| c["streams"].as_array().into_iter().flatten())
        .map(|s| s["records"].as_u64().unwrap_or(0))
        .sum()
}

fn overall_from_json(connections: &[Value]) -> &'static str {
    let outcomes: Vec<&str> = connections.iter().filter_map(|c| c["outcome"].as_str()).collect();
    if outcomes.contains(&"interrupted") {
        "interrupted"
    } else if outcomes.contains(&"failed") {
        "failed"
    } else {
        "succeeded"
    }
}

fn stream_json(s: &StreamReport) -> Value {
    json!({
        "stream": s.stream,
        "outcome": s.outcome.as_str(),
        "records": s.records(),
        "records_by_type": s.records_by_type,
        "rejected": s.rejected,
        "checkpoints": s.checkpoints,
        "state_saved": s.state_saved,
        "duration_ms": s.duration.as_millis() as u64,
        "error": s.error.as_ref().map(ToString::to_string),
    })
}

/// The summary for people: a table with a row per stream, then the records of each
/// stream by type (on their own lines, so the table stays narrow with many types).
pub fn table(connections: &[ConnectionReport]) -> String {
    let mut rows =
        vec![["connection", "stream", "outcome", "records", "rejected", "duration", "state"].map(String::from)];
    for c in connections {
        if c.streams.is_empty() {
            let duration = crate::human::duration(c.duration);
            rows.push([&c.name, "-", c.outcome().as_str(), "0", "0", &duration, "-"].map(String::from));
        }
        for s in &c.streams {
            rows.push([
                c.name.clone(),
                s.stream.clone(),
                s.outcome.as_str().to_owned(),
                s.records().to_string(),
                s.rejected.to_string(),
                crate::human::duration(s.duration),
                if s.state_saved { "saved" } else { "not saved" }.to_owned(),
            ]);
        }
    }
    let mut out = render_rows(&rows);
    let by_type: Vec<String> = connections
        .iter()
        .flat_map(|c| c.streams.iter().map(move |s| (c, s)))
        .filter(|(_, s)| !s.records_by_type.is_empty())
        .map(|(c, s)| {
            let types = s.records_by_type.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", ");
            format!("  {}/{}: {types}\n", c.name, s.stream)
        })
        .collect();
    if !by_type.is_empty() {
        out.push_str("\nrecords by type\n");
        out.extend(by_type);
    }
    out
}

fn render_rows(rows: &[[String; 7]]) -> String {
    let widths: Vec<usize> =
        (0..7).map(|col| rows.iter().map(|row| row[col].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(outcome: RunOutcome) -> StreamReport {
        StreamReport {
            stream: "acme".into(),
            outcome,
            records_by_type: BTreeMap::from([("Incident".into(), 3), ("Team".into(), 1)]),
            rejected: 0,
            checkpoints: 1,
            state_saved: true,
            duration: Duration::from_millis(1500),
            error: None,
        }
    }

    fn connection(outcomes: &[RunOutcome]) -> ConnectionReport {
        ConnectionReport {
            name: "pd".into(),
            connector: "pagerduty".into(),
            streams: outcomes.iter().map(|o| stream(*o)).collect(),
            error: None,
            duration: Duration::from_secs(2),
        }
    }

    #[test]
    fn the_table_lists_records_by_type() {
        let text = table(&[connection(&[RunOutcome::Succeeded])]);
        assert_eq!(
            text,
            "connection  stream  outcome    records  rejected  duration  state\n\
             pd          acme    succeeded  4        0         1.5 s     saved\n\
             \n\
             records by type\n  \
             pd/acme: Incident 3, Team 1\n"
        );
    }

    #[test]
    fn interrupted_beats_failed_beats_succeeded() {
        assert_eq!(connection(&[RunOutcome::Succeeded, RunOutcome::Failed]).outcome(), RunOutcome::Failed);
        let all = [connection(&[RunOutcome::Failed]), connection(&[RunOutcome::Interrupted])];
        assert_eq!(overall(&all), RunOutcome::Interrupted);
        let json = to_json(&all, Duration::from_secs(1));
        assert_eq!(json["outcome"], "interrupted");
        assert_eq!(json["records"], 8);
        assert_eq!(json["connections"][0]["streams"][0]["records_by_type"]["Incident"], 3);
    }
}
