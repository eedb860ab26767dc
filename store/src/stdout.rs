//! The stdout destination (`--output -`): each record's JSON, exactly as received, on its
//! own line.
//!
//! Lines are buffered per run and written in one locked call of whole lines, at
//! checkpoints, at the end and whenever the buffer fills, so parallel runs never
//! interleave within a line. Nothing else is stored: no state (an incremental sync to `-`
//! needs `--state FILE`, which [`super::open`] routes states to), no run history.
//! Rejected records are reported on stderr as one warning line each (type, id, line,
//! errors; not the record itself, which may be large) and counted by the runner.
//! A reader that goes away (`| head`) gives [`DestinationError::StdoutClosed`].

use std::io::{self, Write};

use serde_json::Value;

use crate::guard::ConnectionGuard;
use crate::{
    Destination, DestinationError, Output, OutputError, OutputSpec, RejectedRecord, RunStart, RunSummary, Tuning,
    ValidRecord,
};

/// Records to stdout, warnings to stderr.
pub struct StdoutDestination {
    out: Box<dyn Write + Send>,
    warnings: Box<dyn Write + Send>,
    buffer: Vec<u8>,
    capacity: usize,
}

impl StdoutDestination {
    /// Writes to the process's stdout and stderr.
    pub fn new(tuning: &Tuning) -> Self {
        Self::with_streams(Box::new(io::stdout()), Box::new(io::stderr()), tuning)
    }

    /// Writes to the given streams. Each `write_all` on `out` must be atomic with respect
    /// to other runs (as it is for [`io::Stdout`], which locks per call).
    pub(crate) fn with_streams(out: Box<dyn Write + Send>, warnings: Box<dyn Write + Send>, tuning: &Tuning) -> Self {
        let capacity = tuning.buffer_bytes.max(1);
        StdoutDestination { out, warnings, buffer: Vec::with_capacity(capacity), capacity }
    }

    fn write_buffered(&mut self) -> Result<(), DestinationError> {
        let written = self.out.write_all(&self.buffer).and_then(|()| self.out.flush());
        self.buffer.clear();
        written.map_err(stdout_error)
    }
}

fn stdout_error(err: io::Error) -> DestinationError {
    if err.kind() == io::ErrorKind::BrokenPipe {
        DestinationError::StdoutClosed
    } else {
        DestinationError::write("stdout", err)
    }
}

impl Destination for StdoutDestination {
    fn describe(&self) -> String {
        "stdout".to_owned()
    }

    fn load_state(&mut self, _connection: &str, _stream_id: &str) -> Result<Option<Value>, DestinationError> {
        Ok(None)
    }

    fn begin_run(&mut self, _run: &RunStart) -> Result<(), DestinationError> {
        Ok(())
    }

    fn write_record(&mut self, record: &ValidRecord<'_>) -> Result<(), DestinationError> {
        self.buffer.extend_from_slice(record.json.as_bytes());
        self.buffer.push(b'\n');
        if self.buffer.len() >= self.capacity {
            self.write_buffered()?;
        }
        Ok(())
    }

    fn write_rejected(&mut self, record: &RejectedRecord<'_>) -> Result<(), DestinationError> {
        let record_type = record.record_type.unwrap_or("record without _type");
        let id = record.id.unwrap_or("?");
        let warning = format!("warning: rejected {record_type} `{id}` (line {}): {}\n", record.line, record.errors);
        // A warning that cannot be shown must not stop the sync; the runner counts rejects.
        let _ = self.warnings.write_all(warning.as_bytes());
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DestinationError> {
        self.write_buffered()
    }

    fn checkpoint(&mut self, _state: &Value) -> Result<(), DestinationError> {
        self.write_buffered()
    }

    fn finish_run(&mut self, _summary: &RunSummary) -> Result<(), DestinationError> {
        self.write_buffered()
    }
}

/// Reads `-` as stdout.
pub(crate) fn parse_output(text: &str) -> Option<Result<OutputSpec, OutputError>> {
    (text == "-").then(|| Ok(OutputSpec::stdout()))
}

/// The runner's stdout as an `--output`: records as JSON lines, nothing kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StdoutOutput;

impl std::fmt::Display for StdoutOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("-")
    }
}

impl Output for StdoutOutput {
    fn kind(&self) -> &'static str {
        "stdout"
    }

    fn open(&self, tuning: &Tuning) -> Result<Box<dyn Destination>, DestinationError> {
        Ok(Box::new(StdoutDestination::new(tuning)))
    }

    /// Nothing to guard: nothing is kept, so two syncs cannot interleave a store.
    fn lock(
        &self,
        _connection: &str,
        _busy: &mut dyn FnMut(&str) -> bool,
    ) -> Result<ConnectionGuard, DestinationError> {
        Ok(ConnectionGuard::None)
    }

    fn is_stdout(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::{record, run_start, summary};
    use crate::RunOutcome;
    use std::io::Read;

    #[test]
    fn records_are_written_byte_for_byte_through_a_real_pipe() {
        let (mut reader, writer) = io::pipe().unwrap();
        let (_warn_reader, warn_writer) = io::pipe().unwrap();
        let json = "{ \"_type\":\"Incident\", \"id\":\"P1\", \"t\":\"caf\\u00e9\" }";
        let mut dest = StdoutDestination::with_streams(Box::new(writer), Box::new(warn_writer), &Tuning::default());
        dest.begin_run(&run_start("acme", "s")).unwrap();
        dest.write_record(&record("Incident", "P1", json)).unwrap();
        dest.write_record(&record("Team", "T1", "{}")).unwrap();
        assert_eq!(dest.load_state("acme", "s").unwrap(), None);
        dest.finish_run(&summary(RunOutcome::Succeeded, &[])).unwrap();
        drop(dest);
        let mut out = String::new();
        reader.read_to_string(&mut out).unwrap();
        assert_eq!(out, format!("{json}\n{{}}\n"));
    }

    #[test]
    fn a_closed_reader_is_stdout_closed_not_a_panic() {
        let (reader, writer) = io::pipe().unwrap();
        drop(reader);
        let mut dest = StdoutDestination::with_streams(Box::new(writer), Box::new(io::sink()), &Tuning::default());
        dest.begin_run(&run_start("acme", "s")).unwrap();
        dest.write_record(&record("Incident", "P1", "{}")).unwrap();
        let err = dest.checkpoint(&serde_json::json!({})).unwrap_err();
        assert!(err.is_stdout_closed(), "{err}");
    }

    #[test]
    fn rejected_records_become_one_warning_line_each() {
        let (mut reader, writer) = io::pipe().unwrap();
        let mut dest = StdoutDestination::with_streams(Box::new(io::sink()), Box::new(writer), &Tuning::default());
        let rejected = RejectedRecord {
            record_type: Some("Incident"),
            id: Some("Q1204"),
            json: "{}",
            errors: "at /createdAt: \"1717000000\" is not a \"date-time\"",
            line: 1207,
        };
        dest.write_rejected(&rejected).unwrap();
        drop(dest);
        let mut warnings = String::new();
        reader.read_to_string(&mut warnings).unwrap();
        assert_eq!(
            warnings,
            "warning: rejected Incident `Q1204` (line 1207): at /createdAt: \"1717000000\" is not a \"date-time\"\n"
        );
    }
}
