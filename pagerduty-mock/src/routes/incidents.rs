//! `GET /incidents`, `/incidents/{id}` and an incident's nested lists,
//! `/incidents/{id}/log_entries` and `/incidents/{id}/alerts`.

use std::cmp::Ordering;
use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};

use super::list::{one_of, IdFilter, Listing, Selection};
use super::{AppState, PathId};
use crate::data::World;
use crate::error::ApiError;
use crate::ids::Kind;
use crate::incident::{Facts, Status};
use crate::query::{enum_list, sort_keys, Paging, Params, SortField, Window};
use crate::render::Render;

/// `GET /incidents`: a since/until window on `created_at`, filters and `sort_by`.
#[derive(Debug, Clone, Copy)]
pub(super) struct Incidents;

/// `GET /incidents/{id}/log_entries`: newest first, optionally windowed, `is_overview`.
#[derive(Debug, Clone, Copy)]
pub(super) struct IncidentLogEntries;

/// `GET /incidents/{id}/alerts`: `statuses[]`.
#[derive(Debug, Clone, Copy)]
pub(super) struct IncidentAlerts;

/// `GET /incidents/{id}`; `include[]` is accepted and ignored.
pub(super) async fn incident(State(server): State<Arc<AppState>>, PathId(id): PathId) -> Result<Json<Value>, ApiError> {
    let facts = incident_by_id(&server.world, &id)?;
    Ok(Json(json!({ "incident": server.render().incident(&facts) })))
}

fn incident_by_id(world: &World, id: &str) -> Result<Facts, ApiError> {
    world.ids.decode(Kind::Incident, id).and_then(|n| world.incident(n)).ok_or_else(ApiError::not_found)
}

/// Incident `n` rendered, if it exists.
fn render_incident(render: &Render<'_>, n: u64) -> Option<Value> {
    render.world.incident(n).map(|facts| render.incident(&facts))
}

impl Listing for Incidents {
    type Parent = ();

    fn key(self) -> &'static str {
        "incidents"
    }

    fn select<'a>(self, server: &'a AppState, (): (), params: &Params) -> Result<Selection<'a>, ApiError> {
        let paging = Paging::from_params(params)?;
        let window = Window::from_params(params, server.world.now())?;
        let filter = IncidentFilter::from_params(&server.world, params)?;
        let sort = sort_keys(params)?;
        let created = server.world.created_between(window.since, window.until);
        let render = server.render();
        if filter.is_empty() && sort.iter().all(|&(field, _)| field.follows_incident_number()) {
            // Fast path: the page is pure index arithmetic, whatever the volume.
            let newest_first = sort.first().is_some_and(|&(_, descending)| descending);
            let total = created.end - created.start;
            let number = move |i| if newest_first { created.end - 1 - i } else { created.start + i };
            return Ok(Selection::new(paging, total, move |i| render_incident(&render, number(i))));
        }
        let mut hits: Vec<SortKey> = created
            .filter_map(|n| server.world.incident(n))
            .filter(|facts| filter.matches(&server.world, facts))
            .map(|facts| SortKey::of(&facts))
            .collect();
        hits.sort_by(|a, b| a.compare(b, &sort));
        Ok(Selection::of(paging, hits, move |hit| render_incident(&render, hit.n)))
    }
}

/// Filters of `GET /incidents`.
struct IncidentFilter {
    statuses: Vec<String>,
    urgencies: Vec<String>,
    services: IdFilter,
    teams: IdFilter,
    users: IdFilter,
    key: Option<String>,
}

impl IncidentFilter {
    fn from_params(world: &World, params: &Params) -> Result<Self, ApiError> {
        Ok(IncidentFilter {
            statuses: enum_list(params, "statuses", &["triggered", "acknowledged", "resolved"])?,
            urgencies: enum_list(params, "urgencies", &["high", "low"])?,
            services: IdFilter::parse(world, params, "service_ids", Kind::Service),
            teams: IdFilter::parse(world, params, "team_ids", Kind::Team),
            users: IdFilter::parse(world, params, "user_ids", Kind::User),
            key: params.get("incident_key").filter(|k| !k.is_empty()).map(str::to_string),
        })
    }

    fn is_empty(&self) -> bool {
        self.statuses.is_empty()
            && self.urgencies.is_empty()
            && !self.services.is_given()
            && !self.teams.is_given()
            && !self.users.is_given()
            && self.key.is_none()
    }

    fn matches(&self, world: &World, facts: &Facts) -> bool {
        let status = facts.status();
        one_of(&self.statuses, status.name())
            && one_of(&self.urgencies, facts.urgency())
            && self.services.admits(facts.service)
            && self.teams.admits(world.catalog.services[facts.service].team)
            && self.admits_assignee(status, facts)
            && self.key.as_ref().is_none_or(|key| *key == facts.incident_key())
    }

    /// A resolved incident is assigned to nobody, so a user filter never admits it.
    fn admits_assignee(&self, status: Status, facts: &Facts) -> bool {
        !self.users.is_given() || (status != Status::Resolved && self.users.admits(facts.current_assignee().0))
    }
}

/// What `sort_by` can order a matching incident by.
struct SortKey {
    n: u64,
    resolved_at: Option<i64>,
    high_urgency: bool,
}

impl SortKey {
    fn of(facts: &Facts) -> SortKey {
        SortKey { n: facts.n, resolved_at: facts.resolved_at(), high_urgency: facts.high_urgency }
    }

    /// Orders by the `sort_by` keys, ties by number. Unresolved incidents sort after
    /// resolved ones on `resolved_at:asc`.
    fn compare(&self, other: &SortKey, keys: &[(SortField, bool)]) -> Ordering {
        let unresolved_last = |key: &SortKey| key.resolved_at.unwrap_or(i64::MAX);
        for &(field, descending) in keys {
            let order = match field {
                SortField::IncidentNumber | SortField::CreatedAt => self.n.cmp(&other.n),
                SortField::ResolvedAt => unresolved_last(self).cmp(&unresolved_last(other)),
                // "high" sorts before "low", as the strings do.
                SortField::Urgency => other.high_urgency.cmp(&self.high_urgency),
            };
            let order = if descending { order.reverse() } else { order };
            if order != Ordering::Equal {
                return order;
            }
        }
        self.n.cmp(&other.n)
    }
}

impl Listing for IncidentLogEntries {
    type Parent = PathId;

    fn key(self) -> &'static str {
        "log_entries"
    }

    fn select<'a>(self, server: &'a AppState, PathId(id): PathId, params: &Params) -> Result<Selection<'a>, ApiError> {
        let paging = Paging::from_params(params)?;
        let window = Window::optional(params)?;
        let overview = params.flag("is_overview", false)?;
        let facts = incident_by_id(&server.world, &id)?;
        // Newest first, as PagerDuty lists log entries.
        let positions: Vec<usize> = facts
            .entries()
            .enumerate()
            .rev()
            .filter(|(_, entry)| window.contains(entry.at) && (!overview || entry.kind.is_overview()))
            .map(|(position, _)| position)
            .collect();
        let render = server.render();
        Ok(Selection::of(paging, positions, move |&position| render.log_entry(&facts, position)))
    }
}

impl Listing for IncidentAlerts {
    type Parent = PathId;

    fn key(self) -> &'static str {
        "alerts"
    }

    fn select<'a>(self, server: &'a AppState, PathId(id): PathId, params: &Params) -> Result<Selection<'a>, ApiError> {
        let statuses = enum_list(params, "statuses", &["triggered", "resolved"])?;
        let facts = incident_by_id(&server.world, &id)?;
        let paging = Paging::from_params(params)?;
        let render = server.render();
        let alerts: Vec<Value> = (0..facts.alerts)
            .map(|a| render.alert(&facts, a))
            .filter(|alert| one_of(&statuses, alert["status"].as_str().unwrap_or_default()))
            .collect();
        Ok(Selection::of(paging, alerts, |alert| Some(alert.clone())))
    }
}
