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

    /// Splitmix64's first outputs from state 1234567, as published with the algorithm
    /// (Rosetta Code, "Pseudo-random numbers/Splitmix64").
    const PUBLISHED: [u64; 5] =
        [6457827717110365317, 3203168211198807973, 9817491932198370423, 4593380528125082431, 16408922859458223821];

    #[test]
    fn splitmix64_gives_the_published_outputs() {
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(splitmix64(1_234_567), PUBLISHED[0]);
        // Rng steps its state before hashing, so from a state it yields the later outputs.
        let mut rng = Rng(1_234_567);
        let drawn: Vec<u64> = (0..4).map(|_| rng.next_u64()).collect();
        assert_eq!(drawn, PUBLISHED[1..]);
        // From a separate Python implementation of splitmix64, composed as `mix` documents.
        assert_eq!(mix(1, 2, 3), 15_432_287_184_251_514_724);
    }

    const DRAWS: usize = 60_000;

    /// How often each value comes up in `DRAWS` draws.
    fn histogram(buckets: usize, mut draw: impl FnMut() -> usize) -> Vec<usize> {
        let mut counts = vec![0; buckets];
        (0..DRAWS).for_each(|_| counts[draw()] += 1);
        counts
    }

    // The bands below are about five standard deviations wide, and the seeds are fixed:
    // the tests are deterministic, and a real bias moves a count far outside them.

    #[test]
    fn below_and_range_are_uniform() {
        let mut rng = Rng::new(7, 1, 1);
        let faces = histogram(6, || rng.below(6) as usize);
        assert!(faces.iter().all(|&c| (9_500..=10_500).contains(&c)), "{faces:?}");
        let values = histogram(10, || rng.range(2, 8) as usize);
        assert_eq!(values[..2], [0, 0], "{values:?}");
        assert!(values[2..9].iter().all(|&c| (8_000..=9_150).contains(&c)), "{values:?}");
        assert_eq!(values[9], 0, "{values:?}");
        assert_eq!(rng.below(0), 0);
    }

    #[test]
    fn weighted_follows_the_weights() {
        let mut rng = Rng::new(7, 2, 1);
        let picks = histogram(4, || rng.weighted(&[1, 0, 3, 6]));
        assert_eq!(picks[1], 0, "a zero weight is never drawn: {picks:?}");
        assert!((5_400..=6_600).contains(&picks[0]), "{picks:?}");
        assert!((17_400..=18_600).contains(&picks[2]), "{picks:?}");
        assert!((35_400..=36_600).contains(&picks[3]), "{picks:?}");
    }

    #[test]
    fn unit_and_log_range_have_the_expected_centre() {
        let mut rng = Rng::new(7, 3, 1);
        let units: Vec<f64> = (0..DRAWS).map(|_| rng.unit()).collect();
        assert!(units.iter().all(|u| (0.0..1.0).contains(u)));
        let mean = units.iter().sum::<f64>() / DRAWS as f64;
        assert!((mean - 0.5).abs() < 0.01, "{mean}");
        let mut delays: Vec<u64> = (0..DRAWS).map(|_| rng.log_range(30, 7200)).collect();
        assert!(delays.iter().all(|d| (30..=7200).contains(d)));
        // Log-uniform: the median is the geometric mean of the bounds, sqrt(30 * 7200) = 465.
        delays.sort_unstable();
        let median = delays[DRAWS / 2];
        assert!((430..=500).contains(&median), "{median}");
    }
}
