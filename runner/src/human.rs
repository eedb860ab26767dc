//! Durations in human units. Every duration the runner shows a person goes through
//! [`duration`]. Plain text only: colours are [`crate::style`]'s business.

use std::time::Duration;

/// A duration as people say it: `45 ms`, `1.8 s`, `2 min 3 s`, `1 h 4 min`.
pub fn duration(elapsed: Duration) -> String {
    let millis = elapsed.as_millis();
    if millis < 1000 {
        return format!("{millis} ms");
    }
    let seconds = elapsed.as_secs();
    match seconds {
        0..=59 => format!("{:.1} s", elapsed.as_secs_f64()),
        60..=3599 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds % 3600 / 60),
    }
}

/// How old something is, in one whole unit: `45 s`, `12 min`, `5 h`, `3 d` (hours up to
/// two days, so "yesterday evening" does not read as "1 d").
pub fn age(elapsed: Duration) -> String {
    let seconds = elapsed.as_secs();
    match seconds {
        0..=59 => format!("{seconds} s"),
        60..=3599 => format!("{} min", seconds / 60),
        3600..=172_799 => format!("{} h", seconds / 3600),
        _ => format!("{} d", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_use_the_largest_sensible_unit() {
        assert_eq!(duration(Duration::from_millis(45)), "45 ms");
        assert_eq!(duration(Duration::from_millis(1840)), "1.8 s");
        assert_eq!(duration(Duration::from_secs(59)), "59.0 s");
        assert_eq!(duration(Duration::from_secs(123)), "2 min 3 s");
        assert_eq!(duration(Duration::from_secs(3840)), "1 h 4 min");
    }

    #[test]
    fn ages_use_one_whole_unit() {
        assert_eq!(age(Duration::from_millis(800)), "0 s");
        assert_eq!(age(Duration::from_secs(59)), "59 s");
        assert_eq!(age(Duration::from_secs(60 * 59 + 59)), "59 min");
        assert_eq!(age(Duration::from_secs(3600 * 47)), "47 h");
        assert_eq!(age(Duration::from_secs(86_400 * 2)), "2 d");
        assert_eq!(age(Duration::from_secs(86_400 * 400)), "400 d");
    }
}
