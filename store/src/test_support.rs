//! Builders shared by the destination tests.

use chrono::{TimeZone, Utc};

use super::{RunOutcome, RunStart, RunSummary, ValidRecord};

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
