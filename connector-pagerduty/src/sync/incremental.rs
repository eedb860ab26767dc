//! The incremental range, `[highWaterMark - OVERLAP, now)` of a sync with a previous
//! state: what it lists, and the incidents its log entries name, which may have changed
//! since they were emitted.

use std::collections::HashSet;

use chrono::{DateTime, Utc};

use super::changed::Changed;
use super::Part;

/// The incremental range and the changed incidents it reveals.
#[derive(Debug)]
pub(super) struct Incremental {
    /// Where it starts: everything before is the previous syncs'.
    from: DateTime<Utc>,
    /// Leaves not done.
    open: usize,
    /// Incidents listed in it.
    listed: HashSet<String>,
    /// Incidents its log entries name, in the order first seen (newest first).
    touched: Vec<String>,
    seen: HashSet<String>,
    /// Fetching the incidents touched but not listed.
    pub(super) changed: Changed,
}

impl Incremental {
    /// The range from `from` to the sync's start, nothing listed yet.
    pub(super) fn new(from: DateTime<Utc>) -> Self {
        Incremental {
            from,
            open: 0,
            listed: HashSet::new(),
            touched: Vec::new(),
            seen: HashSet::new(),
            changed: Changed::Waiting,
        }
    }

    /// Where the range starts.
    pub(super) fn from(&self) -> DateTime<Utc> {
        self.from
    }

    /// A leaf of the range is queued.
    pub(super) fn leaf_opened(&mut self) {
        self.open += 1;
    }

    /// A leaf of the range is done, or split (its halves are opened).
    pub(super) fn leaf_closed(&mut self) {
        self.open -= 1;
    }

    /// Incident `id` came in a leaf of `part`.
    pub(super) fn saw_incident(&mut self, part: Part, id: &str) {
        match part {
            Part::Incremental => {
                self.listed.insert(id.to_owned());
            }
            Part::Relist => self.changed.found(id),
            Part::Backfill => {}
        }
    }

    /// A log entry of the range names incident `id`.
    pub(super) fn saw_log_entry(&mut self, id: &str) {
        if self.seen.insert(id.to_owned()) {
            self.touched.push(id.to_owned());
        }
    }

    /// Once the range is listed and before the changed incidents are taken up: the
    /// incidents its log entries name that it did not list, newest first.
    pub(super) fn unlisted(&self) -> Option<Vec<String>> {
        if self.open > 0 || !matches!(self.changed, Changed::Waiting) {
            return None;
        }
        Some(self.touched.iter().filter(|id| !self.listed.contains(*id)).cloned().collect())
    }

    /// Everything of the range is emitted, changed incidents included.
    pub(super) fn is_done(&self) -> bool {
        self.open == 0 && matches!(self.changed, Changed::Done)
    }

    /// Whether how to fetch the changed incidents is still to be decided.
    pub(super) fn is_deciding(&self) -> bool {
        matches!(self.changed, Changed::Waiting | Changed::Probing { .. })
    }
}
