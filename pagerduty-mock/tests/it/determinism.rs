//! Rule: the same flags give byte-identical answers; another seed gives other data.

use crate::util::*;

#[test]
fn same_config_same_bytes() {
    let a = start(config());
    let b = start(config());
    let id = ok(&a, "/incidents?limit=1&offset=17")["incidents"][0]["id"].as_str().unwrap().to_string();
    let paths = ["/incidents?limit=100&offset=200", "/log_entries?limit=100", "/users", "/services", "/oncalls"]
        .map(str::to_string)
        .into_iter()
        .chain([format!("/incidents/{id}/log_entries"), format!("/incidents/{id}/alerts")]);
    for path in paths {
        assert_eq!(body_text(&a, &path), body_text(&b, &path), "{path}");
    }
    let c = start(pagerduty_mock::MockConfig { seed: 2, ..config() });
    let first_page = "/incidents?limit=100&offset=200";
    assert_ne!(body_text(&a, first_page), body_text(&c, first_page));
}
