//! `GET /users`, `/teams`, `/services`, `/escalation_policies`, `/schedules`,
//! `/priorities` and `/{collection}/{id}`: the small collections, served from the table
//! in [`crate::collection`].

use std::sync::Arc;

use axum::extract::State;
use axum::routing::{get, MethodRouter};
use axum::Json;
use serde_json::{json, Value};

use super::list::{IdFilter, Listing, Selection};
use super::{AppState, PathId};
use crate::collection::Collection;
use crate::error::ApiError;
use crate::ids::Kind;
use crate::query::{Paging, Params};

/// A collection's list: `query` matches names, `team_ids[]` teams where the collection has them.
impl Listing for &'static Collection {
    type Parent = ();

    fn key(self) -> &'static str {
        self.plural
    }

    fn select<'a>(self, server: &'a AppState, (): (), params: &Params) -> Result<Selection<'a>, ApiError> {
        let paging = Paging::from_params(params)?;
        let catalog = &server.world.catalog;
        let search = self.searchable.then(|| params.get("query")).flatten().map(str::to_lowercase);
        let teams = IdFilter::parse(&server.world, params, "team_ids", Kind::Team);
        let members: Vec<usize> = (0..self.len(catalog))
            .filter(|&i| search.as_ref().is_none_or(|wanted| self.name(catalog, i).to_lowercase().contains(wanted)))
            .filter(|&i| self.team(catalog, i).is_none_or(|team| teams.admits(team)))
            .collect();
        let render = server.render();
        Ok(Selection::of(paging, members, move |&i| Some(self.render(&render, i))))
    }
}

/// The `GET /{collection}/{id}` route of a collection.
pub(super) fn member_route(collection: &'static Collection) -> MethodRouter<Arc<AppState>> {
    get(move |State(server): State<Arc<AppState>>, PathId(id): PathId| async move { member(&server, collection, &id) })
}

/// One member by ID; 404 for an ID of another kind or beyond the collection.
fn member(server: &AppState, collection: &Collection, id: &str) -> Result<Json<Value>, ApiError> {
    let catalog = &server.world.catalog;
    let index = server.world.ids.decode(collection.kind, id).map(|i| i as usize);
    let index = index.filter(|&i| i < collection.len(catalog)).ok_or_else(ApiError::not_found)?;
    Ok(Json(json!({ collection.singular: collection.render(&server.render(), index) })))
}
