//! Rule: the same flags give byte-identical answers; another seed gives other data.

use crate::util::*;

fn bodies(s: &pagerduty_mock::MockServer) -> Vec<String> {
    let id = ok(s, "/incidents?limit=1&offset=17")["incidents"][0]["id"].as_str().unwrap().to_string();
    ["/incidents?limit=100&offset=200", "/log_entries?limit=100", "/users", "/services", "/oncalls"]
        .iter()
        .map(|p| p.to_string())
        .chain([format!("/incidents/{id}/log_entries"), format!("/incidents/{id}/alerts")])
        .map(|p| {
            let resp = reqwest::blocking::Client::new()
                .get(format!("{}{p}", s.base_url))
                .header("Authorization", format!("Token token={USER_TOKEN}"))
                .send()
                .unwrap();
            resp.text().unwrap().replace(&s.base_url, "BASE")
        })
        .collect()
}

#[test]
fn same_config_same_bytes() {
    let a = start(config());
    let b = start(config());
    assert_eq!(bodies(&a), bodies(&b));
    let c = start(pagerduty_mock::MockConfig { seed: 2, ..config() });
    assert_ne!(bodies(&a)[0], bodies(&c)[0]);
}
