//! Rule: `GET /__mock/stats` (no auth) counts requests by path and status.

use crate::util::*;

#[test]
fn stats_count_by_path_and_status() {
    let s = start(config());
    let id = ok(&s, "/incidents?limit=1")["incidents"][0]["id"].as_str().unwrap().to_string();
    ok(&s, &format!("/incidents/{id}"));
    ok(&s, &format!("/incidents/{id}/log_entries"));
    get_with(&s, "/incidents", None);
    let body = control(&s, "/__mock/stats").body;
    assert_eq!(body["total"], 4);
    assert_eq!(body["by_path"]["/incidents"]["200"], 1);
    assert_eq!(body["by_path"]["/incidents"]["401"], 1);
    assert_eq!(body["by_path"]["/incidents/{id}"]["200"], 1);
    assert_eq!(body["by_path"]["/incidents/{id}/log_entries"]["200"], 1);
    assert_eq!(s.stats().requests_to("/incidents"), 2);
    assert_eq!(post(&s, "/__mock/stats/reset").status, 204);
    assert_eq!(s.stats().total, 0);
}
