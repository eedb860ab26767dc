//! Durations in human units. Every duration the runner shows a person goes through
//! [`duration`]; every duration a person types goes through [`parse_duration`]. Plain
//! text only: colours are [`crate::style`]'s business.

use std::time::Duration;

pub use engine::text::duration;

/// A duration as people type it: a number and a unit (`s`, `m`, `h`, `d`, `w`), several
/// combined (`1h30m`), e.g. `90s`, `15m`, `6h`, `2d`, `1w`, `0.5s`. The one parser of every
/// duration option and setting (`--lease-ttl`, `--stale-after`, a connection's `every`).
///
/// # Errors
/// The text and what was expected, for a message about the option it came from.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("`{text}` is not a duration: expected a number and a unit, as in 90s, 30m, 6h, 2d, 1w");
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
    if !(total.is_finite() && total > 0.0) {
        return Err(format!("`{text}` must be longer than zero"));
    }
    if total > 100.0 * 365.0 * 86_400.0 {
        return Err(format!("`{text}` is longer than a hundred years"));
    }
    Ok(Duration::from_secs_f64(total))
}

/// Rows of cells as a plain-text table: each column as wide as its widest cell, two
/// spaces between columns, no trailing spaces. Widths count characters, so cells must not
/// hold colour codes (pad first, colour after, as the kit does).
pub fn columns<R: AsRef<[String]>>(rows: &[R]) -> String {
    let count = rows.iter().map(|row| row.as_ref().len()).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|col| rows.iter().filter_map(|row| row.as_ref().get(col)).map(|c| c.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let cells: Vec<String> =
            row.as_ref().iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
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
    fn typed_durations_take_units_and_combinations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("0.5s"), Ok(Duration::from_millis(500)));
        for bad in ["", "15", "m", "15 parsecs", "-3s", "1h-2m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_duration("0s").unwrap_err(), "`0s` must be longer than zero");
        assert_eq!(parse_duration("1w"), Ok(Duration::from_secs(7 * 86_400)));
        for bad in ["6", "h", "-1h", "99999999999999999999d", "200000w"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(
            parse_duration("6x").unwrap_err(),
            "`6x` is not a duration: expected a number and a unit, as in 90s, 30m, 6h, 2d, 1w"
        );
    }

    #[test]
    fn columns_are_as_wide_as_their_widest_cell() {
        let rows = [["name", "n"].map(String::from), ["long-name", "12"].map(String::from)];
        assert_eq!(columns(&rows), "name       n\nlong-name  12\n");
        assert_eq!(columns::<[String; 0]>(&[]), "");
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
