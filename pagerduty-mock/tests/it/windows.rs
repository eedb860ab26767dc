//! Rule: since/until on created_at (default one month, more than 6 months is 2005,
//! unparseable 2004), date_range=all, sort_by, filters, include[] and repeated keys.

use chrono::{Duration, Months};

use crate::util::*;

#[test]
fn default_window_is_the_last_month() {
    // Dense enough (about ten incidents an hour) that a window off by an hour changes the count.
    let s = start(pagerduty_mock::MockConfig { incidents: 30_000, ..config() });
    let since = now().checked_sub_months(Months::new(1)).unwrap();
    let expected = scan_incidents(&s.dataset(), since, now()).len() as u64;
    assert!(expected > 0);
    assert_eq!(ok(&s, "/incidents?total=true")["total"].as_u64(), Some(expected));
    let explicit = ok(&s, &format!("/incidents?total=true&{}", range(since, now())));
    assert_eq!(explicit["total"].as_u64(), Some(expected));
    let all = ok(&s, "/incidents?date_range=all&total=true&since=garbage");
    assert_eq!(all["total"], 30_000);
}

#[test]
fn explicit_windows_return_exactly_their_incidents() {
    let s = start(config());
    let (since, until) = (now() - Duration::days(50), now() - Duration::days(40));
    let expected: Vec<String> = scan_incidents(&s.dataset(), since, until).into_iter().map(|i| i.id).collect();
    assert!(!expected.is_empty());
    let got: Vec<String> = all_pages(&s, "/incidents", &range(since, until), "incidents")
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, expected);
    for inc in all_pages(&s, "/incidents", &range(since, until), "incidents") {
        assert!(created_at(&inc) >= since && created_at(&inc) < until);
    }
    // Plain dates and offsets without a zone are accepted too.
    assert_eq!(get(&s, "/incidents?since=2026-01-01&until=2026-02-01").status, 200);
    assert_eq!(get(&s, "/incidents?since=2026-01-01T00:00:00%2B01:00").status, 200);
}

#[test]
fn window_errors() {
    let s = start(config());
    let cases = [
        ("/incidents?since=2025-01-01T00:00:00Z&until=2025-07-03T00:00:00Z", 2005),
        ("/incidents?since=2025-02-01T00:00:00Z&until=2025-01-01T00:00:00Z", 2005),
        ("/incidents?since=2024-01-01T00:00:00Z", 2005),
        ("/incidents?since=last-tuesday", 2004),
        ("/incidents?until=2026-13-45", 2004),
        ("/log_entries?since=2025-01-01&until=2025-12-01", 2005),
        ("/incidents?date_range=week", 2001),
    ];
    for (path, code) in cases {
        let a = get(&s, path);
        assert_eq!((a.status, a.error_code()), (400, Some(code)), "{path}: {}", a.body);
    }
    let six = ok(&s, "/incidents?since=2025-07-01T00:00:00Z&until=2026-01-01T00:00:00Z&total=true");
    assert!(six["total"].as_u64().unwrap() > 0);
}

#[test]
fn sort_by_orders_results() {
    let s = start(config());
    let asc = incident_numbers(&ok(&s, "/incidents?date_range=all&limit=50"));
    assert!(asc.windows(2).all(|w| w[0] < w[1]));
    let desc = incident_numbers(&ok(&s, "/incidents?date_range=all&limit=50&sort_by=incident_number:desc"));
    assert_eq!(desc[0], 3000);
    assert!(desc.windows(2).all(|w| w[0] > w[1]));
    let created = ok(&s, "/incidents?date_range=all&limit=50&sort_by=created_at:desc");
    assert_eq!(incident_numbers(&created), desc);
    let urg = ok(&s, "/incidents?limit=100&sort_by=urgency:desc&date_range=all");
    let u: Vec<&str> = urg["incidents"].as_array().unwrap().iter().map(|i| i["urgency"].as_str().unwrap()).collect();
    assert!(u.windows(2).all(|w| w[0] >= w[1]), "low sorts after high descending");
    let res = ok(&s, "/incidents?limit=100&sort_by=resolved_at:asc");
    let r: Vec<&str> = res["incidents"].as_array().unwrap().iter().filter_map(|i| i["resolved_at"].as_str()).collect();
    assert!(r.windows(2).all(|w| w[0] <= w[1]));
    let a = get(&s, "/incidents?sort_by=title");
    assert_eq!((a.status, a.error_code()), (400, Some(2001)));
}

#[test]
fn filters_include_and_repeated_keys() {
    let s = start(config());
    let q = "date_range=all&limit=100";
    let open = ok(&s, &format!("/incidents?{q}&statuses[]=triggered&statuses[]=acknowledged&total=true"));
    assert!(open["incidents"].as_array().unwrap().iter().all(|i| i["status"] != "resolved"));
    let resolved = ok(&s, &format!("/incidents?{q}&statuses%5B%5D=resolved&total=true"));
    assert_eq!(open["total"].as_u64().unwrap() + resolved["total"].as_u64().unwrap(), 3000);
    let low = ok(&s, &format!("/incidents?{q}&urgencies[]=low"));
    assert!(low["incidents"].as_array().unwrap().iter().all(|i| i["urgency"] == "low"));
    let first = ok(&s, "/incidents?limit=1&date_range=all");
    let svc = first["incidents"][0]["service"]["id"].as_str().unwrap().to_string();
    let team = first["incidents"][0]["teams"][0]["id"].as_str().unwrap().to_string();
    let by_svc = ok(&s, &format!("/incidents?{q}&service_ids[]={svc}&total=true"));
    assert!(by_svc["incidents"].as_array().unwrap().iter().all(|i| i["service"]["id"] == svc.as_str()));
    let by_team = ok(&s, &format!("/incidents?{q}&team_ids[]={team}&total=true"));
    assert!(by_team["total"].as_u64() >= by_svc["total"].as_u64());
    assert!(by_team["incidents"].as_array().unwrap().iter().all(|i| i["teams"][0]["id"] == team.as_str()));
    // A few services carry most incidents.
    let top = by_svc["total"].as_u64().unwrap();
    assert!(top > 0);
    let inc =
        ok(&s, &format!("/incidents?{q}&include[]=services&include[]=assignees&limit=5&limit=5&offset=0&offset=0"));
    assert_eq!(inc["incidents"].as_array().unwrap().len(), 5);
    let a = get(&s, "/incidents?statuses[]=open");
    assert_eq!((a.status, a.error_code()), (400, Some(2001)));
}
