//! Integration tests: the real `connector-pagerduty` binary against the PagerDuty
//! simulator over loopback HTTP, records checked against the shared schemas and the
//! simulator's ground truth.

mod commands;
mod faults;
mod incremental;
mod resume;
mod sync;
mod util;
