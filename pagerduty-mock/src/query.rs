//! Query-string parsing with PagerDuty's rules: classic pagination, since/until
//! windows, `sort_by`, array parameters (`key[]`), and tolerance of repeated keys.
//!
//! Every malformed value becomes an [`ApiError`] (400 with PagerDuty's code), never a
//! panic or a 500.

use chrono::{DateTime, Months, NaiveDate, NaiveDateTime, Utc};

use crate::error::ApiError;

/// Default page size.
pub(crate) const DEFAULT_LIMIT: u64 = 25;
/// Largest page size; larger requests are clamped to it, as PagerDuty does.
pub(crate) const MAX_LIMIT: u64 = 100;
/// `offset + limit` may not exceed this.
pub(crate) const OFFSET_CAP: u64 = 10_000;
/// Longest since/until range, in months.
pub(crate) const MAX_RANGE_MONTHS: u32 = 6;
/// Default range when `since` or `until` is missing, in months.
pub(crate) const DEFAULT_RANGE_MONTHS: u32 = 1;

/// Decoded query parameters in their original order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string (`a=1&b[]=x&b[]=y`); undecodable escapes stay as they are.
    pub(crate) fn parse(raw: Option<&str>) -> Params {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        Params(pairs)
    }

    /// The last value of a scalar key: repeated keys are tolerated, the last one wins.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// All values of an array key, accepting `key[]` and `key`, and comma lists.
    pub(crate) fn list(&self, key: &str) -> Vec<String> {
        let bracketed = format!("{key}[]");
        let mut out: Vec<String> = Vec::new();
        for (k, v) in &self.0 {
            if k == key || *k == bracketed {
                for part in v.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    if !out.iter().any(|o| o == part) {
                        out.push(part.to_string());
                    }
                }
            }
        }
        out
    }

    /// A boolean parameter (`true`/`false`, any case), `default` when absent.
    pub(crate) fn flag(&self, key: &str, default: bool) -> Result<bool, ApiError> {
        match self.get(key).map(str::to_ascii_lowercase).as_deref() {
            None | Some("") => Ok(default),
            Some("true") | Some("1") => Ok(true),
            Some("false") | Some("0") => Ok(false),
            Some(other) => Err(ApiError::invalid_input(format!("{key} must be true or false, got `{other}`"))),
        }
    }

    fn number(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key) {
            None | Some("") => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::invalid_input(format!("{key} must be an integer, got `{v}`"))),
        }
    }
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() && bytes[i + 1].is_ascii_hexdigit() && bytes[i + 2].is_ascii_hexdigit() => {
                let hex = |c: u8| (c as char).to_digit(16).unwrap_or(0) as u8;
                out.push(hex(bytes[i + 1]) * 16 + hex(bytes[i + 2]));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Validated classic pagination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Paging {
    pub(crate) limit: u64,
    pub(crate) offset: u64,
    pub(crate) total: bool,
}

impl Paging {
    pub(crate) fn from_params(p: &Params) -> Result<Paging, ApiError> {
        let limit = match p.number("limit")? {
            None => DEFAULT_LIMIT,
            Some(l) if l < 1 => return Err(ApiError::invalid_input("limit must be at least 1")),
            Some(l) => (l as u64).min(MAX_LIMIT),
        };
        let offset = match p.number("offset")? {
            None => 0,
            Some(o) if o < 0 => return Err(ApiError::invalid_input("offset must not be negative")),
            Some(o) => o as u64,
        };
        if offset.saturating_add(limit) > OFFSET_CAP {
            return Err(ApiError::offset_cap(OFFSET_CAP));
        }
        Ok(Paging { limit, offset, total: p.flag("total", false)? })
    }

    /// The page's index range inside `len` items, and whether more follow.
    pub(crate) fn window(&self, len: u64) -> (std::ops::Range<u64>, bool) {
        let start = self.offset.min(len);
        let end = (self.offset + self.limit).min(len);
        (start..end, end < len)
    }
}

/// A resolved since/until range in unix seconds, `[since, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Window {
    pub(crate) since: i64,
    pub(crate) until: i64,
}

impl Window {
    /// Everything (`date_range=all`).
    pub(crate) const ALL: Window = Window { since: i64::MIN / 2, until: i64::MAX / 2 };

    /// PagerDuty's window rules: both missing means the last month; one missing is a
    /// month from (or to) the other (`until` never beyond now); longer than 6 months is
    /// 2005; unparseable is 2004; `date_range=all` ignores both.
    pub(crate) fn from_params(p: &Params, now: i64) -> Result<Window, ApiError> {
        match p.get("date_range") {
            Some("all") => return Ok(Window::ALL),
            None | Some("") => {}
            Some(other) => return Err(ApiError::invalid_input(format!("date_range must be `all`, got `{other}`"))),
        }
        let now_dt = to_dt(now);
        let since = p.get("since").filter(|s| !s.is_empty()).map(|s| parse_time("since", s)).transpose()?;
        let until = p.get("until").filter(|s| !s.is_empty()).map(|s| parse_time("until", s)).transpose()?;
        let (since, until) = match (since, until) {
            (Some(s), Some(u)) => (s, u),
            (Some(s), None) => (s, now_dt.max(s)),
            (None, Some(u)) => (sub_months(u, DEFAULT_RANGE_MONTHS), u),
            (None, None) => (sub_months(now_dt, DEFAULT_RANGE_MONTHS), now_dt),
        };
        if until < since {
            return Err(ApiError::bad_range("until must not be earlier than since"));
        }
        let cap = since.checked_add_months(Months::new(MAX_RANGE_MONTHS)).unwrap_or(since);
        if until > cap {
            return Err(ApiError::bad_range(format!("the since/until range may not exceed {MAX_RANGE_MONTHS} months")));
        }
        Ok(Window { since: since.timestamp(), until: until.timestamp() })
    }

    /// An optional filter: only the bounds that were given (incident log entries).
    pub(crate) fn optional(p: &Params) -> Result<Window, ApiError> {
        let bound = |key: &str, default: i64| -> Result<i64, ApiError> {
            match p.get(key).filter(|s| !s.is_empty()) {
                Some(v) => Ok(parse_time(key, v)?.timestamp()),
                None => Ok(default),
            }
        };
        Ok(Window { since: bound("since", Window::ALL.since)?, until: bound("until", Window::ALL.until)? })
    }

    pub(crate) fn contains(&self, t: i64) -> bool {
        t >= self.since && t < self.until
    }
}

fn to_dt(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

fn sub_months(t: DateTime<Utc>, m: u32) -> DateTime<Utc> {
    t.checked_sub_months(Months::new(m)).unwrap_or(t)
}

/// Parses RFC 3339, a date-time without zone (UTC), or a plain date. A `+` offset that
/// arrived unencoded (decoded as a space) is accepted too.
pub(crate) fn parse_time(key: &str, raw: &str) -> Result<DateTime<Utc>, ApiError> {
    let v = raw.trim();
    let repaired = v.replacen(' ', "+", 1);
    for candidate in [v, repaired.as_str()] {
        if let Ok(t) = DateTime::parse_from_rfc3339(candidate) {
            return Ok(t.with_timezone(&Utc));
        }
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(v, fmt) {
            return Ok(t.and_utc());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc());
        }
    }
    Err(ApiError::bad_date(format!("{key} `{raw}` is not a valid date-time (use ISO 8601)")))
}

/// One `sort_by` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortField {
    IncidentNumber,
    CreatedAt,
    ResolvedAt,
    Urgency,
}

impl SortField {
    /// Whether ordering by this field is ordering by incident number: numbers follow
    /// creation time.
    pub(crate) fn follows_incident_number(self) -> bool {
        matches!(self, SortField::IncidentNumber | SortField::CreatedAt)
    }
}

/// Parses `sort_by` (`field[:asc|desc]`, up to two, comma-separated or repeated).
pub(crate) fn sort_keys(p: &Params) -> Result<Vec<(SortField, bool)>, ApiError> {
    let mut keys = Vec::new();
    for item in p.list("sort_by") {
        let (field, dir) = item.split_once(':').unwrap_or((item.as_str(), "asc"));
        let field = match field {
            "incident_number" => SortField::IncidentNumber,
            "created_at" => SortField::CreatedAt,
            "resolved_at" => SortField::ResolvedAt,
            "urgency" => SortField::Urgency,
            other => {
                return Err(ApiError::invalid_input(format!(
                    "sort_by field `{other}` is not one of incident_number, created_at, resolved_at, urgency"
                )))
            }
        };
        let desc = match dir {
            "asc" => false,
            "desc" => true,
            other => return Err(ApiError::invalid_input(format!("sort direction `{other}` must be asc or desc"))),
        };
        keys.push((field, desc));
    }
    if keys.len() > 2 {
        return Err(ApiError::invalid_input("sort_by takes at most two fields"));
    }
    Ok(keys)
}

/// Checks that every value of an array parameter is one of `allowed`.
pub(crate) fn enum_list(p: &Params, key: &str, allowed: &[&str]) -> Result<Vec<String>, ApiError> {
    let values = p.list(key);
    match values.iter().find(|v| !allowed.contains(&v.as_str())) {
        Some(bad) => {
            Err(ApiError::invalid_input(format!("{key}[] value `{bad}` must be one of {}", allowed.join(", "))))
        }
        None => Ok(values),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(s: &str) -> Params {
        Params::parse(Some(s))
    }

    #[test]
    fn repeated_keys_and_arrays() {
        let p = params("limit=10&limit=20&statuses%5B%5D=triggered&statuses[]=resolved,acknowledged&x=%ZZ");
        assert_eq!(p.get("limit"), Some("20"));
        assert_eq!(p.list("statuses"), vec!["triggered", "resolved", "acknowledged"]);
        assert_eq!(p.get("x"), Some("%ZZ"));
        assert_eq!(params("a=%").get("a"), Some("%"));
        assert_eq!(params("a=%4").get("a"), Some("%4"));
    }

    #[test]
    fn paging_rules() {
        let p = Paging::from_params(&params("")).unwrap();
        assert_eq!((p.limit, p.offset, p.total), (25, 0, false));
        assert_eq!(Paging::from_params(&params("limit=500")).unwrap().limit, 100);
        assert_eq!(Paging::from_params(&params("offset=9900&limit=100")).unwrap().offset, 9900);
        let err = Paging::from_params(&params("offset=9901&limit=100")).unwrap_err();
        assert_eq!(err.code, Some(2002));
        assert_eq!(Paging::from_params(&params("limit=abc")).unwrap_err().code, Some(2001));
        assert_eq!(Paging::from_params(&params("offset=-1")).unwrap_err().code, Some(2001));
        assert_eq!(Paging::from_params(&params("total=maybe")).unwrap_err().code, Some(2001));
        assert_eq!(Paging::from_params(&params("offset=99999999999999999999")).unwrap_err().code, Some(2001));
        let p = Paging { limit: 10, offset: 5, total: false };
        assert_eq!(p.window(12), (5..12, false));
        assert_eq!(p.window(100), (5..15, true));
        assert_eq!(p.window(3), (3..3, false));
    }

    #[test]
    fn window_rules() {
        let now = 1_767_225_600; // 2026-01-01
        let w = Window::from_params(&params(""), now).unwrap();
        assert_eq!(w.until, now);
        assert_eq!(w.since, 1_764_547_200); // 2025-12-01
        let w = Window::from_params(&params("since=2025-06-01T00:00:00Z&until=2025-12-01T00:00:00Z"), now);
        assert!(w.is_ok());
        let err = Window::from_params(&params("since=2025-06-01&until=2025-12-02"), now).unwrap_err();
        assert_eq!(err.code, Some(2005));
        let err = Window::from_params(&params("since=2025-06-02&until=2025-06-01"), now).unwrap_err();
        assert_eq!(err.code, Some(2005));
        let err = Window::from_params(&params("since=yesterday"), now).unwrap_err();
        assert_eq!(err.code, Some(2004));
        let err = Window::from_params(&params("since=2024-01-01"), now).unwrap_err();
        assert_eq!(err.code, Some(2005));
        assert_eq!(Window::from_params(&params("date_range=all&since=x"), now).unwrap(), Window::ALL);
        assert_eq!(Window::from_params(&params("date_range=some"), now).unwrap_err().code, Some(2001));
        let w = Window::from_params(&params("since=2025-12-15T00:00:00+00:00"), now).unwrap();
        assert_eq!(w.until, now);
    }

    #[test]
    fn sort_by_parsing() {
        assert_eq!(
            sort_keys(&params("sort_by=urgency:desc,created_at")).unwrap(),
            vec![(SortField::Urgency, true), (SortField::CreatedAt, false)]
        );
        assert_eq!(sort_keys(&params("sort_by=title")).unwrap_err().code, Some(2001));
        assert_eq!(sort_keys(&params("sort_by=created_at:up")).unwrap_err().code, Some(2001));
        assert_eq!(sort_keys(&params("sort_by=a,b,c")).unwrap_err().code, Some(2001));
    }
}
