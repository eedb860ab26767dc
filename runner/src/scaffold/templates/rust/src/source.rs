//! The source's API: **the file to change.** The example below answers the way a paged HTTP
//! API would, from a static list of five incidents, newest first, two per page. To sync the
//! real {{name}}:
//!
//! 1. add an HTTP client to Cargo.toml (`ureq` is small and blocking; `reqwest` with its
//!    `blocking` feature is what the toolkit's PagerDuty connector uses);
//! 2. replace the bodies of [`Client::check_token`], [`Client::account_stream`] and
//!    [`Client::incidents`] with requests to the API (each says which);
//! 3. change [`ApiIncident`] to the API's JSON and [`to_record`] to map it onto the shared
//!    Incident schema (`schemas/records/Incident.json` in the toolkit).
//!
//! `sync.rs` needs no change as long as the API lists incidents newest first, page by page.

use connector_sdk::{ConnectorError, Stream};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::config::Config;

/// Incidents per page. A real API takes a `limit` or `per_page`: ask for its maximum.
pub const PAGE_SIZE: usize = 2;

/// The example source's incidents, newest first, as JSON text: what a real client reads
/// from the body of `GET {apiBaseUrl}/incidents`.
const EXAMPLE_INCIDENTS: &str = r#"[
  {"id": "EX-5", "number": 5, "title": "Checkout latency above 2 s", "status": "resolved", "urgency": "high", "created_at": "2026-03-14T09:26:53Z"},
  {"id": "EX-4", "number": 4, "title": "Disk 91% full on db-2", "status": "acknowledged", "urgency": "high", "created_at": "2026-03-02T17:05:00Z"},
  {"id": "EX-3", "number": 3, "title": "TLS certificate of api.example.com expires in 7 days", "status": "triggered", "urgency": "low", "created_at": "2026-02-20T08:00:00Z"},
  {"id": "EX-2", "number": 2, "title": "Nightly export failed", "status": "resolved", "urgency": "low", "created_at": "2026-02-03T02:14:09Z"},
  {"id": "EX-1", "number": 1, "title": "Login errors after deploy 4812", "status": "resolved", "urgency": "high", "created_at": "2026-01-12T11:40:31Z"}
]"#;

/// An incident as the API returns it.
#[derive(Debug, Clone, Deserialize)]
pub struct ApiIncident {
    pub id: String,
    pub number: u64,
    pub title: String,
    /// Already one of the Incident schema's `triggered`, `acknowledged`, `resolved`; a real
    /// API's own words are mapped onto those in [`to_record`].
    pub status: String,
    pub urgency: String,
    /// RFC 3339.
    pub created_at: String,
}

/// One page of incidents, and whether there are more after it.
#[derive(Debug)]
pub struct Page {
    pub incidents: Vec<ApiIncident>,
    pub more: bool,
}

/// A client of the API, made from the configuration.
pub struct Client {
    token: String,
    base_url: String,
}

impl Client {
    pub fn new(config: &Config) -> Self {
        Client { token: config.api_token.clone(), base_url: config.api_base_url.trim_end_matches('/').to_owned() }
    }

    /// The API's root URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Whether the source accepts the token; `Err` holds the reason, for `verify`.
    ///
    /// Real API: one cheap authenticated request (`GET {base}/me`) with the token in the
    /// `Authorization` header; a 401 or 403 is `Err` with the API's own message. Never put
    /// the token itself in a message: the runner masks it, but the kit flags the leak.
    pub fn check_token(&self) -> Result<(), String> {
        if self.token.chars().any(char::is_whitespace) {
            return Err("the source refused apiToken: it contains a space or a line break (copy it again)".into());
        }
        Ok(())
    }

    /// The one stream: the account the token belongs to. Real API: ask who the token
    /// belongs to, and emit one Stream per independently syncable unit (account, project).
    pub fn account_stream(&self) -> Stream {
        Stream::new("example-account", self.base_url.clone(), "{{name}} example account")
    }

    /// Page `page` (1, 2, ...) of the incidents, newest first.
    ///
    /// Real API: `GET {base}/incidents?sort=-created_at&page={page}&per_page={PAGE_SIZE}`,
    /// parsing the body as below; map HTTP 401/403 to `ConnectorError::auth`, 429 and 5xx
    /// (after retries) to `ConnectorError::transient`.
    ///
    /// # Errors
    /// The request failed or its answer is not what was expected.
    pub fn incidents(&self, page: usize) -> Result<Page, ConnectorError> {
        let all: Vec<ApiIncident> = serde_json::from_str(EXAMPLE_INCIDENTS)
            .map_err(|e| ConnectorError::internal(format!("GET /incidents: unexpected answer: {e}")))?;
        let start = page.saturating_sub(1) * PAGE_SIZE;
        let incidents: Vec<ApiIncident> = all.iter().skip(start).take(PAGE_SIZE).cloned().collect();
        Ok(Page { more: start + PAGE_SIZE < all.len(), incidents })
    }
}

/// An Incident record (`schemas/records/Incident.json`) from an incident of the API.
pub fn to_record(incident: &ApiIncident, base_url: &str) -> Value {
    json!({
        "_type": "Incident",
        "id": incident.id,
        "self": format!("{base_url}/incidents/{}", incident.id),
        "number": incident.number,
        "title": incident.title,
        "status": incident.status,
        "urgency": incident.urgency,
        "createdAt": incident.created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(token: &str) -> Client {
        Client::new(&Config { api_token: token.into(), api_base_url: "https://api.example.com/".into() })
    }

    #[test]
    fn pages_hold_two_incidents_newest_first_and_say_when_there_are_more() {
        let ids = |page: usize| client("t0k3n").incidents(page).unwrap();
        let first = ids(1);
        assert_eq!(first.incidents.iter().map(|i| i.id.as_str()).collect::<Vec<_>>(), ["EX-5", "EX-4"]);
        assert!(first.more);
        let last = ids(3);
        assert_eq!(last.incidents.len(), 1);
        assert!(!last.more);
        assert!(ids(4).incidents.is_empty());
    }

    #[test]
    fn a_token_with_a_space_is_refused_without_quoting_it() {
        assert!(client("t0k3n").check_token().is_ok());
        let reason = client("t0k 3n").check_token().unwrap_err();
        assert!(reason.contains("apiToken") && !reason.contains("t0k 3n"), "{reason}");
    }

    #[test]
    fn every_record_is_a_valid_incident() {
        let client = client("t0k3n");
        for page in 1..=3 {
            for incident in client.incidents(page).unwrap().incidents {
                let record = to_record(&incident, client.base_url());
                connector_sdk::protocol::SchemaRegistry::global().validate_record(&record).expect("a valid Incident");
                assert_eq!(record["self"], format!("https://api.example.com/incidents/{}", incident.id));
            }
        }
    }
}
