//! `GET /log_entries` (account-wide, newest first, windowed like incidents) and
//! `GET /log_entries/{id}`.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::list::{IdFilter, Listing, Selection};
use super::{AppState, PathId};
use crate::data::LogRef;
use crate::error::ApiError;
use crate::ids::Kind;
use crate::query::{Paging, Params, Window};
use crate::render::Render;

/// `GET /log_entries`: the same window rules as incidents, on the entries' `created_at`;
/// `is_overview` and `team_ids[]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct LogEntries;

impl Listing for LogEntries {
    type Parent = ();

    fn key(self) -> &'static str {
        "log_entries"
    }

    fn select<'a>(self, server: &'a AppState, (): (), params: &Params) -> Result<Selection<'a>, ApiError> {
        let paging = Paging::from_params(params)?;
        let window = Window::from_params(params, server.world.now())?;
        let overview = params.flag("is_overview", false)?;
        let teams = IdFilter::parse(&server.world, params, "team_ids", Kind::Team);
        let in_window = server.world.log_between(window.since, window.until);
        let total = in_window.len();
        let newest = move |i: usize| in_window.get(total - 1 - i);
        let render = server.render();
        if !overview && !teams.is_given() {
            // Fast path: the page is a slice of the index, whatever the volume.
            return Ok(Selection::new(paging, total as u64, move |i| {
                newest(i as usize).and_then(|entry| render_log_entry(&render, &entry))
            }));
        }
        let catalog = &server.world.catalog;
        let team_of = |n: u64| server.world.incident(n).map(|facts| catalog.services[facts.service].team);
        let entries: Vec<LogRef> = (0..total)
            .filter_map(newest)
            .filter(|entry| !overview || entry.kind.is_overview())
            .filter(|entry| !teams.is_given() || team_of(entry.n).is_some_and(|team| teams.admits(team)))
            .collect();
        Ok(Selection::of(paging, entries, move |entry| render_log_entry(&render, entry)))
    }
}

fn render_log_entry(render: &Render<'_>, entry: &LogRef) -> Option<Value> {
    render.world.incident(entry.n).and_then(|facts| render.log_entry(&facts, entry.pos as usize))
}

/// `GET /log_entries/{id}`.
pub(super) async fn log_entry(
    State(server): State<Arc<AppState>>,
    PathId(id): PathId,
) -> Result<Json<Value>, ApiError> {
    let (n, position) = server.world.ids.decode_log_entry(&id).ok_or_else(ApiError::not_found)?;
    let facts = server.world.incident(n).ok_or_else(ApiError::not_found)?;
    let entry = server.render().log_entry(&facts, position as usize).ok_or_else(ApiError::not_found)?;
    Ok(Json(json!({ "log_entry": entry })))
}
