//! How far back a backfill has emitted everything, when windows finish in any order.
//!
//! The backfill's range is cut into windows (split further where one holds more than
//! offset pagination reaches). Pages of several windows are fetched at once and finish in
//! any order, but a checkpoint may only claim a range with no hole: [`Coverage`] keeps the
//! windows not yet done, newest first, and its [`Coverage::to`] is the `since` of the
//! oldest window of the unbroken run of finished ones that starts at the top. Everything
//! created in `[to, top)` has been emitted.

use std::cmp::Reverse;
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::windows::Window;

/// The windows of one kind of item (incidents, or log entries) in a backfill.
#[derive(Debug, Clone)]
pub struct Coverage {
    to: DateTime<Utc>,
    /// Windows not yet passed by `to`, by `until`, newest first: `(since, done)`.
    open: BTreeMap<Reverse<DateTime<Utc>>, (DateTime<Utc>, bool)>,
}

impl Coverage {
    /// Nothing covered yet below `top`, the backfill's upper end.
    pub fn new(top: DateTime<Utc>) -> Self {
        Coverage { to: top, open: BTreeMap::new() }
    }

    /// Everything from here up to the top has been emitted.
    pub fn to(&self) -> DateTime<Utc> {
        self.to
    }

    /// A window to be fetched.
    pub fn add(&mut self, window: Window) {
        self.open.insert(Reverse(window.until), (window.since, false));
    }

    /// `window` was split into `parts`, which cover it exactly.
    pub fn split(&mut self, window: Window, parts: [Window; 2]) {
        self.open.remove(&Reverse(window.until));
        for part in parts {
            self.add(part);
        }
    }

    /// Every item of `window` has been emitted. Returns whether [`Coverage::to`] moved.
    pub fn finish(&mut self, window: Window) -> bool {
        if let Some(slot) = self.open.get_mut(&Reverse(window.until)) {
            slot.1 = true;
        }
        let before = self.to;
        while let Some(entry) = self.open.first_entry() {
            let (since, done) = *entry.get();
            if !done {
                break;
            }
            self.to = since;
            entry.remove();
        }
        self.to != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> DateTime<Utc> {
        connector_sdk::protocol::parse_cutoff(&format!("2026-01-{day:02}")).unwrap()
    }

    fn w(since: u32, until: u32) -> Window {
        Window::new(at(since), at(until))
    }

    #[test]
    fn windows_finished_out_of_order_move_the_cursor_only_without_a_hole() {
        let mut coverage = Coverage::new(at(30));
        for window in [w(20, 30), w(10, 20), w(1, 10)] {
            coverage.add(window);
        }
        assert!(!coverage.finish(w(10, 20)), "an older window alone covers nothing");
        assert_eq!(coverage.to(), at(30));
        assert!(coverage.finish(w(20, 30)));
        assert_eq!(coverage.to(), at(10), "both finished windows, contiguous from the top");
        assert!(coverage.finish(w(1, 10)));
        assert_eq!(coverage.to(), at(1));
    }

    #[test]
    fn a_split_window_is_covered_once_both_halves_are() {
        let mut coverage = Coverage::new(at(30));
        coverage.add(w(20, 30));
        coverage.add(w(10, 20));
        coverage.split(w(20, 30), [w(25, 30), w(20, 25)]);
        assert!(!coverage.finish(w(20, 25)));
        assert!(!coverage.finish(w(10, 20)));
        assert!(coverage.finish(w(25, 30)));
        assert_eq!(coverage.to(), at(10));
    }

    #[test]
    fn nothing_to_fetch_covers_nothing_more() {
        let coverage = Coverage::new(at(30));
        assert_eq!(coverage.to(), at(30));
    }
}
