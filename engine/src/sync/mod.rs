//! Syncing: one connection (spec, discover, then every chosen stream, in parallel up to
//! `jobs`), and one stream ([`store_loop`]: the sync message, the store loop that writes
//! validated records and checkpoints to the destination, and the run's history).
//!
//! *Invariant:* a state is handed to the destination only after every record before it,
//! through [`Destination::checkpoint`](store::Destination::checkpoint), which
//! makes them durable first.

mod store_loop;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{mpsc, Arc};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::Value;

use protocol::{DeclaredSchemaError, Redactor, SchemaRegistry, Stream};

use super::result::ConnectionResult;

use super::error::{ConnectorCommand, FailureKind, RunError};
use super::events::Event;
use super::jobs::run_parallel;
use super::{ConnectorClient, ConnectorProgram, Engine, StreamChoice};
use store::guard::{self, ConnectionGuard};
use store::postgres::Fence;
use store::{DestinationError, OutputSpec};

/// One connection to sync, fully resolved and validated.
#[derive(Debug, Clone)]
pub struct ConnectionPlan {
    /// `--connection` or the `sync-all` entry's name; `None` means the spec's name.
    pub name: Option<String>,
    /// The connector.
    pub connector: ConnectorProgram,
    /// Its configuration.
    pub config: Value,
    /// Which streams.
    pub streams: StreamChoice,
    /// The earliest-data cutoff.
    pub cutoff: DateTime<Utc>,
    /// Where records go.
    pub output: OutputSpec,
    /// `--state FILE`.
    pub state_file: Option<PathBuf>,
    /// `--skip-invalid`.
    pub skip_invalid: bool,
    /// A worker's lease on the connection: every commit is fenced by it.
    pub fence: Option<Fence>,
    /// Values to mask besides the config's `writeOnly` ones (a worker's `${env:NAME}`s).
    pub secrets: Vec<String>,
    /// Wait for another sync of the connection into the same store to end, instead of
    /// refusing (`--wait`).
    pub wait: bool,
}

/// Everything one stream sync needs besides the stream.
struct StreamContext<'a> {
    plan: &'a ConnectionPlan,
    client: ConnectorClient,
    connection: String,
    redactor: Redactor,
    /// The shared schemas and the connector's declared ones, compiled once for the run.
    schemas: Arc<SchemaRegistry>,
    /// The record types the spec declares, to which a stream may add its own.
    declared: BTreeMap<String, Value>,
}

impl StreamContext<'_> {
    fn engine(&self) -> &Engine {
        self.client.engine()
    }

    /// This context masking also the configuration values the stream's `configSecrets`
    /// point at (secrets the connector learnt once configured); `None` when it names none.
    fn with_stream_secrets(&self, stream: &Stream) -> Option<Self> {
        let values = protocol::secrets::values_at(&self.plan.config, &stream.config_secrets);
        if values.is_empty() {
            return None;
        }
        Some(StreamContext {
            plan: self.plan,
            client: self.client.clone(),
            connection: self.connection.clone(),
            redactor: self.redactor.clone().with(values),
            schemas: Arc::clone(&self.schemas),
            declared: self.declared.clone(),
        })
    }

    /// What records of `stream` are validated with: the run's schemas, or, when the
    /// stream declares types of its own (`recordSchemas`), those added to the spec's.
    fn schemas_for(&self, stream: &Stream) -> Result<Arc<SchemaRegistry>, RunError> {
        if stream.record_schemas.is_empty() {
            return Ok(Arc::clone(&self.schemas));
        }
        let refused = |reason: DeclaredSchemaError| {
            let hint = format!(
                "fix `recordSchemas` of the Stream `{}` the connector's discover sent (see PROTOCOL.md, \
                 \"Declared record types\")",
                stream.id
            );
            self.client
                .failure(ConnectorCommand::Sync, &self.redactor)
                .hint(Some(hint))
                .build(FailureKind::Failed, &format!("cannot sync stream `{}`: {reason}", stream.id))
        };
        Ok(Arc::new(SchemaRegistry::global().for_stream(&self.declared, stream).map_err(refused)?))
    }
}

impl Engine {
    /// Syncs every connection, `jobs` at a time, each stream after stream.
    pub fn sync_all(&self, plans: &[ConnectionPlan], jobs: usize) -> Vec<ConnectionResult> {
        run_parallel(jobs, plans, |plan| self.sync_connection(plan, 1))
    }

    /// Syncs a connection: spec, discover (unless given a Stream record), then each
    /// stream, `jobs` at a time. Never fails as a whole: failures are in the result.
    pub fn sync_connection(&self, plan: &ConnectionPlan, jobs: usize) -> ConnectionResult {
        let started = Instant::now();
        let client = self.connector(plan.connector.clone());
        let mut result = ConnectionResult {
            name: plan.name.clone().unwrap_or_else(|| plan.connector.display.clone()),
            connector: plan.connector.display.clone(),
            streams: Vec::new(),
            error: None,
            duration: started.elapsed(),
        };
        if let Err(error) = plan.output.prepare() {
            let failure = client.failure(ConnectorCommand::Sync, &Redactor::default());
            result.error = Some(RunError::storage(failure, error));
            result.duration = started.elapsed();
            return result;
        }
        match prepare(plan, client).and_then(|(context, streams)| guarded(context, streams)) {
            Ok((context, streams, _guard)) => {
                result.name.clone_from(&context.connection);
                result.streams = run_parallel(jobs, &streams, |stream| store_loop::sync_stream(&context, stream));
            }
            Err(error) => result.error = Some(error),
        }
        result.duration = started.elapsed();
        result
    }
}

/// Takes the store's guard of the connection (a worker's lease guards it instead).
fn guarded(
    context: StreamContext<'_>,
    streams: Vec<Stream>,
) -> Result<(StreamContext<'_>, Vec<Stream>, ConnectionGuard), RunError> {
    if context.plan.fence.is_some() {
        return Ok((context, streams, ConnectionGuard::None));
    }
    let engine = context.engine();
    let (wake, woken) = mpsc::channel();
    let _subscription = engine.stop.subscribe(move || {
        let _ = wake.send(());
    });
    let mut told = false;
    let locked = context.plan.output.lock(&context.connection, &mut |holder| {
        if !context.plan.wait || engine.stop.received().is_some() {
            return false;
        }
        if !std::mem::replace(&mut told, true) {
            engine.events.event(Event::WaitingForConnection { connection: &context.connection, holder });
        }
        // Woken early only by a stop request.
        woken.recv_timeout(guard::RETRY).is_err()
    });
    let error = match locked {
        Ok(guard) => return Ok((context, streams, guard)),
        Err(error) => error,
    };
    let failure = context.client.failure(ConnectorCommand::Sync, &context.redactor);
    Err(match (engine.stop.received(), &error) {
        (Some(signal), DestinationError::Busy { connection, holder }) => {
            let cause = format!(
                "interrupted by {} while waiting for connection `{connection}` (being synced by {holder}); \
                 nothing was synced",
                signal.name()
            );
            failure.build(FailureKind::Interrupted(signal), &cause)
        }
        _ => RunError::storage(failure, error),
    })
}

fn prepare(plan: &ConnectionPlan, client: ConnectorClient) -> Result<(StreamContext<'_>, Vec<Stream>), RunError> {
    let spec = client.spec()?;
    let schemas = Arc::new(client.record_schemas(&spec)?);
    let redactor = Redactor::from_config(&spec.config_schema, &plan.config).with(plan.secrets.iter().cloned());
    let connection = plan.name.clone().unwrap_or_else(|| spec.name.clone());
    let streams = match &plan.streams {
        StreamChoice::Record(stream) => vec![stream.clone()],
        choice => {
            let found = client.discover(&plan.config, &redactor)?;
            choice.pick(found).map_err(|unknown| {
                let cause = format!("cannot sync: connector `{}` {unknown}", client.name());
                client.failure(ConnectorCommand::Sync, &redactor).build(FailureKind::BadInput, &cause)
            })?
        }
    };
    let declared = spec.record_schemas;
    Ok((StreamContext { plan, client, connection, redactor, schemas, declared }, streams))
}

#[cfg(test)]
mod engine_tests {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::Arc;

    use super::*;
    use crate::events::recording::Recorder;
    use crate::{Limits, Stop};

    /// A connector in sh: a spec with a secret, one stream, and a sync that logs, leaks the
    /// secret into a record, says how far it got, and checkpoints.
    const CONNECTOR: &str = r#"#!/bin/sh
case "$1" in
spec) echo '{"type":"spec","protocol":1,"name":"tiny","version":"0.1.0","config_schema":{"type":"object","properties":{"token":{"type":"string","writeOnly":true}}},"record_types":["Team"]}' ;;
discover) cat >/dev/null; echo '{"type":"stream","stream":{"_type":"Stream","id":"all","self":"https://x.test/all","name":"All"}}' ;;
sync) cat >/dev/null
  echo '{"type":"log","level":"info","message":"using s3cr3t-value"}'
  echo '{"type":"record","record":{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"s3cr3t-value"}}'
  echo '{"type":"progress","done":1,"total":1}'
  echo '{"type":"state","state":{"page":1}}' ;;
esac
"#;

    fn tiny(dir: &std::path::Path) -> ConnectorProgram {
        let path = dir.join("connector-tiny");
        std::fs::write(&path, CONNECTOR).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        ConnectorProgram { display: "tiny".into(), path }
    }

    fn plan(connector: ConnectorProgram, dir: &std::path::Path) -> ConnectionPlan {
        ConnectionPlan {
            name: None,
            connector,
            config: serde_json::json!({"token": "s3cr3t-value"}),
            streams: StreamChoice::All,
            cutoff: Utc::now(),
            output: OutputSpec::sqlite(dir.join("out.db")),
            state_file: None,
            skip_invalid: false,
            fence: None,
            secrets: Vec::new(),
            wait: false,
        }
    }

    #[test]
    fn the_engine_reports_a_sync_through_events_with_secrets_masked() {
        let dir = tempfile::tempdir().unwrap();
        let recorder = Arc::new(Recorder::default());
        let engine = Engine { limits: Limits::default(), stop: Stop::new(), events: recorder.clone() };
        let result = engine.sync_connection(&plan(tiny(dir.path()), dir.path()), 1);
        assert!(result.error.is_none(), "{:?}", result.error);
        assert_eq!((result.name.as_str(), result.records()), ("tiny", 1));
        let lines = recorder.lines.lock().unwrap().clone();
        assert_eq!(lines[0], "started tiny/all");
        assert_eq!(lines[1], "log tiny info: using ***");
        assert!(lines[2].starts_with("masked tiny: record Team `T1` (line 2) contained the value of a writeOnly"));
        assert_eq!(lines[3], "progress tiny/all 1/1");
        assert_eq!(lines[4], "finished tiny/all succeeded");
        assert_eq!(lines.len(), 5, "{lines:?}");
        assert_eq!(result.streams[0].progress, Some(protocol::ProgressMessage::items(1, Some(1))));
    }

    #[test]
    fn a_stop_requested_before_a_stream_starts_keeps_the_connector_from_running() {
        let dir = tempfile::tempdir().unwrap();
        let stop = Stop::new();
        let engine = Engine { limits: Limits::default(), stop: stop.clone(), events: Arc::new(Recorder::default()) };
        let plan = plan(tiny(dir.path()), dir.path());
        let client = engine.connector(plan.connector.clone());
        let schemas = Arc::new(SchemaRegistry::global().with_declared(&Default::default()).unwrap());
        let (connection, redactor, declared) = ("tiny".into(), Redactor::default(), BTreeMap::new());
        let context = StreamContext { plan: &plan, client, connection, redactor, schemas, declared };
        stop.request(crate::StopSignal::Interrupt);
        let result = store_loop::sync_stream(&context, &Stream::new("all", "https://x.test/all", "All"));
        assert_eq!(result.outcome, store::RunOutcome::Interrupted);
        let error = result.error.unwrap().to_string();
        assert_eq!(error, "connector `tiny` (sync) was not started: SIGINT received");
        assert!(!dir.path().join("out.db").exists(), "nothing was opened");
    }
}
