//! How far the sync has got: items received out of the items PagerDuty's totals announced,
//! said in `progress` messages.

use std::time::{Duration, Instant};

use connector_sdk::{ConnectorError, Emitter, ProgressMessage};

/// `progress` messages go out at most this often.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

/// Items received out of items announced.
#[derive(Debug, Default)]
pub(super) struct Progress {
    done: u64,
    expected: u64,
    /// First pages (and small lists) whose total is not in yet.
    pending: usize,
    /// A list came without a total: no total can be given.
    unknowable: bool,
    last: Option<(Instant, u64, Option<u64>)>,
}

impl Progress {
    /// A first page is on its way whose total is to count.
    pub(super) fn expect_total(&mut self) {
        self.pending += 1;
    }

    /// The first page came; `None`: without a total, so no total can be given.
    pub(super) fn total_came(&mut self, total: Option<u64>) {
        self.pending -= 1;
        match total {
            Some(total) => self.expected += total,
            None => self.unknowable = true,
        }
    }

    /// A first page will not come (a list the account does not have).
    pub(super) fn total_dropped(&mut self) {
        self.pending -= 1;
    }

    /// Items that came.
    pub(super) fn received(&mut self, items: u64) {
        self.done += items;
    }

    /// Items to come that no total announced.
    pub(super) fn expect(&mut self, items: u64) {
        self.expected += items;
    }

    /// Items announced that will not come after all.
    pub(super) fn unexpect(&mut self, items: u64) {
        self.expected = self.expected.saturating_sub(items);
    }

    /// Whether every total is in.
    pub(super) fn totals_known(&self) -> bool {
        self.pending == 0 && !self.unknowable
    }

    fn total(&self) -> Option<u64> {
        self.totals_known().then_some(self.expected)
    }

    /// Says how far the sync has got: at most every [`PROGRESS_EVERY`], at once when the
    /// total changes, and at the end (`last`).
    pub(super) fn report(&mut self, out: &mut Emitter, last: bool) -> Result<(), ConnectorError> {
        let (done, total) = (self.done, self.total());
        let now = Instant::now();
        if let Some((at, was_done, was_total)) = self.last {
            // A new total is news at once; more done can wait a little.
            let unchanged = (was_done, was_total) == (done, total);
            if unchanged || (!last && was_total == total && now.duration_since(at) < PROGRESS_EVERY) {
                return Ok(());
            }
        }
        self.last = Some((now, done, total));
        Ok(out.progress(&ProgressMessage::items(done, total))?)
    }
}
