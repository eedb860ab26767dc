//! The checkpoint a sync emits and resumes from.
//!
//! ```json
//! {"version":1,"phase":"backfill","highWaterMark":"2026-03-01T12:00:00Z","cursor":"2025-09-02T12:00:00Z","windowsDone":1}
//! ```
//! Invariant: every incident and log entry created in `[cursor, highWaterMark)` has been
//! emitted before this state. A backfill walks `cursor` down to the cutoff, keeping
//! `highWaterMark` at the instant the sync started; once `cursor` reaches the cutoff the
//! phase is `incremental`. The next sync fetches what was created (or, through log
//! entries, changed) since `highWaterMark` minus an overlap, moves `highWaterMark` to its
//! own start, and then finishes any backfill still owed (a killed sync, or a cutoff
//! moved earlier).

use chrono::{DateTime, Utc};
use connector_sdk::ConnectorError;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The state format version this connector writes and reads.
pub const VERSION: u32 = 1;

/// Where a sync stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Still walking back to the cutoff.
    Backfill,
    /// Everything back to the cutoff is done; later syncs fetch changes.
    Incremental,
}

/// A checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct State {
    /// Format version, [`VERSION`].
    pub version: u32,
    /// Where the sync stands.
    pub phase: Phase,
    /// Everything created before this has been emitted (down to `cursor`).
    pub high_water_mark: DateTime<Utc>,
    /// Everything created at or after this (up to `high_water_mark`) has been emitted.
    pub cursor: DateTime<Utc>,
    /// Windows completed since the backfill started (for humans).
    #[serde(default)]
    pub windows_done: u64,
}

impl State {
    /// The state of a sync that starts at `now` with nothing emitted yet.
    pub fn start(now: DateTime<Utc>) -> Self {
        State { version: VERSION, phase: Phase::Backfill, high_water_mark: now, cursor: now, windows_done: 0 }
    }

    /// Reads the state handed back by the runner; `None` for a first sync.
    ///
    /// # Errors
    /// A state that is not this connector's, or of a newer version.
    pub fn parse(value: Option<&Value>) -> Result<Option<Self>, ConnectorError> {
        let Some(value) = value.filter(|v| !v.is_null()) else { return Ok(None) };
        let state: State = serde_json::from_value(value.clone()).map_err(|e| {
            ConnectorError::config(format!(
                "the state is not a PagerDuty connector state ({e}); delete it to sync from scratch"
            ))
        })?;
        if state.version != VERSION {
            return Err(ConnectorError::config(format!(
                "state version {} is not supported (this connector writes version {VERSION})",
                state.version
            )));
        }
        Ok(Some(state))
    }

    /// Whether the covered range reaches back to `cutoff`.
    pub fn reaches(&self, cutoff: DateTime<Utc>) -> bool {
        self.cursor <= cutoff
    }

    /// The state once everything created in `[cursor, high_water_mark)` is emitted: the
    /// cursor only ever moves down (each move counts as a window done), and the phase
    /// follows the cutoff, which may have moved since the state was written. Returns
    /// whether anything changed.
    pub fn advance(&mut self, cursor: DateTime<Utc>, high_water_mark: DateTime<Utc>, cutoff: DateTime<Utc>) -> bool {
        let before = self.clone();
        if cursor < self.cursor {
            self.cursor = cursor;
            self.windows_done += 1;
        }
        self.high_water_mark = high_water_mark;
        self.phase = if self.reaches(cutoff) { Phase::Incremental } else { Phase::Backfill };
        *self != before
    }

    /// The JSON form.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(text: &str) -> DateTime<Utc> {
        connector_sdk::protocol::parse_cutoff(text).unwrap()
    }

    #[test]
    fn round_trips_and_tracks_the_phase() {
        let (cutoff, start) = (at("2025-01-01"), at("2026-01-01"));
        let mut state = State::start(start);
        assert!(state.advance(at("2025-07-05"), start, cutoff));
        assert_eq!(state.phase, Phase::Backfill);
        assert!(!state.advance(at("2025-09-01"), start, cutoff), "the cursor never moves up");
        assert!(state.advance(at("2025-01-01"), start, cutoff));
        assert_eq!((state.phase, state.windows_done), (Phase::Incremental, 2));
        let value = state.to_value();
        assert_eq!(value["highWaterMark"], "2026-01-01T00:00:00Z");
        assert_eq!(State::parse(Some(&value)).unwrap(), Some(state));
    }

    #[test]
    fn a_new_high_water_mark_alone_is_a_change_and_the_phase_follows_a_later_cutoff() {
        let mut state = State::start(at("2026-01-01"));
        state.advance(at("2025-06-01"), at("2026-01-01"), at("2025-01-01"));
        assert_eq!(state.phase, Phase::Backfill);
        // The next sync, with the cutoff moved after the cursor: nothing is owed any more.
        assert!(state.advance(at("2025-06-01"), at("2026-02-01"), at("2025-09-01")));
        assert_eq!((state.phase, state.windows_done), (Phase::Incremental, 1));
        assert_eq!(state.high_water_mark, at("2026-02-01"));
    }

    #[test]
    fn no_state_is_a_first_sync_and_a_foreign_state_is_refused() {
        assert_eq!(State::parse(None).unwrap(), None);
        assert_eq!(State::parse(Some(&Value::Null)).unwrap(), None);
        let err = State::parse(Some(&json!({"cursor": 3}))).unwrap_err();
        assert!(err.message.contains("not a PagerDuty connector state"), "{err}");
        let mut newer = State::start(at("2026-01-01")).to_value();
        newer["version"] = json!(2);
        assert!(State::parse(Some(&newer)).unwrap_err().message.contains("version 2"));
    }
}
