//! The retrying, paced client: one `GET` of JSON with every policy of this module applied.
//!
//! A [`Client`] is shared by the request threads of a sync (through a
//! [`Pool`](super::Pool), or an `Arc` of your own): every request waits for its turn at
//! the [`Pacer`], and every answer tells the pacer what its `ratelimit-*` headers say.
//! What the failures are called is the connector's: it names them through
//! [`RequestError`], so its messages can quote its API's own error format and its own
//! settings, while when to retry and when to give up is decided here, once.

use std::marker::PhantomData;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use reqwest::blocking::{Client as Http, Response};
use reqwest::header::HeaderMap;
use reqwest::{StatusCode, Url};
use serde_json::Value;

use super::pacing::{Pacer, RateLimitHeaders};
use super::retry::{rate_limit_hint, Jitter, RetryPolicy};

/// Query parameters, in order; a key may repeat (`service_ids[]=a&service_ids[]=b`).
pub type Query = Vec<(&'static str, String)>;

/// How a connector names the failures of its requests. The client decides which
/// failures are retried and when it gives up; each method only builds the error.
pub trait RequestError: Sized {
    /// No answer: DNS, connection, TLS, a timeout, or a body cut off mid-way. `host` is
    /// the API's host (and port); `cause` the innermost cause, e.g. "Connection refused
    /// (os error 111)". Retried.
    fn unreachable(host: &str, cause: String) -> Self;
    /// An error status other than 429. Read the API's error body here if it has one. A 5xx
    /// is retried; anything else is final.
    fn status(path: &str, response: Response) -> Self;
    /// A 2xx answer whose body is not JSON. Final.
    fn undecodable(path: &str, cause: String) -> Self;
    /// Still 429 after [`RetryPolicy::max_rate_limited`] refusals in a row. Final.
    fn rate_limited(path: &str, refusals: u32) -> Self;
    /// Retried failures until [`RetryPolicy::max_attempts`] were made; `last` is the
    /// last failure. Final.
    fn gave_up(path: &str, attempts: u32, last: Self) -> Self;
}

/// Why a [`Client`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The base URL does not parse, is not http(s) or has no host.
    #[error("not a usable http(s) URL: {0}")]
    BadBaseUrl(String),
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot set up the HTTP client: {0}")]
    Http(String),
}

/// What a [`Client`] is built from.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The API root; request paths are appended to it (a trailing `/` is dropped).
    pub base_url: String,
    /// The `User-Agent` of every request.
    pub user_agent: String,
    /// Headers of every request: authentication (mark it
    /// [sensitive](reqwest::header::HeaderValue::set_sensitive)), media type.
    pub headers: HeaderMap,
    /// The client-side ceiling: requests in any rolling minute (at least 1).
    pub requests_per_minute: u32,
    /// Retries and their waits.
    pub policy: RetryPolicy,
    /// Longest wait for a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Longest wait for a whole answer, body included.
    pub request_timeout: Duration,
}

impl Settings {
    /// Settings for `base_url` with the defaults: no extra headers, 900 requests a
    /// minute, [`RetryPolicy::default`], 10 s to connect and 30 s per request.
    pub fn new(base_url: impl Into<String>, user_agent: impl Into<String>) -> Self {
        Settings {
            base_url: base_url.into(),
            user_agent: user_agent.into(),
            headers: HeaderMap::new(),
            requests_per_minute: 900,
            policy: RetryPolicy::default(),
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
        }
    }
}

/// A JSON API client, retrying and pacing every request; its failures are `E`s.
#[derive(Debug)]
pub struct Client<E> {
    http: Http,
    base: String,
    host: String,
    policy: RetryPolicy,
    pacer: Pacer,
    jitter: Mutex<Jitter>,
    requests: AtomicU64,
    rate_limited: AtomicU64,
    errors: PhantomData<fn() -> E>,
}

/// What one request came to.
enum Attempt<E> {
    Done(Value),
    RateLimited { in_a_row: u32 },
    Retry(E),
    Fatal(E),
}

impl<E: RequestError> Client<E> {
    /// A client as `settings` say, gzip on.
    ///
    /// # Errors
    /// [`SetupError`]: a base URL that is not http(s) with a host, or no TLS.
    pub fn new(settings: Settings) -> Result<Self, SetupError> {
        let host = host_of(&settings.base_url)?;
        let http = Http::builder()
            .user_agent(settings.user_agent)
            .default_headers(settings.headers)
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.request_timeout)
            .gzip(true)
            .build()
            .map_err(|e| SetupError::Http(innermost(&e)))?;
        Ok(Client {
            http,
            base: settings.base_url.trim_end_matches('/').to_owned(),
            host,
            policy: settings.policy,
            pacer: Pacer::new(settings.requests_per_minute),
            jitter: Mutex::new(Jitter::from_entropy()),
            requests: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            errors: PhantomData,
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
    /// `E`: no retry helped, or the answer was an error that retrying cannot fix.
    pub fn get(&self, path: &str, query: &Query) -> Result<Value, E> {
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
                        return Err(E::rate_limited(path, in_a_row));
                    }
                    continue;
                }
                Attempt::Retry(error) => error,
            };
            failures += 1;
            if failures >= self.policy.max_attempts {
                return Err(E::gave_up(path, failures, error));
            }
            std::thread::sleep(self.policy.backoff(failures, &mut self.jitter()));
        }
    }

    fn jitter(&self) -> MutexGuard<'_, Jitter> {
        self.jitter.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// One request: wait for the pacer, send, tell the pacer what the answer said.
    /// `refusal` numbers the 429 this would be in a row, for the wait without a hint.
    fn attempt(&self, path: &str, query: &Query, refusal: u32) -> Attempt<E> {
        self.pacer.acquire();
        self.requests.fetch_add(1, Ordering::Relaxed);
        let url = format!("{}{path}", self.base);
        let response = match self.http.get(&url).query(query).send() {
            Ok(response) => response,
            Err(e) => {
                self.pacer.unanswered();
                return Attempt::Retry(E::unreachable(&self.host, innermost(&e)));
            }
        };
        let status = response.status();
        let budget = RateLimitHeaders::parse(response.headers());
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
            let hint = rate_limit_hint(response.headers());
            let wait = self.policy.rate_limit_wait(hint, refusal, &mut self.jitter());
            return Attempt::RateLimited { in_a_row: self.pacer.refused(budget, wait) };
        }
        self.pacer.answered(budget);
        if status.is_success() {
            return self.body(path, response);
        }
        let error = E::status(path, response);
        if status.is_server_error() {
            Attempt::Retry(error)
        } else {
            Attempt::Fatal(error)
        }
    }

    /// The JSON of a 2xx answer.
    fn body(&self, path: &str, response: Response) -> Attempt<E> {
        match response.json::<Value>() {
            Ok(value) => Attempt::Done(value),
            // A body cut off mid-way is a network failure, not a broken API.
            Err(e) if e.is_body() || e.is_timeout() => Attempt::Retry(E::unreachable(&self.host, innermost(&e))),
            Err(e) => Attempt::Fatal(E::undecodable(path, innermost(&e))),
        }
    }
}

/// Host (and port) of an http(s) URL.
fn host_of(base_url: &str) -> Result<String, SetupError> {
    let url = Url::parse(base_url).map_err(|e| SetupError::BadBaseUrl(e.to_string()))?;
    let (Some(host), "http" | "https") = (url.host_str(), url.scheme()) else {
        return Err(SetupError::BadBaseUrl(format!("scheme `{}` without a host", url.scheme())));
    };
    Ok(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    })
}

/// The innermost cause of a reqwest error: "Connection refused (os error 111)" rather
/// than "error sending request for url (...)", whose URL could carry a query a person did
/// not mean to show.
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
    use std::sync::Arc;

    use reqwest::header::{HeaderValue, AUTHORIZATION};
    use serde_json::json;
    use test_support::http::{refused_url, Reply, Server};

    use super::*;
    use crate::http::{Pool, Priority, Request};

    /// Which of the connector's constructors the client chose, and with what.
    #[derive(Debug, PartialEq)]
    enum Failure {
        Unreachable,
        Status(u16),
        Undecodable,
        RateLimited(u32),
        GaveUp(u32, Box<Failure>),
    }

    impl RequestError for Failure {
        fn unreachable(_: &str, _: String) -> Self {
            Failure::Unreachable
        }
        fn status(_: &str, response: Response) -> Self {
            Failure::Status(response.status().as_u16())
        }
        fn undecodable(_: &str, _: String) -> Self {
            Failure::Undecodable
        }
        fn rate_limited(_: &str, refusals: u32) -> Self {
            Failure::RateLimited(refusals)
        }
        fn gave_up(_: &str, attempts: u32, last: Self) -> Self {
            Failure::GaveUp(attempts, Box::new(last))
        }
    }

    fn client(base_url: &str) -> Client<Failure> {
        let mut settings = Settings::new(base_url, "sdk-test/1");
        settings.policy = RetryPolicy {
            max_attempts: 3,
            max_rate_limited: 3,
            base_delay: Duration::from_millis(1),
            ..settings.policy
        };
        let mut auth = HeaderValue::from_static("Bearer secret");
        auth.set_sensitive(true);
        settings.headers.insert(AUTHORIZATION, auth);
        Client::new(settings).unwrap()
    }

    #[test]
    fn every_kind_of_answer_is_retried_or_final_as_the_module_says() {
        let ok = Reply::json(200, json!({"ok": true}));
        let unavailable = Reply::json(503, json!({}));
        let refused = Reply::json(429, json!({})).header("ratelimit-reset", "0");
        let cases = [
            (vec![ok.clone()], Ok(json!({"ok": true})), 1),
            (vec![Reply::text(200, "<html>")], Err(Failure::Undecodable), 1),
            (vec![Reply::json(404, json!({}))], Err(Failure::Status(404)), 1),
            (vec![unavailable.clone(), ok.clone()], Ok(json!({"ok": true})), 2),
            (vec![unavailable], Err(Failure::GaveUp(3, Box::new(Failure::Status(503)))), 3),
            (vec![Reply::close()], Err(Failure::GaveUp(3, Box::new(Failure::Unreachable))), 3),
            (vec![refused.clone(), refused.clone(), ok], Ok(json!({"ok": true})), 3),
            (vec![refused], Err(Failure::RateLimited(3)), 3),
        ];
        for (replies, expected, requests) in cases {
            let server = Server::sequence(replies);
            let answer = client(server.base_url()).get("/things", &vec![("limit", "1".to_owned())]);
            assert_eq!(answer, expected, "{:?}", server.requests());
            assert_eq!(server.requests().len(), requests, "{expected:?}");
        }
        let answer = client(&refused_url()).get("/things", &Query::new());
        assert_eq!(answer, Err(Failure::GaveUp(3, Box::new(Failure::Unreachable))));
    }

    #[test]
    fn requests_carry_the_settings_headers_and_the_query_and_count_what_they_met() {
        let server = Server::sequence(vec![
            Reply::json(429, json!({})).header("ratelimit-reset", "0"),
            Reply::json(200, json!({})),
        ]);
        let client = client(&format!("{}/", server.base_url()));
        client.get("/v2/things", &vec![("ids[]", "a".to_owned()), ("ids[]", "b".to_owned())]).unwrap();
        let request = &server.requests()[1];
        assert_eq!(request.target, "/v2/things?ids%5B%5D=a&ids%5B%5D=b", "the base's trailing / is dropped");
        assert_eq!(
            (request.header("user-agent"), request.header("authorization")),
            (Some("sdk-test/1"), Some("Bearer secret"))
        );
        assert_eq!((client.requests(), client.rate_limited()), (2, 1));
    }

    #[test]
    fn a_pool_of_clients_hands_every_answer_back_with_its_tag() {
        let server = Server::start(|request| Reply::json(200, json!({"target": request.target})));
        let mut pool = Pool::new(Arc::new(client(server.base_url())), 3, "test");
        for n in 0..10u64 {
            let request = Request { path: format!("/page/{n}"), query: Query::new() };
            pool.push(Priority { class: 0, newest_first: 0, offset: n }, request, n);
        }
        let mut answered: Vec<u64> = Vec::new();
        while let Some((n, answer)) = pool.next_answer() {
            assert_eq!(answer.unwrap()["target"], format!("/page/{n}"));
            answered.push(n);
        }
        answered.sort_unstable();
        assert_eq!(answered, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn the_host_names_its_port_and_only_http_urls_with_a_host_are_usable() {
        assert_eq!(host_of("http://127.0.0.1:8080/v2").unwrap(), "127.0.0.1:8080");
        assert_eq!(host_of("https://api.pagerduty.com").unwrap(), "api.pagerduty.com");
        for bad in ["ftp://example.com", "not a url", "unix:/tmp/socket"] {
            assert!(matches!(host_of(bad), Err(SetupError::BadBaseUrl(_))), "{bad}");
        }
    }
}
