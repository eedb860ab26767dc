//! The sync: small lists, then incidents and log entries window by window, newest first,
//! with a checkpoint after each window.
//!
//! Order of one sync:
//! 1. Users, teams, services, escalation policies, priorities and current on-calls, every
//!    time (a handful of requests; they change without leaving a trace we could query).
//! 2. With a previous state: the incremental range `[highWaterMark - OVERLAP, now)`:
//!    incidents created in it, log entries created in it, and then every incident those
//!    log entries touched that was not already fetched (`GET /incidents/{id}` each).
//!    Checkpoint with `highWaterMark = now`.
//! 3. Backfill from the state's `cursor` (or now) down to the cutoff, in windows of at
//!    most 180 days; checkpoint after each.
//!
//! Windows end at the sync's start, never "now" at request time, so items created while
//! a window is paged cannot shift its offsets: offset pagination over a closed window is
//! stable. Log entries are fetched per window from the account-wide `/log_entries`, never
//! per incident.

use std::collections::HashSet;

use chrono::{DateTime, Duration, DurationRound, Utc};
use connector_sdk::{ConnectorError, Emitter, LogLevel, SyncRequest};
use serde_json::Value;

use crate::client::{Client, Query};
use crate::config::Config;
use crate::paging::{Endpoint, FetchError};
use crate::records;
use crate::state::State;
use crate::windows::{plan_backwards, Window};

/// How far before the high-water mark an incremental sync starts again: covers clock
/// skew between us and PagerDuty and items indexed late. Re-emitted items are upserts.
pub const OVERLAP: Duration = Duration::minutes(5);

/// One run of `sync`.
pub struct Sync<'a> {
    client: Client,
    config: &'a Config,
    out: &'a mut Emitter,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
}

/// What one window (or range) produced.
#[derive(Debug, Default)]
struct Tally {
    incidents: u64,
    log_entries: u64,
    incident_ids: HashSet<String>,
    /// Incidents named by log entries, in the order first seen (newest first).
    touched: Vec<String>,
}

/// Runs a sync.
///
/// # Errors
/// Why it stopped; states emitted before stand.
pub fn run(config: &Config, request: &SyncRequest, out: &mut Emitter) -> Result<(), ConnectorError> {
    let previous = State::parse(request.state.as_ref())?;
    let client = Client::new(config)?;
    // PagerDuty's timestamps have whole seconds: end at the next whole second so that an
    // item created in the current second is inside this sync, not only the next one.
    let now = Utc::now().duration_trunc(Duration::seconds(1)).unwrap_or_else(|_| Utc::now()) + Duration::seconds(1);
    let mut sync = Sync { client, config, out, cutoff: request.earliest_data_cutoff, now };
    sync.small_lists()?;
    let mut state = match previous {
        Some(previous) => sync.incremental(previous)?,
        None => State::start(now),
    };
    sync.backfill(&mut state)?;
    sync.out.state(&state.to_value())?;
    let requests = sync.client.requests();
    sync.out.log(LogLevel::Info, format!("sync done: {requests} requests"))?;
    Ok(())
}

impl Sync<'_> {
    fn endpoint(&self, path: &'static str, key: &'static str, query: Query) -> Endpoint {
        Endpoint { path, key, query, limit: u64::from(self.config.page_size) }
    }

    /// Users, teams, services, escalation policies, priorities, on-calls.
    fn small_lists(&mut self) -> Result<(), ConnectorError> {
        type Map = fn(&Value) -> Value;
        let utc = || vec![("time_zone", "UTC".to_owned())];
        let lists: [(&'static str, &'static str, Map, bool); 6] = [
            ("/users", "users", records::user, false),
            ("/teams", "teams", records::team, true),
            ("/services", "services", records::service, false),
            ("/escalation_policies", "escalation_policies", records::escalation_policy, false),
            ("/priorities", "priorities", records::priority, true),
            ("/oncalls", "oncalls", records::on_call, false),
        ];
        for (path, key, map, optional) in lists {
            let endpoint = self.endpoint(path, key, utc());
            let out = &mut *self.out;
            let result = endpoint.fetch_all(&self.client, |items| emit(out, &items, map));
            match result {
                // Accounts without the teams or priorities feature answer 402/403.
                Err(FetchError::Api(e)) if optional && matches!(e.status(), Some(402 | 403)) => {
                    self.out.log(LogLevel::Warn, format!("skipping {key}: {e}"))?;
                }
                other => {
                    other?;
                }
            }
        }
        Ok(())
    }

    /// Fetches what changed since the previous sync and returns the new state.
    fn incremental(&mut self, previous: State) -> Result<State, ConnectorError> {
        let from = (previous.high_water_mark - OVERLAP).max(self.cutoff);
        let mut tally = Tally::default();
        for window in plan_backwards(from, self.now) {
            self.window(window, &mut tally)?;
        }
        self.changed_incidents(&tally)?;
        let mut state = previous;
        state.high_water_mark = self.now;
        state.window_done(from, self.cutoff);
        self.out.state(&state.to_value())?;
        Ok(state)
    }

    /// Incidents named by new log entries but created before the incremental range.
    fn changed_incidents(&mut self, tally: &Tally) -> Result<(), ConnectorError> {
        let changed: Vec<&String> = tally.touched.iter().filter(|id| !tally.incident_ids.contains(*id)).collect();
        let before = self.client.requests();
        let mut emitted = 0;
        for id in &changed {
            if !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                self.out.log(
                    LogLevel::Warn,
                    format!("log entries name incident id {id:?}, which is not a PagerDuty id; skipped"),
                )?;
                continue;
            }
            let answer = match self.client.get(&format!("/incidents/{id}"), &Vec::new()) {
                Ok(answer) => answer,
                Err(e) if e.status() == Some(404) => {
                    self.out.log(LogLevel::Warn, format!("incident {id} is gone (404); skipped"))?;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            let incident = &answer["incident"];
            if self.wanted_incident(incident) {
                self.out.record(&records::incident(incident))?;
                emitted += 1;
            }
        }
        let requests = self.client.requests() - before;
        let message =
            format!("{} changed incidents re-fetched ({emitted} emitted), {requests} requests", changed.len());
        self.out.log(LogLevel::Info, message)?;
        Ok(())
    }

    /// Created at or after the cutoff, and of a selected service.
    fn wanted_incident(&self, incident: &Value) -> bool {
        let created = incident["created_at"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
        let recent = created.is_none_or(|t| t >= self.cutoff);
        recent && ServiceFilter(self.config.service_ids.as_deref()).wants(incident)
    }

    /// Walks from the state's cursor down to the cutoff, checkpointing each window.
    fn backfill(&mut self, state: &mut State) -> Result<(), ConnectorError> {
        for window in plan_backwards(self.cutoff, state.cursor) {
            self.window(window, &mut Tally::default())?;
            state.window_done(window.since, self.cutoff);
            self.out.state(&state.to_value())?;
        }
        Ok(())
    }

    /// Incidents and log entries created in one window.
    fn window(&mut self, window: Window, tally: &mut Tally) -> Result<(), ConnectorError> {
        let before = (self.client.requests(), tally.incidents, tally.log_entries);
        self.incidents(window, tally)?;
        self.log_entries(window, tally)?;
        let message = format!(
            "window {window}: {} incidents, {} log entries, {} requests",
            tally.incidents - before.1,
            tally.log_entries - before.2,
            self.client.requests() - before.0
        );
        self.out.log(LogLevel::Info, message)?;
        Ok(())
    }

    fn incidents(&mut self, window: Window, tally: &mut Tally) -> Result<(), ConnectorError> {
        let mut query = vec![("time_zone", "UTC".to_owned()), ("sort_by", "created_at:desc".to_owned())];
        for id in self.config.service_ids.iter().flatten() {
            query.push(("service_ids[]", id.clone()));
        }
        let endpoint = self.endpoint("/incidents", "incidents", query);
        let out = &mut *self.out;
        endpoint.fetch_window(&self.client, window, |items| {
            for item in &items {
                if let Some(id) = item["id"].as_str() {
                    tally.incident_ids.insert(id.to_owned());
                }
                out.record(&records::incident(item))?;
            }
            tally.incidents += items.len() as u64;
            Ok(out.flush()?)
        })?;
        Ok(())
    }

    fn log_entries(&mut self, window: Window, tally: &mut Tally) -> Result<(), ConnectorError> {
        let query = vec![("time_zone", "UTC".to_owned()), ("is_overview", "false".to_owned())];
        let endpoint = self.endpoint("/log_entries", "log_entries", query);
        let mut touched: HashSet<String> = tally.touched.iter().cloned().collect();
        let services = ServiceFilter(self.config.service_ids.as_deref());
        let out = &mut *self.out;
        endpoint.fetch_window(&self.client, window, |items| {
            // `/log_entries` has no service filter: apply serviceIds here.
            for item in items.iter().filter(|e| services.wants(e)) {
                if let Some(id) = item["incident"]["id"].as_str() {
                    if touched.insert(id.to_owned()) {
                        tally.touched.push(id.to_owned());
                    }
                }
                out.record(&records::log_entry(item))?;
                tally.log_entries += 1;
            }
            Ok(out.flush()?)
        })?;
        Ok(())
    }
}

/// The `serviceIds` setting.
#[derive(Clone, Copy)]
struct ServiceFilter<'a>(Option<&'a [String]>);

impl ServiceFilter<'_> {
    /// Items that do not name a service are kept: dropping data is worse than extra data.
    fn wants(&self, item: &Value) -> bool {
        let Some(ids) = self.0 else { return true };
        item["service"]["id"].as_str().is_none_or(|id| ids.iter().any(|s| s == id))
    }
}

fn emit(out: &mut Emitter, items: &[Value], map: fn(&Value) -> Value) -> Result<(), ConnectorError> {
    for item in items {
        out.record(&map(item))?;
    }
    Ok(out.flush()?)
}
