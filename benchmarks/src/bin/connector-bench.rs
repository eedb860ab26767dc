//! `connector-bench`: a connector that emits N realistic Incident records at full speed,
//! so that benchmarks measure the runner and not the source.
//!
//! Configuration (all optional):
//! - `records`: how many records a full sync emits (default 100,000);
//! - `checkpointEvery`: a `state` message after this many records (default 10,000) and
//!   after the last one;
//! - `pageDelayMs`: a pause before each checkpoint, as if every page of `checkpointEvery`
//!   records had to be fetched from an API that takes this long to answer (default 0). It
//!   makes a sync latency-bound, like a real one, for `runner-bench workers`;
//! - `apiToken`: a secret that is never used, so that the runner's secret scanning is part
//!   of what is measured, as it is for every real connector.
//!
//! One stream, `incidents`. The state is `{"emitted": n}`; a sync resumes after record
//! n. The cutoff is accepted and ignored: every record is emitted whatever its date.

use std::process::ExitCode;
use std::time::Duration;

use benchmarks::incident::{Generator, MAX_RECORDS};
use connector_sdk::{Connector, ConnectorError, Emitter, Spec, Stream, SyncRequest, Verification};
use serde::Deserialize;
use serde_json::json;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Config {
    #[serde(default = "default_records")]
    records: u64,
    #[serde(default = "default_checkpoint_every")]
    checkpoint_every: u64,
    #[serde(default)]
    page_delay_ms: u64,
}

fn default_records() -> u64 {
    100_000
}

fn default_checkpoint_every() -> u64 {
    10_000
}

struct Bench;

impl Connector for Bench {
    type Config = Config;

    fn spec(&self) -> Spec {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "properties": {
                "records": {"type": "integer", "minimum": 0, "maximum": MAX_RECORDS,
                            "description": "Records a full sync emits (default 100000)."},
                "checkpointEvery": {"type": "integer", "minimum": 1,
                                    "description": "A state message after this many records (default 10000)."},
                "pageDelayMs": {"type": "integer", "minimum": 0, "maximum": 60000,
                                "description": "A pause before each checkpoint, like an API's answer time (default 0)."},
                "apiToken": {"type": "string", "writeOnly": true,
                             "description": "Unused; makes the runner scan records for a secret, as with real connectors."}
            }
        });
        let mut spec = connector_sdk::spec("bench", env!("CARGO_PKG_VERSION"), schema, ["Incident"]);
        spec.description = Some("Emits N realistic Incident records at full speed, for benchmarks.".to_owned());
        spec
    }

    fn verify(&self, _: &Config, _: &mut Emitter) -> Result<Verification, ConnectorError> {
        Ok(Verification::valid())
    }

    fn discover(&self, _: &Config, out: &mut Emitter) -> Result<(), ConnectorError> {
        Ok(out.stream(&Stream::new("incidents", "bench://incidents", "Generated incidents"))?)
    }

    fn sync(&self, config: &Config, request: &SyncRequest, out: &mut Emitter) -> Result<(), ConnectorError> {
        let start = resume_point(request)?;
        let generator = Generator::new();
        let mut line = Vec::with_capacity(2048);
        for i in start..config.records {
            generator.line_into(i, &mut line);
            out.record_line(&line)?;
            let emitted = i + 1;
            if emitted % config.checkpoint_every == 0 || emitted == config.records {
                std::thread::sleep(Duration::from_millis(config.page_delay_ms));
                out.state(&json!({ "emitted": emitted }))?;
            }
        }
        Ok(())
    }
}

/// Where a sync starts: after the `emitted` of its state.
fn resume_point(request: &SyncRequest) -> Result<u64, ConnectorError> {
    let Some(state) = &request.state else { return Ok(0) };
    state.get("emitted").and_then(serde_json::Value::as_u64).ok_or_else(|| {
        ConnectorError::config(format!("the state must be {{\"emitted\": <number of records>}}, got {state}"))
    })
}

fn main() -> ExitCode {
    connector_sdk::run(Bench)
}
