//! Integration tests: each module drives a real simulator over loopback HTTP; every
//! helper lives in `util`.

mod util;

// An account without an ability: left out of `/abilities`, its endpoints answer 402.
mod abilities;
// Tokens: the `Authorization` header forms, 401, and `/users/me` per token kind.
mod auth;
// The binary: prints its address first, serves, and refuses bad flags.
mod binary;
// A burst beyond the 10,000 offset cap, synced by splitting the window.
mod burst;
// `/__mock/churn`: new and resolved incidents, visible to an incremental sync.
mod churn;
// Conference bridges: on P1 and P2 incidents, in PagerDuty's format, always the same.
mod conference_bridge;
// The same flags give byte-identical answers; another seed gives other data.
mod determinism;
// Every endpoint answers with PagerDuty's envelope; references resolve.
mod endpoints;
// `--fail-rate` answers 500/503, `--latency-ms` delays answers.
mod faults;
// Field names and JSON types match PagerDuty's OpenAPI inventory.
mod inventory;
// The library API: async start, drop stops the server, `dataset` without a server.
mod library;
// Log entries: timelines per incident, account-wide windows, `is_overview`.
mod log_entries;
// Classic pagination, the offset cap, and bad paging values.
mod pagination;
// Per-token rate limits, the `ratelimit-*` headers and 429, counted per token.
mod ratelimit;
// A million incidents: 4 bytes each at start, and deep pages answer.
mod scale;
// `/__mock/stats`: counts by path, status and token, peak concurrency, and reset.
mod stats;
// since/until windows, `date_range=all`, `sort_by`, filters and repeated keys.
mod windows;
