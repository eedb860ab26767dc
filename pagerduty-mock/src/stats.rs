//! Request counters by path and status, served at `/__mock/stats`.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;

/// A snapshot of the counters.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Requests answered (the `/__mock` endpoints are not counted).
    pub total: u64,
    /// Path (IDs replaced by `{id}`) -> HTTP status -> count.
    pub by_path: BTreeMap<String, BTreeMap<String, u64>>,
    /// HTTP status -> count.
    pub by_status: BTreeMap<String, u64>,
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
}

/// The live counters.
#[derive(Debug, Default)]
pub(crate) struct Recorder(Mutex<Stats>);

impl Recorder {
    pub(crate) fn record(&self, path: &str, status: u16) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let status = status.to_string();
        s.total += 1;
        *s.by_path.entry(path.to_string()).or_default().entry(status.clone()).or_default() += 1;
        *s.by_status.entry(status).or_default() += 1;
    }

    pub(crate) fn snapshot(&self) -> Stats {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn reset(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Stats::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_path_and_status() {
        let r = Recorder::default();
        r.record("/incidents", 200);
        r.record("/incidents", 200);
        r.record("/incidents", 429);
        let s = r.snapshot();
        assert_eq!((s.total, s.count("/incidents", 200), s.requests_to("/incidents")), (3, 2, 3));
        assert_eq!(s.by_status["429"], 1);
        r.reset();
        assert_eq!(r.snapshot(), Stats::default());
    }
}
