//! Request counters by path, status and token, and the peak of requests in progress at
//! once, served at `/__mock/stats`.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde::Serialize;

/// How `by_token` names requests that presented no token of PagerDuty's shape.
pub const NO_TOKEN: &str = "(none)";

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Requests answered (the `/__mock` endpoints are not counted).
    pub total: u64,
    /// Path (IDs replaced by `{id}`) -> HTTP status -> count.
    pub by_path: BTreeMap<String, BTreeMap<String, u64>>,
    /// HTTP status -> count.
    pub by_status: BTreeMap<String, u64>,
    /// Token presented (as sent, [`NO_TOKEN`] when none) -> HTTP status -> count: the
    /// 429s of each token's budget are `by_token[token]["429"]`.
    pub by_token: BTreeMap<String, BTreeMap<String, u64>>,
    /// The most API requests in progress at once (from arrival to answer, latency
    /// included) since the start or the last reset.
    pub peak_concurrency: u64,
}

impl Stats {
    /// Requests to `path` (e.g. `/incidents`) answered with `status`.
    pub fn count(&self, path: &str, status: u16) -> u64 {
        self.by_path.get(path).and_then(|s| s.get(&status.to_string())).copied().unwrap_or(0)
    }

    /// Requests to `path`, whatever the status.
    pub fn requests_to(&self, path: &str) -> u64 {
        self.by_path.get(path).map_or(0, |s| s.values().sum())
    }

    /// Requests with `token` answered 429 (over its rate limit).
    pub fn rate_limited(&self, token: &str) -> u64 {
        self.by_token.get(token).and_then(|s| s.get("429")).copied().unwrap_or(0)
    }
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    counts: Mutex<Stats>,
    in_progress: AtomicU64,
    peak: AtomicU64,
}

/// A request in progress; counted until dropped.
pub(crate) struct InProgress<'a>(&'a Recorder);

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.0.in_progress.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Recorder {
    /// A request arrived: it counts towards the concurrency until the guard is dropped.
    pub(crate) fn arrived(&self) -> InProgress<'_> {
        let now = self.in_progress.fetch_add(1, Ordering::SeqCst) + 1;
        self.peak.fetch_max(now, Ordering::SeqCst);
        InProgress(self)
    }

    pub(crate) fn record(&self, path: &str, token: Option<&str>, status: u16) {
        let mut s = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let status = status.to_string();
        s.total += 1;
        *s.by_path.entry(path.to_string()).or_default().entry(status.clone()).or_default() += 1;
        let token = token.unwrap_or(NO_TOKEN).to_string();
        *s.by_token.entry(token).or_default().entry(status.clone()).or_default() += 1;
        *s.by_status.entry(status).or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let mut stats = self.counts.lock().unwrap_or_else(|e| e.into_inner()).clone();
        stats.peak_concurrency = self.peak.load(Ordering::SeqCst);
        stats
    }

    /// Clears the counters; the peak starts again from the requests in progress now.
    pub(crate) fn reset(&self) {
        *self.counts.lock().unwrap_or_else(|e| e.into_inner()) = Stats::default();
        self.peak.store(self.in_progress.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_path_status_and_token() {
        let r = Recorder::default();
        r.record("/incidents", Some("t1"), 200);
        r.record("/incidents", Some("t1"), 200);
        r.record("/incidents", Some("t2"), 429);
        r.record("/users", None, 401);
        let s = r.snapshot();
        assert_eq!((s.total, s.count("/incidents", 200), s.requests_to("/incidents")), (4, 2, 3));
        assert_eq!(s.by_status["429"], 1);
        assert_eq!((s.rate_limited("t1"), s.rate_limited("t2")), (0, 1));
        assert_eq!(s.by_token[NO_TOKEN]["401"], 1);
        r.reset();
        assert_eq!(r.snapshot(), Stats::default());
    }

    #[test]
    fn the_peak_is_the_most_requests_in_progress_at_once() {
        let r = Recorder::default();
        let first = r.arrived();
        let second = r.arrived();
        drop(first);
        let third = r.arrived();
        assert_eq!(r.snapshot().peak_concurrency, 2);
        drop((second, third));
        assert_eq!(r.snapshot().peak_concurrency, 2, "a peak stays until reset");
        let open = r.arrived();
        r.reset();
        assert_eq!(r.snapshot().peak_concurrency, 1, "after a reset, what is in progress");
        drop(open);
    }
}
