//! The demo's closing summary: records by type, requests and time of each sync, where the
//! data is, and the queries to try. Plain text; colour only through [`Style`].

use std::fmt::Write;
use std::time::Duration;

use super::database;
use super::simulator::Churn;
use crate::human;
use crate::style::Style;
use store::OutputSpec;

/// One sync as the summary shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncStep {
    /// API requests the simulator answered during the sync.
    pub requests: u64,
    /// How long the `runner sync` took.
    pub elapsed: Duration,
    /// What changed before it (the incremental sync).
    pub churn: Option<Churn>,
}

/// Everything the summary says.
#[derive(Debug)]
pub struct Summary<'a> {
    /// The database: a SQLite file (absolute) or PostgreSQL.
    pub output: &'a OutputSpec,
    /// Stored records of the demo connection by type.
    pub records: Vec<(String, u64)>,
    /// The first sync.
    pub full: SyncStep,
    /// The second sync.
    pub incremental: SyncStep,
    /// The whole demo.
    pub elapsed: Duration,
}

impl Summary<'_> {
    /// The text, ending with a newline.
    pub fn render(&self, style: Style) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "\n{}", style.bold(&format!("Done in {}.", human::duration(self.elapsed))));
        let place = self.output.to_string();
        let _ = writeln!(out, "Your data: {} (connection `{}`)\n", style.green(&place), database::CONNECTION);
        out.push_str(&self.records_table());
        out.push('\n');
        out.push_str(&self.syncs_table());
        let (command, queries) = database::queries(self.output);
        let _ = writeln!(out, "\nTry these with `{command}`:");
        for query in queries {
            let _ = writeln!(out, "  {}", style.dim(&format!("-- {}", query.title)));
            let _ = writeln!(out, "  {}", style.cyan(query.sql));
        }
        let _ = writeln!(
            out,
            "\nThe simulator has stopped and the demo's config (a fake token) is deleted. For a real account:\n  \
             echo '{{\"apiToken\": \"<your read-only REST API key>\"}}' > pagerduty.json\n  \
             runner verify pagerduty pagerduty.json && runner sync pagerduty pagerduty.json <YYYY-MM-DD>"
        );
        out
    }

    fn records_table(&self) -> String {
        let total: u64 = self.records.iter().map(|(_, n)| n).sum();
        let mut rows = vec![("record type".to_owned(), "stored".to_owned())];
        rows.extend(self.records.iter().map(|(t, n)| (t.clone(), n.to_string())));
        rows.push(("total".to_owned(), total.to_string()));
        let width = rows.iter().map(|(t, _)| t.len()).max().unwrap_or(0);
        let count_width = rows.iter().map(|(_, n)| n.len()).max().unwrap_or(0);
        rows.iter().map(|(t, n)| format!("  {t:<width$}  {n:>count_width$}\n")).collect()
    }

    fn syncs_table(&self) -> String {
        let mut out = String::from("  sync              requests  time\n");
        for (name, step) in [("full sync", &self.full), ("incremental sync", &self.incremental)] {
            let changes = step.churn.as_ref().map_or_else(String::new, |c| {
                format!("  (after {} new and {} resolved incidents)", c.created, c.resolved)
            });
            let time = human::duration(step.elapsed);
            let _ = writeln!(out, "  {name:<16}  {:>8}  {time}{changes}", step.requests);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_has_counts_requests_path_and_queries() {
        let summary = Summary {
            output: &OutputSpec::sqlite("/data/runner.db"),
            records: vec![("Incident".into(), 205), ("Team".into(), 4)],
            full: SyncStep { requests: 31, elapsed: Duration::from_millis(2500), churn: None },
            incremental: SyncStep {
                requests: 11,
                elapsed: Duration::from_millis(45),
                churn: Some(Churn { created: 5, resolved: 3 }),
            },
            elapsed: Duration::from_secs(75),
        };
        let text = summary.render(Style::plain());
        assert!(text.contains("Done in 1 min 15 s."), "{text}");
        assert!(text.contains("Your data: /data/runner.db (connection `pagerduty-demo`)"), "{text}");
        assert!(
            text.contains(
                "  record type  stored\n  Incident        205\n  Team              4\n  total           209\n"
            ),
            "{text}"
        );
        assert!(text.contains("  full sync               31  2.5 s\n"), "{text}");
        assert!(
            text.contains("  incremental sync        11  45 ms  (after 5 new and 3 resolved incidents)\n"),
            "{text}"
        );
        assert!(text.contains("Try these with `sqlite3 /data/runner.db`:"), "{text}");
        assert!(database::SQLITE_QUERIES.iter().all(|q| text.contains(q.sql)), "{text}");
        assert!(!text.contains('\x1b'), "{text}");
    }
}
