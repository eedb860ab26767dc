//! What the database destinations (SQLite, PostgreSQL) buffer between two transactions:
//! the records and rejected records written since the last commit, and when that buffer
//! is full enough to commit without waiting for a checkpoint.

use super::{RejectedRecord, Tuning, ValidRecord};

/// A record waiting for the next transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRecord {
    /// Its `_type`.
    pub record_type: String,
    /// Its `id`.
    pub id: String,
    /// Its JSON text, as sent.
    pub json: String,
    /// When it was extracted (RFC 3339).
    pub extracted_at: String,
}

/// A rejected record waiting for the next transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRejected {
    /// Its `_type`, if it had one.
    pub record_type: Option<String>,
    /// Its `id`, if it had one.
    pub id: Option<String>,
    /// Its JSON text, as sent.
    pub json: String,
    /// Why it was rejected.
    pub errors: String,
    /// The connector's stdout line.
    pub line: u64,
}

/// The writes of one transaction-to-be.
#[derive(Debug, Default)]
pub struct Batch {
    /// Records, in the order written.
    pub records: Vec<PendingRecord>,
    /// Rejected records, in the order written.
    pub rejected: Vec<PendingRejected>,
    bytes: usize,
}

impl Batch {
    /// Adds a valid record.
    pub fn push_record(&mut self, record: &ValidRecord<'_>) {
        self.bytes += record.json.len();
        self.records.push(PendingRecord {
            record_type: record.record_type.to_owned(),
            id: record.id.to_owned(),
            json: record.json.to_owned(),
            extracted_at: record.extracted_at.to_owned(),
        });
    }

    /// Adds a rejected record.
    pub fn push_rejected(&mut self, record: &RejectedRecord<'_>) {
        self.bytes += record.json.len();
        self.rejected.push(PendingRejected {
            record_type: record.record_type.map(str::to_owned),
            id: record.id.map(str::to_owned),
            json: record.json.to_owned(),
            errors: record.errors.to_owned(),
            line: record.line,
        });
    }

    /// Whether it holds more than a transaction should: commit it without a state. Only
    /// *more than* [`Tuning::batch_records`], so that a connector checkpointing every that
    /// many records gets its state into the same transaction as the batch.
    pub fn is_full(&self, tuning: &Tuning) -> bool {
        self.records.len() + self.rejected.len() > tuning.batch_records || self.bytes > tuning.batch_bytes
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty() && self.rejected.is_empty()
    }

    /// Takes everything, leaving it empty.
    pub fn take(&mut self) -> Batch {
        std::mem::take(self)
    }

    /// The last record of each (`_type`, `id`), in their order: what an upsert of the
    /// batch leaves in the table.
    pub fn last_of_each_key(&self) -> Vec<&PendingRecord> {
        let mut seen = std::collections::HashSet::with_capacity(self.records.len());
        let mut latest: Vec<&PendingRecord> =
            self.records.iter().rev().filter(|r| seen.insert((r.record_type.as_str(), r.id.as_str()))).collect();
        latest.reverse();
        latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record<'a>(record_type: &'a str, id: &'a str, json: &'a str) -> ValidRecord<'a> {
        ValidRecord { record_type, id, json, extracted_at: "2026-01-01T00:00:00Z" }
    }

    #[test]
    fn a_batch_is_full_only_past_its_limits_and_empty_after_take() {
        let tuning = Tuning { batch_records: 2, batch_bytes: 100, ..Tuning::default() };
        let mut batch = Batch::default();
        batch.push_record(&record("Team", "T1", "{}"));
        batch.push_record(&record("Team", "T2", "{}"));
        assert!(!batch.is_full(&tuning), "exactly the limit: the state may still join it");
        batch.push_rejected(&RejectedRecord { record_type: None, id: None, json: "{}", errors: "e", line: 3 });
        assert!(batch.is_full(&tuning));
        let taken = batch.take();
        assert_eq!((taken.records.len(), taken.rejected.len()), (2, 1));
        assert!(batch.is_empty() && !batch.is_full(&tuning));
        batch.push_record(&record("Team", "T3", &"x".repeat(101)));
        assert!(batch.is_full(&tuning), "bytes count too");
    }

    #[test]
    fn the_last_record_of_each_key_wins_in_order() {
        let mut batch = Batch::default();
        for (id, json) in [("T1", "1"), ("T2", "2"), ("T1", "3"), ("T3", "4")] {
            batch.push_record(&record("Team", id, json));
        }
        let latest: Vec<&str> = batch.last_of_each_key().iter().map(|r| r.json.as_str()).collect();
        assert_eq!(latest, ["2", "3", "4"]);
    }
}
