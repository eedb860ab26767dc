//! Injected faults: a deterministic share of requests answered 500 or 503, and latency
//! with jitter.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::ApiError;
use crate::rng::{mix, unit_interval};

const SALT_FAULT: u64 = 0xFA17;
const SALT_LATENCY: u64 = 0x1A7E;

/// Decides, request by request, whether to fail.
#[derive(Debug)]
pub(crate) struct Faults {
    seed: u64,
    rate: f64,
    counter: AtomicU64,
}

impl Faults {
    pub(crate) fn new(seed: u64, rate: f64) -> Self {
        Faults { seed, rate, counter: AtomicU64::new(0) }
    }

    /// The fault for the next request, if it draws one. The sequence depends only on the
    /// seed and the request's position, so a run is reproducible.
    pub(crate) fn roll(&self) -> Option<ApiError> {
        if self.rate <= 0.0 {
            return None;
        }
        let i = self.counter.fetch_add(1, Ordering::Relaxed);
        let bits = mix(self.seed, SALT_FAULT, i);
        // The low bit picks the status; the high bits decide whether to fail at all.
        (unit_interval(bits) < self.rate).then(|| {
            if bits & 1 == 0 {
                ApiError::internal()
            } else {
                ApiError::unavailable()
            }
        })
    }
}

/// How long each answer is delayed: a base and a uniform spread around it.
#[derive(Debug)]
pub(crate) struct Latency {
    seed: u64,
    base: Duration,
    jitter: Duration,
    counter: AtomicU64,
}

impl Latency {
    pub(crate) fn new(seed: u64, base: Duration, jitter: Duration) -> Self {
        Latency { seed, base, jitter: jitter.min(base), counter: AtomicU64::new(0) }
    }

    /// The delay of the next request: `base ± jitter`, from the seed and the request's
    /// position, so a run is reproducible.
    pub(crate) fn next(&self) -> Duration {
        if self.jitter.is_zero() {
            return self.base;
        }
        let i = self.counter.fetch_add(1, Ordering::Relaxed);
        let spread = self.jitter.mul_f64(2.0 * unit_interval(mix(self.seed, SALT_LATENCY, i)));
        self.base - self.jitter + spread
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_respected() {
        assert!((0..100).all(|_| Faults::new(1, 0.0).roll().is_none()));
        let all = Faults::new(1, 1.0);
        let statuses: Vec<u16> = (0..100).map(|_| all.roll().unwrap().status.as_u16()).collect();
        assert!(statuses.contains(&500) && statuses.contains(&503));
        let half = Faults::new(1, 0.3);
        let failed = (0..1000).filter(|_| half.roll().is_some()).count();
        assert!((200..400).contains(&failed), "{failed}");
    }

    #[test]
    fn latency_spreads_within_its_jitter_and_repeats_with_the_seed() {
        let ms = Duration::from_millis;
        assert!((0..10).all(|_| Latency::new(1, ms(200), Duration::ZERO).next() == ms(200)));
        let latency = Latency::new(1, ms(200), ms(50));
        let delays: Vec<Duration> = (0..1000).map(|_| latency.next()).collect();
        assert!(delays.iter().all(|d| (ms(150)..ms(250)).contains(d)), "{delays:?}");
        assert!(delays.iter().any(|d| *d < ms(170)) && delays.iter().any(|d| *d > ms(230)), "spread over the range");
        let again = Latency::new(1, ms(200), ms(50));
        assert_eq!((0..1000).map(|_| again.next()).collect::<Vec<_>>(), delays);
    }
}
