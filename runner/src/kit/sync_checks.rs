//! The `discover.streams` and `sync.*` checks: discover, then sync the first stream from
//! the `--since` cutoff, check every line, record, state and the exit, then sync again
//! from the final state and measure how many records come back (the overlap).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use serde_json::Value;

use protocol::{format_instant, ConnectorMessage, DeclaredSchemaError, RunnerMessage, Stream, SyncMessage};

use engine::connector::{check_stream, stdin_for};

use super::check::{self, verdict, Check, Problem};
use super::exec::{Executor, Run, Transcript};

/// A second sync fails `sync.incremental` when it re-emits more than this share of the
/// first sync's records...
const MAX_OVERLAP: f64 = 0.5;
/// ...and the first sync emitted at least this many (small sources re-emit everything).
const MIN_RECORDS_FOR_OVERLAP: usize = 10;

/// The `sync.*` checks that depend on the first sync only.
const FIRST_SYNC_CHECKS: [&str; 6] = [
    check::SYNC_PROTOCOL_LINES,
    check::SYNC_RECORDS_VALID,
    check::SYNC_STATE_EMITTED,
    check::SYNC_TERMINATES,
    check::SYNC_EXIT_ZERO,
    check::SYNC_UNIQUE_IDS,
];

/// Runs discover and two syncs; returns the checks and the stream synced (for the SIGTERM check).
pub fn checks(executor: &mut Executor<'_>, config: &Value, since: DateTime<Utc>) -> (Vec<Check>, Option<Stream>) {
    let (discover, stream) = discover(executor, config);
    let mut checks = vec![discover];
    let Some(stream) = stream else {
        let reason = "no stream to sync (see discover.streams)";
        checks.extend(FIRST_SYNC_CHECKS.iter().chain([&check::SYNC_INCREMENTAL]).map(|name| Check::skip(name, reason)));
        return (checks, None);
    };
    let first = executor.run(Run::new("sync", "sync", Some(sync_stdin(config, &stream, since, Value::Null))));
    checks.extend(first_sync_checks(&first, &stream));
    checks.push(incremental(executor, config, &stream, since, &first));
    (checks, Some(stream))
}

/// The stdin of a sync: the config message, then the sync message.
pub fn sync_stdin(config: &Value, stream: &Stream, since: DateTime<Utc>, state: Value) -> Vec<u8> {
    let sync = SyncMessage { stream: stream.clone(), earliest_data_cutoff: format_instant(since), state };
    stdin_for(config, Some(&RunnerMessage::Sync(sync)))
}

fn discover(executor: &mut Executor<'_>, config: &Value) -> (Check, Option<Stream>) {
    let transcript = executor.run(Run::new("discover", "discover", Some(stdin_for(config, None))));
    let streams: Vec<(u64, &Stream)> = transcript
        .messages
        .iter()
        .filter_map(|(line, m)| match m {
            ConnectorMessage::Stream(s) => Some((*line, &s.stream)),
            _ => None,
        })
        .collect();
    let outcome = check_streams(&transcript, &streams, |stream| executor.schemas_for(stream).map(drop));
    let first = outcome.is_ok().then(|| streams[0].1.clone());
    if let Some(stream) = &first {
        executor.use_stream(stream);
    }
    (verdict(check::DISCOVER_STREAMS, outcome), first)
}

/// Checks discover's streams; `declarations` compiles a stream's declared types as a sync would.
fn check_streams(
    transcript: &Transcript,
    streams: &[(u64, &Stream)],
    declarations: impl Fn(&Stream) -> Result<(), DeclaredSchemaError>,
) -> Result<String, Problem> {
    if let Some(problem) = transcript.problem() {
        return Err(problem);
    }
    if streams.is_empty() {
        return Err(Problem::new("discover emitted no stream (at least one is required)"));
    }
    let mut seen = HashMap::new();
    for (line, stream) in streams {
        if let Err(e) = check_stream(stream) {
            return Err(Problem::at(*line, format!("invalid Stream: {e}")));
        }
        if let Err(refused) = declarations(stream) {
            return Err(Problem::at(*line, format!("unusable recordSchemas: {refused}")));
        }
        if let Some(first) = seen.insert(stream.id.as_str(), *line) {
            return Err(Problem::at(*line, format!("stream id `{}` repeats the one of line {first}", stream.id)));
        }
    }
    let ids: Vec<String> = streams.iter().map(|(_, s)| format!("`{}`", s.id)).collect();
    Ok(format!("{} stream(s): {}", streams.len(), ids.join(", ")))
}

fn first_sync_checks(sync: &Transcript, stream: &Stream) -> Vec<Check> {
    let counts = count_by_type(sync);
    let lines = match sync.bad_lines.first() {
        Some(problem) => Err(sync.labelled(problem.clone())),
        None => Ok(format!("stream `{}`: {} valid lines", stream.id, sync.messages.len() + sync.records.len())),
    };
    let invalid: Vec<_> = sync.records.iter().filter(|r| r.error.is_some()).collect();
    let records = match invalid.first() {
        Some(first) => Err(Problem::at(
            first.line,
            format!(
                "{} of {} records invalid; first: {}",
                invalid.len(),
                sync.records.len(),
                first.error.as_deref().unwrap_or("?")
            ),
        )),
        None => Ok(format!("{} records, all valid ({counts})", sync.records.len())),
    };
    let stopped = !sync.ended_by_itself();
    let stopped_reason = "the sync did not end by itself (see sync.terminates)";
    let states = sync.messages.iter().filter(|(_, m)| matches!(m, ConnectorMessage::State(_))).count();
    let state = match (states, stopped) {
        (0, true) => Check::skip(check::SYNC_STATE_EMITTED, stopped_reason),
        (0, false) => Check::fail(check::SYNC_STATE_EMITTED, "the sync emitted no state message"),
        (n, _) => Check::pass(check::SYNC_STATE_EMITTED, format!("{n} state message(s)")),
    };
    let terminates = match &sync.outcome {
        Ok(_) if !stopped => Check::pass(check::SYNC_TERMINATES, "ended by itself"),
        _ => Check::failed(check::SYNC_TERMINATES, sync.exit_problem().unwrap_or_else(|| Problem::new("stopped"))),
    };
    let exit = match (stopped, sync.exit_problem()) {
        (true, _) => Check::skip(check::SYNC_EXIT_ZERO, stopped_reason),
        (false, Some(problem)) => Check::failed(check::SYNC_EXIT_ZERO, problem),
        (false, None) => Check::pass(check::SYNC_EXIT_ZERO, "exit status 0"),
    };
    vec![
        verdict(check::SYNC_PROTOCOL_LINES, lines),
        verdict(check::SYNC_RECORDS_VALID, records),
        state,
        terminates,
        exit,
        verdict(check::SYNC_UNIQUE_IDS, unique_ids(sync)),
    ]
}

/// `Incident: 12, Team: 3`.
fn count_by_type(sync: &Transcript) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for record in &sync.records {
        *counts.entry(record.record_type.as_deref().unwrap_or("?")).or_default() += 1;
    }
    counts.iter().map(|(t, n)| format!("{t}: {n}")).collect::<Vec<_>>().join(", ")
}

fn unique_ids(sync: &Transcript) -> Result<String, Problem> {
    let mut first_line: HashMap<(&str, &str), u64> = HashMap::new();
    let mut duplicates = Vec::new();
    for record in &sync.records {
        let (Some(t), Some(id)) = (record.record_type.as_deref(), record.id.as_deref()) else { continue };
        if let Some(first) = first_line.insert((t, id), record.line) {
            duplicates.push((record.line, format!("{t} `{id}` (lines {first} and {})", record.line)));
        }
    }
    match duplicates.first() {
        None => Ok(format!("{} distinct (type, id) pairs", first_line.len())),
        Some((line, first)) => Err(Problem::at(
            *line,
            format!("{} duplicate record id(s) within one sync; first: {first}", duplicates.len()),
        )),
    }
}

fn keys(sync: &Transcript) -> BTreeSet<(String, String)> {
    sync.records.iter().filter_map(|r| Some((r.record_type.clone()?, r.id.clone()?))).collect()
}

fn incremental(
    executor: &mut Executor<'_>,
    config: &Value,
    stream: &Stream,
    since: DateTime<Utc>,
    first: &Transcript,
) -> Check {
    let name = check::SYNC_INCREMENTAL;
    if stream.full_refresh {
        let reason =
            format!("stream `{}` has no incremental mode (fullRefresh): every sync reads all of it again", stream.id);
        return Check::skip(name, reason);
    }
    if first.exit_problem().is_some() {
        return Check::skip(name, "the first sync did not succeed");
    }
    let Some(state) = first.messages.iter().rev().find_map(|(_, m)| match m {
        ConnectorMessage::State(s) => Some(s.state.clone()),
        _ => None,
    }) else {
        return Check::skip(name, "the first sync emitted no state to resume from");
    };
    let second = executor.run(Run::new("sync (from state)", "sync", Some(sync_stdin(config, stream, since, state))));
    // Bad lines are sync.protocol_lines' business; here only whether the second sync succeeds.
    if let Some(problem) = second.exit_problem() {
        return Check::failed(name, problem);
    }
    verdict(name, judge_overlap(&keys(first), &keys(&second)))
}

/// The overlap rule: fail only when the second sync re-emits more than [`MAX_OVERLAP`] of
/// a first sync of at least [`MIN_RECORDS_FOR_OVERLAP`] records.
fn judge_overlap(first: &BTreeSet<(String, String)>, second: &BTreeSet<(String, String)>) -> Result<String, Problem> {
    let overlap = first.intersection(second).count();
    let share = if first.is_empty() { 0.0 } else { overlap as f64 / first.len() as f64 };
    let summary = format!(
        "the second sync emitted {} records, {overlap} of the first sync's {} again ({:.0}%)",
        second.len(),
        first.len(),
        share * 100.0
    );
    if first.len() >= MIN_RECORDS_FOR_OVERLAP && share > MAX_OVERLAP {
        return Err(Problem::new(format!("{summary}: the state does not make the next sync incremental")));
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(range: std::ops::Range<u32>) -> BTreeSet<(String, String)> {
        range.map(|i| ("Incident".to_owned(), i.to_string())).collect()
    }

    #[test]
    fn re_emitting_most_of_a_large_sync_fails() {
        let err = judge_overlap(&ids(0..20), &ids(5..20)).unwrap_err();
        assert!(err.reason.contains("15 of the first sync's 20 again (75%)"), "{}", err.reason);
    }

    #[test]
    fn a_small_or_mostly_new_second_sync_passes_with_the_overlap_reported() {
        assert!(judge_overlap(&ids(0..5), &ids(0..5)).unwrap().contains("(100%)"));
        assert!(judge_overlap(&ids(0..20), &ids(15..30)).unwrap().contains("5 of the first sync's 20 again (25%)"));
        assert!(judge_overlap(&ids(0..0), &ids(0..3)).is_ok());
    }
}
