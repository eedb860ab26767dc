//! The stdout pipeline: the hot path of every sync.
//!
//! ```text
//!  pipe ──▶ reader ──chunks──▶ mappers (one per core, ≤ 4) ──batches──▶ event loop
//!           (framing,            (decode + the caller's map,             (puts batches back
//!            numbering)           e.g. schema validation)                 in order, hands
//!                                                                         them to `handle`)
//! ```
//!
//! - The **reader** frames the pipe into bounded, numbered lines ([`LineReader`]) and packs
//!   them into chunks of up to [`CHUNK_BYTES`]. A chunk is also sent as soon as the pipe
//!   has nothing more to read, so a slow connector's messages are not held back.
//! - **Mappers** take whole chunks from a shared queue, decode every line and apply the
//!   caller's `map` (which must therefore be `Fn + Sync`). Decoding and validating are by
//!   far the most expensive steps, and independent per line, so they run in parallel.
//! - The **event loop** receives numbered batches in any order and delivers them in
//!   chunk order ([`Reorder`]), so the caller sees lines exactly in the order the
//!   connector wrote them.
//!
//! Memory stays bounded whatever the volume: the reader needs a permit per chunk and at
//! most [`CHUNKS_IN_FLIGHT`] chunks exist between the reader and delivery.

use std::collections::BTreeMap;
use std::io::{self, BufRead, BufReader, Read};
use std::process::ChildStdout;
use std::rc::Rc;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use protocol::{codec, CodecError, ConnectorMessage, LineReader};

use super::{spawn_thread, Event, Incoming};

/// Text bytes per chunk, at most (about: a chunk ends after the line that reaches it).
const CHUNK_BYTES: usize = 512 * 1024;
/// Chunks between the reader and delivery to the caller, at most.
const CHUNKS_IN_FLIGHT: usize = 8;
/// Mapper threads, at most.
const MAX_MAPPERS: usize = 4;
/// Read buffer on the pipe.
const PIPE_BUFFER: usize = 256 * 1024;

/// Numbered lines read from the pipe, ready to map.
struct Chunk {
    seq: u64,
    /// The lines' text, concatenated.
    text: String,
    entries: Vec<Entry>,
}

/// One line of a chunk: its number and where its text is, or why it could not be read.
enum Entry {
    Line { number: u64, start: usize, end: usize },
    Unreadable(CodecError),
}

impl Chunk {
    fn new(seq: u64) -> Self {
        Chunk { seq, text: String::new(), entries: Vec::new() }
    }

    fn map<T>(self, map: &impl Fn(Incoming, Option<&str>) -> T) -> Vec<T> {
        let text = self.text;
        self.entries
            .into_iter()
            .map(|entry| match entry {
                Entry::Line { number, start, end } => {
                    let line = &text[start..end];
                    map(decode(number, line), Some(line))
                }
                Entry::Unreadable(error) => map(Err(error), None),
            })
            .collect()
    }
}

fn decode(number: u64, text: &str) -> Incoming {
    ConnectorMessage::decode(text).map(|message| (number, message)).map_err(|source| CodecError::InvalidMessage {
        line: number,
        snippet: codec::snippet(text, 120),
        source,
    })
}

/// Starts the reader and the mappers; their batches and a final
/// [`Event::StdoutDone`] arrive on `events`. The returned [`Reorder`] belongs to the event
/// loop.
pub(super) fn start<T, M>(stdout: ChildStdout, max_line: usize, map: M, events: &SyncSender<Event<T>>) -> Reorder<T>
where
    T: Send + 'static,
    M: Fn(Incoming, Option<&str>) -> T + Send + Sync + 'static,
{
    let (permit_tx, permit_rx) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
    let mappers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_MAPPERS);
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<Chunk>(mappers);
    let chunk_rx = Arc::new(Mutex::new(chunk_rx));
    let map = Arc::new(map);
    for index in 0..mappers {
        let (chunks, map, events) = (Arc::clone(&chunk_rx), Arc::clone(&map), events.clone());
        spawn_thread(&format!("connector-map-{index}"), move || run_mapper(&chunks, &*map, &events));
    }
    let done_tx = events.clone();
    spawn_thread("connector-stdout", move || {
        let chunks = read_chunks(stdout, max_line, &chunk_tx, &permit_tx);
        drop(chunk_tx); // the mappers stop once the queue is empty
        let _ = done_tx.send(Event::StdoutDone { chunks });
    });
    Reorder { next: 0, waiting: BTreeMap::new(), permits: permit_rx, last: None }
}

fn run_mapper<T>(
    chunks: &Mutex<Receiver<Chunk>>,
    map: &impl Fn(Incoming, Option<&str>) -> T,
    events: &SyncSender<Event<T>>,
) {
    loop {
        // The lock is held only while waiting for the next chunk, never while mapping.
        let next = chunks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
        let Ok(chunk) = next else { return };
        let seq = chunk.seq;
        if events.send(Event::Batch(seq, chunk.map(map))).is_err() {
            return;
        }
    }
}

/// A `BufRead` that tells whether its buffer is drained, i.e. whether the next read may
/// block on the pipe: the moment to send the current chunk.
struct Watched<R> {
    inner: BufReader<R>,
    drained: Rc<std::cell::Cell<bool>>,
}

impl<R: Read> Read for Watched<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.inner.read(out)
    }
}

impl<R: Read> BufRead for Watched<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.inner.consume(amount);
        self.drained.set(self.inner.buffer().is_empty());
    }
}

/// Frames the pipe into chunks until end of file, a read error, or nobody listening.
/// Returns how many chunks were sent.
fn read_chunks(stdout: ChildStdout, max_line: usize, chunks: &SyncSender<Chunk>, permits: &SyncSender<()>) -> u64 {
    let drained = Rc::new(std::cell::Cell::new(true));
    let reader = Watched { inner: BufReader::with_capacity(PIPE_BUFFER, stdout), drained: Rc::clone(&drained) };
    let mut lines = LineReader::new(reader, max_line);
    let mut sent = 0;
    let mut chunk = Chunk::new(sent);
    loop {
        let fatal = match lines.next_line() {
            Ok(None) => break,
            Ok(Some(line)) => {
                let start = chunk.text.len();
                chunk.text.push_str(line.text);
                chunk.entries.push(Entry::Line { number: line.number, start, end: chunk.text.len() });
                false
            }
            Err(error) => {
                let fatal = matches!(error, CodecError::Io { .. });
                chunk.entries.push(Entry::Unreadable(error));
                fatal
            }
        };
        if fatal || chunk.text.len() >= CHUNK_BYTES || drained.get() {
            if !send(std::mem::replace(&mut chunk, Chunk::new(sent + 1)), chunks, permits) {
                return sent;
            }
            sent += 1;
        }
        if fatal {
            break;
        }
    }
    if !chunk.entries.is_empty() && send(chunk, chunks, permits) {
        sent += 1;
    }
    sent
}

fn send(chunk: Chunk, chunks: &SyncSender<Chunk>, permits: &SyncSender<()>) -> bool {
    permits.send(()).is_ok() && chunks.send(chunk).is_ok()
}

/// Puts mapped batches back in chunk order, on the event loop.
pub(super) struct Reorder<T> {
    next: u64,
    waiting: BTreeMap<u64, Vec<T>>,
    /// One token per chunk in flight; taking one back lets the reader send another chunk.
    permits: Receiver<()>,
    /// How many chunks the reader sent in all, once it has stopped.
    last: Option<u64>,
}

impl<T> Reorder<T> {
    /// Accepts batch `seq` and calls `deliver` for every batch that is now in order.
    pub(super) fn accept(&mut self, seq: u64, items: Vec<T>, mut deliver: impl FnMut(Vec<T>)) {
        self.waiting.insert(seq, items);
        while let Some(items) = self.waiting.remove(&self.next) {
            self.next += 1;
            let _ = self.permits.try_recv();
            deliver(items);
        }
    }

    /// The reader stopped after sending this many chunks.
    pub(super) fn end_after(&mut self, chunks: u64) {
        self.last = Some(chunks);
    }

    /// Whether every chunk the reader sent has been delivered.
    pub(super) fn complete(&self) -> bool {
        self.last == Some(self.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reorder_delivers_in_sequence_and_returns_permits() {
        let (permit_tx, permit_rx) = mpsc::sync_channel(3);
        for _ in 0..3 {
            permit_tx.send(()).unwrap();
        }
        let mut reorder = Reorder { next: 0, waiting: BTreeMap::new(), permits: permit_rx, last: None };
        let mut seen = Vec::new();
        reorder.accept(2, vec!["c"], |batch| seen.extend(batch));
        reorder.accept(1, vec!["b"], |batch| seen.extend(batch));
        assert!(seen.is_empty());
        assert!(permit_tx.try_send(()).is_err(), "no permit is back before delivery");
        reorder.accept(0, vec!["a"], |batch| seen.extend(batch));
        assert_eq!(seen, ["a", "b", "c"]);
        reorder.end_after(3);
        assert!(reorder.complete());
        assert!(permit_tx.try_send(()).is_ok(), "permits are back after delivery");
    }
}
