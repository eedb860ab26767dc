//! Integration tests: each module drives a real simulator over loopback HTTP.

mod util;

mod auth;
mod binary;
mod burst;
mod churn;
mod determinism;
mod endpoints;
mod faults;
mod inventory;
mod library;
mod log_entries;
mod pagination;
mod ratelimit;
mod scale;
mod stats;
mod windows;
