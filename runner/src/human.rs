//! Durations in human units. Every duration the runner shows a person goes through
//! [`duration`]; every duration a person types goes through [`parse_duration`]. Plain
//! text only: colours are [`crate::style`]'s business.

use std::time::Duration;

pub use engine::text::duration;

/// The forms [`parse_duration`] accepts, as its errors and the help say them.
pub const DURATION_FORMS: &str = "seconds (30, 0.5) or a number and a unit: 90s, 30m, 6h, 2d, 1w, or combined, 1h30m";

/// A duration as people type it: a bare number of seconds (`30`, `0.5`), or a number and a
/// unit (`s`, `m`, `h`, `d`, `w`), several combined (`1h30m`), e.g. `90s`, `15m`, `6h`,
/// `2d`, `1w`, `0.5s`. The one parser of every duration option and setting (`--timeout`,
/// `--lease-ttl`, `--stale-after`, a connection's `every`...), so each takes the same forms.
///
/// # Errors
/// The text and the accepted forms, for a message about the option it came from.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bare = text.trim();
    // Digits and a point only: `inf`, `NaN` and `1e3` are numbers to Rust, not seconds as typed.
    let seconds = if !bare.is_empty() && bare.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        bare.parse().map_err(|_| not_a_duration(text))?
    } else {
        with_units(text)?
    };
    if !(seconds.is_finite() && seconds > 0.0) {
        return Err(format!("`{text}` must be longer than zero"));
    }
    if seconds > 100.0 * 365.0 * 86_400.0 {
        return Err(format!("`{text}` is longer than a hundred years"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// The one message for a text that is no duration: the text and the accepted forms.
fn not_a_duration(text: &str) -> String {
    format!("`{text}` is not a duration: expected {DURATION_FORMS}")
}

/// The seconds of `text` written as numbers each followed by a unit (`1h30m`).
fn with_units(text: &str) -> Result<f64, String> {
    let invalid = || not_a_duration(text);
    let mut total = 0.0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).ok_or_else(invalid)?;
        let number: f64 = rest[..digits].parse().map_err(|_| invalid())?;
        let unit_end = rest[digits..].find(|c: char| c.is_ascii_digit()).map_or(rest.len(), |i| digits + i);
        let seconds = match rest[digits..unit_end].trim() {
            "s" | "sec" | "secs" => 1.0,
            "m" | "min" | "mins" => 60.0,
            "h" | "hour" | "hours" => 3600.0,
            "d" | "day" | "days" => 86_400.0,
            "w" | "week" | "weeks" => 7.0 * 86_400.0,
            _ => return Err(invalid()),
        };
        total += number * seconds;
        rest = rest[unit_end..].trim_start();
    }
    Ok(total)
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
    fn a_bare_number_is_seconds() {
        assert_eq!(parse_duration("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration(" 1800 "), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("30"), parse_duration("30s"));
    }

    #[test]
    fn each_unit_counts_its_seconds() {
        for (text, seconds) in [
            ("30s", 30),
            ("30sec", 30),
            ("5m", 300),
            ("15min", 900),
            ("2h", 7200),
            ("2 hours", 7200),
            ("2d", 172_800),
            ("1w", 7 * 86_400),
            ("2weeks", 14 * 86_400),
        ] {
            assert_eq!(parse_duration(text), Ok(Duration::from_secs(seconds)), "{text}");
        }
        assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
    }

    #[test]
    fn units_combine() {
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1d 12h"), Ok(Duration::from_secs(129_600)));
    }

    #[test]
    fn bad_durations_say_the_value_and_the_accepted_forms() {
        for bad in ["", " ", "m", "h", "6x", "15 parsecs", "-3s", "-1", "1h-2m", "1e3", "inf", "NaN", "1..5s"] {
            assert_eq!(parse_duration(bad), Err(not_a_duration(bad)), "{bad:?}");
        }
        assert_eq!(
            parse_duration("6x").unwrap_err(),
            "`6x` is not a duration: expected seconds (30, 0.5) or a number and a unit: 90s, 30m, 6h, 2d, 1w, or \
             combined, 1h30m"
        );
    }

    #[test]
    fn durations_are_longer_than_zero_and_shorter_than_a_century() {
        for zero in ["0", "0s", "0.0", "0h0m"] {
            assert_eq!(parse_duration(zero), Err(format!("`{zero}` must be longer than zero")));
        }
        for long in ["99999999999999999999d", "200000w", "99999999999"] {
            assert_eq!(parse_duration(long), Err(format!("`{long}` is longer than a hundred years")));
        }
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
