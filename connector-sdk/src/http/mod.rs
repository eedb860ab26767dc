//! An HTTP toolkit for connectors of JSON REST APIs: retries, pacing within a rate limit,
//! and requests in parallel by priority (cargo feature `http`).
//!
//! A connector builds one [`Client`] from [`Settings`] (base URL, headers, ceiling,
//! [`RetryPolicy`]), names its failures by implementing [`RequestError`] for its own error
//! type, and either calls [`Client::get`] or queues [`Request`]s on a [`Pool`]. What it
//! keeps to itself: its endpoints, its authentication header, its API's error format and
//! what each 4xx means for it.
//!
//! # What a request goes through
//!
//! Every `GET` ([`Client::get`]) is, in order:
//!
//! 1. **Paced** ([`Pacer`]): it waits, if need be, until it may go out (below).
//! 2. **Sent** with the settings' headers, gzip, a connect timeout (default 10 s) and a
//!    timeout for the whole answer (default 30 s).
//! 3. **Judged**:
//!
//!    | answer                                 | what happens                                       |
//!    | -------------------------------------- | -------------------------------------------------- |
//!    | 2xx with a JSON body                   | returned                                           |
//!    | 2xx whose body is not JSON             | fails at once: [`RequestError::undecodable`]       |
//!    | 2xx whose body is cut off or times out | retried, as unreachable                            |
//!    | no answer (DNS, refused, TLS, timeout) | retried: [`RequestError::unreachable`]             |
//!    | 5xx                                    | retried: [`RequestError::status`]                  |
//!    | 429                                    | waited out and sent again (below)                  |
//!    | any other status (4xx, 3xx, 1xx)       | fails at once: [`RequestError::status`]            |
//!
//! Redirects are followed as reqwest does by default (up to 10).
//!
//! # Retries
//!
//! A retried failure waits an exponential backoff with "equal jitter" before the next try:
//! before retry `n`, `base_delay * 2^(n-1)` capped at `max_delay`, of which the upper half
//! is random, so that clients failing together do not retry together. With the default
//! [`RetryPolicy`] (6 attempts, 250 ms, 120 s) the waits are 125-250 ms, 250-500 ms,
//! 0.5-1 s, 1-2 s and 2-4 s: about 8 s at most before the sixth failure gives up with
//! [`RequestError::gave_up`], which carries the last failure.
//!
//! # Rate limits
//!
//! A 429 is not a failure of the request but of the token's budget, so it has a budget of
//! its own and does not use up the request's attempts. The client waits what the answer
//! asks, `ratelimit-reset` (seconds, fractional allowed) or else `retry-after` (seconds;
//! a date is ignored), plus up to 50 ms of jitter, never more than `max_delay`; without
//! either header, the backoff above. During that wait *every* request of the client is
//! held back, not only the refused one, and afterwards they go one at a time until one
//! is served. After `max_rate_limited` 429s in a row (default 10; counted across all the
//! client's requests, reset by any other answer) the request fails with
//! [`RequestError::rate_limited`].
//!
//! # Pacing
//!
//! Two bounds apply to every request ([`pacing`] says why they work):
//!
//! - **The ceiling**: at most `requests_per_minute` in any rolling 60 seconds, whatever the
//!   server says.
//! - **The token's budget**, when answers carry `ratelimit-limit`, `ratelimit-remaining`
//!   and `ratelimit-reset` (all three, numbers; of a list like `900, 900;w=60` the first
//!   counts): what is left of the window, less 1% (at least one) kept in reserve and less
//!   the requests in flight, is spread evenly over the time left. When nothing is left,
//!   requests wait for the reset. Answers without these headers leave only the ceiling.
//!
//! Until the first answer only one request is in flight, so a sync that starts into a
//! budget someone else spent learns so from one answer. A connector that knows how many
//! requests it still has to make says so with [`Pacer::set_demand`]: when they fit in
//! what is left of the window they go out at once instead of spread over it.
//!
//! # Requests in parallel
//!
//! A [`Pool`] runs `threads` request threads on one client. Queued requests go out by
//! [`Priority`]: the lowest `class` first, then the newest data (highest `until`), then the
//! lowest offset, equal ones in the order queued. At most `threads` requests are in
//! flight and at most `threads` answers wait to be taken, so memory stays flat however
//! many are queued. Answers come back to the thread that owns the pool, in the order they
//! arrive, each with the tag it was queued with; [`Pool::cancel`] takes queued requests
//! back (those in flight are answered as usual). Dropping the pool stops its threads
//! after the request each is sending.
//!
//! # Secrets
//!
//! No error the client builds quotes a URL, a header or a query: only the path (which the
//! connector chose), the host and the innermost cause. Mark an authentication header
//! [sensitive](reqwest::header::HeaderValue::set_sensitive) so that `Debug` hides it too.
//!
//! # Why a feature
//!
//! `http` is off by default: it brings reqwest, rustls and their TLS stack, which a
//! connector that reads files, wraps another process or talks a database protocol does
//! not need (`connector-adapters`, the benchmarks' connector, most projects `runner new`
//! generates). An HTTP connector asks for it:
//! `connector-sdk = { workspace = true, features = ["http"] }`.

pub mod client;
pub mod pacing;
pub mod pool;
pub mod retry;

pub use client::{Client, Query, RequestError, Settings, SetupError};
pub use pacing::Pacer;
pub use pool::{Answer, Fetch, Pool, Priority, Request};
pub use retry::{Jitter, RetryPolicy};
