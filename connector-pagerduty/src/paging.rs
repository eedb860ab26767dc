//! Classic offset pagination (`limit`, `offset`, `more`, `total`) and the 10,000 cap.
//!
//! PagerDuty refuses `offset + limit > 10000` (HTTP 400, code 2002), so a time window
//! holding more items than that cannot be paged through. [`fetch_window`] asks for
//! `total=true` on the first page of each window and, when the total is above the cap,
//! bisects the window *before* paging (one wasted request per split instead of a
//! hundred). Should the API ever omit `total`, reaching the cap with `more: true` also
//! triggers a split; that window's items already emitted are emitted again, which the
//! runner's upserts make harmless.

use connector_sdk::protocol::format_instant;
use connector_sdk::ConnectorError;
use serde_json::Value;

use crate::client::{ApiError, Client, Query};
use crate::windows::Window;

/// The most items offset pagination reaches.
pub const OFFSET_CAP: u64 = 10_000;

/// Why fetching a list stopped.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// A request failed.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The callback failed, or the list cannot be fetched completely.
    #[error("{0}")]
    Stop(ConnectorError),
}

impl From<ConnectorError> for FetchError {
    fn from(error: ConnectorError) -> Self {
        FetchError::Stop(error)
    }
}

impl From<FetchError> for ConnectorError {
    fn from(error: FetchError) -> Self {
        match error {
            FetchError::Api(e) => e.into(),
            FetchError::Stop(e) => e,
        }
    }
}

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

/// What fetching a window took.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Fetched {
    /// Items handed to the callback.
    pub items: u64,
    /// Times a window was bisected.
    pub splits: u64,
}

impl Endpoint {
    /// Fetches one page.
    ///
    /// # Errors
    /// The request failed or the answer has no item array.
    pub fn page(&self, client: &Client, extra: &Query, offset: u64, total: bool) -> Result<Page, ApiError> {
        let mut query = self.query.clone();
        query.extend(extra.iter().cloned());
        query.push(("limit", self.limit.to_string()));
        query.push(("offset", offset.to_string()));
        if total {
            query.push(("total", "true".to_owned()));
        }
        let mut answer = client.get(self.path, &query)?;
        let Some(Value::Array(items)) = answer.get_mut(self.key).map(Value::take) else {
            return Err(ApiError::Decode {
                path: self.path.to_owned(),
                cause: format!("no \"{}\" array in the answer", self.key),
            });
        };
        Ok(Page { items, more: answer["more"].as_bool().unwrap_or(false), total: answer["total"].as_u64() })
    }

    /// Whether the page after `offset` would pass the cap.
    fn next_passes_cap(&self, offset: u64) -> bool {
        offset + self.limit > OFFSET_CAP
    }

    /// Every item of a small list (users, services, ...), page by page.
    ///
    /// # Errors
    /// A failed request, an error from `each`, or a list longer than the cap (never
    /// truncated silently).
    pub fn fetch_all(
        &self,
        client: &Client,
        mut each: impl FnMut(Vec<Value>) -> Result<(), ConnectorError>,
    ) -> Result<u64, FetchError> {
        let mut offset = 0;
        let mut count = 0;
        loop {
            let page = self.page(client, &Vec::new(), offset, false)?;
            count += page.items.len() as u64;
            each(page.items)?;
            if !page.more {
                return Ok(count);
            }
            offset += self.limit;
            if self.next_passes_cap(offset) {
                return Err(FetchError::Stop(ConnectorError::internal(format!(
                    "GET {}: more than {OFFSET_CAP} items; PagerDuty's offset pagination cannot reach the rest",
                    self.path
                ))));
            }
        }
    }

    /// Every item created in `window`, newest sub-window first, bisecting sub-windows
    /// that hold more than [`OFFSET_CAP`] items.
    ///
    /// # Errors
    /// A failed request, an error from `each`, or more than the cap within one second.
    pub fn fetch_window(
        &self,
        client: &Client,
        window: Window,
        mut each: impl FnMut(Vec<Value>) -> Result<(), ConnectorError>,
    ) -> Result<Fetched, FetchError> {
        let mut fetched = Fetched::default();
        let mut pending = vec![window];
        'windows: while let Some(window) = pending.pop() {
            let range = window_query(window);
            let first = self.page(client, &range, 0, true)?;
            if first.total.is_some_and(|total| total > OFFSET_CAP) {
                self.split(window, &mut pending, first.total)?;
                fetched.splits += 1;
                continue;
            }
            let mut page = first;
            let mut offset = 0;
            loop {
                fetched.items += page.items.len() as u64;
                each(page.items)?;
                if !page.more {
                    continue 'windows;
                }
                offset += self.limit;
                if self.next_passes_cap(offset) {
                    self.split(window, &mut pending, None)?;
                    fetched.splits += 1;
                    continue 'windows;
                }
                page = self.page(client, &range, offset, false)?;
            }
        }
        Ok(fetched)
    }

    fn split(&self, window: Window, pending: &mut Vec<Window>, total: Option<u64>) -> Result<(), ConnectorError> {
        let Some((newer, older)) = window.bisect() else {
            let count = total.map_or_else(|| format!("more than {OFFSET_CAP}"), |t| t.to_string());
            return Err(ConnectorError::internal(format!(
                "GET {}: {count} items in the one-second window {window}; PagerDuty's offset pagination \
                 cannot list them all, so the sync stops rather than lose some",
                self.path
            )));
        };
        // A stack: push the older half first so the newer half is fetched first.
        pending.push(older);
        pending.push(newer);
        Ok(())
    }
}

/// `since` and `until` of a window, as the API reads them.
pub fn window_query(window: Window) -> Query {
    vec![("since", format_instant(window.since)), ("until", format_instant(window.until))]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::retry::RetryPolicy;
    use crate::testserver::{Reply, TestServer};
    use connector_sdk::protocol::parse_cutoff;
    use serde_json::json;

    /// A fake `/incidents` whose items are one per second of the window, `per_second`
    /// apart, honouring since/until, limit, offset, total and the cap.
    fn fake(target: &str, items_in: impl Fn(i64, i64) -> u64) -> Reply {
        let query: std::collections::HashMap<String, String> =
            Url::parse(&format!("http://x{target}")).unwrap().query_pairs().into_owned().collect();
        let t = |k: &str| parse_cutoff(&query[k]).unwrap().timestamp();
        let (limit, offset): (u64, u64) = (query["limit"].parse().unwrap(), query["offset"].parse().unwrap());
        if offset + limit > OFFSET_CAP {
            return Reply::json(400, json!({"error": {"message": "Arguments Caused Error", "code": 2002}}));
        }
        let total = items_in(t("since"), t("until"));
        let end = (offset + limit).min(total);
        let items: Vec<Value> = (offset.min(end)..end).map(|i| json!({"id": format!("I{i}")})).collect();
        let total_field = if query.contains_key("total") { json!(total) } else { Value::Null };
        Reply::json(
            200,
            json!({"incidents": items, "more": end < total, "total": total_field, "limit": limit, "offset": offset}),
        )
    }

    use reqwest::Url;

    fn client(server: &TestServer) -> Client {
        let config: Config =
            serde_json::from_value(json!({"apiToken": "abcd1234", "apiBaseUrl": server.base_url})).unwrap();
        Client::with_policy(
            &config,
            RetryPolicy { base_delay: std::time::Duration::from_millis(1), ..RetryPolicy::default() },
        )
        .unwrap()
    }

    fn endpoint() -> Endpoint {
        Endpoint { path: "/incidents", key: "incidents", query: Vec::new(), limit: 100 }
    }

    fn window(since: &str, until: &str) -> Window {
        Window::new(parse_cutoff(since).unwrap(), parse_cutoff(until).unwrap())
    }

    #[test]
    fn a_window_under_the_cap_is_paged_once_with_total_on_the_first_page() {
        let server = TestServer::start(|target, _| fake(target, |_, _| 250));
        let mut seen = 0;
        let fetched = endpoint()
            .fetch_window(&client(&server), window("2026-01-01", "2026-02-01"), |items| {
                seen += items.len();
                Ok(())
            })
            .unwrap();
        assert_eq!((seen, fetched.items, fetched.splits), (250, 250, 0));
        let targets = server.targets();
        assert_eq!(targets.len(), 3);
        assert!(targets[0].contains("total=true") && !targets[1].contains("total=true"), "{targets:?}");
    }

    #[test]
    fn a_window_over_the_cap_is_bisected_before_paging_and_loses_nothing() {
        // 15,000 items spread evenly over the month: one split, two halves of 7,500.
        let month = (parse_cutoff("2026-01-01").unwrap().timestamp(), 31 * 86_400);
        let server = TestServer::start(move |target, _| {
            fake(target, move |since, until| ((until - since) as u64 * 15_000 / month.1 as u64).min(15_000))
        });
        let fetched =
            endpoint().fetch_window(&client(&server), window("2026-01-01", "2026-02-01"), |_| Ok(())).unwrap();
        assert_eq!((fetched.items, fetched.splits), (15_000, 1));
        let targets = server.targets();
        assert_eq!(targets.len(), 1 + 75 + 75, "one wasted request for the split");
        assert!(targets[1].contains("since=2026-01-16"), "newer half first: {}", targets[1]);
    }

    #[test]
    fn without_total_reaching_the_cap_splits_the_window() {
        let server = TestServer::start(|target, _| {
            let target = target.replace("&total=true", "");
            fake(&target, |since, until| (until - since) as u64 / 100)
        });
        // 2,000,000 s / 100 = 20,000 items; halves of 10,000 fit exactly.
        let w = Window::new(
            parse_cutoff("2026-01-01").unwrap(),
            parse_cutoff("2026-01-01").unwrap() + chrono::Duration::seconds(2_000_000),
        );
        let mut ids = std::collections::HashSet::new();
        let mut count = 0;
        let fetched = endpoint()
            .fetch_window(&client(&server), w, |items| {
                count += items.len();
                ids.extend(items.into_iter().map(|i| i["id"].as_str().unwrap().to_owned()));
                Ok(())
            })
            .unwrap();
        assert_eq!(fetched.splits, 1);
        assert_eq!(count, 10_000 + 10_000 + 10_000, "the first pass is repeated, not lost");
    }

    #[test]
    fn more_than_the_cap_within_one_second_is_an_error_not_a_loss() {
        let server = TestServer::start(|target, _| fake(target, |_, _| 20_000));
        let w = Window::new(parse_cutoff("2026-01-01").unwrap(), parse_cutoff("2026-01-01T00:00:01Z").unwrap());
        let error = ConnectorError::from(endpoint().fetch_window(&client(&server), w, |_| Ok(())).unwrap_err());
        assert!(error.message.contains("20000 items in the one-second window"), "{error}");
    }
}
