//! The PagerDuty REST client: authentication, headers, pacing within the rate limit,
//! retries, and turning failures into errors a person can act on.
//!
//! Every request is a `GET` returning JSON. The token travels only in the
//! `Authorization` header (marked sensitive) and never appears in an error: errors name
//! the path, the host, PagerDuty's own message and code. A `Client` is shared by the
//! request threads of a sync (`pool`): every request waits for its turn at the
//! [`Pacer`], and every answer tells the pacer what the `ratelimit-*` headers say.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use connector_sdk::{ConnectorError, ErrorKind};
use reqwest::blocking::{Client as Http, Response};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, AUTHORIZATION};
use reqwest::{StatusCode, Url};
use serde_json::Value;

use crate::config::Config;
use crate::ratelimit::{Headers, Pacer};
use crate::retry::{rate_limit_hint, Jitter, RetryPolicy};

/// PagerDuty's versioned media type.
const MEDIA_TYPE: &str = "application/vnd.pagerduty+json;version=2";
const USER_AGENT: &str = concat!("connector-pagerduty/", env!("CARGO_PKG_VERSION"));
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Query parameters, in order; array parameters repeat their key (`service_ids[]`).
pub type Query = Vec<(&'static str, String)>;

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

    fn retryable(&self) -> bool {
        matches!(self, ApiError::Unreachable { .. }) || self.status().is_some_and(|s| s >= 500)
    }
}

impl From<ApiError> for ConnectorError {
    fn from(error: ApiError) -> Self {
        ConnectorError::new(error.kind(), error.to_string())
    }
}

/// A PagerDuty API client for one configuration.
#[derive(Debug)]
pub struct Client {
    http: Http,
    base: String,
    host: String,
    policy: RetryPolicy,
    pacer: Pacer,
    jitter: Mutex<Jitter>,
    requests: AtomicU64,
    rate_limited: AtomicU64,
}

impl Client {
    /// A client with the default retry policy.
    ///
    /// # Errors
    /// [`ApiError::BadBaseUrl`] or [`ApiError::Setup`].
    pub fn new(config: &Config) -> Result<Self, ApiError> {
        Client::with_policy(config, RetryPolicy::default())
    }

    /// A client with a given retry policy.
    ///
    /// # Errors
    /// [`ApiError::BadBaseUrl`] or [`ApiError::Setup`].
    pub fn with_policy(config: &Config, policy: RetryPolicy) -> Result<Self, ApiError> {
        let url = Url::parse(&config.api_base_url).map_err(|e| ApiError::BadBaseUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(ApiError::BadBaseUrl(format!("scheme `{}` without a host", url.scheme())));
        }
        let host = match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        };
        let http = Http::builder()
            .user_agent(USER_AGENT)
            .default_headers(headers(&config.api_token)?)
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .gzip(true)
            .build()
            .map_err(|e| ApiError::Setup(innermost(&e)))?;
        Ok(Client {
            http,
            base: config.api_base_url.trim_end_matches('/').to_owned(),
            host,
            policy,
            pacer: Pacer::new(config.max_requests_per_minute),
            jitter: Mutex::new(Jitter::from_entropy()),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
        })
    }

    /// Host (and port) of the API, for messages.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The API root without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Requests sent so far, retries included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Answers so far that were 429 (too many requests).
    pub fn rate_limited(&self) -> u64 {
        self.rate_limited.load(Ordering::Relaxed)
    }

    /// The pacer every request of this client waits at.
    pub fn pacer(&self) -> &Pacer {
        &self.pacer
    }

    /// `GET path?query`, retried per the policy, parsed as JSON.
    ///
    /// # Errors
    /// [`ApiError`]: no retry helped, or the answer was an error that retrying cannot fix.
    pub fn get(&self, path: &str, query: &Query) -> Result<Value, ApiError> {
        let mut failures = 0;
        let mut rate_limited = 0;
        loop {
            let error = match self.attempt(path, query, rate_limited + 1) {
                Attempt::Done(value) => return Ok(value),
                Attempt::Fatal(error) => return Err(error),
                Attempt::RateLimited { in_a_row } => {
                    // The pacer holds every request back until the wait is over. Refusals
                    // count in a row across requests: with several in flight, a token that
                    // stays refused is given up on after as many as for one.
                    rate_limited += 1;
                    if in_a_row >= self.policy.max_rate_limited {
                        return Err(ApiError::RateLimited { path: path.to_owned(), attempts: in_a_row });
                    }
                    continue;
                }
                Attempt::Retry(error) => error,
            };
            failures += 1;
            if failures >= self.policy.max_attempts {
                return Err(ApiError::GaveUp { path: path.to_owned(), attempts: failures, last: Box::new(error) });
            }
            std::thread::sleep(self.policy.backoff(failures, &mut self.jitter()));
        }
    }

    fn jitter(&self) -> std::sync::MutexGuard<'_, Jitter> {
        self.jitter.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One request: wait for the pacer, send, tell the pacer what the answer said.
    /// `refusal` numbers the 429 this would be in a row, for the wait without a hint.
    fn attempt(&self, path: &str, query: &Query, refusal: u32) -> Attempt {
        self.pacer.acquire();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let url = format!("{}{path}", self.base);
        let response = match self.http.get(&url).query(query).send() {
            Ok(response) => response,
            Err(e) => {
                self.pacer.unanswered();
                return Attempt::Retry(ApiError::Unreachable { host: self.host.clone(), cause: innermost(&e) });
            }
        };
        let status = response.status();
        let budget = Headers::parse(response.headers());
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
            let hint = rate_limit_hint(response.headers());
            let wait = self.policy.rate_limit_wait(hint, refusal, &mut self.jitter());
            return Attempt::RateLimited { in_a_row: self.pacer.refused(budget, wait) };
        }
        self.pacer.answered(budget);
        if status.is_success() {
            return match response.json::<Value>() {
                Ok(value) => Attempt::Done(value),
                // A body cut off mid-way is a network failure, not a broken API.
                Err(e) if e.is_body() || e.is_timeout() => {
                    Attempt::Retry(ApiError::Unreachable { host: self.host.clone(), cause: innermost(&e) })
                }
                Err(e) => Attempt::Fatal(ApiError::Decode { path: path.to_owned(), cause: innermost(&e) }),
            };
        }
        let error = status_error(path, response);
        if error.retryable() {
            Attempt::Retry(error)
        } else {
            Attempt::Fatal(error)
        }
    }
}

enum Attempt {
    Done(Value),
    RateLimited { in_a_row: u32 },
    Retry(ApiError),
    Fatal(ApiError),
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

/// The innermost cause of a reqwest error: "Connection refused (os error 111)" rather
/// than "error sending request for url (...)".
fn innermost(error: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    let text = cause.to_string();
    if error.is_timeout() && !text.contains("timed out") {
        format!("timed out ({text})")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testserver::{Reply, TestServer};
    use serde_json::json;

    const TOKEN: &str = "test-token-5678";

    fn client(server: &TestServer, max_attempts: u32) -> Client {
        let config: Config = serde_json::from_value(json!({"apiToken": TOKEN, "apiBaseUrl": server.base_url})).unwrap();
        let policy = RetryPolicy { max_attempts, base_delay: Duration::from_millis(1), ..RetryPolicy::default() };
        Client::with_policy(&config, policy).unwrap()
    }

    #[test]
    fn a_429_waits_for_ratelimit_reset_then_succeeds() {
        let server = TestServer::start(|_, n| match n {
            1 => Reply {
                status: 429,
                headers: vec![("ratelimit-reset", "1".into())],
                body: json!({"error": {"message": "Rate Limit Exceeded", "code": 2020}}).to_string(),
            },
            _ => Reply::json(200, json!({"abilities": []})),
        });
        let started = std::time::Instant::now();
        let answer = client(&server, 3).get("/abilities", &Vec::new()).unwrap();
        assert_eq!(answer["abilities"], json!([]));
        assert!(started.elapsed() >= Duration::from_secs(1), "waited for the reset");
        assert_eq!(server.targets().len(), 2);
    }

    #[test]
    fn server_errors_are_retried_and_then_reported_as_transient() {
        let server = TestServer::start(|_, n| match n {
            1 | 2 => Reply::json(503, json!({"error": {"message": "Service Unavailable"}})),
            _ => Reply::json(200, json!({"ok": true})),
        });
        assert_eq!(client(&server, 3).get("/x", &Vec::new()).unwrap()["ok"], true);

        let always =
            TestServer::start(|_, _| Reply::json(500, json!({"error": {"message": "Internal Error", "code": 2000}})));
        let error = client(&always, 4).get("/x", &Vec::new()).unwrap_err();
        assert_eq!(always.targets().len(), 4, "bounded attempts");
        let error = ConnectorError::from(error);
        assert_eq!(error.kind, ErrorKind::Transient);
        assert!(
            error.message.contains("gave up after 4 attempts") && error.message.contains("Internal Error"),
            "{error}"
        );
    }

    #[test]
    fn a_400_is_not_retried_and_carries_pagerdutys_message() {
        let server = TestServer::start(|_, _| {
            Reply::json(
                400,
                json!({"error": {"message": "Arguments Caused Error", "code": 2002, "errors": ["Offset+limit too big"]}}),
            )
        });
        let error = client(&server, 5).get("/incidents", &vec![("offset", "10000".into())]).unwrap_err();
        assert_eq!(server.targets().len(), 1);
        assert_eq!(
            error.to_string(),
            "GET /incidents: HTTP 400 Arguments Caused Error (code 2002): Offset+limit too big"
        );
    }

    #[test]
    fn requests_carry_pagerduty_headers_and_errors_never_the_token() {
        let server = TestServer::start(|_, _| {
            Reply::json(401, json!({"error": {"message": "Authentication failed", "code": 2006}}))
        });
        let error = ConnectorError::from(client(&server, 2).get("/abilities", &Vec::new()).unwrap_err());
        assert_eq!(error.kind, ErrorKind::Auth);
        assert!(error.message.contains("Authentication failed") && !error.message.contains(TOKEN), "{error}");
    }

    #[test]
    fn an_unreachable_host_is_named_with_its_cause() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let config: Config =
            serde_json::from_value(json!({"apiToken": TOKEN, "apiBaseUrl": format!("http://127.0.0.1:{port}")}))
                .unwrap();
        let policy = RetryPolicy { max_attempts: 2, base_delay: Duration::from_millis(1), ..RetryPolicy::default() };
        let error = Client::with_policy(&config, policy).unwrap().get("/abilities", &Vec::new()).unwrap_err();
        let text = error.to_string();
        assert!(text.contains(&format!("cannot reach 127.0.0.1:{port}")), "{text}");
        assert!(text.to_lowercase().contains("refused"), "{text}");
    }
}
