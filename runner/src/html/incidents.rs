//! The incident pictures' numbers, per connection, gathered from a stream of
//! [`IncidentFacts`] in constant memory per service and week: incidents per week by
//! urgency, mean time to acknowledge and to resolve by service, incidents by hour of the
//! week (UTC), and the noisiest services. The facts are read by [`each_incident`], the
//! report's own query of PagerDuty's records (the store knows no record type).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc};

use store::history::{instant, Cell, History, HistoryError};
use store::SqlDialect;

/// What pictures use of one stored Incident record.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentFacts {
    /// The connection it was stored under.
    pub connection: String,
    /// `createdAt` (`None` if it cannot be read as a time).
    pub created_at: Option<DateTime<Utc>>,
    /// The earliest `acknowledge_log_entry` among its `IncidentLogEntry` records.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// `resolvedAt`.
    pub resolved_at: Option<DateTime<Utc>>,
    /// `urgency` (`high`, `low`) if set.
    pub urgency: Option<String>,
    /// `service.summary`, else `service.id`, if it has a service.
    pub service: Option<String>,
}

/// One row per stored Incident: connection, created, first acknowledged, resolved (all
/// seconds since the epoch), urgency, service; in SQLite's words.
const SQLITE_INCIDENTS: &str = concat!(
    "SELECT i.connection, ",
    store::sqlite_epoch!("json_extract(i.json, '$.createdAt')"),
    ", a.first_ack, ",
    store::sqlite_epoch!("json_extract(i.json, '$.resolvedAt')"),
    ", json_extract(i.json, '$.urgency'), \
     coalesce(json_extract(i.json, '$.service.summary'), json_extract(i.json, '$.service.id')) \
     FROM records i LEFT JOIN (SELECT connection, json_extract(json, '$.incident.id') AS incident, min(",
    store::sqlite_epoch!("json_extract(json, '$.createdAt')"),
    ") AS first_ack FROM records WHERE type = 'IncidentLogEntry' \
     AND json_extract(json, '$.logType') = 'acknowledge_log_entry' GROUP BY 1, 2) a \
     ON a.connection = i.connection AND a.incident = i.id \
     WHERE i.type = 'Incident'"
);

/// The same rows in PostgreSQL's words.
const POSTGRES_INCIDENTS: &str =
    "SELECT i.connection, extract(epoch FROM (i.json ->> 'createdAt')::timestamptz)::float8, \
     a.first_ack, extract(epoch FROM (i.json ->> 'resolvedAt')::timestamptz)::float8, i.json ->> 'urgency', \
     coalesce(i.json #>> '{service,summary}', i.json #>> '{service,id}') \
     FROM records i LEFT JOIN (SELECT connection, json #>> '{incident,id}' AS incident, \
     extract(epoch FROM min((json ->> 'createdAt')::timestamptz))::float8 AS first_ack FROM records \
     WHERE type = 'IncidentLogEntry' AND json ->> 'logType' = 'acknowledge_log_entry' GROUP BY 1, 2) a \
     ON a.connection = i.connection AND a.incident = i.id \
     WHERE i.type = 'Incident'";

/// Calls `visit` with every stored Incident record's facts, in no particular order,
/// streamed so memory stays flat however many incidents there are.
///
/// # Errors
/// The database cannot be read.
pub fn each_incident(history: &mut History, visit: &mut dyn FnMut(IncidentFacts)) -> Result<(), HistoryError> {
    let sql = match history.dialect() {
        SqlDialect::Sqlite => SQLITE_INCIDENTS,
        SqlDialect::Postgres => POSTGRES_INCIDENTS,
    };
    history.rows(sql, &mut |row| {
        let at = |index: usize| instant(row.get(index).and_then(Cell::number));
        let text = |index: usize| row.get(index).and_then(Cell::text);
        visit(IncidentFacts {
            connection: text(0).unwrap_or_default(),
            created_at: at(1),
            acknowledged_at: at(2),
            resolved_at: at(3),
            urgency: text(4),
            service: text(5),
        });
    })
}

/// Incidents per urgency: high, low, and anything else (none given).
pub type UrgencyCounts = [u64; 3];

/// One service's incidents and response times.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceStats {
    /// Incidents raised on it.
    pub incidents: u64,
    /// Sum of seconds from creation to the first acknowledgement, over `acknowledged`.
    pub ack_seconds: f64,
    /// Incidents acknowledged.
    pub acknowledged: u64,
    /// Sum of seconds from creation to resolution, over `resolved`.
    pub resolve_seconds: f64,
    /// Incidents resolved.
    pub resolved: u64,
}

impl ServiceStats {
    /// Mean time to acknowledge, in seconds.
    pub fn mtta(&self) -> Option<f64> {
        (self.acknowledged > 0).then(|| self.ack_seconds / self.acknowledged as f64)
    }

    /// Mean time to resolve, in seconds.
    pub fn mttr(&self) -> Option<f64> {
        (self.resolved > 0).then(|| self.resolve_seconds / self.resolved as f64)
    }
}

/// Everything the incident pictures of one connection show.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IncidentStats {
    /// Incidents stored.
    pub total: u64,
    /// Not resolved.
    pub open: u64,
    /// Incidents per week (the Monday that starts it, UTC) by urgency.
    pub weeks: BTreeMap<NaiveDate, UrgencyCounts>,
    /// By service name (`(no service)` for incidents without one).
    pub services: BTreeMap<String, ServiceStats>,
    /// Incidents created per weekday (Monday first) and hour, UTC.
    pub hours: [[u64; 24]; 7],
}

/// The name used for incidents without a service.
pub const NO_SERVICE: &str = "(no service)";

impl IncidentStats {
    /// Counts one incident.
    pub fn add(&mut self, facts: &IncidentFacts) {
        self.total += 1;
        if facts.resolved_at.is_none() {
            self.open += 1;
        }
        let service = self.services.entry(facts.service.clone().unwrap_or_else(|| NO_SERVICE.to_owned())).or_default();
        service.incidents += 1;
        let Some(created) = facts.created_at else { return };
        let since_created = |at: Option<DateTime<Utc>>| {
            at.map(|at| (at - created).num_milliseconds() as f64 / 1000.0).filter(|s| *s >= 0.0)
        };
        if let Some(seconds) = since_created(facts.acknowledged_at) {
            service.ack_seconds += seconds;
            service.acknowledged += 1;
        }
        if let Some(seconds) = since_created(facts.resolved_at) {
            service.resolve_seconds += seconds;
            service.resolved += 1;
        }
        let urgency = match facts.urgency.as_deref() {
            Some("high") => 0,
            Some("low") => 1,
            _ => 2,
        };
        self.weeks.entry(week_of(created)).or_default()[urgency] += 1;
        let weekday = created.weekday().num_days_from_monday() as usize;
        self.hours[weekday][created.hour() as usize] += 1;
    }

    /// Every week from the first to the last, empty ones included, oldest first.
    pub fn all_weeks(&self) -> Vec<(NaiveDate, UrgencyCounts)> {
        let (Some(first), Some(last)) = (self.weeks.keys().next(), self.weeks.keys().next_back()) else {
            return Vec::new();
        };
        let mut weeks = Vec::new();
        let mut week = *first;
        while week <= *last {
            weeks.push((week, self.weeks.get(&week).copied().unwrap_or_default()));
            week += Duration::days(7);
        }
        weeks
    }

    /// Services by incidents, most first (ties by name), at most `n`.
    pub fn noisiest(&self, n: usize) -> Vec<(&str, &ServiceStats)> {
        let mut services: Vec<_> = self.services.iter().map(|(name, stats)| (name.as_str(), stats)).collect();
        services.sort_by(|a, b| b.1.incidents.cmp(&a.1.incidents).then(a.0.cmp(b.0)));
        services.truncate(n);
        services
    }

    /// The busiest (weekday, hour) cells, most incidents first, at most `n`, none empty.
    pub fn busiest_hours(&self, n: usize) -> Vec<(usize, usize, u64)> {
        let mut cells: Vec<(usize, usize, u64)> = (0..7)
            .flat_map(|day| (0..24).map(move |hour| (day, hour)))
            .map(|(day, hour)| (day, hour, self.hours[day][hour]))
            .filter(|cell| cell.2 > 0)
            .collect();
        cells.sort_by(|a, b| b.2.cmp(&a.2).then((a.0, a.1).cmp(&(b.0, b.1))));
        cells.truncate(n);
        cells
    }
}

/// The Monday (UTC) of the week `at` falls in.
pub fn week_of(at: DateTime<Utc>) -> NaiveDate {
    let day = at.date_naive();
    day - Duration::days(i64::from(day.weekday().num_days_from_monday()))
}

/// Weekday names, Monday first.
pub const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(text).unwrap().to_utc())
    }

    fn incident(
        created: &str,
        ack: Option<&str>,
        resolved: Option<&str>,
        urgency: &str,
        service: &str,
    ) -> IncidentFacts {
        IncidentFacts {
            connection: "pd".into(),
            created_at: at(created),
            acknowledged_at: ack.and_then(at),
            resolved_at: resolved.and_then(at),
            urgency: Some(urgency.into()),
            service: Some(service.into()),
        }
    }

    #[test]
    fn weeks_services_and_hours_add_up() {
        let mut stats = IncidentStats::default();
        // Tuesday 2026-03-03 and Sunday 2026-03-08 are in the week of Monday 2026-03-02.
        stats.add(&incident(
            "2026-03-03T14:10:00Z",
            Some("2026-03-03T14:20:00Z"),
            Some("2026-03-03T16:10:00Z"),
            "high",
            "web",
        ));
        stats.add(&incident("2026-03-08T23:59:00Z", None, Some("2026-03-09T00:59:00Z"), "low", "web"));
        stats.add(&incident("2026-03-17T14:00:00Z", Some("2026-03-17T13:00:00Z"), None, "other", "db"));
        assert_eq!((stats.total, stats.open), (3, 1));
        let weeks = stats.all_weeks();
        let monday = |d: &str| NaiveDate::parse_from_str(d, "%Y-%m-%d").unwrap();
        assert_eq!(
            weeks,
            [(monday("2026-03-02"), [1, 1, 0]), (monday("2026-03-09"), [0, 0, 0]), (monday("2026-03-16"), [0, 0, 1])]
        );
        let web = &stats.services["web"];
        assert_eq!((web.incidents, web.mtta(), web.mttr()), (2, Some(600.0), Some((7200.0 + 3600.0) / 2.0)));
        let db = &stats.services["db"];
        assert_eq!((db.mtta(), db.mttr()), (None, None), "an acknowledgement before creation is not counted");
        assert_eq!(stats.hours[1][14], 2, "two incidents on Tuesdays at 14h");
        assert_eq!(stats.hours[6][23], 1);
        assert_eq!(stats.busiest_hours(2), [(1, 14, 2), (6, 23, 1)]);
        assert_eq!(stats.noisiest(1).iter().map(|(n, s)| (*n, s.incidents)).collect::<Vec<_>>(), [("web", 2)]);
    }

    #[test]
    fn an_incident_without_a_time_or_service_is_still_counted() {
        let mut stats = IncidentStats::default();
        stats.add(&IncidentFacts {
            connection: "pd".into(),
            created_at: None,
            acknowledged_at: None,
            resolved_at: None,
            urgency: None,
            service: None,
        });
        assert_eq!((stats.total, stats.services[NO_SERVICE].incidents, stats.all_weeks().len()), (1, 1, 0));
    }

    #[test]
    fn incidents_carry_their_first_acknowledgement() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("runner.db");
        let output = store::OutputSpec::sqlite(&path);
        drop(store::open(&output, None).unwrap()); // the runner's own tables
        let conn = rusqlite::Connection::open(&path).unwrap();
        let records = [
            (
                "Incident",
                "I1",
                r#"{"createdAt":"2026-03-01T10:00:00Z","resolvedAt":"2026-03-01T12:00:00Z","urgency":"high","service":{"id":"S1","summary":"Web <app>"}}"#,
            ),
            ("Incident", "I2", r#"{"createdAt":"2026-03-01T11:00:00Z","urgency":"low","service":{"id":"S2"}}"#),
            (
                "IncidentLogEntry",
                "L2",
                r#"{"createdAt":"2026-03-01T10:30:00Z","logType":"acknowledge_log_entry","incident":{"id":"I1"}}"#,
            ),
            (
                "IncidentLogEntry",
                "L1",
                r#"{"createdAt":"2026-03-01T10:10:00Z","logType":"acknowledge_log_entry","incident":{"id":"I1"}}"#,
            ),
            (
                "IncidentLogEntry",
                "L3",
                r#"{"createdAt":"2026-03-01T10:05:00Z","logType":"trigger_log_entry","incident":{"id":"I1"}}"#,
            ),
        ];
        for (record_type, id, json) in records {
            conn.execute(
                "INSERT INTO records (connection, type, id, json, extracted_at, stored_at) VALUES ('pd', ?1, ?2, ?3, '', '')",
                [record_type, id, json],
            )
            .unwrap();
        }
        let mut history = output.history().unwrap();
        let mut found = Vec::new();
        each_incident(&mut history, &mut |facts| found.push(facts)).unwrap();
        found.sort_by_key(|f| f.created_at);
        let at = |text: &str| Some(chrono::DateTime::parse_from_rfc3339(text).unwrap().to_utc());
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].acknowledged_at, at("2026-03-01T10:10:00Z"));
        assert_eq!(found[0].resolved_at, at("2026-03-01T12:00:00Z"));
        assert_eq!((found[0].urgency.as_deref(), found[0].service.as_deref()), (Some("high"), Some("Web <app>")));
        assert_eq!((found[1].acknowledged_at, found[1].resolved_at), (None, None));
        assert_eq!(found[1].service.as_deref(), Some("S2"), "the id when the service has no summary");
        let counts = history.records_by_type().unwrap();
        assert_eq!(
            counts.iter().map(|c| (c.record_type.as_str(), c.count)).collect::<Vec<_>>(),
            [("Incident", 2), ("IncidentLogEntry", 3)]
        );
    }
}
