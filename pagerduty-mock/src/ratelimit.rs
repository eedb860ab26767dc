//! Per-token rate limiting with a fixed window (a minute, as PagerDuty's, unless tests
//! shorten it), and the `ratelimit-*` headers.
//!
//! PagerDuty documents `ratelimit-reset` as the number of seconds to wait before the
//! budget is restored; the window starts with a token's first request.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The budget after one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateInfo {
    pub(crate) limit: u32,
    pub(crate) remaining: u32,
    /// Whole seconds until the window resets (at least 1).
    pub(crate) reset_secs: u64,
    pub(crate) allowed: bool,
}

/// Counts requests per token.
#[derive(Debug)]
pub(crate) struct RateLimiter {
    rpm: Option<u32>,
    window: Duration,
    windows: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    /// `rpm` requests per `window` and token; `None` turns limiting off.
    pub(crate) fn new(rpm: Option<u32>, window: Duration) -> Self {
        RateLimiter { rpm, window, windows: Mutex::new(HashMap::new()) }
    }

    /// Charges one request to `key`; `None` when rate limiting is off.
    pub(crate) fn check(&self, key: &str, now: Instant) -> Option<RateInfo> {
        let limit = self.rpm?;
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        let slot = windows.entry(key.to_string()).or_insert((now, 0));
        if now.duration_since(slot.0) >= self.window {
            *slot = (now, 0);
        }
        // Rejected requests do not use up budget, so a client that waits is served.
        let allowed = slot.1 < limit;
        if allowed {
            slot.1 += 1;
        }
        let left = self.window.saturating_sub(now.duration_since(slot.0));
        Some(RateInfo {
            limit,
            remaining: limit - slot.1,
            reset_secs: left.as_secs() + u64::from(left.subsec_nanos() > 0),
            allowed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_per_key_and_window() {
        let rl = RateLimiter::new(Some(2), Duration::from_secs(60));
        let t0 = Instant::now();
        assert!(rl.check("a", t0).unwrap().allowed);
        let second = rl.check("a", t0).unwrap();
        assert_eq!((second.allowed, second.remaining), (true, 0));
        let third = rl.check("a", t0 + Duration::from_secs(10)).unwrap();
        assert!(!third.allowed);
        assert_eq!(third.reset_secs, 50);
        assert!(rl.check("b", t0).unwrap().allowed, "tokens have separate budgets");
        assert!(rl.check("a", t0 + Duration::from_secs(61)).unwrap().allowed);
        assert_eq!(RateLimiter::new(None, Duration::from_secs(60)).check("a", t0), None);
    }

    #[test]
    fn a_shorter_window_resets_sooner_and_says_so() {
        let rl = RateLimiter::new(Some(1), Duration::from_secs(2));
        let t0 = Instant::now();
        assert!(rl.check("a", t0).unwrap().allowed);
        let refused = rl.check("a", t0 + Duration::from_millis(300)).unwrap();
        assert_eq!((refused.allowed, refused.reset_secs), (false, 2));
        assert!(rl.check("a", t0 + Duration::from_secs(2)).unwrap().allowed);
    }
}
