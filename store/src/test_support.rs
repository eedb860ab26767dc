//! Builders shared by the destination tests.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use serde_json::{json, Value};

use super::typed::tests::Schemas;
use super::{Destination, RunOutcome, RunStart, RunSummary, ValidRecord};

pub(crate) fn run_start(connection: &str, stream_id: &str) -> RunStart {
    RunStart {
        connection: connection.to_owned(),
        connector: "pagerduty".to_owned(),
        stream_id: stream_id.to_owned(),
        cutoff: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
        started_at: Utc::now(),
    }
}

pub(crate) fn record<'a>(record_type: &'a str, id: &'a str, json: &'a str) -> ValidRecord<'a> {
    ValidRecord { record_type, id, json, extracted_at: "2026-02-03T14:15:22Z" }
}

pub(crate) fn summary(outcome: RunOutcome, by_type: &[(&str, u64)]) -> RunSummary {
    RunSummary {
        outcome,
        finished_at: Utc::now(),
        records_by_type: by_type.iter().map(|(name, n)| ((*name).to_owned(), *n)).collect(),
        rejected: 0,
        checkpoints: 0,
        error: None,
        logs: Vec::new(),
    }
}

/// Schemas by type, for typed tables.
pub(crate) fn schemas(types: &[(&str, Value)]) -> Arc<Schemas> {
    Arc::new(Schemas(types.iter().map(|(t, s)| ((*t).to_owned(), s.clone())).collect()))
}

/// A schema of `Team` with `name` and the `extra` properties.
pub(crate) fn team_schema(extra: Value) -> Value {
    let mut properties = json!({"_type": {"const": "Team"}, "id": {"type": "string"}, "name": {"type": "string"}});
    if let (Some(properties), Some(extra)) = (properties.as_object_mut(), extra.as_object()) {
        properties.extend(extra.clone());
    }
    json!({"properties": properties})
}

/// One run of connection `acme` storing `records` (type, id, JSON) with `schemas`, or
/// with typed tables off (`None`), a checkpoint after them.
pub(crate) fn typed_run(mut dest: Box<dyn Destination>, schemas: Option<Arc<Schemas>>, records: &[(&str, &str, &str)]) {
    if let Some(schemas) = schemas {
        dest.use_schemas(schemas);
    }
    dest.begin_run(&run_start("acme", "s")).unwrap();
    for (record_type, id, json) in records {
        dest.write_record(&record(record_type, id, json)).unwrap();
    }
    dest.checkpoint(&json!({"done": true})).unwrap();
    dest.finish_run(&summary(RunOutcome::Succeeded, &[])).unwrap();
}
