//! Every helper of the integration tests: servers with a fixed "now", requests and
//! reading their answers, ground truth by brute force, checks against PagerDuty's
//! OpenAPI inventory, and heap measurement per thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, DurationRound, TimeZone, Utc};
use pagerduty_mock::{Dataset, IncidentTruth, LogEntryTruth, MockConfig, MockServer};
use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use serde_json::Value;

pub const USER_TOKEN: &str = "mock-user-token";
pub const ACCOUNT_TOKEN: &str = "mock-account-token";

/// The fixed reference time of test data.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
}

/// A config with a fixed `now` and a small volume.
pub fn config() -> MockConfig {
    MockConfig { incidents: 3000, days: 120, now: Some(now()), ..MockConfig::default() }
}

pub fn start(config: MockConfig) -> MockServer {
    pagerduty_mock::start_blocking(config).expect("simulator starts")
}

/// An answer: status, headers, JSON body (Null if not JSON).
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn error_code(&self) -> Option<u64> {
        self.body["error"]["code"].as_u64()
    }
}

/// GET with an arbitrary Authorization header (None: no header).
pub fn get_with(server: &MockServer, path: &str, auth: Option<&str>) -> Answer {
    let mut req = Client::new().get(format!("{}{path}", server.base_url));
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let resp = req.send().expect("request is answered");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().unwrap_or_default();
    Answer { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
}

/// GET as the user-level token.
pub fn get(server: &MockServer, path: &str) -> Answer {
    get_with(server, path, Some(&format!("Token token={USER_TOKEN}")))
}

/// GET that must succeed; returns the body.
pub fn ok(server: &MockServer, path: &str) -> Value {
    let a = get(server, path);
    assert_eq!(a.status, 200, "GET {path}: {}", a.body);
    a.body
}

/// `since`/`until` query parameters for a range.
pub fn range(since: DateTime<Utc>, until: DateTime<Utc>) -> String {
    format!("since={}&until={}", enc(since), enc(until))
}

pub fn enc(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Fetches every page of a list endpoint; `query` must not contain limit/offset.
pub fn all_pages(server: &MockServer, path: &str, query: &str, key: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let body = ok(server, &format!("{path}?{query}&limit=100&offset={offset}"));
        let items = body[key].as_array().expect("list key").clone();
        out.extend(items);
        if !body["more"].as_bool().unwrap() {
            return out;
        }
        offset += 100;
    }
}

/// POST without credentials, as the `/__mock` control endpoints take it.
pub fn post(server: &MockServer, path: &str) -> Answer {
    let resp = Client::new().post(format!("{}{path}", server.base_url)).send().expect("request is answered");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let text = resp.text().unwrap_or_default();
    Answer { status, headers, body: serde_json::from_str(&text).unwrap_or(Value::Null) }
}

/// GET without credentials, as the `/__mock` control endpoints take it.
pub fn control(server: &MockServer, path: &str) -> Answer {
    get_with(server, path, None)
}

/// The raw body of an authenticated GET, with the server's address replaced by `BASE`
/// so bodies of two servers can be compared byte for byte.
pub fn body_text(server: &MockServer, path: &str) -> String {
    let resp = Client::new()
        .get(format!("{}{path}", server.base_url))
        .header("Authorization", format!("Token token={USER_TOKEN}"))
        .send()
        .expect("request is answered");
    resp.text().expect("a text body").replace(&server.base_url, "BASE")
}

/// The `created_at` of a served object.
pub fn created_at(object: &Value) -> DateTime<Utc> {
    object["created_at"].as_str().expect("created_at").parse().expect("an RFC 3339 time")
}

/// The IDs of the objects listed under `key`.
pub fn ids(body: &Value, key: &str) -> HashSet<String> {
    body[key].as_array().expect("a list").iter().map(|o| o["id"].as_str().expect("an id").to_string()).collect()
}

/// The `incident_number`s of a page of incidents, in order.
pub fn incident_numbers(body: &Value) -> Vec<u64> {
    body["incidents"].as_array().expect("a list").iter().map(|i| i["incident_number"].as_u64().unwrap()).collect()
}

/// Incidents with `since <= created_at < until`, found by scanning every incident the
/// generator makes rather than through the simulator's creation-time index.
pub fn scan_incidents(dataset: &Dataset, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<IncidentTruth> {
    dataset.incidents().filter(|i| since <= i.created_at && i.created_at < until).collect()
}

/// Log entries with `since <= created_at < until`, found by scanning every incident's
/// timeline rather than through the simulator's log index.
pub fn scan_log_entries(dataset: &Dataset, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<LogEntryTruth> {
    dataset.log_entries().filter(|e| since <= e.created_at && e.created_at < until).collect()
}

/// The clock hour in which most incidents were created, and how many, counted over
/// every incident rather than through the simulator's index.
pub fn scan_busiest_hour(truth: &Dataset) -> (DateTime<Utc>, u64) {
    let mut per_hour: BTreeMap<DateTime<Utc>, u64> = BTreeMap::new();
    for incident in truth.incidents() {
        *per_hour.entry(incident.created_at.duration_trunc(Duration::hours(1)).unwrap()).or_default() += 1;
    }
    per_hour.into_iter().max_by_key(|&(_, count)| count).unwrap()
}

/// `tests/fixtures/openapi_inventory.json`: per object kind, its fields with their
/// allowed JSON types, and the fields it always has.
pub fn inventory() -> Value {
    serde_json::from_str(include_str!("../fixtures/openapi_inventory.json")).unwrap()
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The ways `obj` departs from the inventory's `kind`.
fn spec_problems(kind: &str, obj: &Value) -> Vec<String> {
    let inv = inventory();
    let fields = inv[kind]["fields"].as_object().unwrap();
    let mut problems = Vec::new();
    for (name, value) in obj.as_object().unwrap() {
        match fields.get(name) {
            None => problems.push(format!("{kind}.{name} is not in the spec")),
            Some(types) if !types.as_array().unwrap().contains(&json_type(value).into()) => {
                problems.push(format!("{kind}.{name} is {}, spec allows {types}", json_type(value)))
            }
            _ => {}
        }
    }
    for required in inv[kind]["always"].as_array().unwrap() {
        if obj.get(required.as_str().unwrap()).is_none() {
            problems.push(format!("{kind} lacks {required}"));
        }
    }
    problems
}

/// Asserts that every one of `objects` (at least one) matches the inventory's `kind`.
pub fn assert_match_spec(kind: &str, objects: &[Value]) {
    assert!(!objects.is_empty(), "no {kind} to check");
    let problems: Vec<String> = objects.iter().flat_map(|o| spec_problems(kind, o)).collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

/// The items of a list answer, after checking its pagination fields against the spec.
pub fn spec_checked_list(s: &MockServer, path: &str, key: &str) -> Vec<Value> {
    let body = ok(s, path);
    assert_match_spec(
        "pagination",
        &[serde_json::json!({
            "offset": body["offset"], "limit": body["limit"], "more": body["more"], "total": body["total"]
        })],
    );
    body[key].as_array().unwrap().clone()
}

/// The system allocator, counting the bytes each thread has live, so a test can measure
/// what a call on its own thread holds whatever other tests allocate meanwhile.
pub struct CountingAllocator;

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

thread_local! {
    // Const-initialised and without destructors: usable from inside the allocator.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn count(delta: isize) {
    let live = LIVE.get() + delta;
    LIVE.set(live);
    if live > PEAK.get() {
        PEAK.set(live);
    }
}

// SAFETY: every call goes to `System` unchanged; counting only reads the layout.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc(layout);
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = System.alloc_zeroed(layout);
        if !ptr.is_null() {
            count(layout.size() as isize);
        }
        ptr
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout);
        count(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let moved = System.realloc(ptr, layout, new_size);
        if !moved.is_null() {
            count(new_size as isize - layout.size() as isize);
        }
        moved
    }
}

/// Runs `f` and returns its value with the most heap memory it held at once on this
/// thread (allocations on other threads are not counted).
pub fn peak_heap_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let before = LIVE.get();
    PEAK.set(before);
    let value = f();
    (value, (PEAK.get() - before).max(0) as usize)
}
