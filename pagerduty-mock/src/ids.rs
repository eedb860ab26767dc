//! PagerDuty-looking identifiers that are bijections of (kind, index).
//!
//! Objects are P + 6 base-36 characters like PagerDuty's. The ID is an affine
//! permutation of `index * KINDS + kind` modulo 36^6, so it can be decoded back to the
//! index (no lookup table even for millions of incidents) and no two objects collide.
//! Log entries use R + 13 characters, as PagerDuty's log entry IDs are longer.

use crate::rng::mix;

const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const SHORT_SPACE: u64 = 2_176_782_336; // 36^6
const LONG_SPACE: u128 = 170_581_728_179_578_208_256; // 36^13
const KINDS: u64 = 8;
/// Log entries per incident are addressed as `incident * LOG_SLOTS + position`.
pub(crate) const LOG_SLOTS: u64 = 16;

/// What an object ID names; the discriminant keeps the ID spaces disjoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Incident = 0,
    User = 1,
    Team = 2,
    Service = 3,
    Policy = 4,
    Schedule = 5,
    Priority = 6,
    Alert = 7,
}

/// Largest index an object ID can encode.
#[cfg(test)]
pub(crate) const MAX_INDEX: u64 = SHORT_SPACE / KINDS - 1;

/// Encodes and decodes IDs for one seed.
#[derive(Debug, Clone)]
pub(crate) struct IdCodec {
    mul: u64,
    inv: u64,
    add: u64,
    long_mul: u128,
    long_inv: u128,
    long_add: u128,
}

impl IdCodec {
    pub(crate) fn new(seed: u64) -> Self {
        // A multiplier coprime with 36^k (not divisible by 2 or 3) makes the map bijective.
        let mul = coprime_to_six(mix(seed, 0x1D, 1) % SHORT_SPACE);
        let long_mul = u128::from(coprime_to_six(mix(seed, 0x1D, 2)));
        IdCodec {
            mul,
            inv: inverse(u128::from(mul), u128::from(SHORT_SPACE)) as u64,
            add: mix(seed, 0x1D, 3) % SHORT_SPACE,
            long_mul,
            long_inv: inverse(long_mul, LONG_SPACE),
            long_add: u128::from(mix(seed, 0x1D, 4)) % LONG_SPACE,
        }
    }

    /// The ID of object `index` of `kind` (`index <= MAX_INDEX`).
    pub(crate) fn encode(&self, kind: Kind, index: u64) -> String {
        let x = u128::from(index * KINDS + kind as u64);
        let y = (x * u128::from(self.mul) + u128::from(self.add)) % u128::from(SHORT_SPACE);
        format!("P{}", base36(y, 6))
    }

    /// The index an ID of `kind` stands for, or `None` if it is not one of ours.
    pub(crate) fn decode(&self, kind: Kind, id: &str) -> Option<u64> {
        let rest = id.strip_prefix('P')?;
        let y = parse36(rest, 6)?;
        let space = u128::from(SHORT_SPACE);
        let x = ((y + space - u128::from(self.add)) % space) * u128::from(self.inv) % space;
        let x = x as u64;
        (x % KINDS == kind as u64).then_some(x / KINDS)
    }

    /// The ID of the log entry at `position` in incident `incident`'s timeline.
    pub(crate) fn log_entry(&self, incident: u64, position: u64) -> String {
        let x = u128::from(incident * LOG_SLOTS + position);
        let y = (mul_mod(x, self.long_mul, LONG_SPACE) + self.long_add) % LONG_SPACE;
        format!("R{}", base36(y, 13))
    }

    /// `(incident, position)` of a log entry ID.
    pub(crate) fn decode_log_entry(&self, id: &str) -> Option<(u64, u64)> {
        let y = parse36(id.strip_prefix('R')?, 13)?;
        let x = mul_mod((y + LONG_SPACE - self.long_add) % LONG_SPACE, self.long_inv, LONG_SPACE);
        let x = u64::try_from(x).ok()?;
        Some((x / LOG_SLOTS, x % LOG_SLOTS))
    }
}

fn coprime_to_six(mut v: u64) -> u64 {
    v |= 1;
    while v % 3 == 0 || v < 7 {
        v += 2;
    }
    v
}

/// `a * b mod m` without overflowing u128 (m < 2^68, so split b into halves).
fn mul_mod(a: u128, b: u128, m: u128) -> u128 {
    let (a, b) = (a % m, b % m);
    let lo = b & 0xFFFF_FFFF;
    let hi = b >> 32;
    let part_hi = (a * hi) % m;
    let shifted = (part_hi << 32) % m;
    (shifted + (a * lo) % m) % m
}

/// Modular inverse by the extended Euclidean algorithm (`a` coprime with `m`).
fn inverse(a: u128, m: u128) -> u128 {
    let (mut old_r, mut r) = (a as i128, m as i128);
    let (mut old_s, mut s) = (1i128, 0i128);
    while r != 0 {
        let q = old_r / r;
        (old_r, r) = (r, old_r - q * r);
        (old_s, s) = (s, old_s - q * s);
    }
    old_s.rem_euclid(m as i128) as u128
}

fn base36(mut v: u128, width: usize) -> String {
    let mut out = vec![b'0'; width];
    for slot in out.iter_mut().rev() {
        *slot = ALPHABET[(v % 36) as usize];
        v /= 36;
    }
    String::from_utf8(out).unwrap_or_default()
}

fn parse36(s: &str, width: usize) -> Option<u128> {
    if s.len() != width {
        return None;
    }
    s.bytes().try_fold(0u128, |acc, b| {
        let d = ALPHABET.iter().position(|&a| a == b)?;
        Some(acc * 36 + d as u128)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_look_like_pagerduty() {
        let c = IdCodec::new(42);
        for i in [0u64, 1, 2, 999_999, MAX_INDEX] {
            let id = c.encode(Kind::Incident, i);
            assert_eq!(id.len(), 7);
            assert!(id.starts_with('P'));
            assert!(id[1..].bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
            assert_eq!(c.decode(Kind::Incident, &id), Some(i));
            assert_eq!(c.decode(Kind::User, &id), None);
        }
        assert_eq!(c.decode(Kind::Incident, "PXX"), None);
        assert_eq!(c.decode(Kind::Incident, "Pabcdef"), None);
    }

    #[test]
    fn log_entry_ids_round_trip() {
        let c = IdCodec::new(7);
        for (i, j) in [(0u64, 0u64), (5, 3), (9_999_999, 15)] {
            let id = c.log_entry(i, j);
            assert_eq!(id.len(), 14);
            assert_eq!(c.decode_log_entry(&id), Some((i, j)));
        }
        assert_eq!(c.decode_log_entry("Rshort"), None);
    }

    #[test]
    fn distinct_indices_give_distinct_ids() {
        let c = IdCodec::new(1);
        let ids: std::collections::HashSet<_> = (0..10_000).map(|i| c.encode(Kind::Incident, i)).collect();
        assert_eq!(ids.len(), 10_000);
    }
}
