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

/// The summary's queries for SQLite (`json_extract`); the integration test runs each
/// against a demo database, so the summary never suggests a broken one.
pub const SQLITE_QUERIES: [ExampleQuery; 3] = [
    ExampleQuery {
        title: "incidents by service",
        sql: "SELECT json_extract(json, '$.service.summary') AS service, count(*) AS incidents \
              FROM records WHERE connection = 'pagerduty-demo' AND type = 'Incident' \
              GROUP BY service ORDER BY incidents DESC;",
    },
    ExampleQuery {
        title: "mean time to resolve, in hours, by urgency",
        sql: "SELECT json_extract(json, '$.urgency') AS urgency, count(*) AS resolved, \
              round(avg(julianday(json_extract(json, '$.resolvedAt')) - julianday(json_extract(json, '$.createdAt'))) * 24, 1) AS mean_hours \
              FROM records WHERE connection = 'pagerduty-demo' AND type = 'Incident' \
              AND json_extract(json, '$.resolvedAt') IS NOT NULL GROUP BY urgency;",
    },
    ExampleQuery {
        title: "the timeline of the last incident resolved",
        sql: "SELECT json_extract(json, '$.createdAt') AS at, json_extract(json, '$.logType') AS entry, \
              json_extract(json, '$.summary') AS summary FROM records \
              WHERE connection = 'pagerduty-demo' AND type = 'IncidentLogEntry' AND json_extract(json, '$.incident.id') = \
              (SELECT id FROM records WHERE connection = 'pagerduty-demo' AND type = 'Incident' \
              AND json_extract(json, '$.resolvedAt') IS NOT NULL ORDER BY json_extract(json, '$.resolvedAt') DESC LIMIT 1) \
              ORDER BY at;",
    },
];

/// The same queries for PostgreSQL (`->>`, `#>>`).
pub const POSTGRES_QUERIES: [ExampleQuery; 3] = [
    ExampleQuery {
        title: "incidents by service",
        sql: "SELECT json #>> '{service,summary}' AS service, count(*) AS incidents \
              FROM records WHERE connection = 'pagerduty-demo' AND type = 'Incident' \
              GROUP BY service ORDER BY incidents DESC;",
    },
    ExampleQuery {
        title: "mean time to resolve, in hours, by urgency",
        sql: "SELECT json ->> 'urgency' AS urgency, count(*) AS resolved, \
              round(avg(extract(epoch FROM (json ->> 'resolvedAt')::timestamptz - (json ->> 'createdAt')::timestamptz)) / 3600, 1) AS mean_hours \
              FROM records WHERE connection = 'pagerduty-demo' AND type = 'Incident' \
              AND json ->> 'resolvedAt' IS NOT NULL GROUP BY urgency;",
    },
    ExampleQuery {
        title: "the timeline of the last incident resolved",
        sql: "SELECT json ->> 'createdAt' AS at, json ->> 'logType' AS entry, json ->> 'summary' AS summary \
              FROM records WHERE connection = 'pagerduty-demo' AND type = 'IncidentLogEntry' AND json #>> '{incident,id}' = \
              (SELECT id FROM records WHERE connection = 'pagerduty-demo' AND type = 'Incident' \
              AND json ->> 'resolvedAt' IS NOT NULL ORDER BY json ->> 'resolvedAt' DESC LIMIT 1) \
              ORDER BY at;",
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
