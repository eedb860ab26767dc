//! `pagerduty-mock`: a faithful local simulator of PagerDuty's REST API v2, for tests
//! that may not touch the internet and for trying the toolkit without an account.
//!
//! ```no_run
//! let server = pagerduty_mock::start_blocking(pagerduty_mock::MockConfig::default())?;
//! println!("{}", server.base_url); // http://127.0.0.1:PORT
//! # Ok::<(), pagerduty_mock::MockError>(())
//! ```
//!
//! Data is generated from a seed, lazily: incidents are recomputed from (seed, index)
//! when served, so millions of incidents start in well under a second.

mod auth;
mod catalog;
mod collection;
mod config;
mod data;
mod error;
mod faults;
mod ids;
mod incident;
mod query;
mod ratelimit;
mod render;
mod rng;
mod routes;
mod server;
mod stats;
mod truth;

pub use config::{MockConfig, MAX_INCIDENTS, OPTIONAL_ABILITIES};
pub use error::MockError;
pub use server::{start, start_blocking, start_on_port, ChurnReport, MockServer};
pub use stats::Stats;
pub use truth::{dataset, Dataset, IncidentTruth, LogEntryTruth};
