//! Injected faults: a deterministic share of requests answered 500 or 503, and latency.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::ApiError;
use crate::rng::{mix, unit_interval};

const SALT_FAULT: u64 = 0xFA17;

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
}
