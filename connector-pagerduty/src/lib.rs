//! The PagerDuty connector: a complete, efficient, resumable sync of a PagerDuty account
//! on the toolkit's Rust connector SDK (`connector-sdk`).
//!
//! - [`config`]: settings and the JSON Schema `spec` publishes.
//! - [`client`]: PagerDuty's headers and errors on the SDK's HTTP toolkit
//!   (`connector_sdk::http`: retries, pacing by `ratelimit-*`, requests in parallel on
//!   `maxConcurrency` threads).
//! - [`paging`]: offset pagination and the 10,000 cap; [`windows`]: since/until ranges.
//! - [`records`]: PagerDuty objects to shared records.
//! - [`state`]: the checkpoint; [`coverage`]: which windows a checkpoint may claim when
//!   they finish in any order; [`sync`]: the order of work.
//! - [`account`]: `verify` and `discover`.

pub mod account;
pub mod client;
pub mod config;
pub mod coverage;
pub mod paging;
pub mod records;
pub mod state;
pub mod sync;
pub mod windows;

use connector_sdk::{Connector, ConnectorError, Emitter, Spec, SyncRequest, Verification};

/// Record types `sync` emits.
pub const RECORD_TYPES: [&str; 8] =
    ["Incident", "IncidentLogEntry", "Actor", "Service", "Team", "EscalationPolicy", "Priority", "OnCall"];

/// The connector.
#[derive(Debug, Clone, Copy, Default)]
pub struct PagerDuty;

impl Connector for PagerDuty {
    type Config = config::Config;

    fn spec(&self) -> Spec {
        let mut spec = connector_sdk::spec("pagerduty", env!("CARGO_PKG_VERSION"), config::schema(), RECORD_TYPES);
        spec.description = Some("Incidents, log entries, people, services and on-calls of a PagerDuty account.".into());
        spec
    }

    fn verify(&self, config: &Self::Config, _out: &mut Emitter) -> Result<Verification, ConnectorError> {
        Ok(account::verify(config))
    }

    fn discover(&self, config: &Self::Config, out: &mut Emitter) -> Result<(), ConnectorError> {
        let client = client::connect(config)?;
        Ok(out.stream(&account::stream(&client)?)?)
    }

    fn sync(&self, config: &Self::Config, request: &SyncRequest, out: &mut Emitter) -> Result<(), ConnectorError> {
        sync::run(config, request, out)
    }
}
