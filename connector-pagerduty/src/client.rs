//! The PagerDuty REST client: the SDK's [`http::Client`] with PagerDuty's headers, and
//! [`ApiError`], which names failures the way PagerDuty does.
//!
//! Every request is a `GET` returning JSON. Retries, pacing by the `ratelimit-*` headers
//! and the pool of request threads are the SDK's (`connector_sdk::http`); what is
//! PagerDuty's lives here: the token travels only in the `Authorization` header (marked
//! sensitive) and never appears in an error; errors name the path, the host, PagerDuty's
//! own message and code; and which statuses mean a bad token or a plan without a feature.

use connector_sdk::http::{self, RetryPolicy, Settings, SetupError};
use connector_sdk::{ConnectorError, ErrorKind};
use reqwest::blocking::Response;
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use serde_json::Value;

use crate::config::Config;

/// PagerDuty's versioned media type.
const MEDIA_TYPE: &str = "application/vnd.pagerduty+json;version=2";
const USER_AGENT: &str = concat!("connector-pagerduty/", env!("CARGO_PKG_VERSION"));

/// Query parameters, in order; array parameters repeat their key (`service_ids[]`).
pub type Query = http::Query;

/// A PagerDuty API client, shared by the request threads of a sync.
pub type Client = http::Client<ApiError>;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `apiBaseUrl` is not an http(s) URL.
    #[error("apiBaseUrl is not a usable http(s) URL: {0}")]
    BadBaseUrl(String),
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
    /// No answer: DNS, connection, TLS or timeout.
    #[error("cannot reach {host}: {cause}")]
    Unreachable {
        /// Host (and port) of `apiBaseUrl`.
        host: String,
        /// The innermost cause, e.g. "Connection refused (os error 111)".
        cause: String,
    },
    /// PagerDuty answered with an error status.
    #[error("GET {path}: HTTP {status} {message}{}{}", code.map(|c| format!(" (code {c})")).unwrap_or_default(),
        if errors.is_empty() { String::new() } else { format!(": {}", errors.join("; ")) })]
    Status {
        /// The request path.
        path: String,
        /// The HTTP status.
        status: u16,
        /// PagerDuty's `error.message`, or the status's reason phrase.
        message: String,
        /// PagerDuty's `error.code`.
        code: Option<i64>,
        /// PagerDuty's `error.errors`.
        errors: Vec<String>,
    },
    /// 429 after every wait the policy allows.
    #[error("GET {path}: still rate limited (HTTP 429) after {attempts} refusals in a row; lower maxRequestsPerMinute or share the token less")]
    RateLimited {
        /// The request path.
        path: String,
        /// Requests refused in a row (this one's and others').
        attempts: u32,
    },
    /// Retryable failures until the policy gave up.
    #[error("GET {path}: gave up after {attempts} attempts; last failure: {last}")]
    GaveUp {
        /// The request path.
        path: String,
        /// Requests made.
        attempts: u32,
        /// The last failure.
        last: Box<ApiError>,
    },
    /// A 2xx answer that is not the JSON expected.
    #[error("GET {path}: the answer is not the expected JSON: {cause}")]
    Decode {
        /// The request path.
        path: String,
        /// What is wrong.
        cause: String,
    },
}

impl ApiError {
    /// The HTTP status of a PagerDuty error answer (also inside [`ApiError::GaveUp`]).
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            ApiError::GaveUp { last, .. } => last.status(),
            _ => None,
        }
    }

    /// PagerDuty's error message, for answers to humans (verify).
    pub fn pagerduty_message(&self) -> Option<&str> {
        match self {
            ApiError::Status { message, .. } => Some(message),
            _ => None,
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            ApiError::BadBaseUrl(_) => ErrorKind::Config,
            ApiError::Status { status: 401 | 403, .. } => ErrorKind::Auth,
            ApiError::Status { status: 402, .. } => ErrorKind::Config,
            ApiError::RateLimited { .. } => ErrorKind::RateLimited,
            ApiError::GaveUp { .. } | ApiError::Unreachable { .. } => ErrorKind::Transient,
            ApiError::Status { .. } | ApiError::Decode { .. } | ApiError::Setup(_) => ErrorKind::Internal,
        }
    }
}

impl http::RequestError for ApiError {
    fn unreachable(host: &str, cause: String) -> Self {
        ApiError::Unreachable { host: host.to_owned(), cause }
    }

    fn status(path: &str, response: Response) -> Self {
        status_error(path, response)
    }

    fn undecodable(path: &str, cause: String) -> Self {
        ApiError::Decode { path: path.to_owned(), cause }
    }

    fn rate_limited(path: &str, refusals: u32) -> Self {
        ApiError::RateLimited { path: path.to_owned(), attempts: refusals }
    }

    fn gave_up(path: &str, attempts: u32, last: Self) -> Self {
        ApiError::GaveUp { path: path.to_owned(), attempts, last: Box::new(last) }
    }
}

impl From<SetupError> for ApiError {
    fn from(error: SetupError) -> Self {
        match error {
            SetupError::BadBaseUrl(reason) => ApiError::BadBaseUrl(reason),
            SetupError::Http(reason) => ApiError::Setup(reason),
        }
    }
}

impl From<ApiError> for ConnectorError {
    fn from(error: ApiError) -> Self {
        ConnectorError::new(error.kind(), error.to_string())
    }
}

/// A client for `config` with the default retry policy.
///
/// # Errors
/// [`ApiError::BadBaseUrl`] or [`ApiError::Setup`].
pub fn connect(config: &Config) -> Result<Client, ApiError> {
    connect_with_policy(config, RetryPolicy::default())
}

/// A client for `config` with a given retry policy.
///
/// # Errors
/// [`ApiError::BadBaseUrl`] or [`ApiError::Setup`].
pub fn connect_with_policy(config: &Config, policy: RetryPolicy) -> Result<Client, ApiError> {
    let mut settings = Settings::new(config.api_base_url.clone(), USER_AGENT);
    settings.headers = headers(&config.api_token)?;
    settings.requests_per_minute = config.max_requests_per_minute;
    settings.policy = policy;
    Ok(Client::new(settings)?)
}

fn headers(token: &str) -> Result<HeaderMap, ApiError> {
    let mut auth = HeaderValue::from_str(&format!("Token token={token}"))
        // Do not quote the token: only say what is wrong with it.
        .map_err(|_| ApiError::Setup("apiToken contains characters not allowed in an HTTP header".into()))?;
    auth.set_sensitive(true);
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, auth);
    headers.insert(ACCEPT, HeaderValue::from_static(MEDIA_TYPE));
    Ok(headers)
}

/// `{"error":{"message","code","errors"}}` when PagerDuty sent it, else the reason phrase.
fn status_error(path: &str, response: Response) -> ApiError {
    let status = response.status();
    let body: Value = response.json().unwrap_or(Value::Null);
    let error = &body["error"];
    let message = error["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
    let errors = error["errors"]
        .as_array()
        .map(|list| list.iter().map(|e| e.as_str().map_or_else(|| e.to_string(), str::to_owned)).collect())
        .unwrap_or_default();
    ApiError::Status { path: path.to_owned(), status: status.as_u16(), message, code: error["code"].as_i64(), errors }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use serde_json::json;
    use test_support::http::{refused_url, Reply, Server};

    const TOKEN: &str = "test-token-5678";

    fn client(server: &Server, max_attempts: u32) -> Client {
        let config: Config =
            serde_json::from_value(json!({"apiToken": TOKEN, "apiBaseUrl": server.base_url()})).unwrap();
        let policy = RetryPolicy { max_attempts, base_delay: Duration::from_millis(1), ..RetryPolicy::default() };
        connect_with_policy(&config, policy).unwrap()
    }

    #[test]
    fn a_429_waits_for_ratelimit_reset_then_succeeds() {
        let server = Server::sequence(vec![
            Reply::json(429, json!({"error": {"message": "Rate Limit Exceeded", "code": 2020}}))
                .header("ratelimit-reset", "1"),
            Reply::json(200, json!({"abilities": []})),
        ]);
        let started = std::time::Instant::now();
        let answer = client(&server, 3).get("/abilities", &Vec::new()).unwrap();
        assert_eq!(answer["abilities"], json!([]));
        assert!(started.elapsed() >= Duration::from_secs(1), "waited for the reset");
        assert_eq!(server.requests().len(), 2);
    }

    #[test]
    fn server_errors_are_retried_and_then_reported_as_transient() {
        let unavailable = Reply::json(503, json!({"error": {"message": "Service Unavailable"}}));
        let server = Server::sequence(vec![unavailable.clone(), unavailable, Reply::json(200, json!({"ok": true}))]);
        assert_eq!(client(&server, 3).get("/x", &Vec::new()).unwrap()["ok"], true);

        let always = Server::always(Reply::json(500, json!({"error": {"message": "Internal Error", "code": 2000}})));
        let error = client(&always, 4).get("/x", &Vec::new()).unwrap_err();
        assert_eq!(always.requests().len(), 4, "bounded attempts");
        let error = ConnectorError::from(error);
        assert_eq!(error.kind, ErrorKind::Transient);
        assert!(
            error.message.contains("gave up after 4 attempts") && error.message.contains("Internal Error"),
            "{error}"
        );
    }

    #[test]
    fn a_400_is_not_retried_and_carries_pagerdutys_message() {
        let server = Server::always(Reply::json(
            400,
            json!({"error": {"message": "Arguments Caused Error", "code": 2002, "errors": ["Offset+limit too big"]}}),
        ));
        let error = client(&server, 5).get("/incidents", &vec![("offset", "10000".into())]).unwrap_err();
        assert_eq!(server.requests().len(), 1);
        assert_eq!(
            error.to_string(),
            "GET /incidents: HTTP 400 Arguments Caused Error (code 2002): Offset+limit too big"
        );
    }

    #[test]
    fn requests_carry_pagerduty_headers_and_errors_never_the_token() {
        let server =
            Server::always(Reply::json(401, json!({"error": {"message": "Authentication failed", "code": 2006}})));
        let error = ConnectorError::from(client(&server, 2).get("/abilities", &Vec::new()).unwrap_err());
        assert_eq!(error.kind, ErrorKind::Auth);
        assert!(error.message.contains("Authentication failed") && !error.message.contains(TOKEN), "{error}");
    }

    #[test]
    fn an_unreachable_host_is_named_with_its_cause() {
        let base_url = refused_url();
        let host = base_url.trim_start_matches("http://").to_owned();
        let config: Config = serde_json::from_value(json!({"apiToken": TOKEN, "apiBaseUrl": base_url})).unwrap();
        let policy = RetryPolicy { max_attempts: 2, base_delay: Duration::from_millis(1), ..RetryPolicy::default() };
        let error = connect_with_policy(&config, policy).unwrap().get("/abilities", &Vec::new()).unwrap_err();
        let text = error.to_string();
        assert!(text.contains(&format!("cannot reach {host}")), "{text}");
        assert!(text.to_lowercase().contains("refused"), "{text}");
    }
}
