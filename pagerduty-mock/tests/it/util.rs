//! Shared helpers: start a server with a fixed "now", make authenticated requests.

use chrono::{DateTime, TimeZone, Utc};
use pagerduty_mock::{MockConfig, MockServer};
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
