//! The client-side request ceiling: at most N requests in any rolling minute.
//!
//! A rolling window (the send times of the last N requests) rather than a fixed pace:
//! below the ceiling requests go out at full speed, and at the ceiling a request waits
//! exactly until the oldest of the last N is a minute old. PagerDuty counts per token
//! per minute, so staying under this ceiling avoids 429s in the first place.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

const MINUTE: Duration = Duration::from_secs(60);

/// Request times of the last `limit` requests.
#[derive(Debug)]
pub struct Ceiling {
    limit: usize,
    sent: VecDeque<Instant>,
}

impl Ceiling {
    /// At most `per_minute` requests (at least 1) in any 60 seconds.
    pub fn new(per_minute: u32) -> Self {
        let limit = per_minute.max(1) as usize;
        Ceiling { limit, sent: VecDeque::with_capacity(limit) }
    }

    /// How long a request at `now` must wait to stay under the ceiling.
    pub fn wait_at(&self, now: Instant) -> Duration {
        if self.sent.len() < self.limit {
            return Duration::ZERO;
        }
        self.sent.front().map_or(Duration::ZERO, |&oldest| (oldest + MINUTE).saturating_duration_since(now))
    }

    /// Records a request sent at `now`.
    pub fn record(&mut self, now: Instant) {
        if self.sent.len() == self.limit {
            self.sent.pop_front();
        }
        self.sent.push_back(now);
    }

    /// Waits (sleeping) until a request may go out, and records it.
    pub fn acquire(&mut self) {
        let wait = self.wait_at(Instant::now());
        if !wait.is_zero() {
            std::thread::sleep(wait);
        }
        self.record(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_below_the_ceiling_do_not_wait_and_the_next_waits_for_the_oldest() {
        let t0 = Instant::now();
        let mut ceiling = Ceiling::new(3);
        for i in 0..3 {
            let now = t0 + Duration::from_secs(i * 10);
            assert_eq!(ceiling.wait_at(now), Duration::ZERO);
            ceiling.record(now);
        }
        // The fourth request at t0+25s waits until the first is a minute old (t0+60s).
        assert_eq!(ceiling.wait_at(t0 + Duration::from_secs(25)), Duration::from_secs(35));
        ceiling.record(t0 + Duration::from_secs(60));
        // Now the oldest is the one at t0+10s.
        assert_eq!(ceiling.wait_at(t0 + Duration::from_secs(61)), Duration::from_secs(9));
        assert_eq!(ceiling.wait_at(t0 + Duration::from_secs(200)), Duration::ZERO);
    }
}
