//! When to try a request again and how long to wait first.
//!
//! Server errors, timeouts and connection failures are retried with exponential backoff
//! and "equal jitter" (half fixed, half random) so that many clients failing together do
//! not retry together. A 429 waits as long as `ratelimit-reset` says (the seconds until
//! the budget refills, as PagerDuty and the IETF draft send it), else `retry-after`, else
//! the backoff. Both have bounded budgets, after which the request fails.

use std::time::Duration;

use reqwest::header::HeaderMap;

/// Bounds of the retry loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Tries per request for 5xx, timeouts and connection errors (the first included).
    pub max_attempts: u32,
    /// 429 answers tolerated in a row (across the client's requests) before giving up.
    pub max_rate_limited: u32,
    /// Backoff before the first retry.
    pub base_delay: Duration,
    /// Longest backoff, and longest wait for a 429 whatever the header says.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 6 attempts, 10 refusals in a row, 250 ms doubling up to 120 s.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            max_rate_limited: 10,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// The wait before retry number `retry` (1 for the first retry): `base * 2^(retry-1)`
    /// capped, of which the upper half is random.
    pub fn backoff(&self, retry: u32, jitter: &mut Jitter) -> Duration {
        let exponential = self.base_delay.saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let capped = exponential.min(self.max_delay);
        let half = capped / 2;
        half + half.mul_f64(jitter.next_unit())
    }

    /// The wait after a 429: the server's hint when it gave one (plus a little jitter so
    /// that clients sharing a token spread out), else the backoff.
    pub fn rate_limit_wait(&self, hint: Option<Duration>, retry: u32, jitter: &mut Jitter) -> Duration {
        match hint {
            Some(hint) => (hint + Duration::from_millis(50).mul_f64(jitter.next_unit())).min(self.max_delay),
            None => self.backoff(retry, jitter),
        }
    }
}

/// The wait a 429 answer asks for: `ratelimit-reset` (seconds, possibly fractional),
/// else `retry-after` (seconds). Unparseable values are ignored.
pub fn rate_limit_hint(headers: &HeaderMap) -> Option<Duration> {
    ["ratelimit-reset", "retry-after"].iter().find_map(|name| {
        let text = headers.get(*name)?.to_str().ok()?;
        parse_seconds(text)
    })
}

/// `"30"` or `"1.5"` as a duration; negative, infinite and non-numeric values are `None`.
pub fn parse_seconds(text: &str) -> Option<Duration> {
    let seconds: f64 = text.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds))
}

/// The random part of the waits: `fastrand`'s generator, seeded from the OS's entropy so
/// that concurrent connectors differ, or fixed for tests.
#[derive(Debug, Clone)]
pub struct Jitter(fastrand::Rng);

impl Jitter {
    /// A sequence no other process shares.
    pub fn from_entropy() -> Self {
        Jitter(fastrand::Rng::new())
    }

    /// A fixed sequence (tests).
    pub fn seeded(seed: u64) -> Self {
        Jitter(fastrand::Rng::with_seed(seed))
    }

    /// A number in `[0, 1)`.
    pub fn next_unit(&mut self) -> f64 {
        self.0.f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn backoff_grows_exponentially_within_its_jitter_band_and_is_capped() {
        let policy = RetryPolicy::default();
        let mut jitter = Jitter::seeded(7);
        for retry in 1..=12 {
            let full = policy.base_delay.saturating_mul(1 << (retry - 1)).min(policy.max_delay);
            let delay = policy.backoff(retry, &mut jitter);
            assert!(delay >= full / 2 && delay <= full, "retry {retry}: {delay:?} not in [{:?}, {full:?}]", full / 2);
        }
        assert!(policy.backoff(40, &mut jitter) <= policy.max_delay);
    }

    #[test]
    fn jitter_varies() {
        let mut jitter = Jitter::seeded(1);
        let values: Vec<f64> = (0..10).map(|_| jitter.next_unit()).collect();
        assert!(values.iter().all(|v| (0.0..1.0).contains(v)));
        assert!(values.windows(2).any(|w| w[0] != w[1]));
    }

    #[test]
    fn rate_limit_headers_are_read_in_order_of_preference() {
        let mut headers = HeaderMap::new();
        assert_eq!(rate_limit_hint(&headers), None);
        headers.insert("retry-after", HeaderValue::from_static("7"));
        assert_eq!(rate_limit_hint(&headers), Some(Duration::from_secs(7)));
        headers.insert("ratelimit-reset", HeaderValue::from_static("2.5"));
        assert_eq!(rate_limit_hint(&headers), Some(Duration::from_millis(2500)));
        headers.insert("ratelimit-reset", HeaderValue::from_static("soon"));
        assert_eq!(rate_limit_hint(&headers), Some(Duration::from_secs(7)), "a bad value falls back");
        assert_eq!(parse_seconds("-1"), None);
        assert_eq!(parse_seconds("inf"), None);
    }

    #[test]
    fn a_rate_limit_wait_follows_the_hint_but_never_beyond_the_cap() {
        let policy = RetryPolicy::default();
        let mut jitter = Jitter::seeded(3);
        let wait = policy.rate_limit_wait(Some(Duration::from_secs(2)), 1, &mut jitter);
        assert!(wait >= Duration::from_secs(2) && wait < Duration::from_millis(2050));
        assert_eq!(policy.rate_limit_wait(Some(Duration::from_secs(3600)), 1, &mut jitter), policy.max_delay);
        assert!(policy.rate_limit_wait(None, 1, &mut jitter) <= policy.base_delay);
    }
}
