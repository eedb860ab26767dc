//! The results of `sync` and `sync-all`, and their two renderings: a plain-text summary
//! table for people and one JSON document (`--json`) for machines.

use std::time::Duration;

use serde_json::{json, Value};

use crate::untrusted::escape_lines;
use engine::result::{overall, ConnectionResult, StreamResult};

/// The `--json` document.
pub fn to_json(results: &[ConnectionResult], duration: Duration) -> Value {
    let connections: Vec<Value> = results
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
    json!({
        "outcome": overall(results).as_str(),
        "records": results.iter().map(ConnectionResult::records).sum::<u64>(),
        "duration_ms": duration.as_millis() as u64,
        "connections": connections,
    })
}

fn stream_json(s: &StreamResult) -> Value {
    json!({
        "stream": s.stream,
        "outcome": s.outcome.as_str(),
        "records": s.records(),
        "records_by_type": s.records_by_type,
        "rejected": s.rejected,
        "checkpoints": s.checkpoints,
        "state_saved": s.state_saved(),
        "progress": s.progress.as_ref().map(|p| json!({
            "done": p.done,
            "total": p.total,
            "unit": p.unit.as_deref().unwrap_or("items"),
        })),
        "format_drift": s.format_drift.to_json(),
        "duration_ms": s.duration.as_millis() as u64,
        "error": s.error.as_ref().map(ToString::to_string),
    })
}

/// The summary for people: a table with a row per stream, then the records of each
/// stream by type (on their own lines, so the table stays narrow with many types).
pub fn table(connections: &[ConnectionResult]) -> String {
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
                if s.state_saved() { "saved" } else { "not saved" }.to_owned(),
            ]);
        }
    }
    let mut out = crate::table::columns(&rows);
    let by_type: Vec<String> = connections
        .iter()
        .flat_map(|c| c.streams.iter().map(move |s| (c, s)))
        .filter(|(_, s)| !s.records_by_type.is_empty())
        .map(|(c, s)| {
            let types = s.records_by_type.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", ");
            escape_lines(&format!("  {}/{}: {types}\n", c.name, s.stream)).into_owned()
        })
        .collect();
    if !by_type.is_empty() {
        out.push_str("\nrecords by type\n");
        out.extend(by_type);
    }
    out.push_str(&format_drift(connections));
    out
}

/// The format drift of every stream, a line per type and field, with the hint; empty
/// when nothing drifted.
fn format_drift(connections: &[ConnectionResult]) -> String {
    let lines: Vec<String> = connections
        .iter()
        .flat_map(|c| c.streams.iter().map(move |s| (c, s)))
        .flat_map(|(c, s)| {
            s.format_drift.lines().into_iter().map(move |line| format!("  {}/{}: {line}\n", c.name, s.stream))
        })
        .collect();
    if lines.is_empty() {
        return String::new();
    }
    let mut out = format!("\nformat drift ({})\n", engine::format_drift::HINT);
    out.extend(lines.iter().map(|line| escape_lines(line).into_owned()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::result::{ConnectionResult, StreamResult};
    use std::collections::BTreeMap;
    use store::RunOutcome;

    fn stream(outcome: RunOutcome) -> StreamResult {
        StreamResult {
            outcome,
            records_by_type: BTreeMap::from([("Incident".into(), 3), ("Team".into(), 1)]),
            checkpoints: 1,
            duration: Duration::from_millis(1500),
            ..StreamResult::new("acme")
        }
    }

    fn connection(outcomes: &[RunOutcome]) -> ConnectionResult {
        ConnectionResult {
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
    fn format_drift_is_listed_after_the_table_and_in_the_json_document() {
        let mut drifted = connection(&[RunOutcome::Succeeded]);
        let found = protocol::FormatViolation { path: "/at".into(), format: "date-time".into(), value: json!("2001") };
        drifted.streams[0].format_drift.add("AcmeEvent", &found, &protocol::Redactor::default());
        let text = table(std::slice::from_ref(&drifted));
        assert!(text.contains("\nformat drift (stored anyway"), "{text}");
        assert!(text.ends_with("  pd/acme: AcmeEvent /at: 1 value is not a \"date-time\", e.g. \"2001\"\n"), "{text}");
        let json = to_json(&[drifted], Duration::from_secs(1));
        let expected =
            json!([{"type": "AcmeEvent", "field": "/at", "format": "date-time", "count": 1, "example": "\"2001\""}]);
        assert_eq!(json["connections"][0]["streams"][0]["format_drift"], expected);
        assert!(!table(&[connection(&[RunOutcome::Succeeded])]).contains("format drift"));
    }

    #[test]
    fn the_json_document_has_the_overall_outcome_and_every_count() {
        let all = [connection(&[RunOutcome::Failed]), connection(&[RunOutcome::Interrupted])];
        let json = to_json(&all, Duration::from_secs(1));
        assert_eq!(json["outcome"], "interrupted");
        assert_eq!(json["records"], 8);
        assert_eq!(json["connections"][1]["outcome"], "interrupted");
        assert_eq!(json["connections"][0]["streams"][0]["records_by_type"]["Incident"], 3);
        assert_eq!(json["connections"][0]["streams"][0]["state_saved"], true);
        assert_eq!(json["connections"][0]["streams"][0]["progress"], Value::Null, "the connector said nothing");
    }

    #[test]
    fn the_json_document_has_the_last_progress_a_connector_sent() {
        let mut said = connection(&[RunOutcome::Succeeded]);
        said.streams[0].progress = Some(protocol::ProgressMessage::items(590, Some(600)));
        let json = to_json(&[said], Duration::from_secs(1));
        let progress = &json["connections"][0]["streams"][0]["progress"];
        assert_eq!(progress, &json!({"done": 590, "total": 600, "unit": "items"}));
    }
}
