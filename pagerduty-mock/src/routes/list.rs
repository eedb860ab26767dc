//! The one handler behind every list endpoint, and the filters several lists share.
//!
//! A list endpoint is a [`Listing`]: it checks its query and selects the matching items
//! in order ([`Selection`]). [`list_route`] does the rest, the same for every list: it
//! parses the query string, runs the selection off the async workers, renders only the
//! requested page and wraps it in PagerDuty's envelope
//! `{"<key>": [...], "limit", "offset", "more", "total"}`.

use std::sync::Arc;

use axum::extract::{FromRequestParts, RawQuery, State};
use axum::routing::{get, MethodRouter};
use axum::Json;
use serde_json::{json, Value};

use super::AppState;
use crate::data::World;
use crate::error::ApiError;
use crate::ids::Kind;
use crate::query::{Paging, Params};

/// One list endpoint: its key, what it reads from the path, and which items a query selects.
pub(super) trait Listing: Copy + Send + Sync + 'static {
    /// What the path names besides the list: `()`, or the incident of a nested list.
    type Parent: FromRequestParts<Arc<AppState>> + Send + 'static;

    /// The key of the list in the envelope (`incidents`, `log_entries`, ...).
    fn key(self) -> &'static str;

    /// Checks the query, paging included, and selects the matching items. Each listing
    /// runs its checks in its own order, because the first failing check is the error
    /// the client sees.
    ///
    /// # Errors
    /// The PagerDuty error of the first bad parameter, or 404 for an unknown parent.
    fn select<'a>(self, server: &'a AppState, parent: Self::Parent, params: &Params)
        -> Result<Selection<'a>, ApiError>;
}

/// The items a list request matched, in listing order, and the page it asked for.
/// Items are rendered on demand, so only the page's items ever are.
pub(super) struct Selection<'a> {
    paging: Paging,
    total: u64,
    item: Box<dyn Fn(u64) -> Option<Value> + 'a>,
}

impl<'a> Selection<'a> {
    /// `total` matches; `item(i)` renders the `i`-th (0-based), or `None` to leave it out.
    pub(super) fn new(paging: Paging, total: u64, item: impl Fn(u64) -> Option<Value> + 'a) -> Self {
        Selection { paging, total, item: Box::new(item) }
    }

    /// Matches collected in listing order; `render` turns one into its JSON.
    pub(super) fn of<T: 'a>(paging: Paging, matches: Vec<T>, render: impl Fn(&T) -> Option<Value> + 'a) -> Self {
        let total = matches.len() as u64;
        Selection::new(paging, total, move |i| matches.get(i as usize).and_then(&render))
    }

    /// PagerDuty's envelope around the requested page.
    fn envelope(self, key: &str) -> Value {
        let (page, more) = self.paging.window(self.total);
        let items: Vec<Value> = page.filter_map(|i| (self.item)(i)).collect();
        json!({
            key: items,
            "limit": self.paging.limit,
            "offset": self.paging.offset,
            "more": more,
            "total": if self.paging.total { json!(self.total) } else { Value::Null },
        })
    }
}

/// The `GET` route of a list endpoint.
pub(super) fn list_route<L: Listing>(listing: L) -> MethodRouter<Arc<AppState>> {
    get(move |State(server): State<Arc<AppState>>, parent: L::Parent, RawQuery(query): RawQuery| {
        list(server, listing, parent, query)
    })
}

async fn list<L: Listing>(
    server: Arc<AppState>,
    listing: L,
    parent: L::Parent,
    query: Option<String>,
) -> Result<Json<Value>, ApiError> {
    // Selecting can scan millions of incidents or build the log index: CPU-bound work
    // that must not hold up the async workers serving other requests.
    let page = tokio::task::spawn_blocking(move || {
        let params = Params::parse(query.as_deref());
        listing.select(&server, parent, &params).map(|selection| selection.envelope(listing.key()))
    });
    page.await.map_err(|_| ApiError::internal())?.map(Json)
}

/// An ID-list filter such as `team_ids[]`: absent, it admits everything; IDs that name
/// nothing of its kind admit nothing.
pub(super) struct IdFilter(Option<Vec<usize>>);

impl IdFilter {
    pub(super) fn parse(world: &World, params: &Params, key: &str, kind: Kind) -> IdFilter {
        let ids = params.list(key);
        let wanted = || ids.iter().filter_map(|id| world.ids.decode(kind, id)).map(|i| i as usize).collect();
        IdFilter((!ids.is_empty()).then(wanted))
    }

    /// Whether the request named any IDs.
    pub(super) fn is_given(&self) -> bool {
        self.0.is_some()
    }

    pub(super) fn admits(&self, index: usize) -> bool {
        self.0.as_ref().is_none_or(|wanted| wanted.contains(&index))
    }
}

/// Whether `value` passes an enum-list filter such as `statuses[]`; an empty list admits all.
pub(super) fn one_of(wanted: &[String], value: &str) -> bool {
    wanted.is_empty() || wanted.iter().any(|w| w == value)
}
