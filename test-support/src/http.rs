//! An HTTP/1.1 server on loopback for the tests of HTTP clients (the PagerDuty connector,
//! the runner's alert webhooks): every request is recorded as it arrived, and answered by
//! a script: one reply for all ([`Server::always`]), a sequence ([`Server::sequence`]) or
//! a function of the request ([`Server::start`]). A reply can also close the connection
//! without an answer ([`Reply::close`]) or never answer ([`Reply::hang`]); [`refused_url`]
//! is an address where nothing listens.
//!
//! It is axum's router on hyper's HTTP/1.1 connections, on a tokio runtime of its own on a
//! thread, so tests stay synchronous. The script runs on tokio's blocking pool: it may
//! block (to hold a request until the test lets it go) and requests are served
//! concurrently. Dropping the [`Server`] stops it: no connection is accepted any more and
//! the ones it holds (hung ones too) are closed.
//!
//! ```no_run
//! use serde_json::json;
//! use test_support::http::{Reply, Server};
//!
//! let server = Server::sequence(vec![
//!     Reply::json(429, json!({"error": "slow down"})).header("ratelimit-reset", "1"),
//!     Reply::json(200, json!({"ok": true})),
//! ]);
//! // ... point the client under test at server.url("/abilities") ...
//! let requests = server.requests();
//! assert_eq!(requests[1].target, "/abilities");
//! ```

use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request as HttpRequest, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::Value;
use tokio::sync::oneshot;

use crate::PATIENCE;

/// One request the server received, as the client sent it.
#[derive(Debug, Clone)]
pub struct Request {
    /// 1 for the first request the server received, 2 for the second, and so on: the
    /// order in which their bodies were read in full, which is the order the script sees.
    pub number: usize,
    /// `GET`, `POST`, ...
    pub method: String,
    /// The path and the query, as sent: `/incidents?offset=100&limit=100`.
    pub target: String,
    /// The protocol version, `HTTP/1.1`.
    pub version: String,
    /// The header fields in the order sent, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body, as sent.
    pub body: Vec<u8>,
}

impl Request {
    /// The target without its query: `/incidents`.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(path, _)| path)
    }

    /// The value of the first header field called `name` (in any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(field, _)| field.eq_ignore_ascii_case(name)).map(|(_, value)| value.as_str())
    }

    /// The body as text, invalid UTF-8 replaced.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    ///
    /// # Panics
    ///
    /// When the body is not JSON, naming the request and quoting the body.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "the body of request {} ({} {}) is not JSON ({e}): {:?}",
                self.number,
                self.method,
                self.target,
                self.text()
            )
        })
    }
}

/// What the server does with a request: answer it, close its connection without an
/// answer, or never answer.
#[derive(Debug, Clone)]
pub struct Reply(Action);

#[derive(Debug, Clone)]
enum Action {
    Answer { status: StatusCode, headers: Vec<(HeaderName, HeaderValue)>, body: Bytes },
    Close,
    Hang,
}

impl Reply {
    /// An answer with `status` and an empty body.
    ///
    /// # Panics
    ///
    /// When `status` is not an HTTP status code (100 to 999).
    pub fn status(status: u16) -> Reply {
        let status =
            StatusCode::from_u16(status).unwrap_or_else(|_| panic!("test HTTP server: {status} is not an HTTP status"));
        Reply(Action::Answer { status, headers: Vec::new(), body: Bytes::new() })
    }

    /// An answer with `status` and `body` as `application/json`.
    pub fn json(status: u16, body: Value) -> Reply {
        Reply::status(status).header(CONTENT_TYPE.as_str(), "application/json").body(body.to_string())
    }

    /// An answer with `status` and `body` as `text/plain`.
    pub fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply::status(status).header(CONTENT_TYPE.as_str(), "text/plain; charset=utf-8").body(body.into())
    }

    /// Adds the header field `name: value` to an answer (`content-length` is set by the
    /// server).
    ///
    /// # Panics
    ///
    /// When the name or the value is not valid in HTTP, or on [`Reply::close`] and
    /// [`Reply::hang`], which send nothing.
    pub fn header(mut self, name: &str, value: impl AsRef<str>) -> Reply {
        let value = value.as_ref();
        let Action::Answer { headers, .. } = &mut self.0 else {
            panic!("test HTTP server: header `{name}` on a reply that sends nothing ({:?})", self.0)
        };
        let name_ok =
            HeaderName::try_from(name).unwrap_or_else(|e| panic!("test HTTP server: header name {name:?}: {e}"));
        let value_ok =
            HeaderValue::try_from(value).unwrap_or_else(|e| panic!("test HTTP server: header {name}: {value:?}: {e}"));
        headers.push((name_ok, value_ok));
        self
    }

    /// Replaces an answer's body.
    ///
    /// # Panics
    ///
    /// On [`Reply::close`] and [`Reply::hang`], which send nothing.
    pub fn body(mut self, body: impl Into<Bytes>) -> Reply {
        let Action::Answer { body: kept, .. } = &mut self.0 else {
            panic!("test HTTP server: a body on a reply that sends nothing ({:?})", self.0)
        };
        *kept = body.into();
        self
    }

    /// Closes the request's connection without an answer, as a server that crashed: the
    /// client sees the connection end before a response.
    pub fn close() -> Reply {
        Reply(Action::Close)
    }

    /// Never answers: the request is read and recorded, and its connection held open until
    /// the server is dropped, as a server that hung.
    pub fn hang() -> Reply {
        Reply(Action::Hang)
    }
}

/// The script: a reply for each request, called on a blocking thread.
type Script = dyn Fn(&Request) -> Reply + Send + Sync;

/// The requests received so far, and a signal for those who wait for more.
#[derive(Default)]
struct Log {
    requests: Mutex<Vec<Request>>,
    arrived: Condvar,
}

impl Log {
    /// Keeps the request `make` builds with its number, and returns it.
    fn record(&self, make: impl FnOnce(usize) -> Request) -> Request {
        let mut requests = self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let request = make(requests.len() + 1);
        requests.push(request.clone());
        self.arrived.notify_all();
        request
    }
}

/// An HTTP server on a free loopback port, answering with its script until dropped.
pub struct Server {
    address: SocketAddr,
    base_url: String,
    log: Arc<Log>,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Serves `script(request)` to every request.
    ///
    /// # Panics
    ///
    /// When no loopback port can be bound or the runtime cannot start. A panic of the
    /// script does not stop the server: that request is answered `500` with a text naming
    /// it (and the panic is printed on stderr, as every panic is).
    pub fn start(script: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|e| panic!("test HTTP server: cannot bind a loopback port: {e}"));
        let address = listener.local_addr().expect("a bound listener has an address");
        listener.set_nonblocking(true).expect("test HTTP server: a non-blocking listener");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("test HTTP server: cannot start a tokio runtime: {e}"));
        let log = Arc::new(Log::default());
        let (stop, stopped) = oneshot::channel();
        let shared = Shared { script: Arc::new(script), log: Arc::clone(&log) };
        let thread = std::thread::Builder::new()
            .name(format!("test-http-server-{}", address.port()))
            .spawn(move || {
                runtime.block_on(serve(listener, shared, stopped));
                // Drops every connection task (closing their sockets, hung ones too) at
                // once; a script still blocked on its thread is not waited for.
                runtime.shutdown_background();
            })
            .unwrap_or_else(|e| panic!("test HTTP server: cannot start its thread: {e}"));
        Server { address, base_url: format!("http://{address}"), log, stop: Some(stop), thread: Some(thread) }
    }

    /// Answers every request with `reply`.
    pub fn always(reply: Reply) -> Server {
        Server::start(move |_| reply.clone())
    }

    /// Answers request `n` with `replies[n - 1]`, and every request after the last reply
    /// with the last reply again.
    ///
    /// # Panics
    ///
    /// When `replies` is empty.
    pub fn sequence(replies: Vec<Reply>) -> Server {
        assert!(!replies.is_empty(), "test HTTP server: a sequence of no replies");
        Server::start(move |request| replies[(request.number - 1).min(replies.len() - 1)].clone())
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The address the server listens on.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The requests received so far, in the order of their numbers. A request is recorded
    /// before the script sees it, so an answered request is always here.
    pub fn requests(&self) -> Vec<Request> {
        self.log.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// Waits until at least `count` requests have arrived, and returns them all.
    ///
    /// # Panics
    ///
    /// After [`PATIENCE`] without them, naming the targets that did arrive.
    pub fn wait_for_requests(&self, count: usize) -> Vec<Request> {
        let deadline = Instant::now() + PATIENCE;
        let mut requests = self.log.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        while requests.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                let targets: Vec<&str> = requests.iter().map(|r| r.target.as_str()).collect();
                panic!(
                    "test HTTP server at {}: waited {PATIENCE:?} for {count} requests, got {targets:?}",
                    self.base_url
                );
            }
            requests = self.log.arrived.wait_timeout(requests, left).unwrap_or_else(|p| p.into_inner()).0;
        }
        requests.clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A loopback base URL (`http://127.0.0.1:PORT`) where nothing listens, so a connection
/// is refused: a port bound, then freed. Another process could bind it meanwhile, but the
/// kernel hands out ephemeral ports in turn, so not within a test.
pub fn refused_url() -> String {
    let listener =
        TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("refused_url: cannot bind a loopback port: {e}"));
    let address = listener.local_addr().expect("a bound listener has an address");
    drop(listener);
    format!("http://{address}")
}

/// What every connection's handler shares.
#[derive(Clone)]
struct Shared {
    script: Arc<Script>,
    log: Arc<Log>,
}

/// One connection's state for axum: the shared parts and the way to close it.
#[derive(Clone)]
struct Connection {
    shared: Shared,
    close: Arc<Mutex<Option<oneshot::Sender<()>>>>,
}

/// Accepts connections until `stopped`, each served on a task of its own.
async fn serve(listener: TcpListener, shared: Shared, mut stopped: oneshot::Receiver<()>) {
    let listener = tokio::net::TcpListener::from_std(listener).expect("test HTTP server: a tokio listener");
    loop {
        let stream = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                // The client's problem (it reset the connection before it was accepted).
                Err(_) => continue,
            },
        };
        let (close, closed) = oneshot::channel();
        let connection = Connection { shared: shared.clone(), close: Arc::new(Mutex::new(Some(close))) };
        let router = Router::new().fallback(handle).with_state(connection);
        tokio::spawn(async move {
            let served = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router));
            tokio::select! {
                _ = served => {}
                // A `Reply::close`: dropping the connection closes its socket unanswered.
                _ = closed => {}
            }
        });
    }
}

/// Records a request, asks the script, and does what its reply says.
async fn handle(State(connection): State<Connection>, request: HttpRequest) -> Response {
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(body) => body,
        Err(e) => return plain(StatusCode::BAD_REQUEST, format!("test HTTP server: cannot read the body: {e}")),
    };
    let request = connection.shared.log.record(|number| Request {
        number,
        method: parts.method.to_string(),
        target: parts.uri.path_and_query().map_or("/", |target| target.as_str()).to_owned(),
        version: format!("{:?}", parts.version),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().to_owned(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
            .collect(),
        body: body.to_vec(),
    });
    let script = Arc::clone(&connection.shared.script);
    let what = format!("request {} ({} {})", request.number, request.method, request.target);
    let Ok(Reply(action)) = tokio::task::spawn_blocking(move || script(&request)).await else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, format!("test HTTP server: the script panicked on {what}"));
    };
    match action {
        Action::Answer { status, headers, body } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = status;
            for (name, value) in headers {
                response.headers_mut().append(name, value);
            }
            response
        }
        Action::Close => {
            if let Some(close) = connection.close.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take() {
                let _ = close.send(());
            }
            std::future::pending().await
        }
        Action::Hang => std::future::pending().await,
    }
}

fn plain(status: StatusCode, text: String) -> Response {
    let mut response = Response::new(Body::from(text));
    *response.status_mut() = status;
    response
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::TcpStream;

    use serde_json::json;

    use super::*;

    /// Sends one raw request on a new connection and reads until the server closes it.
    fn exchange(server: &Server, request: &str) -> String {
        let mut stream = TcpStream::connect(server.address()).unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    }

    #[test]
    fn a_sequence_answers_in_turn_repeats_its_last_reply_and_every_request_is_recorded() {
        let server = Server::sequence(vec![
            Reply::json(429, json!({"error": "slow"})).header("ratelimit-reset", "1"),
            Reply::text(200, "ok"),
        ]);
        let client = reqwest::blocking::Client::new();
        let first = client.get(server.url("/incidents?offset=100")).header("X-Token", "t1").send().unwrap();
        assert_eq!(first.status(), 429);
        assert_eq!(first.headers()["ratelimit-reset"], "1");
        assert_eq!(first.headers()["content-type"], "application/json");
        assert_eq!(first.json::<Value>().unwrap(), json!({"error": "slow"}));
        for _ in 0..2 {
            let again = client.post(server.url("/hook")).body(r#"{"kind":"stale"}"#).send().unwrap();
            assert_eq!((again.status().as_u16(), again.text().unwrap()), (200, "ok".to_owned()));
        }

        let requests = server.requests();
        let seen: Vec<_> = requests.iter().map(|r| (r.number, r.method.as_str(), r.target.as_str())).collect();
        assert_eq!(seen, [(1, "GET", "/incidents?offset=100"), (2, "POST", "/hook"), (3, "POST", "/hook")]);
        assert_eq!(
            (requests[0].path(), requests[0].header("x-token"), requests[0].version.as_str()),
            ("/incidents", Some("t1"), "HTTP/1.1")
        );
        assert_eq!(requests[2].json(), json!({"kind": "stale"}));
    }

    #[test]
    fn a_script_sees_each_request_and_a_panicking_one_answers_500_naming_it() {
        let server = Server::start(|request| {
            assert_ne!(request.path(), "/boom", "the script refuses /boom");
            Reply::json(200, json!({"target": request.target, "number": request.number}))
        });
        let answer: Value = reqwest::blocking::get(server.url("/a?b=c")).unwrap().json().unwrap();
        assert_eq!(answer, json!({"target": "/a?b=c", "number": 1}));
        let failed = reqwest::blocking::get(server.url("/boom")).unwrap();
        assert_eq!(failed.status(), 500);
        assert!(failed.text().unwrap().contains("request 2 (GET /boom)"));
    }

    #[test]
    fn a_closing_reply_ends_the_connection_without_an_answer() {
        let server = Server::always(Reply::close());
        let answer = exchange(&server, "GET /x HTTP/1.1\r\nhost: t\r\n\r\n");
        assert_eq!(answer, "", "nothing was sent");
        assert_eq!(server.requests().len(), 1);
    }

    #[test]
    fn a_hanging_reply_holds_the_connection_until_the_server_is_dropped() {
        let server = Server::always(Reply::hang());
        let mut stream = TcpStream::connect(server.address()).unwrap();
        stream.write_all(b"POST /hook HTTP/1.1\r\nhost: t\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        let requests = server.wait_for_requests(1);
        assert_eq!(requests[0].body, b"{}");
        drop(server);
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert_eq!(answer, "", "closed, never answered");
    }

    #[test]
    fn nothing_listens_at_a_refused_url() {
        let url = refused_url();
        let address = url.strip_prefix("http://").unwrap();
        let error = TcpStream::connect(address).unwrap_err();
        assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
