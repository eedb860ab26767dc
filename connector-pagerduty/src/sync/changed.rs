//! The changed incidents: those the incremental range's log entries name but it did not
//! list (created earlier, changed since). Each is fetched with `GET /incidents/{id}`, or,
//! when that costs more requests, the range they were created in is listed again, newest
//! first, until every one is found. The first pages of that range (with their totals)
//! decide which way is cheaper.

use std::collections::HashSet;

use chrono::DateTime;
use connector_sdk::http::{Priority, Request};
use connector_sdk::{ConnectorError, LogLevel};
use serde_json::Value;

use super::leaves::Status;
use super::{Kind, Part, ServiceFilter, Sync, Tag, LATER_PAGES};
use crate::client::{ApiError, Query};
use crate::paging::listing_cost;
use crate::records;
use crate::windows::plan_backwards;

/// Fetching the changed incidents.
#[derive(Debug)]
pub(super) enum Changed {
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

impl Changed {
    /// Incident `id` came in the range listed again.
    pub(super) fn found(&mut self, id: &str) {
        if let Changed::Probing { missing, .. } | Changed::Relisting { missing, .. } = self {
            missing.remove(id);
        }
    }
}

/// When the changed incidents were taken up, for the log.
#[derive(Debug, Clone, Copy)]
pub(super) struct Began {
    requests: u64,
    count: usize,
}

impl Sync<'_> {
    /// The incremental range moved on: once it is listed, the changed incidents.
    pub(super) fn incremental_progressed(&mut self) -> Result<(), ConnectorError> {
        let Some(incremental) = self.incremental.as_ref() else { return Ok(()) };
        let Some(changed) = incremental.unlisted() else { return Ok(()) };
        let from = incremental.from();
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
        let windows = plan_backwards(self.cutoff.max(self.backfill.top()), from);
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
        self.progress.expect(left as u64);
        self.set_changed(Changed::Fetching { left, emitted: 0, began });
    }

    /// A first page of the range listed again came in: once all have, the totals say what
    /// listing the rest costs, and the cheaper way to the changed incidents not found yet
    /// is taken.
    pub(super) fn probed(&mut self) -> Result<(), ConnectorError> {
        if !self.leaves.relisting(|status| status == Status::Probing).is_empty() {
            return Ok(());
        }
        let Some(Changed::Probing { missing, began }) = self.changed().map(|c| std::mem::replace(c, Changed::Done))
        else {
            return Ok(());
        };
        let held = self.leaves.relisting(|status| status == Status::Held);
        if missing.is_empty() {
            self.leaves.drop_all(&held);
            return self.changed_done(began, "found on the first pages of their range");
        }
        let limit = self.endpoint(Kind::Incidents).limit;
        let cost: u64 = held
            .iter()
            .map(|&l| self.leaves[l].total.map_or(u64::MAX / 4, |total| listing_cost(total, limit) - 1))
            .sum();
        if cost >= missing.len() as u64 {
            self.leaves.drop_all(&held);
            self.fetch_changed(missing, began);
            return Ok(());
        }
        self.set_changed(Changed::Relisting { missing, began });
        for &leaf in &held {
            self.leaves[leaf].status = Status::Paging;
            let total = self.leaves[leaf].total;
            self.progress.expect(total.map_or(0, |total| total.saturating_sub(limit)));
            self.queue_pages(leaf, total.is_none_or(|total| total > limit))?;
        }
        for &leaf in &held {
            self.maybe_done(leaf)?;
        }
        self.relisted()
    }

    /// A page of the range listed again came in: done once every changed incident is
    /// found (the rest of the listing is cancelled) or the range is listed.
    pub(super) fn relisted(&mut self) -> Result<(), ConnectorError> {
        let Some(Changed::Relisting { missing, began }) = self.changed() else { return Ok(()) };
        let (found, began) = (missing.is_empty(), *began);
        let open = self.leaves.relisting(|status| matches!(status, Status::Probing | Status::Paging));
        if !found && !open.is_empty() {
            return Ok(());
        }
        let limit = self.endpoint(Kind::Incidents).limit;
        for tag in self.pool.cancel(|tag| matches!(tag, Tag::Page { leaf, .. } if open.contains(leaf))) {
            if let Tag::Page { leaf, offset } = tag {
                let left = self.leaves[leaf].total.map_or(0, |total| total.saturating_sub(offset).min(limit));
                self.progress.unexpect(if offset == 0 { 0 } else { left });
            }
        }
        self.leaves.drop_all(&open);
        self.changed_done(began, if found { "found by listing their range again" } else { "listed again" })
    }

    fn changed_done(&mut self, began: Began, how: &str) -> Result<(), ConnectorError> {
        self.set_changed(Changed::Done);
        let requests = self.client.requests().saturating_sub(began.requests);
        Ok(self.out.log(LogLevel::Info, format!("{} changed incidents {how}, in {requests} requests", began.count))?)
    }

    /// The answer to `GET /incidents/{id}` for a changed incident.
    pub(super) fn changed_incident(&mut self, id: &str, answer: Result<Value, ApiError>) -> Result<(), ConnectorError> {
        self.progress.received(1);
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
}
