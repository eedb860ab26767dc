//! [`Emitter`]: how a connector writes protocol messages.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use serde_json::Value;

use protocol::codec::write_message;
use protocol::cutoff::format_instant;
use protocol::message::{LogLevel, ProgressMessage, Stream};
use protocol::secrets::Redactor;

/// Buffered output is flushed at least this often, so a runner watching for idle
/// connectors sees progress even while a connector emits records slowly.
const FLUSH_INTERVAL: Duration = Duration::from_millis(200);

/// Writes protocol messages, one JSON line each, to the connector's stdout.
///
/// Records are buffered for speed; the buffer is flushed on every `state`, `log` and
/// `error`, when [`Emitter::flush`] is called, and at least every 200 ms while records
/// are being emitted.
pub struct Emitter {
    out: io::BufWriter<Box<dyn Write>>,
    last_flush: Instant,
    records: u64,
    redactor: Redactor,
}

impl std::fmt::Debug for Emitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emitter").field("records", &self.records).finish_non_exhaustive()
    }
}

#[derive(Serialize)]
#[serde(tag = "type", rename = "record")]
struct RecordOut<'a, T: ?Sized> {
    record: &'a T,
    extracted_at: &'a str,
}

#[derive(Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Out<'a> {
    Stream { stream: &'a Stream },
    State { state: &'a Value },
    Progress(&'a ProgressMessage),
    Log { level: LogLevel, message: &'a str },
}

impl Emitter {
    /// An emitter writing to `out`.
    pub fn new(out: Box<dyn Write>) -> Self {
        Emitter {
            out: io::BufWriter::with_capacity(64 * 1024, out),
            last_flush: Instant::now(),
            records: 0,
            redactor: Redactor::default(),
        }
    }

    /// An emitter writing to this process's stdout.
    pub fn stdout() -> Self {
        Emitter::new(Box::new(io::stdout()))
    }

    /// An emitter that keeps what it writes in memory, and the handle to read it back: for
    /// testing a connector's methods without running its binary.
    pub fn in_memory() -> (Self, Captured) {
        let captured = Captured::default();
        (Emitter::new(Box::new(captured.clone())), captured)
    }

    /// Emits a record. `record` must serialise to an object with `_type` and `id`.
    ///
    /// # Errors
    /// I/O errors (for example the runner closed the pipe).
    pub fn record<T: Serialize + ?Sized>(&mut self, record: &T) -> io::Result<()> {
        let extracted_at = format_instant(Utc::now());
        write_message(&mut self.out, &RecordOut { record, extracted_at: &extracted_at })?;
        self.records += 1;
        if self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.flush()?;
        }
        Ok(())
    }

    /// Emits a `record` message the caller already serialised: one line of JSON,
    /// `{"type":"record","record":{...}}`, ending in `\n`. Nothing is checked or
    /// redacted; this is for generators whose output is known to be valid and where
    /// serialising each record would be the bottleneck (connector-bench).
    ///
    /// # Errors
    /// I/O errors.
    pub fn record_line(&mut self, line: &[u8]) -> io::Result<()> {
        debug_assert!(line.ends_with(b"\n"), "a record line ends with a newline");
        self.out.write_all(line)?;
        self.records += 1;
        if self.records % 1024 == 0 && self.last_flush.elapsed() >= FLUSH_INTERVAL {
            self.flush()?;
        }
        Ok(())
    }

    /// Emits a checkpoint covering every record emitted so far, and flushes.
    ///
    /// # Errors
    /// I/O errors.
    pub fn state(&mut self, state: &Value) -> io::Result<()> {
        write_message(&mut self.out, &Out::State { state })?;
        self.flush()
    }

    /// Emits a `progress` message (how much of the sync is done and expected), and
    /// flushes. Optional: emit it when the numbers change, at most a few times a second.
    ///
    /// # Errors
    /// I/O errors.
    pub fn progress(&mut self, progress: &ProgressMessage) -> io::Result<()> {
        write_message(&mut self.out, &Out::Progress(progress))?;
        self.flush()
    }

    /// Emits a Stream (the answer of `discover`).
    ///
    /// # Errors
    /// I/O errors.
    pub fn stream(&mut self, stream: &Stream) -> io::Result<()> {
        write_message(&mut self.out, &Out::Stream { stream })
    }

    /// Emits a log line for humans, with secrets masked, and flushes.
    ///
    /// # Errors
    /// I/O errors.
    pub fn log(&mut self, level: LogLevel, message: impl AsRef<str>) -> io::Result<()> {
        let message = self.redactor.redact(message.as_ref());
        write_message(&mut self.out, &Out::Log { level, message: &message })?;
        self.flush()
    }

    /// Emits any protocol message (spec, verification, error) and flushes.
    ///
    /// # Errors
    /// I/O errors.
    pub fn message<M: Serialize>(&mut self, message: &M) -> io::Result<()> {
        write_message(&mut self.out, message)?;
        self.flush()
    }

    /// Writes out everything buffered.
    ///
    /// # Errors
    /// I/O errors.
    pub fn flush(&mut self) -> io::Result<()> {
        self.last_flush = Instant::now();
        self.out.flush()
    }

    /// Hide these secrets in log and error messages (the SDK sets it from the config).
    pub fn set_redactor(&mut self, redactor: Redactor) {
        self.redactor = redactor;
    }

    /// `text` with the configuration's secrets masked.
    pub fn redact<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        self.redactor.redact(text)
    }

    /// How many records were emitted.
    pub fn records_emitted(&self) -> u64 {
        self.records
    }
}

/// What an [`Emitter::in_memory`] has written (everything up to its last flush).
#[derive(Debug, Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// The bytes written so far.
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().map(|bytes| bytes.clone()).unwrap_or_default()
    }

    /// Every line written so far, parsed as JSON.
    ///
    /// # Errors
    /// A line that is not JSON.
    pub fn messages(&self) -> Result<Vec<Value>, serde_json::Error> {
        self.bytes().split(|&byte| byte == b'\n').filter(|line| !line.is_empty()).map(serde_json::from_slice).collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().map_err(|_| io::Error::other("captured output poisoned"))?.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_valid_protocol_lines() {
        let (mut emitter, captured) = Emitter::in_memory();
        emitter.record(&serde_json::json!({"_type":"Team","id":"T1","self":"https://x.test/T1","name":"A"})).unwrap();
        emitter.state(&serde_json::json!({"cursor": 1})).unwrap();
        emitter.progress(&ProgressMessage::items(1, Some(3))).unwrap();
        emitter.progress(&ProgressMessage { done: 2, total: None, unit: Some("pages".into()) }).unwrap();
        emitter.log(LogLevel::Info, "done").unwrap();
        let messages = captured.messages().unwrap();
        let registry = protocol::SchemaRegistry::global();
        for message in &messages {
            registry.validate_message(message).unwrap_or_else(|e| panic!("{message}: {e:?}"));
        }
        assert_eq!(messages.len(), 5);
        assert_eq!(messages[2], serde_json::json!({"type": "progress", "done": 1, "total": 3}));
        assert_eq!(messages[3], serde_json::json!({"type": "progress", "done": 2, "unit": "pages"}));
        assert_eq!(emitter.records_emitted(), 1);
    }
}
