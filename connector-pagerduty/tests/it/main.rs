//! The crate's one integration-test binary: the real `connector-pagerduty` binary
//! against the PagerDuty simulator over loopback HTTP, records checked against the shared
//! schemas and the simulator's ground truth.

// spec, verify and discover.
mod commands;
// Server errors and lists the plan lacks: retried, skipped or reported, never a changed result.
mod faults;
// A sync from a previous state fetches only what changed; changed incidents the cheaper way.
mod incremental;
// Requests in parallel up to maxConcurrency; checkpoints after all they cover; progress.
mod parallel;
// Pacing within the token's budget, shared with other clients; a 429 waited out.
mod ratelimit;
// A killed sync resumes from its last checkpoint.
mod resume;
// Completeness and request budget of a full sync.
mod sync;
// Helpers shared by every area: simulators, configuration files, running the binary.
mod util;
