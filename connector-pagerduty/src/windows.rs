//! Time windows: planning `since`/`until` ranges backwards from now to the cutoff, and
//! bisecting a range that holds more items than offset pagination can reach.
//!
//! PagerDuty refuses ranges longer than 6 calendar months (error 2005). Windows here are
//! at most [`MAX_WINDOW_DAYS`] days, which is shorter than any 6-month span, so no
//! calendar arithmetic is needed. Ranges are half-open, `[since, until)`, like the API's.

use chrono::{DateTime, Duration, Utc};
use connector_sdk::protocol::format_instant;

/// Longest window: 180 days is shorter than the shortest 6 calendar months (181 days).
pub const MAX_WINDOW_DAYS: i64 = 180;

/// A half-open time range `[since, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Inclusive start.
    pub since: DateTime<Utc>,
    /// Exclusive end.
    pub until: DateTime<Utc>,
}

impl Window {
    /// The range `[since, until)`.
    pub fn new(since: DateTime<Utc>, until: DateTime<Utc>) -> Self {
        Window { since, until }
    }

    /// Whether the range holds no instant.
    pub fn is_empty(&self) -> bool {
        self.since >= self.until
    }

    /// Splits the range in two halves, newer half first; `None` when it is one second
    /// or shorter (the API's timestamps have one-second resolution).
    pub fn bisect(&self) -> Option<(Window, Window)> {
        let length = self.until - self.since;
        if length <= Duration::seconds(1) {
            return None;
        }
        let middle = self.since + Duration::seconds(length.num_seconds() / 2);
        Some((Window::new(middle, self.until), Window::new(self.since, middle)))
    }
}

impl std::fmt::Display for Window {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}..{}", format_instant(self.since), format_instant(self.until))
    }
}

/// Windows covering `[from, to)`, newest first, each at most `max` long. Nothing when
/// the range is empty.
pub fn plan(from: DateTime<Utc>, to: DateTime<Utc>, max: Duration) -> Vec<Window> {
    let mut windows = Vec::new();
    let mut until = to;
    while until > from {
        let since = (until - max).max(from);
        windows.push(Window::new(since, until));
        until = since;
    }
    windows
}

/// [`plan`] with the API's longest allowed window.
pub fn plan_backwards(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Window> {
    plan(from, to, Duration::days(MAX_WINDOW_DAYS))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        connector_sdk::protocol::parse_cutoff(text).unwrap()
    }

    #[test]
    fn plans_newest_first_contiguous_and_never_longer_than_the_cap() {
        let windows = plan_backwards(at("2025-01-01"), at("2026-02-05"));
        assert_eq!(windows.len(), 3);
        assert_eq!(windows[0].until, at("2026-02-05"));
        assert_eq!(windows.last().unwrap().since, at("2025-01-01"));
        for pair in windows.windows(2) {
            assert_eq!(pair[0].since, pair[1].until, "contiguous");
        }
        assert!(windows.iter().all(|w| w.until - w.since <= Duration::days(MAX_WINDOW_DAYS)));
    }

    #[test]
    fn an_empty_or_reversed_range_plans_nothing() {
        assert!(plan_backwards(at("2026-01-01"), at("2026-01-01")).is_empty());
        assert!(plan_backwards(at("2026-02-01"), at("2026-01-01")).is_empty());
    }

    #[test]
    fn the_cap_is_shorter_than_six_calendar_months_everywhere() {
        // The shortest 6-month span starts on Aug 31 or Sep 1 and has 181 days.
        let start = at("2025-09-01");
        let six_months = start.checked_add_months(chrono::Months::new(6)).unwrap();
        assert!(start + Duration::days(MAX_WINDOW_DAYS) <= six_months);
    }

    #[test]
    fn bisect_splits_into_contiguous_halves_newer_first_down_to_a_second() {
        let w = Window::new(at("2026-01-01"), at("2026-01-03"));
        let (newer, older) = w.bisect().unwrap();
        assert_eq!((newer.until, newer.since, older.since), (w.until, at("2026-01-02"), w.since));
        assert_eq!(older.until, newer.since);
        let second = Window::new(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:01Z"));
        assert_eq!(second.bisect(), None);
        let (a, b) = Window::new(at("2026-01-01T00:00:00Z"), at("2026-01-01T00:00:03Z")).bisect().unwrap();
        assert!(!a.is_empty() && !b.is_empty());
    }
}
