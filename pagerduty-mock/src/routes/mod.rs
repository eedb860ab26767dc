//! The HTTP surface: PagerDuty endpoints behind the gate (latency, rate limit, faults,
//! auth, stats) and the unauthenticated `/__mock` control endpoints.
//!
//! Every list endpoint is served by one handler, [`list::list_route`]; each list
//! supplies only its query checks and selection ([`list::Listing`]).

mod collections;
mod incidents;
mod list;
mod log_entries;
mod oncalls;

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use self::collections::member_route;
use self::incidents::{IncidentAlerts, IncidentLogEntries, Incidents};
use self::list::list_route;
use self::log_entries::LogEntries;
use self::oncalls::OnCalls;
use crate::auth::{self, Identity};
use crate::collection::Collection;
use crate::data::World;
use crate::error::ApiError;
use crate::faults::{Faults, Latency};
use crate::query::Params;
use crate::ratelimit::{RateInfo, RateLimiter};
use crate::render::Render;
use crate::stats::{Recorder, Stats};

/// Shared state of one server.
pub(crate) struct AppState {
    pub(crate) world: Arc<World>,
    pub(crate) base_url: String,
    pub(crate) token: String,
    pub(crate) account_token: String,
    pub(crate) latency: Latency,
    pub(crate) missing_abilities: Vec<String>,
    pub(crate) limiter: RateLimiter,
    pub(crate) faults: Faults,
    pub(crate) stats: Recorder,
}

impl AppState {
    /// Renders this server's objects, with `self` URLs on its address.
    fn render(&self) -> Render<'_> {
        Render { world: &self.world, api: &self.base_url }
    }
}

type ServerState = State<Arc<AppState>>;

/// A path ID; an undecodable one is a PagerDuty 404 rather than axum's plain-text 400.
struct PathId(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for PathId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        let id = Path::<String>::from_request_parts(parts, state).await;
        id.map(|Path(id)| PathId(id)).map_err(|_| ApiError::not_found())
    }
}

/// The full router.
pub(crate) fn router(server: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/abilities", get(abilities))
        .route("/users/me", get(users_me))
        .route("/users", list_route(&Collection::USERS))
        .route("/users/{id}", member_route(&Collection::USERS))
        .route("/teams", list_route(&Collection::TEAMS))
        .route("/teams/{id}", member_route(&Collection::TEAMS))
        .route("/services", list_route(&Collection::SERVICES))
        .route("/services/{id}", member_route(&Collection::SERVICES))
        .route("/escalation_policies", list_route(&Collection::POLICIES))
        .route("/escalation_policies/{id}", member_route(&Collection::POLICIES))
        .route("/schedules", list_route(&Collection::SCHEDULES))
        .route("/schedules/{id}", member_route(&Collection::SCHEDULES))
        .route("/priorities", list_route(&Collection::PRIORITIES))
        .route("/oncalls", list_route(OnCalls))
        .route("/incidents", list_route(Incidents))
        .route("/incidents/{id}", get(incidents::incident))
        .route("/incidents/{id}/log_entries", list_route(IncidentLogEntries))
        .route("/incidents/{id}/alerts", list_route(IncidentAlerts))
        .route("/log_entries", list_route(LogEntries))
        .route("/log_entries/{id}", get(log_entries::log_entry))
        .fallback(|| async { ApiError::not_found() })
        .layer(middleware::from_fn_with_state(Arc::clone(&server), gate));
    Router::new()
        .route("/__mock/stats", get(stats))
        .route("/__mock/stats/reset", post(stats_reset))
        .route("/__mock/churn", post(churn))
        .merge(api)
        .with_state(server)
}

/// Every API request passes here: latency, rate limit, faults, auth, then the handler;
/// the answer gets the `ratelimit-*` headers and is counted.
async fn gate(State(server): ServerState, mut request: Request, next: Next) -> Response {
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| request.uri().path().to_string(), |matched| matched.as_str().to_string());
    let _in_progress = server.stats.arrived();
    let latency = server.latency.next();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let token = auth::presented_token(request.headers());
    let budget = server.limiter.check(token.as_deref().unwrap_or(""), Instant::now());
    let mut response = match admit(&server, budget, token.as_deref(), &path) {
        Ok(identity) => {
            request.extensions_mut().insert(identity);
            next.run(request).await
        }
        Err(refusal) => refusal.into_response(),
    };
    if let Some(budget) = budget {
        add_rate_headers(&mut response, budget);
    }
    server.stats.record(&path, token.as_deref(), response.status().as_u16());
    response
}

/// Who may go on to the handler. A request over its rate limit is refused first (and
/// draws no fault), then an injected fault answers, then the token is checked, then
/// whether the account has the ability the endpoint needs.
fn admit(server: &AppState, budget: Option<RateInfo>, token: Option<&str>, path: &str) -> Result<Identity, ApiError> {
    if budget.is_some_and(|budget| !budget.allowed) {
        return Err(ApiError::rate_limited());
    }
    if let Some(fault) = server.faults.roll() {
        return Err(fault);
    }
    let identity = auth::identify(token, &server.token, &server.account_token).ok_or_else(ApiError::unauthorized)?;
    let needed = path.trim_start_matches('/').split('/').next().unwrap_or_default();
    if server.missing_abilities.iter().any(|ability| ability == needed) {
        return Err(ApiError::ability_missing(needed));
    }
    Ok(identity)
}

fn add_rate_headers(response: &mut Response, budget: RateInfo) {
    let headers = response.headers_mut();
    headers.insert("ratelimit-limit", HeaderValue::from(budget.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(budget.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(budget.reset_secs));
}

async fn abilities(State(server): ServerState) -> Json<Value> {
    let all = ["teams", "urgencies", "priorities", "read_only_users", "service_support_hours"];
    let abilities: Vec<&str> = all.into_iter().filter(|a| !server.missing_abilities.iter().any(|m| m == a)).collect();
    Json(json!({ "abilities": abilities }))
}

async fn users_me(
    State(server): ServerState,
    Extension(identity): Extension<Identity>,
) -> Result<Json<Value>, ApiError> {
    match identity {
        Identity::User => Ok(Json(json!({ "user": server.render().user(0) }))),
        Identity::Account => {
            Err(ApiError::invalid_input("/users/me needs a user-level API token; an account-level token has no user"))
        }
    }
}

async fn stats(State(server): ServerState) -> Json<Stats> {
    Json(server.stats.snapshot())
}

async fn stats_reset(State(server): ServerState) -> StatusCode {
    server.stats.reset();
    StatusCode::NO_CONTENT
}

/// `POST /__mock/churn?new=N&resolve=M`.
async fn churn(State(server): ServerState, RawQuery(query): RawQuery) -> Result<Json<Value>, ApiError> {
    let params = Params::parse(query.as_deref());
    let created = churn_count(&params, "new")?;
    let resolved = churn_count(&params, "resolve")?;
    let report = crate::server::apply_churn(&server.world, created, resolved);
    Ok(Json(serde_json::to_value(report).unwrap_or_default()))
}

/// A churn count: absent or empty is 0, at most 100,000.
fn churn_count(params: &Params, key: &str) -> Result<u64, ApiError> {
    match params.get(key) {
        None | Some("") => Ok(0),
        Some(value) => value
            .parse::<u64>()
            .ok()
            .filter(|&count| count <= 100_000)
            .ok_or_else(|| ApiError::invalid_input(format!("{key} must be an integer from 0 to 100000"))),
    }
}
