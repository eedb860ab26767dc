//! The conformance kit's JSON report (`runner --json test-connector`), read for
//! assertions: the report itself, one check, the failures.

use std::process::Output;

use serde_json::Value;

/// The report a `runner --json test-connector` run printed, and its exit code (`-1` when
/// a signal ended it).
///
/// # Panics
///
/// When stdout is not one JSON document, quoting stdout and stderr.
pub fn report(output: &Output) -> (Value, i32) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!("not one JSON document ({e}):\n{stdout}\nstderr:\n{}", String::from_utf8_lossy(&output.stderr))
    });
    (report, output.status.code().unwrap_or(-1))
}

/// The checks of a report.
fn checks(report: &Value) -> &[Value] {
    report["checks"].as_array().map(Vec::as_slice).unwrap_or_default()
}

/// Check `name` of `report`.
///
/// # Panics
///
/// When the report has no such check, quoting the report.
pub fn check<'a>(report: &'a Value, name: &str) -> &'a Value {
    checks(report).iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no check {name} in {report:#}"))
}

/// How many checks a kit `report` lists: every check of the kit's list (`check::ALL`),
/// which a debug build of the runner asserts it made, each once.
pub fn check_count(report: &Value) -> usize {
    checks(report).len()
}

/// The status of check `name`: `pass`, `fail` or `skip` (`?` when it has none).
pub fn status<'a>(report: &'a Value, name: &str) -> &'a str {
    check(report, name)["status"].as_str().unwrap_or("?")
}

/// The names of the failed checks.
pub fn failed(report: &Value) -> Vec<String> {
    let failed = checks(report).iter().filter(|c| c["status"] == "fail");
    failed.filter_map(|c| c["name"].as_str().map(str::to_owned)).collect()
}

/// The failed checks as `name: reason`, for a message that says why each failed (the
/// report's field is `reason`, see `runner/src/kit/check.rs`).
pub fn failures(report: &Value) -> Vec<String> {
    let failed = checks(report).iter().filter(|c| c["status"] == "fail");
    failed.map(|c| format!("{}: {}", c["name"], c["reason"])).collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_failure_says_its_reason() {
        let report = json!({"checks": [
            {"name": "spec.valid", "status": "pass", "reason": "fine"},
            {"name": "records.valid", "status": "fail", "reason": "line 3: /id is not a string"},
        ]});
        assert_eq!(failed(&report), ["records.valid"]);
        assert_eq!(failures(&report), [r#""records.valid": "line 3: /id is not a string""#]);
        assert_eq!(status(&report, "spec.valid"), "pass");
    }
}
