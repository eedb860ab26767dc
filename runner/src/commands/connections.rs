//! `runner connections apply` and `runner connections list`: the connections a fleet of
//! workers shares in PostgreSQL.

use std::path::Path;

use chrono::Utc;
use serde_json::json;

use super::{print, Settings, Status};
use crate::connections_file;
use crate::failure::CommandResult;
use crate::human;
use crate::resolve::{self, InputError};
use store::fleet::{Fleet, Listed};
use store::postgres::Target;

/// The `--db` of the fleet's commands: a PostgreSQL URL.
///
/// # Errors
/// [`InputError`] for anything else, or a URL that cannot be used.
pub fn database(arg: &str) -> Result<Target, InputError> {
    let output = resolve::output(arg)?;
    output.shared_database().cloned().ok_or_else(|| {
        InputError::Usage(format!(
            "--db `{arg}` is not a PostgreSQL URL: workers share a PostgreSQL database (postgres://user@host/db)"
        ))
    })
}

/// `runner connections apply FILE --db URL [--prune]`.
///
/// # Errors
/// A bad file or URL (nothing applied), or the database refused.
pub fn apply(settings: &Settings, file: &Path, db: &str, prune: bool) -> CommandResult<Status> {
    let target = database(db)?;
    let connections = connections_file::load_for_workers(file)?;
    for literal in literal_secrets(&connections) {
        settings.console.warn(&literal);
    }
    let applied = Fleet::open(&target)?.apply(&connections, prune)?;
    let text = if settings.json {
        json!({"added": applied.added, "updated": applied.updated, "disabled": applied.disabled}).to_string() + "\n"
    } else {
        format!(
            "{target}: {} connection(s) added, {} updated{}\n",
            applied.added,
            applied.updated,
            if prune { format!(", {} disabled", applied.disabled) } else { String::new() }
        )
    };
    print(&text)?;
    Ok(Status::Success)
}

/// Config values that look like secrets written in clear: the database would hold them.
/// Keys as the SDK and the PagerDuty connector name their secrets; `${env:NAME}` values
/// are references and fine.
fn literal_secrets(connections: &[store::fleet::Registered]) -> Vec<String> {
    let secret_like = |key: &str| {
        let key = key.to_ascii_lowercase();
        ["token", "password", "secret", "apikey", "api_key"].iter().any(|word| key.contains(word))
    };
    let mut found = Vec::new();
    for connection in connections {
        let Some(config) = connection.config.as_object() else { continue };
        for (key, value) in config {
            if secret_like(key) && value.as_str().is_some_and(|v| !store::fleet::is_env_reference(v)) {
                found.push(format!(
                    "connection `{}`: `{key}` looks like a secret and is stored in the database as written; \
                     write \"${{env:NAME}}\" instead and give the workers NAME in their environment",
                    connection.name
                ));
            }
        }
    }
    found
}

/// `runner connections list --db URL [--json]`.
///
/// # Errors
/// A bad URL, or the database refused.
pub fn list(settings: &Settings, db: &str) -> CommandResult<Status> {
    let target = database(db)?;
    let listed = Fleet::open(&target)?.list()?;
    let text =
        if settings.json { listed.iter().map(|c| listed_json(c).to_string() + "\n").collect() } else { table(&listed) };
    print(&text)?;
    Ok(Status::Success)
}

fn listed_json(c: &Listed) -> serde_json::Value {
    json!({
        "name": c.name,
        "connector": c.connector,
        "every_seconds": c.every.as_secs(),
        "enabled": c.enabled,
        "next_due": c.next_due.to_rfc3339(),
        "failures_in_a_row": c.failures,
        "last_run": c.last_run.as_ref().map(|(at, outcome)| json!({"started_at": at.to_rfc3339(), "outcome": outcome})),
        "held_by": c.held_by.as_ref().map(|(worker, since)| json!({"worker": worker, "since": since.to_rfc3339()})),
    })
}

fn table(listed: &[Listed]) -> String {
    let now = Utc::now();
    let ago = |at: chrono::DateTime<Utc>| human::duration((now - at).to_std().unwrap_or_default()) + " ago";
    let mut rows = vec![["name", "connector", "every", "last run", "next due", "held by"].map(String::from)];
    for c in listed {
        let mut last_run =
            c.last_run.as_ref().map_or_else(|| "never".to_owned(), |(at, outcome)| format!("{outcome}, {}", ago(*at)));
        if c.failures > 1 {
            last_run.push_str(&format!(" ({} failures in a row)", c.failures));
        }
        let next_due = if !c.enabled {
            "disabled".to_owned()
        } else if c.next_due <= now {
            "now".to_owned()
        } else {
            format!("in {}", human::duration((c.next_due - now).to_std().unwrap_or_default()))
        };
        let held_by = c
            .held_by
            .as_ref()
            .map_or_else(|| "-".to_owned(), |(worker, since)| format!("{worker}, since {}", ago(*since)));
        rows.push([c.name.clone(), c.connector.clone(), human::duration(c.every), last_run, next_due, held_by]);
    }
    crate::table::columns(&rows)
}
