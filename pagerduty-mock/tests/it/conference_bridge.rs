//! Rule: major incidents (priority P1 or P2) carry a conference bridge, the others
//! null; a bridge has a dial-in number in PagerDuty's documented format, a URL, or both,
//! and the same incident always renders the same bridge.

use serde_json::Value;

use crate::util::*;

/// Every incident of a server, oldest first, from the list endpoint.
fn every_incident(s: &pagerduty_mock::MockServer) -> Vec<Value> {
    all_pages(s, "/incidents", "date_range=all", "incidents")
}

/// The non-null `conference_bridge` objects among `incidents`.
fn bridges(incidents: &[Value]) -> Vec<Value> {
    incidents.iter().map(|i| i["conference_bridge"].clone()).filter(|b| !b.is_null()).collect()
}

fn is_major(incident: &Value) -> bool {
    matches!(incident["priority"]["summary"].as_str(), Some("P1" | "P2"))
}

/// Whether `number` is in the format PagerDuty documents for `conference_number`:
/// `+`, a dial string of digits (spaces and hyphens allowed between them), one or more
/// commas (each a one-second pause), then an access code of digits completed by `#`.
fn in_documented_format(number: &str) -> bool {
    let Some(body) = number.strip_prefix('+').and_then(|n| n.strip_suffix('#')) else {
        return false;
    };
    let Some((dial, code)) = body.split_once(',') else {
        return false;
    };
    let code = code.trim_start_matches(',');
    let digit_at_ends =
        |s: &str| s.starts_with(|c: char| c.is_ascii_digit()) && s.ends_with(|c: char| c.is_ascii_digit());
    digit_at_ends(dial)
        && dial.chars().all(|c| c.is_ascii_digit() || c == ' ' || c == '-')
        && !code.is_empty()
        && code.chars().all(|c| c.is_ascii_digit())
}

#[test]
fn every_incident_and_its_bridge_match_the_spec() {
    let s = start(config());
    let incidents = every_incident(&s);
    assert_eq!(incidents.len(), 3000);
    assert_match_spec("incident", &incidents);
    assert_match_spec("conference_bridge", &bridges(&incidents));
}

#[test]
fn major_incidents_have_a_bridge_and_the_others_null() {
    let s = start(config());
    let incidents = every_incident(&s);
    for incident in &incidents {
        let bridge = &incident["conference_bridge"];
        assert!(bridge.is_object() || bridge.is_null(), "{bridge}");
        assert_eq!(bridge.is_object(), is_major(incident), "{} {}: {bridge}", incident["id"], incident["priority"]);
    }
    let with = bridges(&incidents).len();
    assert!((150..=400).contains(&with), "{with} of 3000 incidents have a bridge (P1 and P2 are about 9%)");
}

#[test]
fn every_bridge_has_a_number_or_a_url_and_each_shape_occurs() {
    let s = start(config());
    let bridges = bridges(&every_incident(&s));
    let shape = |b: &Value| (b["conference_number"].is_string(), b["conference_url"].is_string());
    for b in &bridges {
        assert_eq!(b.as_object().unwrap().len(), 2, "{b}");
        for field in ["conference_number", "conference_url"] {
            assert!(b[field].is_string() || b[field].is_null(), "{b}");
        }
        assert_ne!(shape(b), (false, false), "a bridge with neither number nor URL: {b}");
    }
    for expected in [(true, true), (false, true), (true, false)] {
        assert!(bridges.iter().any(|b| shape(b) == expected), "no bridge with (number, URL) = {expected:?}");
    }
}

#[test]
fn bridge_numbers_follow_the_documented_format_and_are_fictional() {
    // The checker itself: PagerDuty's own example passes, near misses do not.
    assert!(in_documented_format("+1 415-555-1212,,,,1234#"));
    assert!(in_documented_format("+1 4155550100,,123456789#"));
    for bad in
        ["+1 4155550100", "4155550100,,123#", "+1 4155550100,,12a#", "+1 4155550100,,#", "+,,123#", "+1 415,,1#x"]
    {
        assert!(!in_documented_format(bad), "{bad}");
    }
    let s = start(config());
    let bridges = bridges(&every_incident(&s));
    let mut numbers = 0;
    for b in &bridges {
        if let Some(number) = b["conference_number"].as_str() {
            numbers += 1;
            assert!(in_documented_format(number), "{number}");
            // North American 555-0100 to 555-0199: reserved for fiction, never dialled.
            let dial: String = number.split(',').next().unwrap().chars().filter(char::is_ascii_digit).collect();
            assert_eq!(dial.len(), 11, "{number}");
            assert_eq!(&dial[4..8], "5550", "{number}");
            assert_eq!(&dial[8..9], "1", "{number}");
        }
        if let Some(url) = b["conference_url"].as_str() {
            assert!(url.starts_with("https://meet.example.com/"), "{url}");
        }
    }
    assert!(numbers > 0, "no bridge with a number among {}", bridges.len());
}

#[test]
fn the_same_incident_always_renders_the_same_bridge() {
    let a = start(config());
    let b = start(config());
    let listed = every_incident(&a);
    let majors: Vec<&Value> = listed.iter().filter(|i| !i["conference_bridge"].is_null()).take(20).collect();
    assert!(!majors.is_empty());
    let minor = listed.iter().find(|i| i["conference_bridge"].is_null()).unwrap();
    for incident in majors.into_iter().chain([minor]) {
        let path = format!("/incidents/{}", incident["id"].as_str().unwrap());
        let bridge = &incident["conference_bridge"];
        assert_eq!(&ok(&a, &path)["incident"]["conference_bridge"], bridge, "{path}, list and single");
        assert_eq!(&ok(&a, &path)["incident"]["conference_bridge"], bridge, "{path}, fetched again");
        assert_eq!(&ok(&b, &path)["incident"]["conference_bridge"], bridge, "{path}, another start");
    }
    assert_eq!(bridges(&every_incident(&b)), bridges(&listed), "the list from another start");
}
