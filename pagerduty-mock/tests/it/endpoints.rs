//! Rule: every endpoint of the issue answers with PagerDuty's envelope, and objects
//! reference each other consistently.

use crate::util::*;

#[test]
fn every_endpoint_answers() {
    let s = start(config());
    let lists = [
        ("/incidents", "incidents"),
        ("/log_entries", "log_entries"),
        ("/services", "services"),
        ("/users", "users"),
        ("/teams", "teams"),
        ("/escalation_policies", "escalation_policies"),
        ("/priorities", "priorities"),
        ("/oncalls", "oncalls"),
        ("/schedules", "schedules"),
    ];
    for (path, key) in lists {
        let body = ok(&s, path);
        assert!(!body[key].as_array().unwrap().is_empty(), "{path} is empty");
        for field in ["limit", "offset", "more", "total"] {
            assert!(body.get(field).is_some(), "{path} lacks {field}");
        }
    }
    assert!(ok(&s, "/abilities")["abilities"].as_array().unwrap().contains(&"teams".into()));
    let id = ok(&s, "/incidents?limit=1")["incidents"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(ok(&s, &format!("/incidents/{id}"))["incident"]["id"], id.as_str());
    let logs = ok(&s, &format!("/incidents/{id}/log_entries"));
    assert!(logs["log_entries"].as_array().unwrap().len() >= 2);
    let alerts = ok(&s, &format!("/incidents/{id}/alerts"));
    assert_eq!(alerts["alerts"][0]["incident"]["id"], id.as_str());
    for missing in
        ["/incidents/PNOPE00", "/incidents/%FF", "/log_entries/R%20", "/incidents/garbage/log_entries", "/no/such/path"]
    {
        let a = get(&s, missing);
        assert_eq!((a.status, a.error_code()), (404, Some(2100)), "{missing}");
    }
}

#[test]
fn references_resolve_to_served_objects() {
    let s = start(config());
    let services = ids(&ok(&s, "/services?limit=100"), "services");
    let teams = ids(&ok(&s, "/teams?limit=100"), "teams");
    let users = ids(&ok(&s, "/users?limit=100"), "users");
    let policies = ids(&ok(&s, "/escalation_policies?limit=100"), "escalation_policies");
    let priorities = ids(&ok(&s, "/priorities"), "priorities");
    let schedules = ids(&ok(&s, "/schedules"), "schedules");
    for inc in ok(&s, "/incidents?limit=100")["incidents"].as_array().unwrap() {
        assert!(services.contains(inc["service"]["id"].as_str().unwrap()));
        assert!(policies.contains(inc["escalation_policy"]["id"].as_str().unwrap()));
        assert!(teams.contains(inc["teams"][0]["id"].as_str().unwrap()));
        if let Some(p) = inc["priority"]["id"].as_str() {
            assert!(priorities.contains(p));
        }
        for a in inc["assignments"].as_array().unwrap() {
            assert!(users.contains(a["assignee"]["id"].as_str().unwrap()));
        }
        assert!(inc["self"].as_str().unwrap().starts_with(&s.base_url));
        let id = inc["id"].as_str().unwrap();
        assert!(id.len() == 7 && id.starts_with('P'));
    }
    for svc in ok(&s, "/services")["services"].as_array().unwrap() {
        assert!(policies.contains(svc["escalation_policy"]["id"].as_str().unwrap()));
    }
    for oc in ok(&s, "/oncalls?limit=100")["oncalls"].as_array().unwrap() {
        assert!(users.contains(oc["user"]["id"].as_str().unwrap()));
        assert!(policies.contains(oc["escalation_policy"]["id"].as_str().unwrap()));
        if let Some(sch) = oc["schedule"]["id"].as_str() {
            assert!(schedules.contains(sch));
        }
    }
    let user = ok(&s, "/users/me")["user"]["id"].as_str().unwrap().to_string();
    assert_eq!(ok(&s, &format!("/users/{user}"))["user"]["id"], user.as_str());
}
