//! Ground truth for tests: which incidents and log entries exist in a time range, so a
//! connector test can assert it synced exactly those, and every incident and log entry
//! one by one, so a test can check the simulator's indexed answers by brute force.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::config::MockConfig;
use crate::data::World;
use crate::error::MockError;
use crate::ids::Kind;
use crate::incident::Facts;

/// Read-only view of a simulator's data.
#[derive(Debug, Clone)]
pub struct Dataset {
    world: Arc<World>,
}

/// One incident as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncidentTruth {
    /// Incident ID (`P` + 6 characters).
    pub id: String,
    /// `incident_number`.
    pub incident_number: u64,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
    /// `status`.
    pub status: String,
    /// IDs of its log entries, oldest first.
    pub log_entry_ids: Vec<String>,
}

/// One log entry as the API serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntryTruth {
    /// Log entry ID (`R` + 13 characters).
    pub id: String,
    /// `type`, such as `trigger_log_entry`.
    pub kind: String,
    /// `created_at`.
    pub created_at: DateTime<Utc>,
    /// ID of its incident.
    pub incident_id: String,
}

/// The data a server started with `config` serves (before any churn).
///
/// Set `config.now`: without it, "now" is the current hour, which can differ from the
/// server's if the hour turns in between. Prefer [`crate::MockServer::dataset`].
///
/// # Errors
/// [`MockError::InvalidConfig`] for out-of-range settings.
pub fn dataset(config: &MockConfig) -> Result<Dataset, MockError> {
    Ok(Dataset::new(Arc::new(World::new(config.plan()?))))
}

fn dt(t: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(t, 0).unwrap_or_default()
}

impl Dataset {
    pub(crate) fn new(world: Arc<World>) -> Self {
        Dataset { world }
    }

    /// The reference "now" of the data (moved forward by churn).
    pub fn now(&self) -> DateTime<Utc> {
        dt(self.world.now())
    }

    /// Start of the generated span (`now - days`).
    pub fn start(&self) -> DateTime<Utc> {
        dt(self.world.plan.start)
    }

    /// All incidents.
    pub fn incident_count(&self) -> u64 {
        self.world.total()
    }

    /// Incidents with `since <= created_at < until`.
    pub fn count_created_between(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
        let r = self.world.created_between(since.timestamp(), until.timestamp());
        r.end - r.start
    }

    /// Those incidents with their log entries (costly for millions: it renders them all).
    pub fn incidents_created_between(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<IncidentTruth> {
        let numbers = self.world.created_between(since.timestamp(), until.timestamp());
        numbers.filter_map(|n| self.world.incident(n)).map(|f| self.incident_truth(&f)).collect()
    }

    /// Every incident in number order, each recomputed from the generator on its own,
    /// without the creation-time index the API's windows are answered from: for tests
    /// that check those answers by brute force (filter on `created_at` yourself).
    /// O(incidents) per call.
    pub fn incidents(&self) -> impl Iterator<Item = IncidentTruth> + '_ {
        (0..self.world.total()).filter_map(|n| self.world.incident(n)).map(|f| self.incident_truth(&f))
    }

    /// Every log entry, incident by incident and oldest first within one, recomputed
    /// from the generator without the log index `/log_entries` is answered from: for
    /// brute-force checks. O(log entries) per call.
    pub fn log_entries(&self) -> impl Iterator<Item = LogEntryTruth> + '_ {
        (0..self.world.total()).filter_map(|n| self.world.incident(n)).flat_map(|f| {
            let incident_id = self.world.ids.encode(Kind::Incident, f.n);
            let entries: Vec<LogEntryTruth> = f
                .entries()
                .enumerate()
                .map(|(position, entry)| LogEntryTruth {
                    id: self.world.ids.log_entry(f.n, position as u64),
                    kind: entry.kind.type_name().to_string(),
                    created_at: dt(entry.at),
                    incident_id: incident_id.clone(),
                })
                .collect();
            entries
        })
    }

    fn incident_truth(&self, f: &Facts) -> IncidentTruth {
        IncidentTruth {
            id: self.world.ids.encode(Kind::Incident, f.n),
            incident_number: f.n + 1,
            created_at: dt(f.created),
            status: f.status().name().to_string(),
            log_entry_ids: (0..f.entries().len() as u64).map(|p| self.world.ids.log_entry(f.n, p)).collect(),
        }
    }

    /// Log entries with `since <= created_at < until`, account-wide.
    pub fn log_entry_count_between(&self, since: DateTime<Utc>, until: DateTime<Utc>) -> u64 {
        self.world.log_between(since.timestamp(), until.timestamp()).len() as u64
    }

    /// The busiest clock hour (start, incident count): where the burst is.
    pub fn busiest_hour(&self) -> (DateTime<Utc>, u64) {
        let plan = &self.world.plan;
        let mut best = (plan.start, 0);
        let mut hour = plan.start - plan.start.rem_euclid(3600);
        while hour < plan.now {
            let r = self.world.created_between(hour, hour + 3600);
            if r.end - r.start > best.1 {
                best = (hour, r.end - r.start);
            }
            hour += 3600;
        }
        (dt(best.0), best.1)
    }
}
