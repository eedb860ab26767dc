//! Rule: an account without an ability (`--without-ability teams`) does not list it in
//! `/abilities`, and the endpoints that need it answer 402, as PagerDuty does for a
//! feature that is not on the account's plan; everything else works as usual.

use serde_json::json;

use crate::util::*;

#[test]
fn endpoints_of_a_missing_ability_answer_402_and_the_rest_works() {
    let s =
        start(pagerduty_mock::MockConfig { missing_abilities: vec!["teams".into(), "priorities".into()], ..config() });
    let abilities = ok(&s, "/abilities")["abilities"].clone();
    assert_eq!(abilities, json!(["urgencies", "read_only_users", "service_support_hours"]));
    for path in ["/teams", "/teams/PT00001", "/priorities"] {
        let answer = get(&s, path);
        assert_eq!(answer.status, 402, "{path}");
        assert_eq!(answer.body["error"]["message"], "Account does not have the abilities to perform the action");
    }
    assert_eq!(get(&s, "/services").status, 200);
    assert!(!ok(&s, "/incidents?limit=1")["incidents"].as_array().unwrap().is_empty());
    // Authentication comes first: a bad token is still a 401.
    assert_eq!(get_with(&s, "/teams", Some("Token token=nope")).status, 401);

    let full = start(config());
    assert_eq!(ok(&full, "/abilities")["abilities"].as_array().unwrap().len(), 5);
    assert_eq!(get(&full, "/teams").status, 200);
}

#[test]
fn an_unknown_ability_is_refused() {
    let refused = pagerduty_mock::start_blocking(pagerduty_mock::MockConfig {
        missing_abilities: vec!["incidents".into()],
        ..config()
    });
    let error = refused.expect_err("incidents are no optional ability").to_string();
    assert!(error.contains("missing ability `incidents` is not one of teams, priorities"), "{error}");
}
