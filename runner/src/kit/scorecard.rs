//! The kit's scorecard (what `runner test-connector` prints, its report): the checks in order, counted, rendered as a table for people
//! (colours only on a terminal without `NO_COLOR`) or as one JSON document.

use serde_json::{json, Value};

use super::check::{Check, Status};
use crate::style::Style;
use crate::untrusted::escape;

/// The result of a kit run.
#[derive(Debug, Clone)]
pub struct Scorecard {
    /// The connector as the user named it.
    pub connector: String,
    /// Every check, in report order.
    pub checks: Vec<Check>,
}

impl Scorecard {
    /// How many checks have `status`.
    pub fn count(&self, status: Status) -> usize {
        self.checks.iter().filter(|c| c.status == status).count()
    }

    /// Whether no check failed.
    pub fn passed(&self) -> bool {
        self.count(Status::Fail) == 0
    }

    /// `{"connector":..,"passed":N,"failed":N,"skipped":N,"checks":[{"name","status","reason","line"?}]}`
    pub fn to_json(&self) -> Value {
        json!({
            "connector": self.connector,
            "passed": self.count(Status::Pass),
            "failed": self.count(Status::Fail),
            "skipped": self.count(Status::Skip),
            "checks": self.checks,
        })
    }

    /// A plain-text table: check, result, details (with `line N:` when known), then a summary line.
    pub fn table(&self, style: Style) -> String {
        let width = self.checks.iter().map(|c| c.name.len()).max().unwrap_or(5).max(5);
        let mut out = format!("{:<width$}  {:<6}  details\n", "check", "result");
        for check in &self.checks {
            let details = match check.line {
                Some(line) => format!("line {line}: {}", check.reason),
                None => check.reason.clone(),
            };
            // Pad before colouring: escape codes have no width on screen.
            let label = paint(&format!("{:<6}", check.status.label()), check.status, style);
            out.push_str(&format!("{:<width$}  {label}  {}\n", check.name, escape(&one_line(&details))));
        }
        out.push_str(&format!(
            "\n{}: {} passed, {} failed, {} skipped\n",
            escape(&self.connector),
            self.count(Status::Pass),
            self.count(Status::Fail),
            self.count(Status::Skip)
        ));
        out
    }
}

fn paint(text: &str, status: Status, style: Style) -> String {
    match status {
        Status::Pass => style.green(text),
        Status::Fail => style.red_bold(text),
        Status::Skip => style.yellow(text),
    }
}

/// Multi-line reasons (a connector's message) on one table row.
fn one_line(text: &str) -> String {
    text.split('\n').map(str::trim_end).collect::<Vec<_>>().join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::check::{verdict, Problem};

    fn report() -> Scorecard {
        Scorecard {
            connector: "./c".into(),
            checks: vec![
                Check::pass("spec.single_message", "ok"),
                verdict("sync.records_valid", Err(Problem::at(3, "bad\nrecord"))),
                Check::skip("sync.incremental", "no state"),
            ],
        }
    }

    #[test]
    fn the_table_has_one_row_per_check_and_a_summary() {
        let table = report().table(Style::plain());
        assert_eq!(
            table,
            "check                result  details\n\
             spec.single_message  PASS    ok\n\
             sync.records_valid   FAIL    line 3: bad | record\n\
             sync.incremental     SKIP    no state\n\
             \n./c: 1 passed, 1 failed, 1 skipped\n"
        );
        assert!(report().table(Style::ansi()).contains("\x1b[31;1mFAIL  \x1b[0m"));
    }

    #[test]
    fn json_counts_and_lists_the_checks() {
        let value = report().to_json();
        assert_eq!(
            (value["passed"].as_u64(), value["failed"].as_u64(), value["skipped"].as_u64()),
            (Some(1), Some(1), Some(1))
        );
        assert_eq!(value["checks"][1]["line"], 3);
        assert!(!report().passed());
    }
}
