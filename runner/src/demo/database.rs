//! The demo's database: a SQLite file or a PostgreSQL database, the connection name every
//! demo sync uses, and the example queries the summary suggests, in each one's dialect.
//! Forgetting an earlier demo and counting records go through the destination
//! ([`store::forget_connection`], `records_by_type`), never other
//! connections' rows.

use store::{OutputSpec, SqlDialect};

/// The connection name every demo sync uses, so the demo's rows never mix with a real
/// `pagerduty` connection in the same database.
pub const CONNECTION: &str = "pagerduty-demo";

/// A query the summary suggests trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExampleQuery {
    /// What it shows.
    pub title: &'static str,
    /// The SQL, on one line so it can be pasted into `sqlite3` or `psql`.
    pub sql: &'static str,
}

/// The summary's queries for SQLite, on the typed tables (`incident`, `service`,
/// `incident_log_entry`: a column per property, `<link>_id` for joins); the integration
/// test runs each against a demo database, so the summary never suggests a broken one.
pub const SQLITE_QUERIES: [ExampleQuery; 3] = [
    ExampleQuery {
        title: "incidents by service",
        sql: "SELECT s.name AS service, count(*) AS incidents FROM incident i \
              JOIN service s ON s.connection = i.connection AND s.id = i.service_id \
              WHERE i.connection = 'pagerduty-demo' GROUP BY s.name ORDER BY incidents DESC;",
    },
    ExampleQuery {
        title: "mean time to resolve, in hours, by urgency",
        sql: "SELECT urgency, count(*) AS resolved, \
              round(avg(julianday(resolved_at) - julianday(created_at)) * 24, 1) AS mean_hours \
              FROM incident WHERE connection = 'pagerduty-demo' AND resolved_at IS NOT NULL GROUP BY urgency;",
    },
    ExampleQuery {
        title: "the timeline of the last incident resolved",
        sql: "SELECT created_at AS at, log_type AS entry, summary FROM incident_log_entry \
              WHERE connection = 'pagerduty-demo' AND incident_id = \
              (SELECT id FROM incident WHERE connection = 'pagerduty-demo' AND resolved_at IS NOT NULL \
              ORDER BY resolved_at DESC LIMIT 1) ORDER BY at;",
    },
];

/// The same queries for PostgreSQL, where times are `timestamptz`.
pub const POSTGRES_QUERIES: [ExampleQuery; 3] = [
    ExampleQuery {
        title: "incidents by service",
        sql: "SELECT s.name AS service, count(*) AS incidents FROM incident i \
              JOIN service s ON s.connection = i.connection AND s.id = i.service_id \
              WHERE i.connection = 'pagerduty-demo' GROUP BY s.name ORDER BY incidents DESC;",
    },
    ExampleQuery {
        title: "mean time to resolve, in hours, by urgency",
        sql: "SELECT urgency, count(*) AS resolved, \
              round(avg(extract(epoch FROM resolved_at - created_at)) / 3600, 1) AS mean_hours \
              FROM incident WHERE connection = 'pagerduty-demo' AND resolved_at IS NOT NULL GROUP BY urgency;",
    },
    ExampleQuery {
        title: "the timeline of the last incident resolved",
        sql: "SELECT created_at AS at, log_type AS entry, summary FROM incident_log_entry \
              WHERE connection = 'pagerduty-demo' AND incident_id = \
              (SELECT id FROM incident WHERE connection = 'pagerduty-demo' AND resolved_at IS NOT NULL \
              ORDER BY resolved_at DESC LIMIT 1) ORDER BY at;",
    },
];

/// The example queries for `output`'s kind of database, and the command to run them.
pub fn queries(output: &OutputSpec) -> (String, &'static [ExampleQuery]) {
    let queries: &[ExampleQuery] = match output.sql_dialect() {
        Some(SqlDialect::Postgres) => &POSTGRES_QUERIES,
        Some(SqlDialect::Sqlite) | None => &SQLITE_QUERIES,
    };
    (output.query_command().unwrap_or_else(|| format!("sqlite3 {output}")), queries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_query_names_the_demo_connection_and_fits_on_one_line() {
        for query in SQLITE_QUERIES.iter().chain(&POSTGRES_QUERIES) {
            assert!(query.sql.contains(&format!("connection = '{CONNECTION}'")), "{}", query.title);
            assert!(!query.sql.contains('\n') && query.sql.ends_with(';'), "{}", query.title);
        }
        let titles = |queries: &[ExampleQuery]| queries.iter().map(|q| q.title).collect::<Vec<_>>();
        assert_eq!(titles(&SQLITE_QUERIES), titles(&POSTGRES_QUERIES), "the same questions in both dialects");
    }

    #[test]
    fn the_command_to_run_them_never_holds_a_password() {
        let output = OutputSpec::parse("postgres://ann:s3cret@db.example/sales").unwrap();
        let (command, queries) = queries(&output);
        assert_eq!(command, "psql 'postgres://ann@db.example:5432/sales'");
        assert_eq!(queries, &POSTGRES_QUERIES);
        let (command, _) = super::queries(&OutputSpec::sqlite("/data/runner.db"));
        assert_eq!(command, "sqlite3 /data/runner.db");
    }
}
