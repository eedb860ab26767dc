//! Deterministic pseudo-randomness: splitmix64 and a tiny generator built on it.
//!
//! Everything the simulator invents is a pure function of the seed and an index, so
//! any incident can be recomputed on demand instead of being stored.

/// One splitmix64 step: a fast, well-mixed 64-bit hash of `x`.
pub(crate) fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Hashes a seed, a salt (what is being generated) and an index into one value.
pub(crate) fn mix(seed: u64, salt: u64, index: u64) -> u64 {
    splitmix64(seed ^ splitmix64(salt ^ splitmix64(index)))
}

/// Maps 64 random bits to `[0, 1)`: the top 53 bits, as many as an `f64` holds exactly.
pub(crate) fn unit_interval(bits: u64) -> f64 {
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// A small sequential generator, seeded from [`mix`].
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new(seed: u64, salt: u64, index: u64) -> Self {
        Rng(mix(seed, salt, index))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.0)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is irrelevant at these sizes.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        unit_interval(self.next_u64())
    }

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }

    /// Log-uniform in `lo..=hi` (`lo >= 1`): many short delays, a few long ones.
    pub(crate) fn log_range(&mut self, lo: u64, hi: u64) -> u64 {
        let (l, h) = ((lo.max(1)) as f64, (hi.max(1)) as f64);
        let v = (l.ln() + self.unit() * (h.ln() - l.ln())).exp();
        (v as u64).clamp(lo, hi)
    }

    /// Index chosen with the given relative weights.
    pub(crate) fn weighted(&mut self, weights: &[u32]) -> usize {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        let mut pick = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if pick < u64::from(w) {
                return i;
            }
            pick -= u64::from(w);
        }
        weights.len().saturating_sub(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_inputs_same_outputs() {
        assert_eq!(mix(1, 2, 3), mix(1, 2, 3));
        assert_ne!(mix(1, 2, 3), mix(2, 2, 3));
        let (mut a, mut b) = (Rng::new(7, 1, 1), Rng::new(7, 1, 1));
        for _ in 0..10 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
    }

    #[test]
    fn ranges_stay_in_bounds() {
        let mut r = Rng::new(1, 1, 1);
        for _ in 0..1000 {
            assert!(r.range(2, 8) >= 2 && r.range(2, 8) <= 8);
            let v = r.log_range(30, 7200);
            assert!((30..=7200).contains(&v));
            assert!(r.unit() < 1.0);
            assert!(r.weighted(&[0, 5, 0]) == 1);
        }
        assert_eq!(r.below(0), 0);
    }
}
