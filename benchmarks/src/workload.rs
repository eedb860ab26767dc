//! A benchmark's input: a fresh temporary directory, connector-bench's configuration for
//! N records, and the exact size of the stream connector-bench prints for it, measured
//! once by reading it into a counting sink.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::process::{check_success, Running};

/// The token in the configuration: never used by connector-bench, but `writeOnly`, so the
/// runner scans every record for it as it does for real connectors.
pub const API_TOKEN: &str = "bench-secret-token";

/// The cutoff every sync gets (connector-bench ignores it; the runner requires one).
pub const CUTOFF: &str = "2026-01-01";

/// What connector-bench prints for one configuration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct StreamSize {
    /// Every line (records and states).
    pub lines: u64,
    /// Every byte.
    pub bytes: u64,
    /// `record` lines.
    pub record_lines: u64,
    /// Bytes of the `record` lines, newlines included: the throughput's "bytes".
    pub record_bytes: u64,
}

/// A temporary directory with connector-bench's configuration and its stream's size.
pub struct Workload {
    dir: tempfile::TempDir,
    config: PathBuf,
    connector: PathBuf,
    /// Records a sync emits.
    pub records: u64,
    /// The measured stream.
    pub stream: StreamSize,
}

impl Workload {
    /// Writes the configuration in a new temporary directory (under the system's temp
    /// directory, /tmp by default) and measures the stream.
    pub fn prepare(connector: PathBuf, records: u64, checkpoint_every: u64) -> Result<Workload> {
        let dir = tempfile::Builder::new()
            .prefix("runner-bench-")
            .tempdir()
            .context("cannot create a temporary directory for the benchmark")?;
        let config = dir.path().join("bench.json");
        let body = serde_json::json!({"records": records, "checkpointEvery": checkpoint_every, "apiToken": API_TOKEN});
        std::fs::write(&config, body.to_string()).with_context(|| format!("cannot write {}", config.display()))?;
        let mut workload = Workload { dir, config, connector, records, stream: StreamSize::default() };
        workload.stream = workload.measure_stream()?;
        if workload.stream.record_lines != records {
            bail!("connector-bench printed {} record lines, {records} were configured", workload.stream.record_lines);
        }
        Ok(workload)
    }

    /// The temporary directory: outputs go there.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The configuration file.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// The connector-bench executable.
    pub fn connector(&self) -> &Path {
        &self.connector
    }

    /// connector-bench in debug mode (`sync --config .. --since ..`): the protocol lines the
    /// runner would read, on stdout.
    pub fn connector_command(&self) -> Command {
        let mut command = Command::new(&self.connector);
        command.arg("sync").arg("--config").arg(&self.config).args(["--since", CUTOFF]).stdin(Stdio::null());
        command
    }

    fn measure_stream(&self) -> Result<StreamSize> {
        let stderr = self.dir().join("count.stderr");
        let mut command = self.connector_command();
        command.stdout(Stdio::piped()).stderr(create(&stderr)?);
        let mut running = Running::spawn("`connector-bench sync`", &mut command)?;
        let stdout = running.take_stdout().context("connector-bench's stdout is not a pipe")?;
        let size = count_stream(BufReader::with_capacity(256 * 1024, stdout))
            .context("cannot read connector-bench's output")?;
        let usage = running.wait()?;
        check_success("`connector-bench sync`", &usage, &stderr)?;
        Ok(size)
    }
}

/// Counts lines and bytes, and which lines are records (decoded as the runner decodes them).
pub fn count_stream(mut input: impl BufRead) -> Result<StreamSize> {
    let mut size = StreamSize::default();
    let mut line = Vec::with_capacity(4096);
    while input.read_until(b'\n', &mut line)? > 0 {
        size.lines += 1;
        size.bytes += line.len() as u64;
        let text = std::str::from_utf8(&line).with_context(|| format!("line {} is not UTF-8", size.lines))?;
        let message = protocol::ConnectorMessage::decode(text.trim_end())
            .with_context(|| format!("line {} is not a protocol message", size.lines))?;
        if matches!(message, protocol::ConnectorMessage::Record(_)) {
            size.record_lines += 1;
            size.record_bytes += line.len() as u64;
        }
        line.clear();
    }
    Ok(size)
}

/// Creates (truncates) a file for a child's output.
pub fn create(path: &Path) -> Result<File> {
    File::create(path).with_context(|| format!("cannot create {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_and_states_are_counted_apart() {
        let input = "{\"type\":\"record\",\"record\":{\"_type\":\"Incident\",\"id\":\"a\"}}\n\
                     {\"type\":\"state\",\"state\":{\"emitted\":1}}\n";
        let size = count_stream(input.as_bytes()).unwrap();
        assert_eq!((size.lines, size.record_lines, size.bytes), (2, 1, input.len() as u64));
        assert_eq!(size.record_bytes, input.lines().next().unwrap().len() as u64 + 1);
    }

    #[test]
    fn a_line_that_is_not_a_message_is_an_error() {
        let error = count_stream("not json\n".as_bytes()).unwrap_err();
        assert!(format!("{error:#}").contains("line 1 is not a protocol message"), "{error:#}");
    }
}
