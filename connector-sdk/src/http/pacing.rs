//! When the next request may go out: the client-side ceiling, and the token's budget as
//! the server reports it in the `ratelimit-*` headers of every answer.
//!
//! - [`Ceiling`]: at most so many requests in any rolling minute, a bound the user sets
//!   (to leave room for other tools, say).
//! - [`Budget`]: what the last answers said: `ratelimit-limit` requests per window,
//!   `ratelimit-remaining` of them left, the window ends in `ratelimit-reset` seconds. The
//!   budget belongs to the token, so other processes using the same token (a second
//!   connection of a `sync-all`, another tool) spend it too; the headers are how we see them.
//! - [`Pacer`]: the two together, shared by every request thread of a sync.
//!
//! The pacing rule: spread what is left of the window evenly over the time left,
//! `remaining / reset` requests per second, keeping a small reserve ([`reserve`]) and
//! counting requests still in flight as spent. Any number of processes following it use
//! up the budget exactly at the end of each window (each one's rate falls as the others
//! spend), so together they stay within it without talking to each other; a 429 can only
//! come from estimates going wrong at the edges. A sync whose remaining requests (its
//! *demand*, see [`Pacer::set_demand`]) fit in what is left, reserve included, sends them
//! at once: it cannot exhaust the window. Before the first answer only one request is in
//! flight, so a sync starting into a budget others have spent learns it from one answer,
//! not eight 429s. After a 429 nobody sends until the window resets, and then one request
//! at a time until one is served: a refused token gets one request per reset, never a
//! storm.

use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;

const MINUTE: Duration = Duration::from_secs(60);
/// The longest a waiting request sleeps before it looks again (an answer may have
/// changed the picture without waking it: belt and braces).
const RECHECK: Duration = Duration::from_secs(1);

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
        Ceiling { limit, sent: VecDeque::with_capacity(limit.min(1024)) }
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
}

/// The `ratelimit-*` headers of one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitHeaders {
    /// `ratelimit-limit`: requests per window.
    pub limit: u32,
    /// `ratelimit-remaining`: requests left in the current window.
    pub remaining: u32,
    /// `ratelimit-reset`: time until the window resets.
    pub reset: Duration,
}

impl RateLimitHeaders {
    /// The three headers, when all are present and numeric. A value may be a list
    /// (`900, 900;w=60`, as in the IETF draft): its first number counts.
    pub fn parse(headers: &HeaderMap) -> Option<RateLimitHeaders> {
        let number = |name: &str| -> Option<f64> {
            let text = headers.get(name)?.to_str().ok()?;
            let first = text.split([',', ';']).next()?.trim();
            first.parse::<f64>().ok().filter(|n| n.is_finite() && *n >= 0.0)
        };
        Some(RateLimitHeaders {
            limit: number("ratelimit-limit")? as u32,
            remaining: number("ratelimit-remaining")? as u32,
            reset: Duration::from_secs_f64(number("ratelimit-reset")?),
        })
    }
}

/// What we know of the token's budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    /// No answer yet.
    Unknown,
    /// Answers carry no `ratelimit-*` headers: only the ceiling applies.
    Unreported,
    /// The last window the server told us about.
    Known {
        /// Requests per window.
        limit: u32,
        /// Requests left in it, the lowest any answer of this window reported.
        remaining: u32,
        /// When it resets, at the latest: `ratelimit-reset` counted from when the answer
        /// arrived, which is after the server computed it.
        resets_at: Instant,
        /// How long a window lasts: the longest `ratelimit-reset` seen (short of a whole
        /// window only until an answer of a fresh window comes).
        window: Duration,
    },
}

impl Budget {
    /// The budget after an answer received at `at` said `headers`.
    fn observe(self, at: Instant, headers: RateLimitHeaders) -> Budget {
        let resets_at = at + headers.reset;
        match self {
            Budget::Known { remaining, resets_at: known, window, .. }
                if resets_at <= known + Duration::from_secs(1) =>
            {
                // The same window (answers overtake each other): the lowest count and the
                // earliest reset are the truest.
                Budget::Known {
                    limit: headers.limit,
                    remaining: remaining.min(headers.remaining),
                    resets_at: known.min(resets_at),
                    window: window.max(headers.reset),
                }
            }
            Budget::Known { window, .. } => Budget::Known {
                limit: headers.limit,
                remaining: headers.remaining,
                resets_at,
                window: window.max(headers.reset),
            },
            Budget::Unknown | Budget::Unreported => {
                Budget::Known { limit: headers.limit, remaining: headers.remaining, resets_at, window: headers.reset }
            }
        }
    }

    /// The budget at `now`: a window that has reset is full again (until an answer says
    /// how much of it others have spent).
    fn at(self, now: Instant) -> Budget {
        match self {
            Budget::Known { limit, resets_at, window, .. } if now >= resets_at => {
                Budget::Known { limit, remaining: limit, resets_at: now + window, window }
            }
            other => other,
        }
    }
}

/// Requests kept back from every window: for the estimates' errors, and for other tools
/// on the token.
pub fn reserve(limit: u32) -> u32 {
    (limit / 100).max(1)
}

/// Whether a request may go out now, or until when to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Send it.
    Go,
    /// Wait until then.
    Until(Instant),
    /// Wait for an answer to a request in flight.
    Answer,
}

/// The pacing state shared by the request threads.
#[derive(Debug)]
struct Pace {
    ceiling: Ceiling,
    budget: Budget,
    in_flight: u32,
    /// When the next request may go out while pacing.
    next_at: Option<Instant>,
    /// After a 429: nobody sends before.
    blocked_until: Option<Instant>,
    /// 429s in a row, whichever requests they answered; reset by any other answer.
    refusals: u32,
    /// Requests the sync still has to make, when it knows.
    demand: Option<u64>,
}

impl Pace {
    /// Whether a request may go out at `now`, and if so the spacing to the next.
    fn decide(&self, now: Instant) -> (Decision, Duration) {
        if let Some(until) = self.blocked_until.filter(|&until| until > now) {
            return (Decision::Until(until), Duration::ZERO);
        }
        let ceiling = self.ceiling.wait_at(now);
        if !ceiling.is_zero() {
            return (Decision::Until(now + ceiling), Duration::ZERO);
        }
        // Before the first answer, and after a 429 until a request is served: one at a time.
        if (self.budget == Budget::Unknown || self.refusals > 0) && self.in_flight > 0 {
            return (Decision::Answer, Duration::ZERO);
        }
        match self.budget.at(now) {
            Budget::Unknown | Budget::Unreported => (Decision::Go, Duration::ZERO),
            Budget::Known { limit, remaining, resets_at, .. } => {
                let spendable = i64::from(remaining) - i64::from(self.in_flight) - i64::from(reserve(limit));
                if spendable <= 0 {
                    // The answers in flight may show the window reset; else wait for it.
                    return (Decision::Until(resets_at), Duration::ZERO);
                }
                if self.demand.is_some_and(|demand| demand <= spendable as u64) {
                    return (Decision::Go, Duration::ZERO);
                }
                if let Some(next) = self.next_at.filter(|&next| next > now) {
                    return (Decision::Until(next), Duration::ZERO);
                }
                (Decision::Go, resets_at.saturating_duration_since(now) / spendable as u32)
            }
        }
    }
}

/// The client-side ceiling and the account's budget, for every request thread of a sync.
#[derive(Debug)]
pub struct Pacer {
    pace: Mutex<Pace>,
    changed: Condvar,
}

impl Pacer {
    /// A pacer with a ceiling of `per_minute` requests in any rolling minute.
    pub fn new(per_minute: u32) -> Self {
        Pacer {
            pace: Mutex::new(Pace {
                ceiling: Ceiling::new(per_minute),
                budget: Budget::Unknown,
                in_flight: 0,
                next_at: None,
                blocked_until: None,
                refusals: 0,
                demand: None,
            }),
            changed: Condvar::new(),
        }
    }

    fn pace(&self) -> MutexGuard<'_, Pace> {
        self.pace.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until a request may go out, and counts it as sent and in flight. Every call
    /// must be followed by [`Pacer::answered`] or [`Pacer::unanswered`].
    pub fn acquire(&self) {
        let mut pace = self.pace();
        loop {
            let now = Instant::now();
            let wait = match pace.decide(now) {
                (Decision::Go, spacing) => {
                    pace.ceiling.record(now);
                    pace.in_flight += 1;
                    pace.next_at = Some(now + spacing);
                    if let Some(demand) = pace.demand.as_mut() {
                        *demand = demand.saturating_sub(1);
                    }
                    return;
                }
                (Decision::Until(at), _) => at.saturating_duration_since(now).min(RECHECK),
                (Decision::Answer, _) => RECHECK,
            };
            pace = self.changed.wait_timeout(pace, wait).unwrap_or_else(PoisonError::into_inner).0;
        }
    }

    /// An answer arrived (not a 429): what its headers say about the budget.
    pub fn answered(&self, headers: Option<RateLimitHeaders>) {
        let mut pace = self.pace();
        pace.refusals = 0;
        self.observe(pace, headers);
    }

    /// A 429 arrived: nobody sends before `wait` has passed (the window's reset), then one
    /// request at a time until one is served. Returns the 429s in a row so far, whichever
    /// requests they answered.
    pub fn refused(&self, headers: Option<RateLimitHeaders>, wait: Duration) -> u32 {
        let mut pace = self.pace();
        pace.refusals += 1;
        let until = Instant::now() + wait;
        pace.blocked_until = Some(pace.blocked_until.map_or(until, |blocked| blocked.max(until)));
        let refusals = pace.refusals;
        self.observe(pace, headers);
        refusals
    }

    fn observe(&self, mut pace: MutexGuard<'_, Pace>, headers: Option<RateLimitHeaders>) {
        pace.in_flight = pace.in_flight.saturating_sub(1);
        pace.budget = match headers {
            Some(headers) => pace.budget.observe(Instant::now(), headers),
            None if pace.budget == Budget::Unknown && pace.refusals == 0 => Budget::Unreported,
            None => pace.budget,
        };
        drop(pace);
        self.changed.notify_all();
    }

    /// A request got no answer (network error, timeout).
    pub fn unanswered(&self) {
        let mut pace = self.pace();
        pace.in_flight = pace.in_flight.saturating_sub(1);
        drop(pace);
        self.changed.notify_all();
    }

    /// How many requests the sync still has to make, when it knows (`None`: it does not).
    /// Requests that fit in what is left of the window go out without pacing.
    pub fn set_demand(&self, demand: Option<u64>) {
        self.pace().demand = demand;
        self.changed.notify_all();
    }

    /// What the answers said so far.
    pub fn budget(&self) -> Budget {
        self.pace().budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

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

    #[test]
    fn headers_are_read_as_numbers_or_lists_and_all_three_are_needed() {
        let mut map = HeaderMap::new();
        map.insert("ratelimit-limit", HeaderValue::from_static("900"));
        map.insert("ratelimit-remaining", HeaderValue::from_static("899, 899;w=60"));
        assert_eq!(RateLimitHeaders::parse(&map), None, "no reset");
        map.insert("ratelimit-reset", HeaderValue::from_static("59"));
        let expected = RateLimitHeaders { limit: 900, remaining: 899, reset: Duration::from_secs(59) };
        assert_eq!(RateLimitHeaders::parse(&map), Some(expected));
        map.insert("ratelimit-reset", HeaderValue::from_static("soon"));
        assert_eq!(RateLimitHeaders::parse(&map), None);
    }

    fn pace(budget: Budget, in_flight: u32, demand: Option<u64>) -> Pace {
        Pace {
            ceiling: Ceiling::new(10_000),
            budget,
            in_flight,
            next_at: None,
            blocked_until: None,
            refusals: 0,
            demand,
        }
    }

    fn known(remaining: u32, resets_at: Instant) -> Budget {
        Budget::Known { limit: 900, remaining, resets_at, window: MINUTE }
    }

    #[test]
    fn the_budget_left_is_spread_over_the_time_left_keeping_a_reserve() {
        let now = Instant::now();
        // 60 s left, 909 left of which 9 are the reserve and 0 in flight: one every 1/15 s.
        let (decision, spacing) = pace(known(909, now + MINUTE), 0, None).decide(now);
        assert_eq!((decision, spacing), (Decision::Go, Duration::from_secs(60) / 900));
        // Requests in flight count as spent.
        let (_, spacing) = pace(known(909, now + MINUTE), 300, None).decide(now);
        assert_eq!(spacing, Duration::from_secs(60) / 600);
        // Nothing spendable: wait for the reset.
        let (decision, _) = pace(known(12, now + MINUTE), 3, None).decide(now);
        assert_eq!(decision, Decision::Until(now + MINUTE));
        // After the reset the window is full again.
        let (decision, spacing) = pace(known(0, now), 0, None).decide(now + Duration::from_millis(1));
        assert_eq!((decision, spacing), (Decision::Go, Duration::from_secs(60) / 891));
    }

    #[test]
    fn a_demand_that_fits_goes_at_once_and_one_that_does_not_is_paced() {
        let now = Instant::now();
        assert_eq!(pace(known(500, now + MINUTE), 8, Some(480)).decide(now), (Decision::Go, Duration::ZERO));
        let (decision, spacing) = pace(known(500, now + MINUTE), 8, Some(490)).decide(now);
        assert_eq!(decision, Decision::Go);
        assert!(spacing > Duration::ZERO, "{spacing:?}");
        let mut spaced = pace(known(500, now + MINUTE), 0, None);
        spaced.next_at = Some(now + Duration::from_millis(50));
        assert_eq!(spaced.decide(now).0, Decision::Until(now + Duration::from_millis(50)));
    }

    #[test]
    fn before_the_first_answer_one_request_at_a_time_and_without_headers_no_pacing() {
        let now = Instant::now();
        assert_eq!(pace(Budget::Unknown, 0, None).decide(now).0, Decision::Go);
        assert_eq!(pace(Budget::Unknown, 1, None).decide(now).0, Decision::Answer);
        assert_eq!(pace(Budget::Unreported, 7, None).decide(now), (Decision::Go, Duration::ZERO));
        let mut blocked = pace(Budget::Unreported, 0, None);
        blocked.blocked_until = Some(now + Duration::from_secs(3));
        assert_eq!(blocked.decide(now).0, Decision::Until(now + Duration::from_secs(3)));
        let mut refused = pace(known(500, now + MINUTE), 1, None);
        refused.refusals = 1;
        assert_eq!(refused.decide(now).0, Decision::Answer, "after a 429, one at a time");
        refused.in_flight = 0;
        assert_eq!(refused.decide(now).0, Decision::Go);
        let mut capped = pace(Budget::Unreported, 0, None);
        capped.ceiling = Ceiling::new(1);
        capped.ceiling.record(now);
        assert_eq!(capped.decide(now).0, Decision::Until(now + MINUTE));
    }

    #[test]
    fn answers_of_one_window_keep_the_lowest_count_and_a_new_window_replaces_it() {
        let t0 = Instant::now();
        let headers = |remaining, reset| RateLimitHeaders { limit: 900, remaining, reset: Duration::from_secs(reset) };
        let budget = Budget::Unknown.observe(t0, headers(800, 30));
        // An answer that overtook a later one reports more left: the lower count stands.
        let budget = budget.observe(t0 + Duration::from_millis(100), headers(805, 30));
        let half = Duration::from_secs(30);
        assert_eq!(budget, Budget::Known { limit: 900, remaining: 800, resets_at: t0 + half, window: half });
        // The next window, whole: now its length is known.
        let budget = budget.observe(t0 + Duration::from_secs(31), headers(890, 60));
        let Budget::Known { remaining, resets_at, window, .. } = budget else { panic!("{budget:?}") };
        assert_eq!((remaining, resets_at, window), (890, t0 + Duration::from_secs(91), MINUTE));
    }

    #[test]
    fn acquire_and_answer_track_requests_in_flight_and_refusals_in_a_row() {
        let pacer = Pacer::new(100);
        pacer.acquire();
        assert_eq!(pacer.pace().in_flight, 1);
        assert_eq!(pacer.refused(None, Duration::ZERO), 1);
        assert_eq!(pacer.budget(), Budget::Unknown, "a 429 without headers is no sign of an unlimited API");
        pacer.acquire();
        assert_eq!(pacer.refused(None, Duration::ZERO), 2);
        pacer.acquire();
        pacer.answered(None);
        assert_eq!(pacer.pace().refusals, 0);
        assert_eq!(pacer.pace().in_flight, 0);
        assert_eq!(pacer.budget(), Budget::Unreported);
        pacer.acquire();
        pacer.unanswered();
        assert_eq!(pacer.pace().in_flight, 0);
    }
}
