//! Rule: classic pagination (limit default 25, at most 100, offset echoed, more, total
//! null unless total=true) and the 10,000 offset cap (400, code 2002).

use std::collections::HashSet;

use crate::util::*;

#[test]
fn limit_offset_more_total() {
    let s = start(config());
    let first = ok(&s, "/incidents?date_range=all");
    assert_eq!(first["limit"], 25);
    assert_eq!(first["offset"], 0);
    assert_eq!(first["more"], true);
    assert!(first["total"].is_null());
    assert_eq!(first["incidents"].as_array().unwrap().len(), 25);
    let big = ok(&s, "/incidents?date_range=all&limit=1000&offset=7&total=true");
    assert_eq!(big["limit"], 100);
    assert_eq!(big["offset"], 7);
    assert_eq!(big["total"], 3000);
    assert_eq!(big["incidents"][0]["incident_number"], 8);
    let last = ok(&s, "/incidents?date_range=all&limit=100&offset=2950");
    assert_eq!(last["more"], false);
    assert_eq!(last["incidents"].as_array().unwrap().len(), 50);
    let beyond = ok(&s, "/incidents?date_range=all&offset=5000&limit=10");
    assert!(beyond["incidents"].as_array().unwrap().is_empty());
    let users = ok(&s, "/users?limit=10&offset=25&total=true");
    assert_eq!((users["total"].as_u64(), users["more"].as_bool()), (Some(30), Some(false)));
}

#[test]
fn walking_pages_yields_every_item_once() {
    let s = start(config());
    let all = all_pages(&s, "/incidents", "date_range=all", "incidents");
    let ids: HashSet<_> = all.iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
    assert_eq!((all.len(), ids.len()), (3000, 3000));
}

#[test]
fn offset_cap_and_bad_values() {
    let s = start(config());
    assert_eq!(get(&s, "/incidents?date_range=all&offset=9900&limit=100").status, 200);
    for path in [
        "/incidents?offset=9901&limit=100",
        "/incidents?offset=9990",
        "/log_entries?offset=10000&limit=1",
        "/users?offset=20000",
    ] {
        let a = get(&s, path);
        assert_eq!((a.status, a.error_code()), (400, Some(2002)), "{path}");
        assert_eq!(a.body["error"]["message"], "Arguments Caused Error");
    }
    for path in [
        "/incidents?limit=abc",
        "/incidents?offset=-5",
        "/incidents?limit=0",
        "/incidents?total=yes",
        "/incidents?offset=1e3",
    ] {
        let a = get(&s, path);
        assert_eq!((a.status, a.error_code()), (400, Some(2001)), "{path}");
    }
}
