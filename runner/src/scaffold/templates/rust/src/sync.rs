//! `sync`: pages of incidents, newest first, back to the cutoff; a checkpoint after each
//! page; and resuming from the last checkpoint.
//!
//! The state, opaque to the runner, which hands the last one back on the next sync:
//!
//! ```json
//! {"version": 1, "syncedThrough": "2026-03-14T09:26:53Z", "unfinished": {"nextPage": 2, "newest": "2026-03-20T10:00:00Z"}}
//! ```
//!
//! - `syncedThrough`: the creation time of the newest incident of the last complete pass.
//!   Everything created at or before it (back to the cutoff) has been emitted, so the next
//!   pass stops when it reaches it: a rerun emits only what is new.
//! - `unfinished`: a pass stopped after some pages (killed, or failed). The next sync goes
//!   on at `nextPage`; when it completes, `newest` (the newest incident of that pass)
//!   becomes `syncedThrough`.
//!
//! Records may be emitted twice (the runner stores each `_type` and `id` once), never lost:
//! a checkpoint only ever covers pages that were emitted in full.

use chrono::{DateTime, Utc};
use connector_sdk::protocol::parse_cutoff;
use connector_sdk::{ConnectorError, Emitter, LogLevel, SyncRequest};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::source::{self, Client};

/// Bump it when the state's shape changes; an older state then means a full sync.
const STATE_VERSION: u32 = 1;

/// The checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub version: u32,
    pub synced_through: Option<String>,
    pub unfinished: Option<Unfinished>,
}

/// A pass that has not reached its end yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unfinished {
    pub next_page: usize,
    pub newest: Option<String>,
}

/// Syncs the stream of `request`, from its state.
///
/// # Errors
/// The source failed, or stdout was closed. Checkpoints already emitted stand.
pub fn run(client: &Client, request: &SyncRequest, out: &mut Emitter) -> Result<(), ConnectorError> {
    let state = read_state(request.state.as_ref(), out)?;
    let synced_through = state.synced_through.as_deref().map(instant).transpose()?;
    let (mut page, mut newest) = match state.unfinished {
        Some(unfinished) => (unfinished.next_page, unfinished.newest),
        None => (1, None),
    };
    let mut emitted = 0;
    loop {
        let answer = client.incidents(page)?;
        let mut at_the_end = !answer.more;
        for incident in &answer.incidents {
            let created = instant(&incident.created_at)?;
            // Newest first: once one incident is too old, every later one is older still.
            if created < request.earliest_data_cutoff || synced_through.is_some_and(|done| created <= done) {
                at_the_end = true;
                break;
            }
            newest.get_or_insert_with(|| incident.created_at.clone());
            out.record(&source::to_record(incident, client.base_url()))?;
            emitted += 1;
        }
        if at_the_end {
            break;
        }
        page += 1;
        let unfinished = Unfinished { next_page: page, newest: newest.clone() };
        out.state(&state_value(state.synced_through.clone(), Some(unfinished))?)?;
    }
    out.state(&state_value(newest.or(state.synced_through), None)?)?;
    out.log(LogLevel::Info, format!("{emitted} incident(s) synced, up to page {page}"))?;
    Ok(())
}

/// The state to resume from: none on a first sync; a full sync, with a warning, when the
/// state is not one this version wrote (emitting records again is safe, losing them is not).
fn read_state(state: Option<&Value>, out: &mut Emitter) -> Result<State, ConnectorError> {
    let fresh = State { version: STATE_VERSION, synced_through: None, unfinished: None };
    let Some(value) = state else { return Ok(fresh) };
    match serde_json::from_value::<State>(value.clone()) {
        Ok(state) if state.version == STATE_VERSION => Ok(state),
        _ => {
            out.log(LogLevel::Warn, "the state is not one this connector version understands: syncing everything")?;
            Ok(fresh)
        }
    }
}

fn state_value(synced_through: Option<String>, unfinished: Option<Unfinished>) -> Result<Value, ConnectorError> {
    let state = State { version: STATE_VERSION, synced_through, unfinished };
    serde_json::to_value(state).map_err(|e| ConnectorError::internal(format!("cannot write the state: {e}")))
}

/// An RFC 3339 time of the source.
fn instant(text: &str) -> Result<DateTime<Utc>, ConnectorError> {
    parse_cutoff(text).map_err(|e| ConnectorError::internal(format!("the source sent a bad time: {e}")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::config::Config;

    /// Syncs back to `cutoff` from `state`: the ids of the records and the states, in order.
    fn sync(cutoff: &str, state: Option<Value>) -> (Vec<String>, Vec<Value>) {
        let (mut out, captured) = Emitter::in_memory();
        let config = Config { api_token: "t0k3n".into(), api_base_url: "https://api.example.com".into() };
        let client = Client::new(&config);
        let earliest_data_cutoff = parse_cutoff(cutoff).unwrap();
        let request = SyncRequest { stream: client.account_stream(), earliest_data_cutoff, state };
        run(&client, &request, &mut out).unwrap();
        out.flush().unwrap();
        let (mut ids, mut states) = (Vec::new(), Vec::new());
        for message in captured.messages().unwrap() {
            match message["type"].as_str() {
                Some("record") => ids.push(message["record"]["id"].as_str().unwrap().to_owned()),
                Some("state") => states.push(message["state"].clone()),
                _ => {}
            }
        }
        (ids, states)
    }

    const NEWEST: &str = "2026-03-14T09:26:53Z";

    #[test]
    fn a_first_sync_emits_everything_newest_first_with_a_checkpoint_after_each_page() {
        let (ids, states) = sync("2026-01-01", None);
        assert_eq!(ids, ["EX-5", "EX-4", "EX-3", "EX-2", "EX-1"]);
        assert_eq!(
            states,
            [
                json!({"version": 1, "syncedThrough": null, "unfinished": {"nextPage": 2, "newest": NEWEST}}),
                json!({"version": 1, "syncedThrough": null, "unfinished": {"nextPage": 3, "newest": NEWEST}}),
                json!({"version": 1, "syncedThrough": NEWEST, "unfinished": null}),
            ]
        );
    }

    #[test]
    fn nothing_older_than_the_cutoff_is_emitted() {
        assert_eq!(sync("2026-02-15", None).0, ["EX-5", "EX-4", "EX-3"]);
    }

    #[test]
    fn a_sync_from_the_last_checkpoint_emits_only_what_is_new() {
        let (_, states) = sync("2026-01-01", None);
        let (ids, again) = sync("2026-01-01", states.last().cloned());
        assert!(ids.is_empty(), "{ids:?}");
        assert_eq!(again.last(), states.last());
    }

    #[test]
    fn an_unfinished_pass_resumes_at_its_next_page() {
        let (_, states) = sync("2026-01-01", None);
        let (ids, resumed) = sync("2026-01-01", Some(states[0].clone()));
        assert_eq!(ids, ["EX-3", "EX-2", "EX-1"]);
        assert_eq!(resumed.last(), states.last());
    }

    #[test]
    fn a_state_of_another_shape_means_a_full_sync() {
        assert_eq!(sync("2026-01-01", Some(json!({"cursor": 7}))).0.len(), 5);
    }
}
