//! The earliest-data cutoff: parsing the dates users and runners write.

use chrono::{DateTime, NaiveDate, Utc};

/// A cutoff that is neither `YYYY-MM-DD` nor RFC 3339.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date \"{input}\": expected YYYY-MM-DD (e.g. 2026-01-31) or RFC 3339 (e.g. 2026-01-31T12:00:00Z)")]
pub struct CutoffError {
    /// What was given.
    pub input: String,
}

/// Parses `YYYY-MM-DD` (midnight UTC) or an RFC 3339 timestamp (any offset, normalised
/// to UTC).
///
/// # Errors
/// [`CutoffError`] quoting the input and showing both accepted forms.
pub fn parse_cutoff(input: &str) -> Result<DateTime<Utc>, CutoffError> {
    let trimmed = input.trim();
    if let Ok(date) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        if let Some(midnight) = date.and_hms_opt(0, 0, 0) {
            return Ok(midnight.and_utc());
        }
    }
    DateTime::parse_from_rfc3339(trimmed)
        .map(|instant| instant.with_timezone(&Utc))
        .map_err(|_| CutoffError { input: input.to_owned() })
}

/// Formats an instant the way the protocol writes them: RFC 3339, UTC, `Z`, and
/// fractional seconds only when there are any.
pub fn format_instant(instant: DateTime<Utc>) -> String {
    instant.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_midnight_utc() {
        assert_eq!(format_instant(parse_cutoff("2026-01-31").unwrap()), "2026-01-31T00:00:00Z");
    }

    #[test]
    fn rfc3339_is_normalised_to_utc() {
        assert_eq!(format_instant(parse_cutoff("2026-01-31T02:30:00+02:00").unwrap()), "2026-01-31T00:30:00Z");
        assert_eq!(format_instant(parse_cutoff("2026-01-31T00:00:00.250Z").unwrap()), "2026-01-31T00:00:00.250Z");
    }

    #[test]
    fn garbage_is_refused_with_both_forms_shown() {
        for bad in ["yesterday", "2026-02-30", "2026-1-1x", ""] {
            let err = parse_cutoff(bad).unwrap_err().to_string();
            assert!(err.contains(&format!("\"{bad}\"")) && err.contains("YYYY-MM-DD"), "{err}");
        }
    }
}
