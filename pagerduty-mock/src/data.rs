//! The simulated account: a compact index of incident creation times, the lazily built
//! log-entry index, and the small churn overlay.
//!
//! Memory per generated incident is 4 bytes (its creation time); log entries cost 8
//! bytes each once `/log_entries` is first used. Everything else is recomputed from the
//! seed by [`Facts::generate`].

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use crate::catalog::Catalog;
use crate::config::Plan;
use crate::ids::{IdCodec, LOG_SLOTS};
use crate::incident::{Actor, Entry, EntryKind, Facts, Status};
use crate::rng::Rng;

const SALT_TIME: u64 = 0x7113;
const SALT_STORM: u64 = 0x5707;
/// Share of the base incidents that fall into "storm" hours (alert floods).
const STORM_SHARE: f64 = 0.10;

/// One log entry located in the account: incident index, position, kind, time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LogRef {
    pub(crate) at: i64,
    pub(crate) n: u64,
    pub(crate) pos: u64,
    pub(crate) kind: EntryKind,
}

/// Changes made through `/__mock/churn`, on top of the generated data.
#[derive(Debug, Default)]
struct Overlay {
    /// Creation times of churned incidents (indices follow the generated ones).
    created: Vec<i64>,
    /// Entries appended to incidents' timelines (acknowledge, resolve).
    extra: HashMap<u64, Vec<Entry>>,
    /// Every churn log entry, in time order; all are later than generated entries.
    log: Vec<LogRef>,
}

/// The whole simulated account.
#[derive(Debug)]
pub(crate) struct World {
    pub(crate) plan: Plan,
    pub(crate) catalog: Catalog,
    pub(crate) ids: IdCodec,
    /// Seconds after `plan.start` of each generated incident, ascending.
    created: Vec<u32>,
    log_index: Mutex<Option<Arc<Vec<u64>>>>,
    overlay: RwLock<Overlay>,
    /// Simulator clock: the reference now, moved past churned data.
    clock: RwLock<i64>,
    cancel: AtomicBool,
}

impl World {
    /// Generates the creation-time index (the only O(incidents) work at start).
    pub(crate) fn new(plan: Plan) -> World {
        let created = creation_offsets(&plan);
        World {
            catalog: Catalog::build(plan.start),
            ids: IdCodec::new(plan.seed),
            clock: RwLock::new(plan.now),
            plan,
            created,
            log_index: Mutex::new(None),
            overlay: RwLock::new(Overlay::default()),
            cancel: AtomicBool::new(false),
        }
    }

    /// The simulator's "now" in unix seconds.
    pub(crate) fn now(&self) -> i64 {
        *self.clock.read().unwrap_or_else(|e| e.into_inner())
    }

    fn generated(&self) -> u64 {
        self.created.len() as u64
    }

    /// All incidents, generated and churned.
    pub(crate) fn total(&self) -> u64 {
        self.generated() + self.read_overlay().created.len() as u64
    }

    fn read_overlay(&self) -> std::sync::RwLockReadGuard<'_, Overlay> {
        self.overlay.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Creation time of incident `n`, if it exists.
    #[cfg(test)]
    pub(crate) fn created_at(&self, n: u64) -> Option<i64> {
        self.created_in(&self.read_overlay(), n)
    }

    /// Creation time of incident `n` with `overlay`'s churned incidents.
    fn created_in(&self, overlay: &Overlay, n: u64) -> Option<i64> {
        match n.checked_sub(self.generated()) {
            None => self.created.get(n as usize).map(|&offset| self.plan.start + i64::from(offset)),
            Some(churned) => overlay.created.get(churned as usize).copied(),
        }
    }

    /// Incident `n` with its churn changes applied.
    pub(crate) fn incident(&self, n: u64) -> Option<Facts> {
        self.facts_in(&self.read_overlay(), n)
    }

    /// Incident `n` as `overlay` changes it. Churn passes the overlay it holds
    /// write-locked, so this must not lock it again.
    fn facts_in(&self, overlay: &Overlay, n: u64) -> Option<Facts> {
        let created = self.created_in(overlay, n)?;
        let mut facts = if n < self.generated() {
            Facts::generate(self.plan.seed, &self.catalog, n, created, self.plan.now)
        } else {
            Facts::fresh(self.plan.seed, &self.catalog, n, created)
        };
        if let Some(extra) = overlay.extra.get(&n) {
            extra.iter().for_each(|e| facts.push(*e));
        }
        Some(facts)
    }

    /// Indices of incidents created in `[since, until)`, in creation order.
    pub(crate) fn created_between(&self, since: i64, until: i64) -> Range<u64> {
        let lo = self.count_created_before(since);
        lo..self.count_created_before(until).max(lo)
    }

    /// How many incidents were created before `t`. Churned incidents are all newer than
    /// generated ones, so the two counts simply add up.
    fn count_created_before(&self, t: i64) -> u64 {
        let rel = t - self.plan.start;
        let generated = self.created.partition_point(|&c| i64::from(c) < rel) as u64;
        generated + self.read_overlay().created.partition_point(|&c| c < t) as u64
    }

    /// Log entries created in `[since, until)`, oldest first.
    pub(crate) fn log_between(&self, since: i64, until: i64) -> LogSlice {
        let index = self.log_index();
        // Keys sort by their high 32 bits (seconds after start) first.
        let before = |t: i64| {
            let rel = (t - self.plan.start).clamp(0, i64::from(u32::MAX)) as u64;
            index.partition_point(|&k| k < rel << 32)
        };
        let (lo, hi) = (before(since), before(until));
        let o = self.read_overlay();
        let a = o.log.partition_point(|e| e.at < since);
        let b = o.log.partition_point(|e| e.at < until);
        LogSlice { start: self.plan.start, generated: index, gen: lo..hi.max(lo), churn: o.log[a..b.max(a)].to_vec() }
    }

    /// The generated log index, building it on first use.
    fn log_index(&self) -> Arc<Vec<u64>> {
        let mut slot = self.log_index.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(index) = slot.as_ref() {
            return Arc::clone(index);
        }
        let index = Arc::new(self.build_log_index(false).unwrap_or_default());
        *slot = Some(Arc::clone(&index));
        index
    }

    /// Builds the log index in the background so the first `/log_entries` is fast;
    /// stops early when the server is dropped.
    pub(crate) fn prebuild_log_index(self: &Arc<Self>) {
        let world = Arc::clone(self);
        std::thread::spawn(move || {
            let mut slot = world.log_index.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none() {
                if let Some(index) = world.build_log_index(true) {
                    *slot = Some(Arc::new(index));
                }
            }
        });
    }

    /// Stops a background build (called when the server shuts down).
    pub(crate) fn cancel_background_work(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }

    /// Packs every generated entry as `offset << 32 | n << 7 | pos << 3 | kind` and sorts.
    fn build_log_index(&self, cancellable: bool) -> Option<Vec<u64>> {
        let mut keys = Vec::with_capacity(self.created.len() * 5);
        // Generated incidents only: churn entries are kept in the overlay's own log.
        let generated = Overlay::default();
        for n in 0..self.generated() {
            if cancellable && n % 65_536 == 0 && self.cancel.load(Ordering::Relaxed) {
                return None;
            }
            let Some(f) = self.facts_in(&generated, n) else { break };
            for (pos, e) in f.entries().enumerate() {
                keys.push(pack(e.at - self.plan.start, n, pos as u64, e.kind));
            }
        }
        keys.sort_unstable();
        Some(keys)
    }

    /// Applies a churn: resolves up to `resolve` open incidents (newest first) and adds
    /// `new` triggered incidents, all at one instant after every existing entry.
    pub(crate) fn churn(&self, new: u64, resolve: u64, wall: i64) -> (i64, Vec<u64>, Vec<u64>) {
        let mut clock = self.clock.write().unwrap_or_else(|e| e.into_inner());
        let at = wall.max(*clock);
        let resolved = self.pick_open(resolve);
        let mut o = self.overlay.write().unwrap_or_else(|e| e.into_inner());
        for (n, acked) in &resolved {
            let Some(f) = self.facts_in(&o, *n) else { continue };
            let (user, _) = f.current_assignee();
            let mut added = Vec::new();
            if !acked {
                added.push(Entry {
                    kind: EntryKind::Acknowledge,
                    at,
                    agent: Actor::User(user),
                    target: None,
                    channel: "web_ui",
                });
            }
            added.push(Entry {
                kind: EntryKind::Resolve,
                at,
                agent: Actor::User(user),
                target: None,
                channel: "web_ui",
            });
            let base = f.entries().len() as u64;
            for (i, e) in added.iter().enumerate() {
                o.log.push(LogRef { at, n: *n, pos: base + i as u64, kind: e.kind });
            }
            o.extra.entry(*n).or_default().extend(added);
        }
        let mut created = Vec::new();
        for _ in 0..new {
            let n = self.generated() + o.created.len() as u64;
            o.created.push(at);
            o.log.push(LogRef { at, n, pos: 0, kind: EntryKind::Trigger });
            o.log.push(LogRef { at, n, pos: 1, kind: EntryKind::Assign });
            created.push(n);
        }
        *clock = at + 1;
        (at, created, resolved.into_iter().map(|(n, _)| n).collect())
    }

    /// The `count` newest open incidents, with whether each is acknowledged.
    fn pick_open(&self, count: u64) -> Vec<(u64, bool)> {
        let mut out = Vec::new();
        let mut n = self.total();
        while n > 0 && (out.len() as u64) < count {
            n -= 1;
            if let Some(f) = self.incident(n) {
                match f.status() {
                    Status::Resolved => {}
                    s => out.push((n, s == Status::Acknowledged)),
                }
            }
        }
        out
    }
}

fn pack(offset: i64, n: u64, pos: u64, kind: EntryKind) -> u64 {
    ((offset.max(0) as u64) << 32) | (n << 7) | (pos << 3) | kind as u64
}

/// Log entries of a time range, oldest first: a slice of the generated index followed
/// by churn entries (which are always newer).
#[derive(Debug)]
pub(crate) struct LogSlice {
    start: i64,
    generated: Arc<Vec<u64>>,
    gen: Range<usize>,
    churn: Vec<LogRef>,
}

impl LogSlice {
    pub(crate) fn len(&self) -> usize {
        self.gen.len() + self.churn.len()
    }

    /// The `i`-th entry, oldest first.
    pub(crate) fn get(&self, i: usize) -> Option<LogRef> {
        if i < self.gen.len() {
            let k = self.generated[self.gen.start + i];
            Some(LogRef {
                at: self.start + (k >> 32) as i64,
                n: (k >> 7) & 0x1FF_FFFF,
                pos: (k >> 3) & (LOG_SLOTS - 1),
                kind: EntryKind::from_code(k & 7),
            })
        } else {
            self.churn.get(i - self.gen.len()).copied()
        }
    }
}

/// Creation offsets of all generated incidents, sorted: uniform background, storm
/// hours that carry a tenth of the incidents, and the optional configured burst.
fn creation_offsets(plan: &Plan) -> Vec<u32> {
    let span = (plan.now - plan.start).max(3601) as u64;
    let storms = (plan.incidents / 2000).clamp(1, 200);
    let storm_starts: Vec<u64> = (0..storms).map(|s| Rng::new(plan.seed, SALT_STORM, s).below(span - 3600)).collect();
    let burst_off = (plan.burst_start - plan.start).max(0) as u64;
    let mut out = Vec::with_capacity((plan.incidents + plan.burst_incidents) as usize);
    for i in 0..plan.incidents {
        let mut r = Rng::new(plan.seed, SALT_TIME, i);
        let off =
            if r.unit() < STORM_SHARE { storm_starts[r.below(storms) as usize] + r.below(3600) } else { r.below(span) };
        out.push(off as u32);
    }
    for i in 0..plan.burst_incidents {
        let mut r = Rng::new(plan.seed, SALT_TIME, plan.incidents + i);
        out.push((burst_off + r.below(3600)) as u32);
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::MockConfig;
    use chrono::{TimeZone, Utc};

    fn world(incidents: u64, burst: u64) -> World {
        let cfg = MockConfig {
            incidents,
            burst_incidents: burst,
            days: 60,
            now: Some(Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()),
            ..Default::default()
        };
        World::new(cfg.plan().unwrap())
    }

    #[test]
    fn creation_times_are_sorted_and_inside_the_span() {
        let w = world(5000, 300);
        assert_eq!(w.total(), 5300);
        let times: Vec<i64> = (0..w.total()).filter_map(|n| w.created_at(n)).collect();
        assert!(times.windows(2).all(|p| p[0] <= p[1]));
        assert!(times[0] >= w.plan.start && *times.last().unwrap() < w.plan.now);
        let burst = w.created_between(w.plan.burst_start, w.plan.burst_start + 3600);
        assert!(burst.end - burst.start >= 300);
    }

    #[test]
    fn range_lookup_matches_a_linear_scan() {
        let w = world(3000, 0);
        let (since, until) = (w.plan.start + 86_400 * 10, w.plan.start + 86_400 * 20);
        let expected = (0..w.total()).filter(|&n| w.created_at(n).is_some_and(|t| (since..until).contains(&t))).count();
        let r = w.created_between(since, until);
        assert_eq!((r.end - r.start) as usize, expected);
        assert_eq!(w.created_between(0, 1), 0..0);
        assert_eq!(w.created_between(w.plan.start - 5, w.plan.now + 5), 0..3000);
    }

    #[test]
    fn log_index_covers_every_entry_in_order() {
        let w = world(500, 0);
        let all = w.log_between(w.plan.start, w.plan.now + 1);
        let expected: usize = (0..w.total()).map(|n| w.incident(n).unwrap().entries().len()).sum();
        assert_eq!(all.len(), expected);
        let entries: Vec<LogRef> = (0..all.len()).filter_map(|i| all.get(i)).collect();
        assert!(entries.windows(2).all(|p| p[0].at <= p[1].at));
        let e = entries[17];
        let f = w.incident(e.n).unwrap();
        assert_eq!(f.entry(e.pos as usize).unwrap().at, e.at);
        assert_eq!(f.entry(e.pos as usize).unwrap().kind, e.kind);
    }

    #[test]
    fn churn_adds_and_resolves_after_everything_else() {
        let w = world(1000, 0);
        let before = w.total();
        let (at, created, resolved) = w.churn(3, 2, 0);
        assert!(at >= w.plan.now);
        assert_eq!(created, vec![before, before + 1, before + 2]);
        assert_eq!(resolved.len(), 2);
        for n in &resolved {
            let f = w.incident(*n).unwrap();
            assert_eq!(f.status(), Status::Resolved);
            assert_eq!(f.resolved_at(), Some(at));
        }
        assert_eq!(w.created_between(at, at + 1), before..before + 3);
        assert!(w.now() > at);
        let log = w.log_between(at, at + 1);
        assert!(log.len() >= 3 * 2 + 2);
    }
}
