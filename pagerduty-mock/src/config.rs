//! What a simulator instance serves: [`MockConfig`] and its validation.

use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::error::MockError;

/// Most incidents one instance generates (IDs and the compact index stay small below it).
pub const MAX_INCIDENTS: u64 = 10_000_000;

/// Abilities an account may lack, each with the endpoints it gates.
pub const OPTIONAL_ABILITIES: [&str; 2] = ["teams", "priorities"];

/// Configuration of one simulator instance. Same configuration (with `now` set) means
/// byte-identical answers.
#[derive(Debug, Clone, PartialEq)]
pub struct MockConfig {
    /// Seed of every generated value.
    pub seed: u64,
    /// Incidents spread over the last `days` days (not counting the burst).
    pub incidents: u64,
    /// How far back from `now` the generated incidents go.
    pub days: u32,
    /// User-level API token (`/users/me` works with it).
    pub token: String,
    /// Account-level API token (`/users/me` answers 400 with it).
    pub account_token: String,
    /// Requests per minute allowed per token; `None` disables rate limiting and its headers.
    /// With `rate_limit_window_secs` other than 60: requests per window.
    pub rate_limit_rpm: Option<u32>,
    /// Length of the rate-limit window in seconds: 60 as PagerDuty's; tests shorten it so
    /// that waiting out a 429 takes seconds.
    pub rate_limit_window_secs: u64,
    /// Share of API requests (0.0 to 1.0) answered with 500 or 503.
    pub fail_rate: f64,
    /// Delay added to every API answer, in milliseconds.
    pub latency_ms: u64,
    /// Spread of that delay: each answer waits `latency_ms` plus or minus up to this many
    /// milliseconds (uniformly, from the seed and the request's sequence number).
    pub latency_jitter_ms: u64,
    /// Abilities the account lacks (`teams`, `priorities`): `/abilities` leaves them out
    /// and their endpoints answer 402, as PagerDuty does for a feature not on the plan.
    pub missing_abilities: Vec<String>,
    /// Reference "now" of the generated data; `None` means the current time truncated to
    /// the start of the hour (so two runs within the same hour agree).
    pub now: Option<DateTime<Utc>>,
    /// Extra incidents created inside one hour, on top of `incidents` (0 = no burst).
    pub burst_incidents: u64,
    /// Start of that hour; `None` means 3 days before `now` (clamped into the data span).
    pub burst_at: Option<DateTime<Utc>>,
}

impl Default for MockConfig {
    fn default() -> Self {
        MockConfig {
            seed: 1,
            incidents: 5000,
            days: 365,
            token: "mock-user-token".to_string(),
            account_token: "mock-account-token".to_string(),
            rate_limit_rpm: None,
            rate_limit_window_secs: 60,
            fail_rate: 0.0,
            latency_ms: 0,
            latency_jitter_ms: 0,
            missing_abilities: Vec::new(),
            now: None,
            burst_incidents: 0,
            burst_at: None,
        }
    }
}

/// A validated configuration with its time references fixed.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) seed: u64,
    pub(crate) incidents: u64,
    /// Unix seconds: generated data is strictly before it.
    pub(crate) now: i64,
    /// Unix seconds: first possible `created_at`.
    pub(crate) start: i64,
    pub(crate) burst_incidents: u64,
    pub(crate) burst_start: i64,
}

impl MockConfig {
    /// Checks the values and fixes `now`.
    pub(crate) fn plan(&self) -> Result<Plan, MockError> {
        self.check()?;
        let now = self.now.unwrap_or_else(current_hour);
        let start = now - Duration::days(i64::from(self.days));
        let default_burst = (now - Duration::days(3)).max(start);
        let burst = self.burst_at.unwrap_or(default_burst);
        let last_hour = now - Duration::hours(1);
        let burst = if self.burst_at.is_none() { burst.min(last_hour) } else { burst };
        if self.burst_incidents > 0 && (burst < start || burst > last_hour) {
            return Err(MockError::InvalidConfig(format!(
                "burst_at `{}` must lie between {} and {} (inside the data span, an hour before now)",
                burst.to_rfc3339(),
                start.to_rfc3339(),
                last_hour.to_rfc3339()
            )));
        }
        Ok(Plan {
            seed: self.seed,
            incidents: self.incidents,
            now: now.timestamp(),
            start: start.timestamp(),
            burst_incidents: self.burst_incidents,
            burst_start: burst.timestamp(),
        })
    }

    fn check(&self) -> Result<(), MockError> {
        let bad = |m: String| Err(MockError::InvalidConfig(m));
        if self.days == 0 || self.days > 3650 {
            return bad(format!("days is {}, expected 1 to 3650", self.days));
        }
        let total = self.incidents.saturating_add(self.burst_incidents);
        if total > MAX_INCIDENTS {
            return bad(format!("incidents + burst_incidents is {total}, at most {MAX_INCIDENTS} are supported"));
        }
        if !(0.0..=1.0).contains(&self.fail_rate) {
            return bad(format!("fail_rate is {}, expected 0.0 to 1.0", self.fail_rate));
        }
        if self.token.is_empty() || self.account_token.is_empty() || self.token == self.account_token {
            return bad("token and account_token must be non-empty and different".to_string());
        }
        if self.rate_limit_rpm == Some(0) {
            return bad("rate_limit_rpm is 0; leave it unset to disable rate limiting".to_string());
        }
        if self.rate_limit_window_secs == 0 {
            return bad("rate_limit_window_secs is 0, expected at least 1".to_string());
        }
        if self.latency_jitter_ms > self.latency_ms {
            return bad(format!(
                "latency_jitter_ms is {}, expected at most latency_ms ({})",
                self.latency_jitter_ms, self.latency_ms
            ));
        }
        if let Some(unknown) = self.missing_abilities.iter().find(|a| !OPTIONAL_ABILITIES.contains(&a.as_str())) {
            return bad(format!("missing ability `{unknown}` is not one of {}", OPTIONAL_ABILITIES.join(", ")));
        }
        Ok(())
    }
}

fn current_hour() -> DateTime<Utc> {
    let now = Utc::now();
    now.duration_trunc(Duration::hours(1)).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_plan_is_valid_and_hour_aligned() {
        let p = MockConfig::default().plan().unwrap();
        assert_eq!(p.now % 3600, 0);
        assert_eq!(p.now - p.start, 365 * 86400);
        assert!(p.burst_start >= p.start && p.burst_start <= p.now - 3600);
    }

    #[test]
    fn bad_values_are_refused_with_a_reason() {
        let cases = [
            MockConfig { days: 0, ..Default::default() },
            MockConfig { fail_rate: 1.5, ..Default::default() },
            MockConfig { incidents: MAX_INCIDENTS + 1, ..Default::default() },
            MockConfig { account_token: "mock-user-token".into(), ..Default::default() },
            MockConfig { rate_limit_rpm: Some(0), ..Default::default() },
            MockConfig { rate_limit_window_secs: 0, ..Default::default() },
            MockConfig { latency_ms: 10, latency_jitter_ms: 11, ..Default::default() },
            MockConfig { missing_abilities: vec!["incidents".into()], ..Default::default() },
            MockConfig { burst_incidents: 10, burst_at: Some(Utc::now() + Duration::days(9)), ..Default::default() },
        ];
        for c in cases {
            assert!(matches!(c.plan(), Err(MockError::InvalidConfig(_))), "{c:?}");
        }
    }
}
