//! What the database destinations (SQLite, PostgreSQL) buffer between two transactions:
//! the records and rejected records written since the last commit, and when that buffer
//! is full enough to commit without waiting for a checkpoint.

use super::{RejectedRecord, Tuning, ValidRecord};

/// Where a record's fields lie in its batch's text: `_type`, `id`, JSON text and
/// `extracted_at`, one after the other from `start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PendingRecord {
    start: usize,
    type_len: u32,
    id_len: u32,
    json_len: usize,
    at_len: u32,
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

impl PendingRejected {
    /// The rejected record, borrowed.
    pub fn as_record(&self) -> RejectedRecord<'_> {
        RejectedRecord {
            record_type: self.record_type.as_deref(),
            id: self.id.as_deref(),
            json: &self.json,
            errors: &self.errors,
            line: self.line,
        }
    }
}

/// The writes of one transaction-to-be. The records' fields are copied into one text
/// buffer (the one copy a record gets between the connector's pipe and the database),
/// not into strings of their own: a batch of ten thousand records is a few allocations,
/// not forty thousand.
#[derive(Debug, Default)]
pub struct Batch {
    text: String,
    records: Vec<PendingRecord>,
    /// Rejected records, in the order written (rare: no need to pack them).
    pub rejected: Vec<PendingRejected>,
    bytes: usize,
}

/// A field's length as stored; a `_type`, an `id` or an `extracted_at` of 4 GiB is not
/// a record any check lets through, but saturate rather than wrap.
fn short_len(text: &str) -> u32 {
    u32::try_from(text.len()).unwrap_or(u32::MAX)
}

impl Batch {
    /// Adds a valid record.
    pub fn push_record(&mut self, record: &ValidRecord<'_>) {
        self.bytes += record.json.len();
        let start = self.text.len();
        for field in [record.record_type, record.id, record.json, record.extracted_at] {
            self.text.push_str(field);
        }
        self.records.push(PendingRecord {
            start,
            type_len: short_len(record.record_type),
            id_len: short_len(record.id),
            json_len: record.json.len(),
            at_len: short_len(record.extracted_at),
        });
    }

    /// The records, in the order written.
    pub fn records(&self) -> impl ExactSizeIterator<Item = ValidRecord<'_>> + '_ {
        self.records.iter().map(|pending| self.record(pending))
    }

    /// How many records it holds.
    pub fn record_count(&self) -> usize {
        self.records.len()
    }

    fn record(&self, pending: &PendingRecord) -> ValidRecord<'_> {
        let mut at = pending.start;
        let mut field = |len: usize| {
            let text = &self.text[at..at + len];
            at += len;
            text
        };
        ValidRecord {
            record_type: field(pending.type_len as usize),
            id: field(pending.id_len as usize),
            json: field(pending.json_len),
            extracted_at: field(pending.at_len as usize),
        }
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

    /// Empties it, keeping its buffers' capacity for the next records.
    pub fn clear(&mut self) {
        self.text.clear();
        self.records.clear();
        self.rejected.clear();
        self.bytes = 0;
    }

    /// The last record of each (`_type`, `id`), in their order: what an upsert of the
    /// batch leaves in the table.
    pub fn last_of_each_key(&self) -> Vec<ValidRecord<'_>> {
        let mut seen = std::collections::HashSet::with_capacity(self.records.len());
        let mut latest: Vec<ValidRecord<'_>> =
            self.records.iter().rev().map(|r| self.record(r)).filter(|r| seen.insert((r.record_type, r.id))).collect();
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
        let taken = std::mem::take(&mut batch);
        assert_eq!((taken.record_count(), taken.rejected.len()), (2, 1));
        let ids: Vec<&str> = taken.records().map(|r| r.id).collect();
        assert_eq!(ids, ["T1", "T2"]);
        let mut reused = taken;
        reused.clear();
        assert!(reused.is_empty() && reused.records().next().is_none() && reused.text.capacity() > 0);
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
        let latest: Vec<&str> = batch.last_of_each_key().iter().map(|r| r.json).collect();
        assert_eq!(latest, ["2", "3", "4"]);
    }

    #[test]
    fn each_record_comes_back_field_for_field() {
        let mut batch = Batch::default();
        let written = [
            ValidRecord { record_type: "Team", id: "T1", json: r#"{"id":"T1"}"#, extracted_at: "2026-01-01T00:00:00Z" },
            ValidRecord { record_type: "Incident", id: "", json: "{}", extracted_at: "" },
            ValidRecord { record_type: "Ünïcode", id: "é", json: r#"{"name":"日本"}"#, extracted_at: "t" },
        ];
        for record in &written {
            batch.push_record(record);
        }
        let read: Vec<ValidRecord<'_>> = batch.records().collect();
        assert_eq!(read, written);
    }
}
