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

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, DurationRound, Utc};
use connector_sdk::http::{Pool, Priority, Request};
use connector_sdk::{ConnectorError, Emitter, LogLevel, ProgressMessage, SyncRequest};
use serde_json::Value;

use crate::client::{self, ApiError, Client, Query};
use crate::config::Config;
use crate::coverage::Coverage;
use crate::paging::{later_offsets, listing_cost, Endpoint, Page, OFFSET_CAP};
use crate::records;
use crate::state::State;
use crate::windows::{plan_backwards, Window};

/// How far before the high-water mark an incremental sync starts again: covers clock
/// skew between us and PagerDuty and items indexed late. Re-emitted items are upserts.
pub const OVERLAP: Duration = Duration::minutes(5);

/// `progress` messages go out at most this often.
const PROGRESS_EVERY: StdDuration = StdDuration::from_millis(250);

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

    fn index(self) -> usize {
        self as usize
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

/// Where a leaf stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    /// Its first page is on its way.
    Probing,
    /// Relist only: its first page is in, the rest waits for the decision.
    Held,
    /// Pages are on their way.
    Paging,
    /// Every item is emitted.
    Done,
    /// Split, or no longer wanted; answers still in flight are emitted and nothing more.
    Dropped,
}

/// One window of one kind of item.
#[derive(Debug)]
struct Leaf {
    kind: Kind,
    part: Part,
    window: Window,
    /// The top-level window it belongs to (for the log).
    report: usize,
    status: Status,
    /// Its total, once the first page said it.
    total: Option<u64>,
    /// Pages queued or in flight.
    pages: u64,
    /// One past the last offset planned.
    planned_end: u64,
}

/// A request's purpose, carried with it through the pool.
#[derive(Debug)]
enum Tag {
    /// A page of small list number `list`.
    List { list: usize, offset: u64 },
    /// A page of a leaf; offset 0 is its first page, with the total.
    Page { leaf: usize, offset: u64 },
    /// One changed incident.
    Changed(String),
}

/// A small list: fetched whole on every sync.
struct List {
    path: &'static str,
    key: &'static str,
    map: fn(&Value) -> Value,
    /// Accounts without the feature answer 402 or 403: skipped with a warning.
    optional: bool,
}

const LISTS: [List; 6] = [
    List { path: "/users", key: "users", map: records::user, optional: false },
    List { path: "/teams", key: "teams", map: records::team, optional: true },
    List { path: "/services", key: "services", map: records::service, optional: false },
    List { path: "/escalation_policies", key: "escalation_policies", map: records::escalation_policy, optional: false },
    List { path: "/priorities", key: "priorities", map: records::priority, optional: true },
    List { path: "/oncalls", key: "oncalls", map: records::on_call, optional: false },
];

/// A top-level window, for the log line said when all its leaves are done.
#[derive(Debug)]
struct Report {
    window: Window,
    part: Part,
    open: usize,
    items: [u64; 2],
    requests: u64,
}

/// The incremental range and the changed incidents it reveals.
#[derive(Debug)]
struct Incremental {
    /// Where it starts: everything before is the previous syncs'.
    from: DateTime<Utc>,
    /// Leaves not done.
    open: usize,
    /// Incidents listed in it.
    listed: HashSet<String>,
    /// Incidents its log entries name, in the order first seen (newest first).
    touched: Vec<String>,
    seen: HashSet<String>,
    changed: Changed,
}

/// Fetching the changed incidents.
#[derive(Debug)]
enum Changed {
    /// The incremental range is still being listed.
    Waiting,
    /// First pages of the range they were created in, to count what listing it costs.
    Probing { missing: HashSet<String>, began: Began },
    /// Listing that range again, newest first, until every one is found.
    Relisting { missing: HashSet<String>, began: Began },
    /// `GET /incidents/{id}` each.
    Fetching { left: usize, emitted: usize, began: Began },
    /// Nothing (more) to do.
    Done,
}

/// When the changed incidents were taken up, for the log.
#[derive(Debug, Clone, Copy)]
struct Began {
    requests: u64,
    count: usize,
}

/// Items received out of items announced.
#[derive(Debug, Default)]
struct Progress {
    done: u64,
    expected: u64,
    /// First pages (and small lists) whose total is not in yet.
    pending: usize,
    /// A list came without a total: no total can be given.
    unknowable: bool,
    last: Option<(Instant, u64, Option<u64>)>,
}

impl Progress {
    fn total(&self) -> Option<u64> {
        (self.pending == 0 && !self.unknowable).then_some(self.expected)
    }
}

/// One run of `sync`: the coordinator of the requests, and the only writer of stdout.
struct Sync<'a> {
    config: &'a Config,
    client: Arc<Client>,
    pool: Pool<Tag, Client>,
    out: &'a mut Emitter,
    cutoff: DateTime<Utc>,
    now: DateTime<Utc>,
    leaves: Vec<Leaf>,
    reports: Vec<Report>,
    coverage: [Coverage; 2],
    incremental: Option<Incremental>,
    /// The checkpoint last emitted (or handed to us, or a first sync's start).
    state: State,
    /// Whether `state` has been emitted.
    state_emitted: bool,
    /// Where the backfill starts walking back from: the previous state's cursor, or now.
    backfill_top: DateTime<Utc>,
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
        let incremental = previous.map(|previous| Incremental {
            from: (previous.high_water_mark - OVERLAP).max(cutoff),
            open: 0,
            listed: HashSet::new(),
            touched: Vec::new(),
            seen: HashSet::new(),
            changed: Changed::Waiting,
        });
        let top = state.cursor;
        Sync {
            config,
            client,
            pool,
            out,
            cutoff,
            now,
            leaves: Vec::new(),
            reports: Vec::new(),
            coverage: [Coverage::new(top), Coverage::new(top)],
            incremental,
            state,
            state_emitted: false,
            backfill_top: top,
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
            self.report_progress(false)?;
            self.client.pacer().set_demand(self.demand());
        }
        self.checkpoint()?;
        if !self.state_emitted {
            self.out.state(&self.state.to_value())?;
        }
        self.report_progress(true)?;
        let (requests, refused) = (self.client.requests(), self.client.rate_limited());
        self.out.log(LogLevel::Info, format!("sync done: {requests} requests ({refused} answered 429)"))?;
        Ok(())
    }

    /// Queues the small lists and the first page of every window.
    fn start(&mut self) -> Result<(), ConnectorError> {
        for (list, _) in LISTS.iter().enumerate() {
            self.push_list(list, 0);
            self.progress.pending += 1;
        }
        if let Some(from) = self.incremental.as_ref().map(|i| i.from) {
            for window in plan_backwards(from, self.now) {
                self.add_window(window, Part::Incremental);
            }
            self.incremental_progressed()?;
        }
        for window in plan_backwards(self.cutoff, self.backfill_top) {
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

    fn list_endpoint(&self, list: usize) -> Endpoint {
        let List { path, key, .. } = LISTS[list];
        Endpoint { path, key, query: vec![("time_zone", "UTC".to_owned())], limit: u64::from(self.config.page_size) }
    }

    fn push_list(&mut self, list: usize, offset: u64) {
        let request = self.list_endpoint(list).request(None, offset, offset == 0);
        let priority = Priority { class: FIRST_PAGES, newest_first: i64::MIN, offset };
        self.pool.push(priority, request, Tag::List { list, offset });
    }

    /// A top-level window: one leaf per kind, first pages queued.
    fn add_window(&mut self, window: Window, part: Part) {
        let report = self.reports.len();
        let kinds: &[Kind] = if part == Part::Relist { &[Kind::Incidents] } else { &Kind::BOTH };
        self.reports.push(Report { window, part, open: kinds.len(), items: [0, 0], requests: 0 });
        for &kind in kinds {
            self.add_leaf(kind, part, window, report);
            if part == Part::Backfill {
                self.coverage[kind.index()].add(window);
            }
            if part != Part::Relist {
                self.progress.pending += 1;
            }
        }
    }

    /// A window of one kind to fetch; its first page is queued. (A backfill window's
    /// place in the coverage is its caller's business.)
    fn add_leaf(&mut self, kind: Kind, part: Part, window: Window, report: usize) {
        let leaf = self.leaves.len();
        self.leaves.push(Leaf {
            kind,
            part,
            window,
            report,
            status: Status::Probing,
            total: None,
            pages: 0,
            planned_end: 0,
        });
        if let (Part::Incremental, Some(incremental)) = (part, self.incremental.as_mut()) {
            incremental.open += 1;
        }
        self.push_page(leaf, 0);
    }

    fn push_page(&mut self, leaf: usize, offset: u64) {
        let Leaf { kind, window, .. } = self.leaves[leaf];
        let request = self.endpoint(kind).request(Some(window), offset, offset == 0);
        let class = if offset == 0 { FIRST_PAGES } else { LATER_PAGES };
        let priority = Priority { class, newest_first: -window.until.timestamp(), offset };
        self.pool.push(priority, request, Tag::Page { leaf, offset });
    }

    /// A page of a small list.
    fn list_page(&mut self, list: usize, offset: u64, answer: Result<Value, ApiError>) -> Result<(), ConnectorError> {
        let List { key, map, optional, .. } = LISTS[list];
        let page = match answer.and_then(|answer| self.list_endpoint(list).page(answer)) {
            Ok(page) => page,
            Err(e) if optional && matches!(e.status(), Some(402 | 403)) => {
                if offset == 0 {
                    self.progress.pending -= 1;
                }
                return Ok(self.out.log(LogLevel::Warn, format!("skipping {key}: {e}"))?);
            }
            Err(e) => return Err(e.into()),
        };
        if offset == 0 {
            self.progress.pending -= 1;
            match page.total {
                Some(total) => self.progress.expected += total,
                None => self.progress.unknowable = true,
            }
        }
        self.progress.done += page.items.len() as u64;
        for item in &page.items {
            self.out.record(&map(item))?;
        }
        self.out.flush()?;
        if page.more {
            let next = offset + self.list_endpoint(list).limit;
            if !self.list_endpoint(list).reachable(next) {
                return Err(ConnectorError::internal(format!(
                    "GET {}: more than {OFFSET_CAP} items; PagerDuty's offset pagination cannot reach the rest",
                    LISTS[list].path
                )));
            }
            self.push_list(list, next);
        }
        Ok(())
    }

    /// A page of a window.
    fn leaf_page(&mut self, leaf: usize, offset: u64, answer: Result<Value, ApiError>) -> Result<(), ConnectorError> {
        let endpoint = self.endpoint(self.leaves[leaf].kind);
        let page = endpoint.page(answer?)?;
        let Leaf { part, status, report, .. } = self.leaves[leaf];
        self.reports[report].requests += 1;
        if status == Status::Probing {
            if part != Part::Relist && self.is_top(leaf) {
                self.progress.pending -= 1;
                match page.total {
                    Some(total) => self.progress.expected += total,
                    None => self.progress.unknowable = true,
                }
            }
            if page.total.is_some_and(|total| total > OFFSET_CAP) {
                return self.split(leaf, page.total);
            }
            self.leaves[leaf].total = page.total;
            if part == Part::Relist {
                self.progress.expected += page.items.len() as u64;
            }
        }
        self.emit(leaf, &page)?;
        match status {
            Status::Probing if part == Part::Relist => {
                self.leaves[leaf].status = Status::Held;
                self.probed()
            }
            Status::Probing => {
                self.leaves[leaf].status = Status::Paging;
                self.plan(leaf, page.more)
            }
            Status::Paging => {
                self.leaves[leaf].pages -= 1;
                if page.more && offset + endpoint.limit >= self.leaves[leaf].planned_end {
                    self.extend(leaf)?;
                }
                self.maybe_done(leaf)?;
                if part == Part::Relist {
                    self.relisted()?;
                }
                Ok(())
            }
            Status::Held | Status::Done | Status::Dropped => Ok(()),
        }
    }

    /// Whether a leaf is one of a top-level window's (not a part of a split one).
    fn is_top(&self, leaf: usize) -> bool {
        self.reports[self.leaves[leaf].report].window == self.leaves[leaf].window
    }

    /// Queues every page after the first, now that the total says how many, and notes the
    /// leaf done if there are none.
    fn plan(&mut self, leaf: usize, more: bool) -> Result<(), ConnectorError> {
        self.queue_pages(leaf, more)?;
        self.maybe_done(leaf)
    }

    fn queue_pages(&mut self, leaf: usize, more: bool) -> Result<(), ConnectorError> {
        let limit = self.endpoint(self.leaves[leaf].kind).limit;
        self.leaves[leaf].planned_end = limit;
        match self.leaves[leaf].total {
            Some(total) => {
                for offset in later_offsets(total, limit) {
                    self.push_page(leaf, offset);
                    self.leaves[leaf].pages += 1;
                    self.leaves[leaf].planned_end = offset + limit;
                }
                // A total that was already too small when it was counted.
                if more && total <= limit {
                    self.extend(leaf)?;
                }
                Ok(())
            }
            // Without a total, one page after the other.
            None if more => self.extend(leaf),
            None => Ok(()),
        }
    }

    /// One page more than planned; at the cap, the window is split instead.
    fn extend(&mut self, leaf: usize) -> Result<(), ConnectorError> {
        let endpoint = self.endpoint(self.leaves[leaf].kind);
        let next = self.leaves[leaf].planned_end;
        if !endpoint.reachable(next) {
            // Items of this window already emitted are emitted again: upserts.
            return self.split(leaf, None);
        }
        self.push_page(leaf, next);
        self.leaves[leaf].pages += 1;
        self.leaves[leaf].planned_end = next + endpoint.limit;
        Ok(())
    }

    /// Replaces a window holding more than the cap by its two halves.
    fn split(&mut self, leaf: usize, total: Option<u64>) -> Result<(), ConnectorError> {
        let Leaf { kind, part, window, report, .. } = self.leaves[leaf];
        let Some((newer, older)) = window.bisect() else {
            let count = total.map_or_else(|| format!("more than {OFFSET_CAP}"), |t| t.to_string());
            return Err(ConnectorError::internal(format!(
                "GET {}: {count} items in the one-second window {window}; PagerDuty's offset pagination \
                 cannot list them all, so the sync stops rather than lose some",
                self.endpoint(kind).path
            )));
        };
        self.leaves[leaf].status = Status::Dropped;
        self.reports[report].open += 1;
        match part {
            Part::Backfill => self.coverage[kind.index()].split(window, [newer, older]),
            Part::Incremental => {
                if let Some(incremental) = self.incremental.as_mut() {
                    incremental.open -= 1;
                }
            }
            Part::Relist => {}
        }
        self.add_leaf(kind, part, newer, report);
        self.add_leaf(kind, part, older, report);
        Ok(())
    }

    /// Marks a leaf done once no page of it is left.
    fn maybe_done(&mut self, leaf: usize) -> Result<(), ConnectorError> {
        if self.leaves[leaf].pages > 0 || self.leaves[leaf].status != Status::Paging {
            return Ok(());
        }
        self.leaves[leaf].status = Status::Done;
        let Leaf { kind, part, window, report, .. } = self.leaves[leaf];
        self.reports[report].open -= 1;
        if self.reports[report].open == 0 {
            self.log_report(report)?;
        }
        match part {
            Part::Backfill => {
                self.coverage[kind.index()].finish(window);
                Ok(())
            }
            Part::Incremental => {
                if let Some(incremental) = self.incremental.as_mut() {
                    incremental.open -= 1;
                }
                self.incremental_progressed()
            }
            Part::Relist => self.relisted(),
        }
    }

    fn log_report(&mut self, report: usize) -> Result<(), ConnectorError> {
        let Report { window, part, items, requests, .. } = self.reports[report];
        let message = match part {
            Part::Relist => format!("window {window} listed again: {} incidents, {requests} requests", items[0]),
            _ => format!("window {window}: {} incidents, {} log entries, {requests} requests", items[0], items[1]),
        };
        Ok(self.out.log(LogLevel::Info, message)?)
    }

    /// Emits a page's records and notes what the incremental range needs from them.
    fn emit(&mut self, leaf: usize, page: &Page) -> Result<(), ConnectorError> {
        let Leaf { kind, part, report, .. } = self.leaves[leaf];
        self.progress.done += page.items.len() as u64;
        let services = ServiceFilter(self.config.service_ids.as_deref());
        let mut emitted = 0;
        for item in &page.items {
            match kind {
                Kind::Incidents => {
                    if let (Some(id), Some(incremental)) = (item["id"].as_str(), self.incremental.as_mut()) {
                        match (part, &mut incremental.changed) {
                            (Part::Incremental, _) => {
                                incremental.listed.insert(id.to_owned());
                            }
                            (Part::Relist, Changed::Probing { missing, .. } | Changed::Relisting { missing, .. }) => {
                                missing.remove(id);
                            }
                            _ => {}
                        }
                    }
                    self.out.record(&records::incident(item))?;
                }
                Kind::LogEntries => {
                    // `/log_entries` has no service filter: apply serviceIds here.
                    if !services.wants(item) {
                        continue;
                    }
                    if let (Part::Incremental, Some(incremental)) = (part, self.incremental.as_mut()) {
                        if let Some(id) = item["incident"]["id"].as_str() {
                            if incremental.seen.insert(id.to_owned()) {
                                incremental.touched.push(id.to_owned());
                            }
                        }
                    }
                    self.out.record(&records::log_entry(item))?;
                }
            }
            emitted += 1;
        }
        self.reports[report].items[kind.index()] += emitted;
        Ok(self.out.flush()?)
    }

    /// The incremental range moved on: once it is listed, the changed incidents.
    fn incremental_progressed(&mut self) -> Result<(), ConnectorError> {
        let Some(incremental) = self.incremental.as_ref() else { return Ok(()) };
        if incremental.open > 0 || !matches!(incremental.changed, Changed::Waiting) {
            return Ok(());
        }
        let from = incremental.from;
        let changed: Vec<String> =
            incremental.touched.iter().filter(|id| !incremental.listed.contains(*id)).cloned().collect();
        let mut valid = Vec::new();
        for id in changed {
            if id.chars().all(|c| c.is_ascii_alphanumeric()) {
                valid.push(id);
            } else {
                let message = format!("log entries name incident id {id:?}, which is not a PagerDuty id; skipped");
                self.out.log(LogLevel::Warn, message)?;
            }
        }
        let began = Began { requests: self.client.requests(), count: valid.len() };
        // Changed incidents created since the cutoff lie in the range the previous syncs
        // covered (older ones are not wanted; those of a backfill still owed are listed by it).
        let windows = plan_backwards(self.cutoff.max(self.backfill_top), from);
        if valid.is_empty() {
            self.set_changed(Changed::Done);
        } else if valid.len() <= windows.len() {
            // Listing costs at least a request per window: fetching each is no dearer.
            self.fetch_changed(valid, began);
        } else {
            for window in windows {
                self.add_window(window, Part::Relist);
            }
            self.set_changed(Changed::Probing { missing: valid.into_iter().collect(), began });
        }
        Ok(())
    }

    fn set_changed(&mut self, changed: Changed) {
        if let Some(incremental) = self.incremental.as_mut() {
            incremental.changed = changed;
        }
    }

    fn changed(&mut self) -> Option<&mut Changed> {
        self.incremental.as_mut().map(|incremental| &mut incremental.changed)
    }

    /// `GET /incidents/{id}` for each of `ids` (at least one).
    fn fetch_changed(&mut self, ids: impl IntoIterator<Item = String>, began: Began) {
        let mut left = 0;
        for id in ids {
            let request = Request { path: format!("/incidents/{id}"), query: Query::new() };
            let priority = Priority { class: LATER_PAGES, newest_first: -self.now.timestamp(), offset: 0 };
            self.pool.push(priority, request, Tag::Changed(id));
            left += 1;
        }
        self.progress.expected += left as u64;
        self.set_changed(Changed::Fetching { left, emitted: 0, began });
    }

    /// Leaves listing the range of the changed incidents again, with `status`.
    fn relist_leaves(&self, wanted: impl Fn(Status) -> bool) -> Vec<usize> {
        (0..self.leaves.len())
            .filter(|&l| self.leaves[l].part == Part::Relist && wanted(self.leaves[l].status))
            .collect()
    }

    /// A first page of the range listed again came in: once all have, the totals say what
    /// listing the rest costs, and the cheaper way to the changed incidents not found yet
    /// is taken.
    fn probed(&mut self) -> Result<(), ConnectorError> {
        if !self.relist_leaves(|status| status == Status::Probing).is_empty() {
            return Ok(());
        }
        let Some(Changed::Probing { missing, began }) = self.changed().map(|c| std::mem::replace(c, Changed::Done))
        else {
            return Ok(());
        };
        let held = self.relist_leaves(|status| status == Status::Held);
        let limit = self.endpoint(Kind::Incidents).limit;
        let cost: u64 = held
            .iter()
            .map(|&l| self.leaves[l].total.map_or(u64::MAX / 4, |total| listing_cost(total, limit) - 1))
            .sum();
        if missing.is_empty() {
            for &leaf in &held {
                self.leaves[leaf].status = Status::Dropped;
            }
            return self.changed_done(began, "found on the first pages of their range");
        }
        if cost < missing.len() as u64 {
            self.set_changed(Changed::Relisting { missing, began });
            for &leaf in &held {
                self.leaves[leaf].status = Status::Paging;
                let total = self.leaves[leaf].total;
                self.progress.expected += total.map_or(0, |total| total.saturating_sub(limit));
                self.queue_pages(leaf, total.is_none_or(|total| total > limit))?;
            }
            for &leaf in &held {
                self.maybe_done(leaf)?;
            }
            return self.relisted();
        }
        for &leaf in &held {
            self.leaves[leaf].status = Status::Dropped;
        }
        self.fetch_changed(missing, began);
        Ok(())
    }

    /// A page of the range listed again came in: done once every changed incident is
    /// found (the rest of the listing is cancelled) or the range is listed.
    fn relisted(&mut self) -> Result<(), ConnectorError> {
        let Some(Changed::Relisting { missing, began }) = self.changed() else { return Ok(()) };
        let (found, began) = (missing.is_empty(), *began);
        let open = self.relist_leaves(|status| matches!(status, Status::Probing | Status::Paging));
        if !found && !open.is_empty() {
            return Ok(());
        }
        let limit = self.endpoint(Kind::Incidents).limit;
        for tag in self.pool.cancel(|tag| matches!(tag, Tag::Page { leaf, .. } if open.contains(leaf))) {
            if let Tag::Page { leaf, offset } = tag {
                let left = self.leaves[leaf].total.map_or(0, |total| total.saturating_sub(offset).min(limit));
                self.progress.expected = self.progress.expected.saturating_sub(if offset == 0 { 0 } else { left });
            }
        }
        for leaf in open {
            self.leaves[leaf].status = Status::Dropped;
        }
        self.changed_done(began, if found { "found by listing their range again" } else { "listed again" })
    }

    fn changed_done(&mut self, began: Began, how: &str) -> Result<(), ConnectorError> {
        self.set_changed(Changed::Done);
        let requests = self.client.requests().saturating_sub(began.requests);
        Ok(self.out.log(LogLevel::Info, format!("{} changed incidents {how}, in {requests} requests", began.count))?)
    }

    /// The answer to `GET /incidents/{id}` for a changed incident.
    fn changed_incident(&mut self, id: &str, answer: Result<Value, ApiError>) -> Result<(), ConnectorError> {
        self.progress.done += 1;
        let wanted = match answer {
            Ok(answer) => {
                let incident = &answer["incident"];
                let wanted = self.wanted_incident(incident);
                if wanted {
                    self.out.record(&records::incident(incident))?;
                }
                wanted
            }
            Err(e) if e.status() == Some(404) => {
                self.out.log(LogLevel::Warn, format!("incident {id} is gone (404); skipped"))?;
                false
            }
            Err(e) => return Err(e.into()),
        };
        let Some(Changed::Fetching { left, emitted, began }) = self.changed() else { return Ok(()) };
        *left -= 1;
        *emitted += usize::from(wanted);
        if *left > 0 {
            return Ok(());
        }
        let (emitted, began) = (*emitted, *began);
        self.changed_done(began, &format!("fetched one by one ({emitted} emitted)"))
    }

    /// Created at or after the cutoff, and of a selected service.
    fn wanted_incident(&self, incident: &Value) -> bool {
        let created = incident["created_at"].as_str().and_then(|t| DateTime::parse_from_rfc3339(t).ok());
        let recent = created.is_none_or(|t| t >= self.cutoff);
        recent && ServiceFilter(self.config.service_ids.as_deref()).wants(incident)
    }

    /// Emits a state when what is covered without a hole has grown.
    fn checkpoint(&mut self) -> Result<(), ConnectorError> {
        let cursor = self.coverage.iter().map(Coverage::to).max().unwrap_or(self.state.cursor);
        let incremental_done =
            self.incremental.as_ref().is_none_or(|i| i.open == 0 && matches!(i.changed, Changed::Done));
        let high_water_mark = if incremental_done { self.now } else { self.state.high_water_mark };
        if !self.state.advance(cursor, high_water_mark, self.cutoff) {
            return Ok(());
        }
        self.state_emitted = true;
        Ok(self.out.state(&self.state.to_value())?)
    }

    /// Says how far the sync has got: at most every [`PROGRESS_EVERY`], at once when the
    /// total changes, and at the end.
    fn report_progress(&mut self, last: bool) -> Result<(), ConnectorError> {
        let (done, total) = (self.progress.done, self.progress.total());
        let now = Instant::now();
        if let Some((at, was_done, was_total)) = self.progress.last {
            // A new total is news at once; more done can wait a little.
            let unchanged = (was_done, was_total) == (done, total);
            if unchanged || (!last && was_total == total && now.duration_since(at) < PROGRESS_EVERY) {
                return Ok(());
            }
        }
        self.progress.last = Some((now, done, total));
        Ok(self.out.progress(&ProgressMessage::items(done, total))?)
    }

    /// Requests still to make, when they are all known: every planned page is queued, so
    /// it is what the pool holds, once no first page is out and the changed incidents are
    /// decided.
    fn demand(&self) -> Option<u64> {
        let deciding =
            self.incremental.as_ref().is_some_and(|i| matches!(i.changed, Changed::Waiting | Changed::Probing { .. }));
        let probing = self.leaves.iter().any(|leaf| leaf.status == Status::Probing);
        let known = !deciding && !probing && self.progress.pending == 0 && !self.progress.unknowable;
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
    use crate::testserver::{Reply, TestServer};

    /// A fake API: `count` incidents at `start + k * step` seconds (`k` in `0..count`, id
    /// `I<k>`), no log entries, empty small lists. It honours since/until, limit, offset,
    /// newest first, the cap, and `total=true` unless `totals` is off.
    fn fake(count: u64, start: &str, step: f64, totals: bool) -> TestServer {
        let start = parse_cutoff(start).unwrap().timestamp();
        TestServer::start(move |target, _| {
            let url = Url::parse(&format!("http://x{target}")).unwrap();
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
    fn january(server: &TestServer) -> (Result<(), ConnectorError>, Vec<Value>, Vec<String>) {
        let config: Config =
            serde_json::from_value(json!({"apiToken": "abcd1234", "apiBaseUrl": server.base_url})).unwrap();
        let (mut out, captured) = Emitter::in_memory();
        let client = Arc::new(client::connect(&config).unwrap());
        let (cutoff, now) = (parse_cutoff("2026-01-01").unwrap(), parse_cutoff("2026-02-01").unwrap());
        let result = Sync::new(&config, client, &mut out, cutoff, now, None).run();
        out.flush().unwrap();
        let incidents = server.targets().into_iter().filter(|t| t.starts_with("/incidents?")).collect();
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
        let (result, messages, targets) = january(&server);
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
