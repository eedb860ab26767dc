//! The sync: the small lists, then incidents and log entries window by window, newest
//! first, fetched in parallel within the rate limit, with a checkpoint whenever the range
//! emitted without a hole grows.
//!
//! What one sync fetches:
//! 1. Users, teams, services, escalation policies, priorities and current on-calls, every
//!    time (a handful of requests; they change without leaving a trace we could query).
//! 2. With a previous state: the incremental range `[highWaterMark - OVERLAP, now)`:
//!    incidents and log entries created in it, and then the incidents those log entries
//!    name that were not listed (changed incidents): `GET /incidents/{id}` each, or, when
//!    that costs fewer requests, the range they were created in listed again.
//! 3. Backfill from the state's `cursor` (or now) down to the cutoff, in windows of at
//!    most 180 days.
//!
//! How: every window (of each kind, incidents and log entries) is a *leaf*; its first page
//! asks for `total=true`, which says how many pages follow (all queued at once) or that
//! the window must be split first (over the 10,000 offset cap). Requests go out on
//! `maxConcurrency` threads ([`Pool`]), first pages first and then newest data first,
//! each paced by the client within PagerDuty's rate limit. Answers come back to this
//! thread in any order; it emits their records at once, and a checkpoint only when every
//! record it covers is out: [`Coverage`] tracks which backfill windows are complete, and
//! the high-water mark moves only once the incremental range, changed incidents
//! included, is complete. So a kill at any moment loses nothing the last state claims.
//!
//! Windows end at the sync's start, never "now" at request time, so items created while
//! a window is paged cannot shift its offsets: offset pagination over a closed window is
//! stable, which is what makes the page offsets known in advance. Log entries are fetched
//! per window from the account-wide `/log_entries`, never per incident.
//!
//! The sync also says how far it has got (`progress`): items received out of the items
//! PagerDuty's totals announced.
//!
//! [`Sync`] is the one coordinator; each concern keeps its state and its part of the work
//! in a module of its own:
//! - `lists`: the small lists, fetched whole every time.
//! - `leaves`: windows of one kind of item (leaves), their pages, splits and reports;
//!   what backfill, incremental range and relisting share.
//! - `backfill`: how far back the backfill has emitted without a hole.
//! - `incremental`: the range since the last sync, and the incidents its log entries name.
//! - `changed`: fetching the changed incidents, one by one or by listing their range again.
//! - `progress`: items received out of items announced, and the `progress` messages.

mod backfill;
mod changed;
mod incremental;
mod leaves;
mod lists;
mod progress;

use std::ops::{Index, IndexMut};
use std::sync::Arc;

use chrono::{DateTime, Duration, DurationRound, Utc};
use connector_sdk::http::Pool;
use connector_sdk::{ConnectorError, Emitter, LogLevel, SyncRequest};
use serde_json::Value;

use crate::client::{self, Client};
use crate::config::Config;
use crate::paging::Endpoint;
use crate::state::State;
use crate::windows::plan_backwards;

use backfill::Backfill;
use incremental::Incremental;
use leaves::{LeafId, Leaves};
use lists::{List, LISTS};
use progress::Progress;

/// How far before the high-water mark an incremental sync starts again: covers clock
/// skew between us and PagerDuty and items indexed late. Re-emitted items are upserts.
pub const OVERLAP: Duration = Duration::minutes(5);

/// First pages (whose totals plan the rest) before any other page.
const FIRST_PAGES: u8 = 0;
const LATER_PAGES: u8 = 1;

/// Runs a sync.
///
/// # Errors
/// Why it stopped; states emitted before stand.
pub fn run(config: &Config, request: &SyncRequest, out: &mut Emitter) -> Result<(), ConnectorError> {
    let previous = State::parse(request.state.as_ref())?;
    let client = Arc::new(client::connect(config)?);
    // PagerDuty's timestamps have whole seconds: end at the next whole second so that an
    // item created in the current second is inside this sync, not only the next one.
    let now = Utc::now().duration_trunc(Duration::seconds(1)).unwrap_or_else(|_| Utc::now()) + Duration::seconds(1);
    Sync::new(config, client, out, request.earliest_data_cutoff, now, previous).run()
}

/// The two kinds of items fetched window by window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Incidents,
    LogEntries,
}

impl Kind {
    const BOTH: [Kind; 2] = [Kind::Incidents, Kind::LogEntries];
}

/// One value for each [`Kind`].
#[derive(Debug, Clone, Default)]
struct PerKind<T>([T; 2]);

impl<T> Index<Kind> for PerKind<T> {
    type Output = T;

    fn index(&self, kind: Kind) -> &T {
        &self.0[kind as usize]
    }
}

impl<T> IndexMut<Kind> for PerKind<T> {
    fn index_mut(&mut self, kind: Kind) -> &mut T {
        &mut self.0[kind as usize]
    }
}

/// Which part of the sync a window belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    /// Created since the last sync.
    Incremental,
    /// Walking back to the cutoff.
    Backfill,
    /// Listed again to find changed incidents.
    Relist,
}

/// A request's purpose, carried with it through the pool.
#[derive(Debug)]
enum Tag {
    /// A page of a small list.
    List { list: &'static List, offset: u64 },
    /// A page of a leaf; offset 0 is its first page, with the total.
    Page { leaf: LeafId, offset: u64 },
    /// One changed incident.
    Changed(String),
}

/// One run of `sync`: the coordinator of the requests, and the only writer of stdout.
struct Sync<'a> {
    config: &'a Config,
    client: Arc<Client>,
    pool: Pool<Tag, Client>,
    out: &'a mut Emitter,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
    leaves: Leaves,
    backfill: Backfill,
    incremental: Option<Incremental>,
    /// The checkpoint last emitted (or handed to us, or a first sync's start).
    state: State,
    /// Whether `state` has been emitted.
    state_emitted: bool,
    progress: Progress,
}

impl<'a> Sync<'a> {
    fn new(
        config: &'a Config,
        client: Arc<Client>,
        out: &'a mut Emitter,
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
        previous: Option<State>,
    ) -> Self {
        let pool = Pool::new(Arc::clone(&client), config.max_concurrency as usize, "pagerduty");
        let state = previous.clone().unwrap_or_else(|| State::start(now));
        let incremental = previous.map(|previous| Incremental::new((previous.high_water_mark - OVERLAP).max(cutoff)));
        // The backfill walks back from the previous state's cursor, or from now.
        let backfill = Backfill::new(state.cursor);
        Sync {
            config,
            client,
            pool,
            out,
            cutoff,
            now,
            leaves: Leaves::default(),
            backfill,
            incremental,
            state,
            state_emitted: false,
            progress: Progress::default(),
        }
    }

    fn run(mut self) -> Result<(), ConnectorError> {
        self.start()?;
        while let Some((tag, answer)) = self.pool.next_answer() {
            match tag {
                Tag::List { list, offset } => self.list_page(list, offset, answer)?,
                Tag::Page { leaf, offset } => self.leaf_page(leaf, offset, answer)?,
                Tag::Changed(id) => self.changed_incident(&id, answer)?,
            }
            self.checkpoint()?;
            self.progress.report(self.out, false)?;
            self.client.pacer().set_demand(self.demand());
        }
        self.checkpoint()?;
        if !self.state_emitted {
            self.out.state(&self.state.to_value())?;
        }
        self.progress.report(self.out, true)?;
        let (requests, refused) = (self.client.requests(), self.client.rate_limited());
        self.out.log(LogLevel::Info, format!("sync done: {requests} requests ({refused} answered 429)"))?;
        Ok(())
    }

    /// Queues the small lists and the first page of every window.
    fn start(&mut self) -> Result<(), ConnectorError> {
        for list in &LISTS {
            self.push_list(list, 0);
            self.progress.expect_total();
        }
        if let Some(from) = self.incremental.as_ref().map(Incremental::from) {
            for window in plan_backwards(from, self.now) {
                self.add_window(window, Part::Incremental);
            }
            self.incremental_progressed()?;
        }
        for window in plan_backwards(self.cutoff, self.backfill.top()) {
            self.add_window(window, Part::Backfill);
        }
        Ok(())
    }

    fn endpoint(&self, kind: Kind) -> Endpoint {
        let limit = u64::from(self.config.page_size);
        let mut query = vec![("time_zone", "UTC".to_owned())];
        match kind {
            Kind::Incidents => {
                query.push(("sort_by", "created_at:desc".to_owned()));
                for id in self.config.service_ids.iter().flatten() {
                    query.push(("service_ids[]", id.clone()));
                }
                Endpoint { path: "/incidents", key: "incidents", query, limit }
            }
            Kind::LogEntries => {
                query.push(("is_overview", "false".to_owned()));
                Endpoint { path: "/log_entries", key: "log_entries", query, limit }
            }
        }
    }

    /// Emits a state when what is covered without a hole has grown.
    fn checkpoint(&mut self) -> Result<(), ConnectorError> {
        let cursor = self.backfill.covered_to();
        let incremental_done = self.incremental.as_ref().is_none_or(Incremental::is_done);
        let high_water_mark = if incremental_done { self.now } else { self.state.high_water_mark };
        if !self.state.advance(cursor, high_water_mark, self.cutoff) {
            return Ok(());
        }
        self.state_emitted = true;
        Ok(self.out.state(&self.state.to_value())?)
    }

    /// Requests still to make, when they are all known: every planned page is queued, so
    /// it is what the pool holds, once no first page is out and the changed incidents are
    /// decided.
    fn demand(&self) -> Option<u64> {
        let deciding = self.incremental.as_ref().is_some_and(Incremental::is_deciding);
        let known = !deciding && !self.leaves.any_probing() && self.progress.totals_known();
        known.then_some(self.pool.outstanding() as u64)
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

#[cfg(test)]
mod tests {
    use std::collections::{BTreeSet, HashMap};

    use connector_sdk::protocol::parse_cutoff;
    use reqwest::Url;
    use serde_json::json;

    use super::*;
    use crate::paging::OFFSET_CAP;
    use test_support::http::{Reply, Server};

    /// A fake API: `count` incidents at `start + k * step` seconds (`k` in `0..count`, id
    /// `I<k>`), no log entries, empty small lists. It honours since/until, limit, offset,
    /// newest first, the cap, and `total=true` unless `totals` is off.
    fn fake(count: u64, start: &str, step: f64, totals: bool) -> Server {
        let start = parse_cutoff(start).unwrap().timestamp();
        Server::start(move |request| {
            let url = Url::parse(&format!("http://x{}", request.target)).unwrap();
            let query: HashMap<String, String> = url.query_pairs().into_owned().collect();
            let key = url.path().rsplit('/').next().unwrap().to_owned();
            let (limit, offset): (u64, u64) = (query["limit"].parse().unwrap(), query["offset"].parse().unwrap());
            if offset + limit > OFFSET_CAP {
                return Reply::json(400, json!({"error": {"message": "Arguments Caused Error", "code": 2002}}));
            }
            let at = |k: u64| start + (k as f64 * step) as i64;
            let matching: Vec<u64> = if key == "incidents" {
                let t = |name: &str| parse_cutoff(&query[name]).unwrap().timestamp();
                (0..count).rev().filter(|&k| (t("since")..t("until")).contains(&at(k))).collect()
            } else {
                Vec::new()
            };
            let total = matching.len() as u64;
            let page: Vec<Value> = matching
                .iter()
                .skip(offset as usize)
                .take(limit as usize)
                .map(|k| json!({"id": format!("I{k}")}))
                .collect();
            let asked = totals && query.contains_key("total");
            Reply::json(
                200,
                json!({key: page, "more": offset + limit < total, "total": if asked { json!(total) } else { Value::Null }}),
            )
        })
    }

    /// A first sync of January 2026 against `server`: its output, and the incident
    /// requests it made.
    fn january(server: &Server) -> (Result<(), ConnectorError>, Vec<Value>, Vec<String>) {
        january_with(server, 8)
    }

    /// [`january`] with `threads` requests in flight at most: with one, the requests reach
    /// the server in the order the pool takes them, so a test can read that order.
    fn january_with(server: &Server, threads: u32) -> (Result<(), ConnectorError>, Vec<Value>, Vec<String>) {
        let config = json!({"apiToken": "abcd1234", "apiBaseUrl": server.base_url(), "maxConcurrency": threads});
        let config: Config = serde_json::from_value(config).unwrap();
        let (mut out, captured) = Emitter::in_memory();
        let client = Arc::new(client::connect(&config).unwrap());
        let (cutoff, now) = (parse_cutoff("2026-01-01").unwrap(), parse_cutoff("2026-02-01").unwrap());
        let result = Sync::new(&config, client, &mut out, cutoff, now, None).run();
        out.flush().unwrap();
        let incidents =
            server.requests().into_iter().map(|r| r.target).filter(|t| t.starts_with("/incidents?")).collect();
        (result, captured.messages().unwrap(), incidents)
    }

    fn incident_ids(messages: &[Value]) -> (usize, BTreeSet<String>) {
        let ids: Vec<String> = messages
            .iter()
            .filter(|m| m["type"] == "record" && m["record"]["_type"] == "Incident")
            .map(|m| m["record"]["id"].as_str().unwrap().to_owned())
            .collect();
        (ids.len(), ids.into_iter().collect())
    }

    #[test]
    fn the_total_of_a_windows_first_page_gives_every_later_page() {
        // 250 incidents over January: one window, three pages.
        let server = fake(250, "2026-01-01", 10_000.0, true);
        let (result, messages, targets) = january(&server);
        result.unwrap();
        assert_eq!(incident_ids(&messages), (250, (0..250).map(|k| format!("I{k}")).collect()));
        assert_eq!(targets.len(), 3, "{targets:?}");
        assert!(targets[0].contains("offset=0") && targets[0].contains("total=true"), "{targets:?}");
        assert!(targets[1..].iter().all(|t| !t.contains("total=true")), "{targets:?}");
        let last = messages.iter().rev().find(|m| m["type"] == "state").unwrap();
        assert_eq!(last["state"]["cursor"], "2026-01-01T00:00:00Z");
    }

    #[test]
    fn a_window_over_the_cap_is_split_before_paging_and_loses_nothing() {
        // 11,000 incidents evenly over January: one split, two halves of 5,500.
        let server = fake(11_000, "2026-01-01", 31.0 * 86_400.0 / 11_000.0, true);
        // One request at a time: with several, both halves' first pages go out at once and
        // reach the server in either order.
        let (result, messages, targets) = january_with(&server, 1);
        result.unwrap();
        let (emitted, ids) = incident_ids(&messages);
        assert_eq!((emitted, ids.len()), (11_000, 11_000), "each once");
        assert_eq!(targets.len(), 1 + 55 + 55, "one request thrown away for the split");
        assert!(targets[1].contains("since=2026-01-16"), "newer half first: {}", targets[1]);
    }

    #[test]
    fn without_a_total_reaching_the_cap_splits_the_window() {
        // 12,000 incidents over January: paging one page after the other runs into the
        // cap after 10,000, and the window is split into halves of 6,000.
        let server = fake(12_000, "2026-01-01", 31.0 * 86_400.0 / 12_000.0, false);
        let (result, messages, targets) = january(&server);
        result.unwrap();
        let (emitted, ids) = incident_ids(&messages);
        assert_eq!(ids.len(), 12_000, "every incident");
        assert_eq!(emitted, 10_000 + 12_000, "the first pass is repeated, not lost");
        assert_eq!(targets.iter().filter(|t| t.contains("offset=10000")).count(), 0, "never past the cap");
        let last = messages.iter().rev().find(|m| m["type"] == "progress").unwrap();
        assert_eq!(last["total"], Value::Null, "no totals, no total");
    }

    #[test]
    fn more_than_the_cap_within_one_second_is_an_error_not_a_loss() {
        let server = fake(20_000, "2026-01-10", 0.0, true);
        let (result, messages, _) = january(&server);
        let error = result.unwrap_err();
        assert!(error.message.contains("20000 items in the one-second window"), "{error}");
        let claimed: Vec<&Value> = messages.iter().filter(|m| m["type"] == "state").collect();
        assert!(claimed.iter().all(|s| s["state"]["cursor"].as_str().unwrap() > "2026-01-10"), "{claimed:?}");
    }
}
