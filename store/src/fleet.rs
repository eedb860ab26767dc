//! The connections a fleet of workers shares in PostgreSQL, and the guard that keeps two
//! workers from syncing one connection at once.
//!
//! - `runner connections apply` writes them ([`Fleet::apply`]); `runner connections list`
//!   reads them with their last run and their lease ([`Fleet::list`]).
//! - A worker claims due connections with one statement ([`Fleet::claim`]): `FOR UPDATE
//!   SKIP LOCKED` over the enabled, due, unleased rows, which also bumps each row's
//!   `epoch`, the fencing token, and sets the lease's end by the database's clock.
//! - It keeps its leases alive from a connection of its own ([`Fleet::heartbeat`]); a lease
//!   it no longer holds is reported so its sync is stopped at once.
//! - Every checkpoint it commits re-checks its epoch under the connection row's lock
//!   (`destination::postgres::Fence`): a worker paused or cut off past its lease can never
//!   write after another took over.
//! - When a sync ends the lease is released and the connection is due again `every`
//!   later ([`Fleet::finish`]); after a failure, sooner: `retry_after`, doubled after each
//!   failure in a row, never later than `every`. A worker told to stop releases its
//!   leases at once, due now, for another worker to resume ([`Fleet::release`]).
//!
//! - Idle workers sleep until the next connection is due, and are woken at once by
//!   PostgreSQL `NOTIFY` on the schema's channel ([`wake_channel`]) when connections are
//!   applied, a sync finishes or a lease is released ([`Listener`]); they poll only as a
//!   slow safety net, or every second while their listening session is down.
//!
//! Only the database's clock is used: `now()` in every statement.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::postgres::{connect_listening, quote, Database, Target};
use crate::DestinationError;

/// How long a listener waits before it opens its session again after losing it.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// The `NOTIFY` channel of the fleet whose tables live in `schema` (unquoted): one per
/// schema, so fleets sharing a database do not wake each other.
pub fn wake_channel(schema: &str) -> String {
    format!("runner_wake.{schema}")
}

/// A connection as the workers share it: what `runner connections apply` writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    /// Its unique name.
    pub name: String,
    /// A slug, or a path valid on the workers.
    pub connector: String,
    /// Its configuration; `"${env:NAME}"` values stay references until a worker syncs.
    pub config: Value,
    /// Stream ids, or `None` for every stream.
    pub streams: Option<Vec<String>>,
    /// The earliest-data cutoff as written (`YYYY-MM-DD` or RFC 3339).
    pub cutoff: String,
    /// How often it is due.
    pub every: Duration,
    /// How soon a failed sync is retried (doubled after each failure in a row, at most `every`).
    pub retry_after: Duration,
    /// Keep invalid records apart instead of failing.
    pub skip_invalid: bool,
}

/// What [`Fleet::apply`] changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Applied {
    /// New connections.
    pub added: u64,
    /// Connections whose settings were replaced.
    pub updated: u64,
    /// Connections no longer in the file, disabled (`--prune`).
    pub disabled: u64,
}

/// A connection as `runner connections list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// Its name.
    pub name: String,
    /// Its connector.
    pub connector: String,
    /// How often it is due.
    pub every: Duration,
    /// Whether workers sync it.
    pub enabled: bool,
    /// When it is due next.
    pub next_due: DateTime<Utc>,
    /// Failed syncs in a row.
    pub failures: i32,
    /// Its last run: when it started and how it ended (`running` while it runs).
    pub last_run: Option<(DateTime<Utc>, String)>,
    /// Who holds it now and since when (a lease not yet expired).
    pub held_by: Option<(String, DateTime<Utc>)>,
}

/// A connection a worker claimed, with its fencing token.
#[derive(Debug, Clone, PartialEq)]
pub struct Claim {
    /// The connection.
    pub connection: Registered,
    /// The epoch of this claim.
    pub epoch: i64,
}

/// The shared connections, through one database session.
pub struct Fleet {
    database: Database,
    /// The target's schema, unquoted: what names the wake channel.
    channel_schema: String,
}

impl Fleet {
    /// Connects, creating or upgrading the schema.
    ///
    /// # Errors
    /// As [`Database::open`].
    pub fn open(target: &Target) -> Result<Fleet, DestinationError> {
        Ok(Fleet { database: Database::open(target)?, channel_schema: target.schema().to_owned() })
    }

    /// Upserts `connections` in one transaction (a connection's lease, epoch and due time
    /// are kept; a new one is due at once); with `prune`, disables the enabled
    /// connections not among them (their data stays).
    ///
    /// # Errors
    /// The database refused.
    pub fn apply(&mut self, connections: &[Registered], prune: bool) -> Result<Applied, DestinationError> {
        let s = &self.database.schema;
        let upsert = format!(
            "INSERT INTO {s}.connections \
             (name, connector, config, streams, cutoff, every, retry_after, skip_invalid, enabled) \
             VALUES ($1, $2, $3::text::json, $4::text::json, $5, make_interval(secs => $6), \
             make_interval(secs => $7), $8, true) \
             ON CONFLICT (name) DO UPDATE SET connector = excluded.connector, config = excluded.config, \
             streams = excluded.streams, cutoff = excluded.cutoff, every = excluded.every, \
             retry_after = excluded.retry_after, skip_invalid = excluded.skip_invalid, enabled = true, \
             applied_at = now() \
             RETURNING (xmax = 0) AS inserted"
        );
        let disable =
            format!("UPDATE {s}.connections SET enabled = false WHERE enabled AND NOT (name = ANY($1)) RETURNING name");
        let channel = wake_channel(&self.channel_schema);
        let client = &mut self.database.client;
        let applied = self.database.runtime.block_on(async {
            let tx = client.transaction().await?;
            let mut applied = Applied::default();
            for c in connections {
                let config = c.config.to_string();
                let streams = c.streams.as_ref().map(|s| Value::from(s.clone()).to_string());
                let (every, retry) = (c.every.as_secs_f64(), c.retry_after.as_secs_f64());
                let row = tx
                    .query_one(
                        &upsert,
                        &[&c.name, &c.connector, &config, &streams, &c.cutoff, &every, &retry, &c.skip_invalid],
                    )
                    .await?;
                if row.get::<_, bool>(0) {
                    applied.added += 1;
                } else {
                    applied.updated += 1;
                }
            }
            if prune {
                let names: Vec<&str> = connections.iter().map(|c| c.name.as_str()).collect();
                applied.disabled = tx.query(&disable, &[&names]).await?.len() as u64;
            }
            // Delivered at the commit, to every idle worker of this fleet.
            tx.execute("SELECT pg_notify($1, 'applied')", &[&channel]).await?;
            tx.commit().await.map(|()| applied)
        });
        applied.map_err(self.database.error("write the connections to"))
    }

    /// Every connection, by name, with its last run and its current holder.
    ///
    /// # Errors
    /// The database refused.
    pub fn list(&mut self) -> Result<Vec<Listed>, DestinationError> {
        let s = &self.database.schema;
        let sql = format!(
            "SELECT c.name, c.connector, extract(epoch FROM c.every)::float8, c.enabled, c.next_due, \
             r.started_at, r.outcome, c.failures, \
             CASE WHEN c.lease_until > now() THEN c.leased_by END, \
             CASE WHEN c.lease_until > now() THEN c.leased_since END \
             FROM {s}.connections c LEFT JOIN LATERAL \
             (SELECT started_at, outcome FROM {s}.sync_runs WHERE connection = c.name ORDER BY id DESC LIMIT 1) r \
             ON true ORDER BY c.name"
        );
        let rows = self.database.runtime.block_on(self.database.client.query(&sql, &[]));
        let rows = rows.map_err(self.database.error("read the connections from"))?;
        Ok(rows
            .iter()
            .map(|row| Listed {
                name: row.get(0),
                connector: row.get(1),
                every: Duration::from_secs_f64(row.get::<_, f64>(2).max(0.0)),
                enabled: row.get(3),
                next_due: row.get(4),
                last_run: row.get::<_, Option<DateTime<Utc>>>(5).zip(row.get::<_, Option<String>>(6)),
                failures: row.get(7),
                held_by: row.get::<_, Option<String>>(8).zip(row.get::<_, Option<DateTime<Utc>>>(9)),
            })
            .collect())
    }

    /// Claims at most `max` due, unleased connections for `worker` with one statement,
    /// bumping each one's epoch, and leases them for `ttl`.
    ///
    /// # Errors
    /// The database refused, or a claimed row does not parse (a corrupt `streams`).
    pub fn claim(&mut self, worker: &str, max: usize, ttl: Duration) -> Result<Vec<Claim>, DestinationError> {
        let s = &self.database.schema;
        let sql = format!(
            "UPDATE {s}.connections c SET epoch = c.epoch + 1, leased_by = $1, leased_since = now(), \
             lease_until = now() + make_interval(secs => $3) \
             WHERE c.name IN (SELECT name FROM {s}.connections \
               WHERE enabled AND next_due <= now() AND (lease_until IS NULL OR lease_until < now()) \
               ORDER BY next_due, name LIMIT $2 FOR UPDATE SKIP LOCKED) \
             RETURNING c.name, c.connector, c.config::text, c.streams::text, c.cutoff, \
               extract(epoch FROM c.every)::float8, c.skip_invalid, c.epoch, \
               extract(epoch FROM c.retry_after)::float8"
        );
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        let rows =
            self.database.runtime.block_on(self.database.client.query(&sql, &[&worker, &limit, &ttl.as_secs_f64()]));
        let rows = rows.map_err(self.database.error("claim connections in"))?;
        rows.iter()
            .map(|row| {
                let corrupt = |what: &str, e: serde_json::Error| DestinationError::CorruptState {
                    place: format!("{} (connection `{}`, {what})", self.database.target, row.get::<_, String>(0)),
                    source: e,
                };
                let config: Value = serde_json::from_str(&row.get::<_, String>(2)).map_err(|e| corrupt("config", e))?;
                let streams = row
                    .get::<_, Option<String>>(3)
                    .map(|text| serde_json::from_str::<Vec<String>>(&text))
                    .transpose()
                    .map_err(|e| corrupt("streams", e))?;
                Ok(Claim {
                    connection: Registered {
                        name: row.get(0),
                        connector: row.get(1),
                        config,
                        streams,
                        cutoff: row.get(4),
                        every: Duration::from_secs_f64(row.get::<_, f64>(5).max(0.0)),
                        retry_after: Duration::from_secs_f64(row.get::<_, f64>(8).max(0.0)),
                        skip_invalid: row.get(6),
                    },
                    epoch: row.get(7),
                })
            })
            .collect()
    }

    /// Marks `failed` the runs still `running` whose runner's database session is gone (a
    /// worker killed, cut off, or on a machine that went down); returns how many.
    ///
    /// # Errors
    /// The database refused.
    pub fn close_abandoned_runs(&mut self) -> Result<u64, DestinationError> {
        let sql = crate::postgres::close_abandoned_runs(&self.database.schema);
        let closed = self.database.runtime.block_on(self.database.client.execute(&sql, &[]));
        closed.map_err(self.database.error("close abandoned runs in"))
    }

    /// Extends by `ttl` the leases `worker` still holds among `held` (name, epoch), and
    /// returns those it no longer holds: their syncs must stop.
    ///
    /// # Errors
    /// The database refused (the caller cannot tell which leases it still holds).
    pub fn heartbeat(
        &mut self,
        worker: &str,
        held: &[(String, i64)],
        ttl: Duration,
    ) -> Result<Vec<(String, i64)>, DestinationError> {
        if held.is_empty() {
            return Ok(Vec::new());
        }
        let s = &self.database.schema;
        let sql = format!(
            "UPDATE {s}.connections c SET lease_until = now() + make_interval(secs => $4) \
             FROM unnest($2::text[], $3::int8[]) AS h (name, epoch) \
             WHERE c.name = h.name AND c.epoch = h.epoch AND c.leased_by = $1 RETURNING c.name, c.epoch"
        );
        let (names, epochs): (Vec<&str>, Vec<i64>) = held.iter().map(|(n, e)| (n.as_str(), *e)).unzip();
        let rows = self
            .database
            .runtime
            .block_on(self.database.client.query(&sql, &[&worker, &names, &epochs, &ttl.as_secs_f64()]))
            .map_err(self.database.error("renew leases in"))?;
        let kept: Vec<(String, i64)> = rows.iter().map(|row| (row.get(0), row.get(1))).collect();
        Ok(held.iter().filter(|h| !kept.contains(h)).cloned().collect())
    }

    /// A sync ended: releases the lease (if still held) and makes the connection due
    /// `every` after now, or, when it failed, `retry_after` × 2^(failures in a row before
    /// this one) after now, never later than `every`.
    ///
    /// # Errors
    /// The database refused.
    pub fn finish(&mut self, worker: &str, name: &str, epoch: i64, succeeded: bool) -> Result<(), DestinationError> {
        let s = &self.database.schema;
        // In an UPDATE every right-hand `failures` is the row's value before it.
        let sql = format!(
            "UPDATE {s}.connections SET leased_by = NULL, leased_since = NULL, lease_until = NULL, \
             next_due = now() + CASE WHEN $4 THEN every \
               ELSE least(every, retry_after * power(2, least(failures, 20))) END, \
             failures = CASE WHEN $4 THEN 0 ELSE failures + 1 END \
             WHERE name = $1 AND epoch = $2 AND leased_by = $3"
        );
        let done =
            self.database.runtime.block_on(self.database.client.execute(&sql, &[&name, &epoch, &worker, &succeeded]));
        done.map(drop).map_err(self.database.error("release a lease in"))?;
        self.notify("finished")
    }

    /// Wakes the fleet's idle workers: a connection may be due sooner than they think.
    fn notify(&mut self, why: &str) -> Result<(), DestinationError> {
        let channel = wake_channel(&self.channel_schema);
        let sent =
            self.database.runtime.block_on(self.database.client.execute("SELECT pg_notify($1, $2)", &[&channel, &why]));
        sent.map(drop).map_err(self.database.error("wake the workers of"))
    }

    /// A worker stops before its sync ended: releases the lease at once, the connection
    /// still due, so another worker resumes it from its last checkpoint.
    ///
    /// # Errors
    /// The database refused.
    pub fn release(&mut self, worker: &str, name: &str, epoch: i64) -> Result<(), DestinationError> {
        let s = &self.database.schema;
        let sql = format!(
            "UPDATE {s}.connections SET leased_by = NULL, leased_since = NULL, lease_until = NULL \
             WHERE name = $1 AND epoch = $2 AND leased_by = $3"
        );
        self.execute(&sql, name, epoch, worker, "release a lease in")?;
        self.notify("released")
    }

    /// When the next connection is due (an enabled one, unleased or with an expired
    /// lease), if any: how long an idle worker may wait before claiming again.
    ///
    /// # Errors
    /// The database refused.
    pub fn next_due_in(&mut self) -> Result<Option<Duration>, DestinationError> {
        let s = &self.database.schema;
        let sql = format!(
            "SELECT extract(epoch FROM min(greatest(next_due, coalesce(lease_until, next_due))) - now())::float8 \
             FROM {s}.connections WHERE enabled"
        );
        let row = self.database.runtime.block_on(self.database.client.query_one(&sql, &[]));
        let seconds: Option<f64> = row.map_err(self.database.error("read the connections from"))?.get(0);
        Ok(seconds.map(|s| Duration::from_secs_f64(s.max(0.0))))
    }

    fn execute(
        &mut self,
        sql: &str,
        name: &str,
        epoch: i64,
        worker: &str,
        doing: &'static str,
    ) -> Result<(), DestinationError> {
        let done = self.database.runtime.block_on(self.database.client.execute(sql, &[&name, &epoch, &worker]));
        done.map(drop).map_err(self.database.error(doing))
    }
}

/// A worker's ear: a database session of its own that `LISTEN`s on the fleet's
/// [`wake_channel`] and calls `wake` for every notification, on a thread of its own.
/// After losing its session it opens another every [`LISTEN_RETRY`], and calls `wake`
/// once it listens again (what was sent meanwhile is lost, so the worker looks anew).
/// [`Listener::is_listening`] says whether a notification can arrive now: while it
/// cannot, the worker polls. Stops when dropped.
pub struct Listener {
    listening: Arc<AtomicBool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Listener {
    /// Starts listening on `target`'s fleet.
    ///
    /// # Errors
    /// No runtime or thread could be made (the session itself is opened on the thread).
    pub fn start(target: &Target, wake: impl Fn() + Send + 'static) -> Result<Listener, DestinationError> {
        let setup = |reason: String| DestinationError::PostgresSetup { target: target.to_string(), reason };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| setup(format!("no runtime: {e}")))?;
        let listening = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let (target, flag) = (target.clone(), Arc::clone(&listening));
        let thread = std::thread::Builder::new()
            .name("listener".into())
            .spawn(move || runtime.block_on(listen(&target, &flag, &wake, stopped)))
            .map_err(|e| setup(format!("no listener thread: {e}")))?;
        Ok(Listener { listening, stop: Some(stop), thread: Some(thread) })
    }

    /// Whether the session listens now.
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The listener's life: sessions one after another until `stopped` fires (or its sender
/// is dropped).
async fn listen(
    target: &Target,
    listening: &AtomicBool,
    wake: &dyn Fn(),
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let statement = format!("LISTEN {}", quote(&wake_channel(target.schema())));
    loop {
        let (notified, mut notifications) = tokio::sync::mpsc::unbounded_channel();
        let session = async {
            let client = connect_listening(target, notified).await.ok()?;
            client.batch_execute(&statement).await.ok()?;
            Some(client)
        };
        let client = tokio::select! {
            client = session => client,
            _ = &mut stopped => return,
        };
        if client.is_some() {
            listening.store(true, Ordering::Release);
            wake();
            loop {
                tokio::select! {
                    heard = notifications.recv() => match heard {
                        Some(()) => wake(),
                        None => break, // the session ended
                    },
                    _ = &mut stopped => return,
                }
            }
            listening.store(false, Ordering::Release);
        }
        drop(client);
        tokio::select! {
            () = tokio::time::sleep(LISTEN_RETRY) => {}
            _ = &mut stopped => return,
        }
    }
}

/// Whether a config value is a reference to the worker's environment: `${env:NAME}`.
pub fn is_env_reference(value: &str) -> bool {
    env_reference(value).is_some()
}

fn env_reference(value: &str) -> Option<&str> {
    let name = value.strip_prefix("${env:")?.strip_suffix('}')?;
    let valid = !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    valid.then_some(name)
}

/// A `${env:NAME}` whose variable is not set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the configuration refers to ${{env:{0}}}, and {0} is not set in this worker's environment")]
pub struct MissingVariable(pub String);

/// The configuration with every `"${env:NAME}"` string replaced by the variable's value
/// (looked up with `var`), and those values: secrets, to be masked wherever they show.
///
/// # Errors
/// [`MissingVariable`] for the first variable that is not set.
pub fn resolve_references(
    config: &Value,
    var: &dyn Fn(&str) -> Option<String>,
) -> Result<(Value, Vec<String>), MissingVariable> {
    let mut secrets = Vec::new();
    let resolved = resolve_value(config, var, &mut secrets)?;
    Ok((resolved, secrets))
}

fn resolve_value(
    value: &Value,
    var: &dyn Fn(&str) -> Option<String>,
    secrets: &mut Vec<String>,
) -> Result<Value, MissingVariable> {
    Ok(match value {
        Value::String(text) => match env_reference(text) {
            Some(name) => {
                let resolved = var(name).ok_or_else(|| MissingVariable(name.to_owned()))?;
                secrets.push(resolved.clone());
                Value::String(resolved)
            }
            None => value.clone(),
        },
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| resolve_value(v, var, secrets)).collect::<Result<_, _>>()?)
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), resolve_value(v, var, secrets)?)))
                .collect::<Result<_, MissingVariable>>()?,
        ),
        other => other.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_are_resolved_anywhere_and_their_values_kept_as_secrets() {
        let config = serde_json::json!({"apiToken": "${env:PD_TOKEN}", "nested": ["${env:OTHER}", "plain"], "n": 3});
        let var = |name: &str| match name {
            "PD_TOKEN" => Some("tok-123456".to_owned()),
            "OTHER" => Some("other-secret".to_owned()),
            _ => None,
        };
        let (resolved, secrets) = resolve_references(&config, &var).unwrap();
        assert_eq!(
            resolved,
            serde_json::json!({"apiToken": "tok-123456", "nested": ["other-secret", "plain"], "n": 3})
        );
        assert_eq!(secrets, ["tok-123456", "other-secret"]);
        let missing = resolve_references(&serde_json::json!({"k": "${env:NOPE}"}), &var).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "the configuration refers to ${env:NOPE}, and NOPE is not set in this worker's environment"
        );
    }

    #[test]
    fn only_a_whole_value_naming_a_variable_is_a_reference() {
        assert!(is_env_reference("${env:PD_TOKEN}"));
        for not in ["${env:}", "x${env:A}", "${env:A}x", "${env:A-B}", "$env:A", "${ENV:A}"] {
            assert!(!is_env_reference(not), "{not}");
        }
    }
}
