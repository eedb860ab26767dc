//! The HTTP surface: PagerDuty endpoints behind the gate (latency, rate limit, faults,
//! auth, stats) and the unauthenticated `/__mock` control endpoints.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Path, RawQuery, Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde_json::{json, Value};

use crate::auth::{self, Identity};
use crate::catalog::{POLICIES, SERVICES, TEAMS, USERS};
use crate::data::World;
use crate::error::ApiError;
use crate::faults::Faults;
use crate::ids::Kind;
use crate::incident::Facts;
use crate::query::{enum_list, sort_keys, Paging, Params, SortField, Window};
use crate::ratelimit::{RateInfo, RateLimiter};
use crate::render::Render;
use crate::stats::Recorder;

/// Shared state of one server.
pub(crate) struct AppState {
    pub(crate) world: Arc<World>,
    pub(crate) base_url: String,
    pub(crate) token: String,
    pub(crate) account_token: String,
    pub(crate) latency: Duration,
    pub(crate) limiter: RateLimiter,
    pub(crate) faults: Faults,
    pub(crate) stats: Recorder,
}

type St = State<Arc<AppState>>;

/// A path ID; an undecodable one is a PagerDuty 404 rather than axum's plain-text 400.
struct Id(String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, ApiError> {
        Path::<String>::from_request_parts(parts, state).await.map(|Path(id)| Id(id)).map_err(|_| ApiError::not_found())
    }
}
type ApiResult = Result<Json<Value>, ApiError>;

/// The full router.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    let api = Router::new()
        .route("/abilities", get(abilities))
        .route("/users/me", get(users_me))
        .route("/users", get(users))
        .route("/users/{id}", get(user))
        .route("/teams", get(teams))
        .route("/teams/{id}", get(team))
        .route("/services", get(services))
        .route("/services/{id}", get(service))
        .route("/escalation_policies", get(policies))
        .route("/escalation_policies/{id}", get(policy))
        .route("/schedules", get(schedules))
        .route("/schedules/{id}", get(schedule))
        .route("/priorities", get(priorities))
        .route("/oncalls", get(oncalls))
        .route("/incidents", get(incidents))
        .route("/incidents/{id}", get(incident))
        .route("/incidents/{id}/log_entries", get(incident_log_entries))
        .route("/incidents/{id}/alerts", get(incident_alerts))
        .route("/log_entries", get(log_entries))
        .route("/log_entries/{id}", get(log_entry))
        .fallback(|| async { ApiError::not_found() })
        .layer(middleware::from_fn_with_state(Arc::clone(&state), gate));
    Router::new()
        .route("/__mock/stats", get(stats))
        .route("/__mock/stats/reset", post(stats_reset))
        .route("/__mock/churn", post(churn))
        .merge(api)
        .with_state(state)
}

/// Every API request passes here: latency, rate limit, faults, auth, then the handler;
/// the answer gets the `ratelimit-*` headers and is counted.
async fn gate(State(st): St, mut req: Request, next: Next) -> Response {
    let path =
        req.extensions().get::<MatchedPath>().map_or_else(|| req.uri().path().to_string(), |m| m.as_str().to_string());
    if !st.latency.is_zero() {
        tokio::time::sleep(st.latency).await;
    }
    let token = auth::presented_token(req.headers());
    let rate = st.limiter.check(token.as_deref().unwrap_or(""), Instant::now());
    let mut resp = if rate.is_some_and(|r| !r.allowed) {
        ApiError::rate_limited().into_response()
    } else if let Some(fault) = st.faults.roll() {
        fault.into_response()
    } else {
        match auth::identify(token.as_deref(), &st.token, &st.account_token) {
            None => ApiError::unauthorized().into_response(),
            Some(identity) => {
                req.extensions_mut().insert(identity);
                next.run(req).await
            }
        }
    };
    if let Some(r) = rate {
        add_rate_headers(&mut resp, r);
    }
    st.stats.record(&path, resp.status().as_u16());
    resp
}

fn add_rate_headers(resp: &mut Response, r: RateInfo) {
    let h = resp.headers_mut();
    h.insert("ratelimit-limit", HeaderValue::from(r.limit));
    h.insert("ratelimit-remaining", HeaderValue::from(r.remaining));
    h.insert("ratelimit-reset", HeaderValue::from(r.reset_secs));
}

fn render(st: &AppState) -> Render<'_> {
    Render { world: &st.world, api: &st.base_url }
}

/// `{"<key>": [...], "limit", "offset", "more", "total"}`.
fn envelope(key: &str, items: Vec<Value>, paging: Paging, more: bool, total: u64) -> Value {
    json!({
        key: items,
        "limit": paging.limit,
        "offset": paging.offset,
        "more": more,
        "total": if paging.total { json!(total) } else { Value::Null },
    })
}

/// Paginates a small in-memory list.
fn page_of(key: &str, items: Vec<Value>, p: &Params) -> ApiResult {
    let paging = Paging::from_params(p)?;
    let len = items.len() as u64;
    let (range, more) = paging.window(len);
    let page = items.into_iter().skip(range.start as usize).take((range.end - range.start) as usize).collect();
    Ok(Json(envelope(key, page, paging, more, len)))
}

/// Indices named by an ID-list parameter; unknown IDs match nothing.
fn id_filter(st: &AppState, p: &Params, key: &str, kind: Kind) -> Option<Vec<usize>> {
    let ids = p.list(key);
    (!ids.is_empty()).then(|| ids.iter().filter_map(|id| st.world.ids.decode(kind, id)).map(|i| i as usize).collect())
}

fn name_matches(p: &Params, name: &str) -> bool {
    p.get("query").is_none_or(|q| name.to_lowercase().contains(&q.to_lowercase()))
}

async fn abilities() -> Json<Value> {
    Json(json!({ "abilities": ["teams", "urgencies", "priorities", "read_only_users", "service_support_hours"] }))
}

async fn users_me(State(st): St, Extension(who): Extension<Identity>) -> ApiResult {
    match who {
        Identity::User => Ok(Json(json!({ "user": render(&st).user(0) }))),
        Identity::Account => {
            Err(ApiError::invalid_input("/users/me needs a user-level API token; an account-level token has no user"))
        }
    }
}

async fn users(State(st): St, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let teams = id_filter(&st, &p, "team_ids", Kind::Team);
    let c = &st.world.catalog;
    let items = (0..USERS)
        .filter(|&u| name_matches(&p, &c.users[u].name))
        .filter(|&u| teams.as_ref().is_none_or(|t| t.contains(&c.users[u].team)))
        .map(|u| render(&st).user(u))
        .collect();
    page_of("users", items, &p)
}

async fn teams(State(st): St, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let items = (0..TEAMS)
        .filter(|&t| name_matches(&p, &st.world.catalog.teams[t].name))
        .map(|t| render(&st).team(t))
        .collect();
    page_of("teams", items, &p)
}

async fn services(State(st): St, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let teams = id_filter(&st, &p, "team_ids", Kind::Team);
    let c = &st.world.catalog;
    let items = (0..SERVICES)
        .filter(|&s| name_matches(&p, &c.services[s].name))
        .filter(|&s| teams.as_ref().is_none_or(|t| t.contains(&c.services[s].team)))
        .map(|s| render(&st).service(s))
        .collect();
    page_of("services", items, &p)
}

async fn policies(State(st): St, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let teams = id_filter(&st, &p, "team_ids", Kind::Team);
    let c = &st.world.catalog;
    let items = (0..POLICIES)
        .filter(|&i| name_matches(&p, &c.policies[i].name))
        .filter(|&i| teams.as_ref().is_none_or(|t| t.contains(&c.policies[i].team)))
        .map(|i| render(&st).policy(i))
        .collect();
    page_of("escalation_policies", items, &p)
}

async fn schedules(State(st): St, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let items = (0..POLICIES)
        .filter(|&s| name_matches(&p, &st.world.catalog.schedules[s].name))
        .map(|s| render(&st).schedule(s))
        .collect();
    page_of("schedules", items, &p)
}

async fn priorities(State(st): St, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let items = (0..st.world.catalog.priorities.len()).map(|i| render(&st).priority(i)).collect();
    page_of("priorities", items, &p)
}

/// One object by ID from a small collection.
fn one(st: &AppState, id: &str, kind: Kind, count: usize, key: &str, f: impl Fn(&Render, usize) -> Value) -> ApiResult {
    match st.world.ids.decode(kind, id).map(|i| i as usize).filter(|&i| i < count) {
        Some(i) => Ok(Json(json!({ key: f(&render(st), i) }))),
        None => Err(ApiError::not_found()),
    }
}

async fn user(State(st): St, Id(id): Id) -> ApiResult {
    one(&st, &id, Kind::User, USERS, "user", |r, i| r.user(i))
}

async fn team(State(st): St, Id(id): Id) -> ApiResult {
    one(&st, &id, Kind::Team, TEAMS, "team", |r, i| r.team(i))
}

async fn service(State(st): St, Id(id): Id) -> ApiResult {
    one(&st, &id, Kind::Service, SERVICES, "service", |r, i| r.service(i))
}

async fn policy(State(st): St, Id(id): Id) -> ApiResult {
    one(&st, &id, Kind::Policy, POLICIES, "escalation_policy", |r, i| r.policy(i))
}

async fn schedule(State(st): St, Id(id): Id) -> ApiResult {
    one(&st, &id, Kind::Schedule, POLICIES, "schedule", |r, i| r.schedule(i))
}

/// On-calls: level 1 is each policy's schedule (one entry per daily shift overlapping
/// the range), level 2 its manager (a direct user target: no start or end).
async fn oncalls(State(st): St, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let window = Window::optional(&p)?;
    let now = st.world.now();
    let since = if window.since == Window::ALL.since { now } else { window.since };
    let until = if window.until == Window::ALL.until { now.max(since) } else { window.until };
    if until < since || until - since > 90 * 86_400 {
        return Err(ApiError::bad_range("until must not be before since, and the range is limited to 90 days"));
    }
    let users = id_filter(&st, &p, "user_ids", Kind::User);
    let pols = id_filter(&st, &p, "escalation_policy_ids", Kind::Policy);
    let scheds = id_filter(&st, &p, "schedule_ids", Kind::Schedule);
    let r = render(&st);
    let c = &st.world.catalog;
    let mut items = Vec::new();
    for (i, pol) in c.policies.iter().enumerate().filter(|(i, _)| pols.as_ref().is_none_or(|f| f.contains(i))) {
        let mut t = since;
        while scheds.as_ref().is_none_or(|f| f.contains(&pol.schedule)) {
            let (u, start, end) = c.on_call(pol.schedule, t);
            if users.as_ref().is_none_or(|f| f.contains(&u)) {
                items.push(json!({
                    "escalation_policy": r.policy_ref(i), "escalation_level": 1,
                    "schedule": r.schedule_ref(pol.schedule), "user": r.user_ref(u),
                    "start": crate::render::time(start), "end": crate::render::time(end),
                }));
            }
            if end > until {
                break;
            }
            t = end;
        }
        if users.as_ref().is_none_or(|f| f.contains(&pol.manager)) && scheds.is_none() {
            items.push(json!({
                "escalation_policy": r.policy_ref(i), "escalation_level": 2,
                "schedule": null, "user": r.user_ref(pol.manager), "start": null, "end": null,
            }));
        }
    }
    page_of("oncalls", items, &p)
}

fn incident_facts(st: &AppState, id: &str) -> Result<Facts, ApiError> {
    st.world.ids.decode(Kind::Incident, id).and_then(|n| st.world.incident(n)).ok_or_else(ApiError::not_found)
}

async fn incident(State(st): St, Id(id): Id, RawQuery(q): RawQuery) -> ApiResult {
    let _includes = Params::parse(q.as_deref()).list("include");
    let f = incident_facts(&st, &id)?;
    Ok(Json(json!({ "incident": render(&st).incident(&f) })))
}

/// Filters of `GET /incidents`.
struct IncidentFilter {
    statuses: Vec<String>,
    urgencies: Vec<String>,
    services: Option<Vec<usize>>,
    teams: Option<Vec<usize>>,
    users: Option<Vec<usize>>,
    key: Option<String>,
}

impl IncidentFilter {
    fn from_params(st: &AppState, p: &Params) -> Result<Self, ApiError> {
        Ok(IncidentFilter {
            statuses: enum_list(p, "statuses", &["triggered", "acknowledged", "resolved"])?,
            urgencies: enum_list(p, "urgencies", &["high", "low"])?,
            services: id_filter(st, p, "service_ids", Kind::Service),
            teams: id_filter(st, p, "team_ids", Kind::Team),
            users: id_filter(st, p, "user_ids", Kind::User),
            key: p.get("incident_key").filter(|k| !k.is_empty()).map(str::to_string),
        })
    }

    fn is_empty(&self) -> bool {
        self.statuses.is_empty()
            && self.urgencies.is_empty()
            && self.services.is_none()
            && self.teams.is_none()
            && self.users.is_none()
            && self.key.is_none()
    }

    fn matches(&self, st: &AppState, f: &Facts) -> bool {
        let c = &st.world.catalog;
        let status = f.status();
        let has = |list: &Vec<String>, v: &str| list.is_empty() || list.iter().any(|x| x == v);
        has(&self.statuses, status.name())
            && has(&self.urgencies, f.urgency())
            && self.services.as_ref().is_none_or(|s| s.contains(&f.service))
            && self.teams.as_ref().is_none_or(|t| t.contains(&c.services[f.service].team))
            && self
                .users
                .as_ref()
                .is_none_or(|u| status != crate::incident::Status::Resolved && u.contains(&f.current_assignee().0))
            && self.key.as_ref().is_none_or(|k| *k == format!("{:016x}{:016x}", f.key.0, f.key.1))
    }
}

async fn incidents(State(st): St, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let paging = Paging::from_params(&p)?;
    let window = Window::from_params(&p, st.world.now())?;
    let filter = IncidentFilter::from_params(&st, &p)?;
    let sort = sort_keys(&p)?;
    let _includes = p.list("include");
    let range = st.world.created_between(window.since, window.until);
    let by_number = sort.iter().all(|(f, _)| matches!(f, SortField::IncidentNumber | SortField::CreatedAt));
    let desc = sort.first().is_some_and(|(_, d)| *d);
    let (ns, more, total): (Vec<u64>, bool, u64) = if filter.is_empty() && by_number {
        // Fast path: the page is pure index arithmetic, whatever the volume.
        let len = range.end - range.start;
        let (page, more) = paging.window(len);
        let ns = page.map(|i| if desc { range.end - 1 - i } else { range.start + i }).collect();
        (ns, more, len)
    } else {
        let mut hits: Vec<(u64, Option<i64>, bool)> = range
            .filter_map(|n| st.world.incident(n))
            .filter(|f| filter.matches(&st, f))
            .map(|f| (f.n, f.resolved_at(), f.high_urgency))
            .collect();
        sort_hits(&mut hits, &sort);
        let len = hits.len() as u64;
        let (page, more) = paging.window(len);
        let ns = hits[page.start as usize..page.end as usize].iter().map(|h| h.0).collect();
        (ns, more, len)
    };
    let r = render(&st);
    let items = ns.into_iter().filter_map(|n| st.world.incident(n)).map(|f| r.incident(&f)).collect();
    Ok(Json(envelope("incidents", items, paging, more, total)))
}

/// Sorts `(n, resolved_at, high_urgency)` by the `sort_by` keys; ties by number.
/// Unresolved incidents sort after resolved ones on `resolved_at:asc`.
fn sort_hits(hits: &mut [(u64, Option<i64>, bool)], keys: &[(SortField, bool)]) {
    hits.sort_by(|a, b| {
        for &(field, desc) in keys {
            let ord = match field {
                SortField::IncidentNumber | SortField::CreatedAt => a.0.cmp(&b.0),
                SortField::ResolvedAt => a.1.map_or(i64::MAX, |t| t).cmp(&b.1.map_or(i64::MAX, |t| t)),
                // "high" sorts before "low", as the strings do.
                SortField::Urgency => b.2.cmp(&a.2),
            };
            let ord = if desc { ord.reverse() } else { ord };
            if ord != std::cmp::Ordering::Equal {
                return ord;
            }
        }
        a.0.cmp(&b.0)
    });
}

async fn incident_log_entries(State(st): St, Id(id): Id, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let paging = Paging::from_params(&p)?;
    let window = Window::optional(&p)?;
    let overview = p.flag("is_overview", false)?;
    let f = incident_facts(&st, &id)?;
    // Newest first, as PagerDuty lists log entries.
    let positions: Vec<usize> = f
        .entries()
        .enumerate()
        .rev()
        .filter(|(_, e)| window.contains(e.at) && (!overview || e.kind.is_overview()))
        .map(|(i, _)| i)
        .collect();
    let len = positions.len() as u64;
    let (page, more) = paging.window(len);
    let r = render(&st);
    let items =
        positions[page.start as usize..page.end as usize].iter().filter_map(|&pos| r.log_entry(&f, pos)).collect();
    Ok(Json(envelope("log_entries", items, paging, more, len)))
}

async fn incident_alerts(State(st): St, Id(id): Id, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let statuses = enum_list(&p, "statuses", &["triggered", "resolved"])?;
    let f = incident_facts(&st, &id)?;
    let r = render(&st);
    let items = (0..f.alerts)
        .map(|a| r.alert(&f, a))
        .filter(|a| statuses.is_empty() || statuses.iter().any(|s| a["status"] == s.as_str()))
        .collect();
    page_of("alerts", items, &p)
}

/// `GET /log_entries`: account-wide, newest first, same window rules as incidents.
async fn log_entries(State(st): St, RawQuery(q): RawQuery) -> ApiResult {
    let p = Params::parse(q.as_deref());
    let paging = Paging::from_params(&p)?;
    let window = Window::from_params(&p, st.world.now())?;
    let overview = p.flag("is_overview", false)?;
    let teams = id_filter(&st, &p, "team_ids", Kind::Team);
    let _includes = p.list("include");
    let world = Arc::clone(&st.world);
    // The first call may build the log index (CPU-bound): keep it off the async workers.
    let slice = tokio::task::spawn_blocking(move || world.log_between(window.since, window.until))
        .await
        .map_err(|_| ApiError::internal())?;
    let len = slice.len();
    let newest = |i: usize| slice.get(len - 1 - i);
    let c = &st.world.catalog;
    let refs: Vec<_>;
    let (page_refs, more, total) = if !overview && teams.is_none() {
        let (page, more) = paging.window(len as u64);
        refs = page.filter_map(|i| newest(i as usize)).collect();
        (&refs[..], more, len as u64)
    } else {
        let team_of = |n: u64| st.world.incident(n).map(|f| c.services[f.service].team);
        refs = (0..len)
            .filter_map(newest)
            .filter(|e| !overview || e.kind.is_overview())
            .filter(|e| teams.as_ref().is_none_or(|t| team_of(e.n).is_some_and(|x| t.contains(&x))))
            .collect();
        let (page, more) = paging.window(refs.len() as u64);
        (&refs[page.start as usize..page.end as usize], more, refs.len() as u64)
    };
    let r = render(&st);
    let items =
        page_refs.iter().filter_map(|e| st.world.incident(e.n).and_then(|f| r.log_entry(&f, e.pos as usize))).collect();
    Ok(Json(envelope("log_entries", items, paging, more, total)))
}

async fn log_entry(State(st): St, Id(id): Id) -> ApiResult {
    let (n, pos) = st.world.ids.decode_log_entry(&id).ok_or_else(ApiError::not_found)?;
    let f = st.world.incident(n).ok_or_else(ApiError::not_found)?;
    let entry = render(&st).log_entry(&f, pos as usize).ok_or_else(ApiError::not_found)?;
    Ok(Json(json!({ "log_entry": entry })))
}

async fn stats(State(st): St) -> Json<crate::stats::Stats> {
    Json(st.stats.snapshot())
}

async fn stats_reset(State(st): St) -> StatusCode {
    st.stats.reset();
    StatusCode::NO_CONTENT
}

/// `POST /__mock/churn?new=N&resolve=M`.
async fn churn(State(st): St, RawQuery(q): RawQuery) -> Result<Json<Value>, ApiError> {
    let p = Params::parse(q.as_deref());
    let count = |key: &str| -> Result<u64, ApiError> {
        match p.get(key) {
            None | Some("") => Ok(0),
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|&n| n <= 100_000)
                .ok_or_else(|| ApiError::invalid_input(format!("{key} must be an integer from 0 to 100000"))),
        }
    };
    let report = crate::server::apply_churn(&st.world, count("new")?, count("resolve")?);
    Ok(Json(serde_json::to_value(report).unwrap_or_default()))
}
