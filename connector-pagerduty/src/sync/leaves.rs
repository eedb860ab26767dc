//! Leaves: windows of one kind of item (incidents, or log entries) to page through, what
//! the backfill, the incremental range and a relisting are made of. A leaf's first page
//! asks for the total, which plans every later page (all queued at once) or splits the
//! window first (over the 10,000 offset cap). Each top-level window keeps a report of its
//! leaves, logged once all are done.

use std::ops::{Index, IndexMut};

use connector_sdk::http::Priority;
use connector_sdk::{ConnectorError, LogLevel};
use serde_json::Value;

use super::{Kind, Part, PerKind, ServiceFilter, Sync, Tag, FIRST_PAGES, LATER_PAGES};
use crate::client::ApiError;
use crate::paging::{later_offsets, Page, OFFSET_CAP};
use crate::records;
use crate::windows::Window;

/// Which leaf of the sync.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct LeafId(usize);

/// Which top-level window of the sync (a split window's leaves share their top's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct WindowId(usize);

/// Where a leaf stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Status {
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
pub(super) struct Leaf {
    kind: Kind,
    part: Part,
    window: Window,
    /// The top-level window it belongs to (for the log).
    report: WindowId,
    pub(super) status: Status,
    /// Its total, once the first page said it.
    pub(super) total: Option<u64>,
    /// Pages queued or in flight.
    pages: u64,
    /// One past the last offset planned.
    planned_end: u64,
}

/// A top-level window, for the log line said when all its leaves are done.
#[derive(Debug)]
pub(super) struct Report {
    window: Window,
    part: Part,
    open: usize,
    items: PerKind<u64>,
    requests: u64,
}

/// Every leaf and top-level window of a sync.
#[derive(Debug, Default)]
pub(super) struct Leaves {
    leaves: Vec<Leaf>,
    reports: Vec<Report>,
}

impl Leaves {
    /// Whether a first page is out.
    pub(super) fn any_probing(&self) -> bool {
        self.leaves.iter().any(|leaf| leaf.status == Status::Probing)
    }

    /// Leaves listing the range of the changed incidents again, with a `wanted` status.
    pub(super) fn relisting(&self, wanted: impl Fn(Status) -> bool) -> Vec<LeafId> {
        let relisting = |leaf: &Leaf| leaf.part == Part::Relist && wanted(leaf.status);
        self.leaves.iter().enumerate().filter(|(_, leaf)| relisting(leaf)).map(|(id, _)| LeafId(id)).collect()
    }

    /// Leaves no longer wanted.
    pub(super) fn drop_all(&mut self, leaves: &[LeafId]) {
        for &leaf in leaves {
            self[leaf].status = Status::Dropped;
        }
    }

    /// Whether a leaf is one of a top-level window's (not a part of a split one).
    fn is_top(&self, leaf: LeafId) -> bool {
        self[self[leaf].report].window == self[leaf].window
    }
}

impl Index<LeafId> for Leaves {
    type Output = Leaf;

    fn index(&self, id: LeafId) -> &Leaf {
        &self.leaves[id.0]
    }
}

impl IndexMut<LeafId> for Leaves {
    fn index_mut(&mut self, id: LeafId) -> &mut Leaf {
        &mut self.leaves[id.0]
    }
}

impl Index<WindowId> for Leaves {
    type Output = Report;

    fn index(&self, id: WindowId) -> &Report {
        &self.reports[id.0]
    }
}

impl IndexMut<WindowId> for Leaves {
    fn index_mut(&mut self, id: WindowId) -> &mut Report {
        &mut self.reports[id.0]
    }
}

impl Sync<'_> {
    /// A top-level window: one leaf per kind, first pages queued.
    pub(super) fn add_window(&mut self, window: Window, part: Part) {
        let report = WindowId(self.leaves.reports.len());
        let kinds: &[Kind] = if part == Part::Relist { &[Kind::Incidents] } else { &Kind::BOTH };
        self.leaves.reports.push(Report { window, part, open: kinds.len(), items: PerKind::default(), requests: 0 });
        for &kind in kinds {
            self.add_leaf(kind, part, window, report);
            if part == Part::Backfill {
                self.backfill.add(kind, window);
            }
            if part != Part::Relist {
                self.progress.expect_total();
            }
        }
    }

    /// A window of one kind to fetch; its first page is queued. (A backfill window's
    /// place in the coverage is its caller's business.)
    fn add_leaf(&mut self, kind: Kind, part: Part, window: Window, report: WindowId) {
        let leaf = LeafId(self.leaves.leaves.len());
        self.leaves.leaves.push(Leaf {
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
            incremental.leaf_opened();
        }
        self.push_page(leaf, 0);
    }

    fn push_page(&mut self, leaf: LeafId, offset: u64) {
        let Leaf { kind, window, .. } = self.leaves[leaf];
        let request = self.endpoint(kind).request(Some(window), offset, offset == 0);
        let class = if offset == 0 { FIRST_PAGES } else { LATER_PAGES };
        let priority = Priority { class, newest_first: -window.until.timestamp(), offset };
        self.pool.push(priority, request, Tag::Page { leaf, offset });
    }

    /// A page of a window.
    pub(super) fn leaf_page(
        &mut self,
        leaf: LeafId,
        offset: u64,
        answer: Result<Value, ApiError>,
    ) -> Result<(), ConnectorError> {
        let endpoint = self.endpoint(self.leaves[leaf].kind);
        let page = endpoint.page(answer?)?;
        let Leaf { part, status, report, .. } = self.leaves[leaf];
        self.leaves[report].requests += 1;
        if status == Status::Probing {
            if part != Part::Relist && self.leaves.is_top(leaf) {
                self.progress.total_came(page.total);
            }
            if page.total.is_some_and(|total| total > OFFSET_CAP) {
                return self.split(leaf, page.total);
            }
            self.leaves[leaf].total = page.total;
            if part == Part::Relist {
                self.progress.expect(page.items.len() as u64);
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

    /// Queues every page after the first, now that the total says how many, and notes the
    /// leaf done if there are none.
    fn plan(&mut self, leaf: LeafId, more: bool) -> Result<(), ConnectorError> {
        self.queue_pages(leaf, more)?;
        self.maybe_done(leaf)
    }

    pub(super) fn queue_pages(&mut self, leaf: LeafId, more: bool) -> Result<(), ConnectorError> {
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
    fn extend(&mut self, leaf: LeafId) -> Result<(), ConnectorError> {
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
    fn split(&mut self, leaf: LeafId, total: Option<u64>) -> Result<(), ConnectorError> {
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
        self.leaves[report].open += 1;
        match part {
            Part::Backfill => self.backfill.split(kind, window, [newer, older]),
            Part::Incremental => {
                if let Some(incremental) = self.incremental.as_mut() {
                    incremental.leaf_closed();
                }
            }
            Part::Relist => {}
        }
        self.add_leaf(kind, part, newer, report);
        self.add_leaf(kind, part, older, report);
        Ok(())
    }

    /// Marks a leaf done once no page of it is left.
    pub(super) fn maybe_done(&mut self, leaf: LeafId) -> Result<(), ConnectorError> {
        if self.leaves[leaf].pages > 0 || self.leaves[leaf].status != Status::Paging {
            return Ok(());
        }
        self.leaves[leaf].status = Status::Done;
        let Leaf { kind, part, window, report, .. } = self.leaves[leaf];
        self.leaves[report].open -= 1;
        if self.leaves[report].open == 0 {
            self.log_report(report)?;
        }
        match part {
            Part::Backfill => {
                self.backfill.finish(kind, window);
                Ok(())
            }
            Part::Incremental => {
                if let Some(incremental) = self.incremental.as_mut() {
                    incremental.leaf_closed();
                }
                self.incremental_progressed()
            }
            Part::Relist => self.relisted(),
        }
    }

    fn log_report(&mut self, report: WindowId) -> Result<(), ConnectorError> {
        let Report { window, part, ref items, requests, .. } = self.leaves[report];
        let (incidents, log_entries) = (items[Kind::Incidents], items[Kind::LogEntries]);
        let message = match part {
            Part::Relist => format!("window {window} listed again: {incidents} incidents, {requests} requests"),
            _ => format!("window {window}: {incidents} incidents, {log_entries} log entries, {requests} requests"),
        };
        Ok(self.out.log(LogLevel::Info, message)?)
    }

    /// Emits a page's records and notes what the incremental range needs from them.
    fn emit(&mut self, leaf: LeafId, page: &Page) -> Result<(), ConnectorError> {
        let Leaf { kind, part, report, .. } = self.leaves[leaf];
        self.progress.received(page.items.len() as u64);
        let services = ServiceFilter(self.config.service_ids.as_deref());
        let mut emitted = 0;
        for item in &page.items {
            match kind {
                Kind::Incidents => {
                    if let (Some(id), Some(incremental)) = (item["id"].as_str(), self.incremental.as_mut()) {
                        incremental.saw_incident(part, id);
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
                            incremental.saw_log_entry(id);
                        }
                    }
                    self.out.record(&records::log_entry(item))?;
                }
            }
            emitted += 1;
        }
        self.leaves[report].items[kind] += emitted;
        Ok(self.out.flush()?)
    }
}
