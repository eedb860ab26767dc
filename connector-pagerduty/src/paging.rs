//! Classic offset pagination (`limit`, `offset`, `more`, `total`) and the 10,000 cap.
//!
//! PagerDuty refuses `offset + limit > 10000` (HTTP 400, code 2002), so a time window
//! holding more items than that cannot be paged through: the sync asks for `total=true`
//! on the first page of each window and splits a window whose total is above the cap
//! *before* paging it. Once a window's total is known, so are all its page offsets
//! ([`later_offsets`]), which is what lets the sync fetch them in parallel.

use connector_sdk::http::Request;
use connector_sdk::protocol::format_instant;
use serde_json::Value;

use crate::client::{ApiError, Query};
use crate::windows::Window;

/// The most items offset pagination reaches.
pub const OFFSET_CAP: u64 = 10_000;

/// A list endpoint and its fixed parameters.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// Path, e.g. `/incidents`.
    pub path: &'static str,
    /// Key of the item array in the answer, e.g. `incidents`.
    pub key: &'static str,
    /// Parameters sent with every page.
    pub query: Query,
    /// `limit` of every page.
    pub limit: u64,
}

/// One page of answers.
#[derive(Debug)]
pub struct Page {
    /// The items.
    pub items: Vec<Value>,
    /// Whether more follow.
    pub more: bool,
    /// The total, when it was asked for and given.
    pub total: Option<u64>,
}

impl Endpoint {
    /// The request for the page at `offset` of the items created in `window` (all items
    /// when `None`), asking for the total when `total` is set.
    pub fn request(&self, window: Option<Window>, offset: u64, total: bool) -> Request {
        let mut query = self.query.clone();
        if let Some(window) = window {
            query.extend(window_query(window));
        }
        query.push(("limit", self.limit.to_string()));
        query.push(("offset", offset.to_string()));
        if total {
            query.push(("total", "true".to_owned()));
        }
        Request { path: self.path.to_owned(), query }
    }

    /// Reads one page of an answer.
    ///
    /// # Errors
    /// The answer has no item array.
    pub fn page(&self, mut answer: Value) -> Result<Page, ApiError> {
        let Some(Value::Array(items)) = answer.get_mut(self.key).map(Value::take) else {
            return Err(ApiError::Decode {
                path: self.path.to_owned(),
                cause: format!("no \"{}\" array in the answer", self.key),
            });
        };
        Ok(Page { items, more: answer["more"].as_bool().unwrap_or(false), total: answer["total"].as_u64() })
    }

    /// Whether the page at `offset` is within the cap.
    pub fn reachable(&self, offset: u64) -> bool {
        offset + self.limit <= OFFSET_CAP
    }

    /// Items on the page at `offset` of a list of `total`.
    pub fn items_at(&self, offset: u64, total: u64) -> u64 {
        total.saturating_sub(offset).min(self.limit)
    }
}

/// The offsets of every page after the first of a list of `total` items.
pub fn later_offsets(total: u64, limit: u64) -> impl Iterator<Item = u64> {
    (1..total.div_ceil(limit.max(1))).map(move |page| page * limit)
}

/// Requests a complete listing of `total` items costs, splits for the cap included
/// (estimated: a window over the cap is split about once per `OFFSET_CAP` items, each
/// split costing a first page that is thrown away).
pub fn listing_cost(total: u64, limit: u64) -> u64 {
    let pages = total.div_ceil(limit.max(1)).max(1);
    if total <= OFFSET_CAP {
        pages
    } else {
        pages + 2 * total.div_ceil(OFFSET_CAP)
    }
}

/// `since` and `until` of a window, as the API reads them.
pub fn window_query(window: Window) -> Query {
    vec![("since", format_instant(window.since)), ("until", format_instant(window.until))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn endpoint() -> Endpoint {
        Endpoint { path: "/incidents", key: "incidents", query: vec![("time_zone", "UTC".into())], limit: 100 }
    }

    #[test]
    fn a_total_gives_every_later_page() {
        assert_eq!(later_offsets(250, 100).collect::<Vec<_>>(), [100, 200]);
        assert_eq!(later_offsets(200, 100).collect::<Vec<_>>(), [100]);
        assert_eq!(later_offsets(100, 100).count(), 0);
        assert_eq!(later_offsets(0, 100).count(), 0);
        assert_eq!(later_offsets(10_000, 100).last(), Some(9_900));
        assert!(endpoint().reachable(9_900) && !endpoint().reachable(10_000));
        assert_eq!(
            (endpoint().items_at(200, 250), endpoint().items_at(0, 250), endpoint().items_at(300, 250)),
            (50, 100, 0)
        );
    }

    #[test]
    fn the_cost_of_a_listing_is_its_pages_plus_the_splits_over_the_cap() {
        assert_eq!(listing_cost(0, 100), 1);
        assert_eq!(listing_cost(250, 100), 3);
        assert_eq!(listing_cost(10_000, 100), 100);
        assert_eq!(listing_cost(25_000, 100), 250 + 6);
    }

    #[test]
    fn a_request_carries_the_window_paging_and_total_and_a_page_is_read_back() {
        let window = Window::new(
            connector_sdk::protocol::parse_cutoff("2026-01-01").unwrap(),
            connector_sdk::protocol::parse_cutoff("2026-02-01").unwrap(),
        );
        let request = endpoint().request(Some(window), 200, true);
        assert_eq!(request.path, "/incidents");
        let query: Vec<(&str, &str)> = request.query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_eq!(
            query,
            [
                ("time_zone", "UTC"),
                ("since", "2026-01-01T00:00:00Z"),
                ("until", "2026-02-01T00:00:00Z"),
                ("limit", "100"),
                ("offset", "200"),
                ("total", "true")
            ]
        );
        let page = endpoint().page(json!({"incidents": [{"id": "P1"}], "more": true, "total": 101})).unwrap();
        assert_eq!((page.items.len(), page.more, page.total), (1, true, Some(101)));
        let error = endpoint().page(json!({"users": []})).unwrap_err();
        assert!(error.to_string().contains("no \"incidents\" array"), "{error}");
    }
}
