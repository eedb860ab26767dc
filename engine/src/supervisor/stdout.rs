//! The stdout pipeline: the hot path of every sync.
//!
//! ```text
//!  pipe ──▶ reader ──chunks──▶ mappers (one per core, ≤ 4) ──batches──▶ event loop
//!           (reads into          (UTF-8, the caller's map,               (puts batches back
//!            chunks, frames       e.g. decode + schema validation)        in order, hands
//!            numbered lines)                                              them to `handle`)
//! ```
//!
//! - The **reader** reads the pipe straight into a chunk's buffer and frames it into
//!   bounded, numbered lines ([`Framer`]): a line is never copied on its way to the
//!   mappers, only the unfinished line at a chunk's end moves to the next chunk. A chunk is
//!   sent once it holds [`CHUNK_BYTES`], or as soon as the pipe is empty, so a slow
//!   connector's messages are not held back.
//! - **Mappers** take whole chunks from a shared queue, check that the text is UTF-8 and
//!   apply the caller's `map` to every line (which must therefore be `Fn + Sync`).
//!   Decoding and validating are by far the most expensive steps, and independent per
//!   line, so they run in parallel. A line reaches `map` as a slice of its chunk's text,
//!   with its offset there, so what `map` returns can point into that text.
//! - The **event loop** receives numbered batches in any order and delivers them in
//!   chunk order ([`Reorder`]), each with its chunk's text, so the caller sees lines exactly
//!   in the order the connector wrote them. The text's buffer then goes back to the reader.
//!
//! Memory stays bounded whatever the volume: at most [`CHUNKS_IN_FLIGHT`] buffers exist,
//! and the reader waits for one to come back before it starts another chunk.

use std::collections::BTreeMap;
use std::io;
use std::ops::Range;
use std::os::fd::{AsRawFd, OwnedFd};
use std::process::ChildStdout;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};

use protocol::codec::{self, Frame, Framer};
use protocol::{CodecError, ConnectorMessage};

use super::{spawn_thread, Incoming, Notice};

/// Text bytes per chunk, at least (a chunk is sent once it holds this much, or when the
/// pipe is empty).
const CHUNK_BYTES: usize = 512 * 1024;
/// Chunk buffers between the reader and delivery to the caller, at most.
const CHUNKS_IN_FLIGHT: usize = 8;
/// Mapper threads, at most.
const MAX_MAPPERS: usize = 4;
/// The pipe's capacity asked of the kernel: a connector writing faster than the runner
/// reads then blocks (and wakes the reader) 16 times less often than with the default 64 KiB.
const PIPE_BYTES: libc::c_int = 1024 * 1024;

/// One line of the connector's stdout, as `map` sees it.
#[derive(Debug, Clone, Copy)]
pub struct StdoutLine<'a> {
    /// 1-based physical line number.
    pub number: u64,
    /// The line, without its terminator: a slice of its batch's text.
    pub text: &'a str,
    /// Where `text` starts in its batch's text.
    pub offset: usize,
}

/// A line as `map` receives it: read whole, or why it could not be.
pub type RawLine<'a> = Result<StdoutLine<'a>, CodecError>;

impl StdoutLine<'_> {
    /// The line decoded into an owned message (for callers that keep messages).
    pub fn decode(&self) -> Incoming {
        ConnectorMessage::decode(self.text).map(|message| (self.number, message)).map_err(|source| {
            CodecError::InvalidMessage { line: self.number, snippet: codec::snippet(self.text, 120), source }
        })
    }
}

/// Numbered lines read from the pipe, ready to map.
struct Chunk {
    seq: u64,
    /// The bytes read; `bytes[..framed]` is framed into `entries`, the rest is the start of
    /// a line not complete yet.
    bytes: Vec<u8>,
    framed: usize,
    entries: Vec<Entry>,
}

/// One line of a chunk: its number and where its text is, or why it could not be read.
enum Entry {
    Line { number: u64, range: Range<usize> },
    Unreadable(CodecError),
}

impl Chunk {
    fn new(seq: u64, mut bytes: Vec<u8>) -> Self {
        bytes.clear();
        // A buffer that came back small (the text of a chunk rebuilt around bad UTF-8)
        // must still have room: a read into no spare room would look like end of file.
        bytes.reserve(CHUNK_BYTES);
        Chunk { seq, bytes, framed: 0, entries: Vec::new() }
    }

    /// Frames what was read since the last call.
    fn frame(&mut self, framer: &mut Framer, eof: bool) {
        loop {
            let at = self.framed;
            let (frame, done) = framer.next(&self.bytes[at..], eof);
            let entry = match frame {
                Some(Frame::Line { number, range }) => Entry::Line { number, range: at + range.start..at + range.end },
                Some(Frame::TooLong { number }) => {
                    Entry::Unreadable(CodecError::LineTooLong { line: number, limit: framer.max_line_bytes() })
                }
                // A line over the limit: what was read of it is dropped at once.
                None if framer.is_skipping() => return self.bytes.truncate(at),
                None => return self.framed += done,
            };
            self.entries.push(entry);
            self.framed += done;
        }
    }

    /// Moves the unfinished line at the end into `next`, leaving only framed lines.
    fn split_into(&mut self, next: &mut Chunk) {
        next.bytes.extend_from_slice(&self.bytes[self.framed..]);
        self.bytes.truncate(self.framed);
    }

    /// Checks the text is UTF-8 (the chunk's, at once, in the usual case) and maps every line.
    fn map<T>(self, map: &impl Fn(RawLine<'_>) -> T) -> Mapped<T> {
        let (text, entries) = match String::from_utf8(self.bytes) {
            Ok(text) => (text, self.entries),
            Err(error) => utf8_lines_only(&error.into_bytes(), self.entries),
        };
        let items = entries
            .into_iter()
            .map(|entry| match entry {
                Entry::Line { number, range } => {
                    map(Ok(StdoutLine { number, text: &text[range.clone()], offset: range.start }))
                }
                Entry::Unreadable(error) => map(Err(error)),
            })
            .collect();
        Mapped { text, items }
    }
}

/// A chunk that is not all UTF-8: its lines that are, in a text of their own, and an error
/// for each line that is not. Valid lines end at newlines, so they stay valid apart.
fn utf8_lines_only(bytes: &[u8], entries: Vec<Entry>) -> (String, Vec<Entry>) {
    let mut text = String::new();
    let entries = entries
        .into_iter()
        .map(|entry| match entry {
            Entry::Line { number, range } => match codec::line_text(number, &bytes[range]) {
                Ok(line) => {
                    let start = text.len();
                    text.push_str(line);
                    Entry::Line { number, range: start..text.len() }
                }
                Err(error) => Entry::Unreadable(error),
            },
            unreadable @ Entry::Unreadable(_) => unreadable,
        })
        .collect();
    (text, entries)
}

/// The mapped lines of one chunk, with the chunk's text.
pub(super) struct Mapped<T> {
    text: String,
    items: Vec<T>,
}

/// Starts the reader and the mappers; their batches and a final
/// [`Notice::StdoutDone`] arrive on `notices`. The returned [`Reorder`] belongs to the event
/// loop.
pub(super) fn start<T, M>(stdout: ChildStdout, max_line: usize, map: M, notices: &SyncSender<Notice<T>>) -> Reorder<T>
where
    T: Send + 'static,
    M: Fn(RawLine<'_>) -> T + Send + Sync + 'static,
{
    let (returned_tx, returned) = mpsc::sync_channel(CHUNKS_IN_FLIGHT);
    let mappers = std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, MAX_MAPPERS);
    let (chunk_tx, chunk_rx) = mpsc::sync_channel::<Chunk>(mappers);
    let chunk_rx = Arc::new(Mutex::new(chunk_rx));
    let map = Arc::new(map);
    for index in 0..mappers {
        let (chunks, map, notices) = (Arc::clone(&chunk_rx), Arc::clone(&map), notices.clone());
        spawn_thread(&format!("connector-map-{index}"), move || run_mapper(&chunks, &*map, &notices));
    }
    let done_tx = notices.clone();
    spawn_thread("connector-stdout", move || {
        let mut buffers = Buffers { returned, made: 0 };
        let chunks = read_chunks(Pipe::new(stdout.into()), max_line, &chunk_tx, &mut buffers);
        drop(chunk_tx); // the mappers stop once the queue is empty
        let _ = done_tx.send(Notice::StdoutDone { chunks });
    });
    Reorder { next: 0, waiting: BTreeMap::new(), returns: returned_tx, last: None }
}

fn run_mapper<T>(chunks: &Mutex<Receiver<Chunk>>, map: &impl Fn(RawLine<'_>) -> T, notices: &SyncSender<Notice<T>>) {
    loop {
        // The lock is held only while waiting for the next chunk, never while mapping.
        let next = chunks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).recv();
        let Ok(chunk) = next else { return };
        let seq = chunk.seq;
        if notices.send(Notice::Batch(seq, chunk.map(map))).is_err() {
            return;
        }
    }
}

/// The chunk buffers: at most [`CHUNKS_IN_FLIGHT`] are made; then the reader waits for
/// the event loop to hand one back.
struct Buffers {
    returned: Receiver<Vec<u8>>,
    made: usize,
}

impl Buffers {
    /// An empty chunk; `None` once the event loop is gone.
    fn chunk(&mut self, seq: u64) -> Option<Chunk> {
        let bytes = match self.returned.try_recv() {
            Ok(bytes) => bytes,
            Err(_) if self.made < CHUNKS_IN_FLIGHT => {
                self.made += 1;
                Vec::with_capacity(CHUNK_BYTES)
            }
            Err(_) => self.returned.recv().ok()?,
        };
        Some(Chunk::new(seq, bytes))
    }
}

/// The read end of the connector's stdout, non-blocking so that the reader knows when the
/// pipe is empty.
struct Pipe(OwnedFd);

impl Pipe {
    fn new(fd: OwnedFd) -> Self {
        let raw = fd.as_raw_fd();
        // SAFETY: fcntl on a descriptor we own. A failure leaves a blocking pipe of the
        // default size: slower, never wrong, as `read` then never reports an empty pipe.
        unsafe {
            let flags = libc::fcntl(raw, libc::F_GETFL);
            if flags >= 0 {
                libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK);
            }
            libc::fcntl(raw, libc::F_SETPIPE_SZ, PIPE_BYTES);
        }
        Pipe(fd)
    }

    /// Reads into the spare capacity of `bytes` (so a chunk's buffer is never zeroed first).
    fn read(&self, bytes: &mut Vec<u8>) -> io::Result<usize> {
        let spare = bytes.spare_capacity_mut();
        // SAFETY: `spare` is valid for writes of `spare.len()` bytes.
        let n = unsafe { libc::read(self.0.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        let n = usize::try_from(n).map_err(|_| io::Error::last_os_error())?;
        // SAFETY: read(2) initialised the `n` bytes it reports, within the spare capacity.
        unsafe { bytes.set_len(bytes.len() + n) };
        Ok(n)
    }

    /// Waits until the pipe has bytes, or is closed.
    fn wait(&self) {
        let mut poll = libc::pollfd { fd: self.0.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: one valid pollfd. An interrupted or failed poll returns early, and the
        // next read tells.
        unsafe { libc::poll(&mut poll, 1, -1) };
    }
}

/// Frames the pipe into chunks until end of file, a read error, or nobody listening.
/// Returns how many chunks were sent.
fn read_chunks(pipe: Pipe, max_line: usize, chunks: &SyncSender<Chunk>, buffers: &mut Buffers) -> u64 {
    let mut framer = Framer::new(max_line);
    let mut sent = 0;
    let Some(mut chunk) = buffers.chunk(sent) else { return sent };
    loop {
        let end = match pipe.read(&mut chunk.bytes) {
            Ok(0) => {
                chunk.frame(&mut framer, true);
                true
            }
            Ok(_) => {
                chunk.frame(&mut framer, false);
                if chunk.bytes.len() < CHUNK_BYTES && chunk.bytes.len() < chunk.bytes.capacity() {
                    continue;
                }
                false
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                if chunk.entries.is_empty() {
                    pipe.wait();
                    continue;
                }
                false
            }
            Err(source) => {
                chunk.entries.push(Entry::Unreadable(CodecError::Io { line: framer.line_number() + 1, source }));
                true
            }
        };
        if end {
            break;
        }
        if chunk.entries.is_empty() {
            // One unfinished line fills the buffer: the framer bounds it to the limit.
            chunk.bytes.reserve(chunk.bytes.len());
            continue;
        }
        let Some(mut next) = buffers.chunk(sent + 1) else { return sent };
        chunk.split_into(&mut next);
        if chunks.send(std::mem::replace(&mut chunk, next)).is_err() {
            return sent;
        }
        sent += 1;
    }
    if !chunk.entries.is_empty() && chunks.send(chunk).is_ok() {
        sent += 1;
    }
    sent
}

/// Puts mapped batches back in chunk order, on the event loop.
pub(super) struct Reorder<T> {
    next: u64,
    waiting: BTreeMap<u64, Mapped<T>>,
    /// Where delivered chunks' buffers go back to the reader.
    returns: SyncSender<Vec<u8>>,
    /// How many chunks the reader sent in all, once it has stopped.
    last: Option<u64>,
}

impl<T> Reorder<T> {
    /// Accepts batch `seq` and calls `deliver` with every batch that is now in order, then
    /// hands its buffer back to the reader.
    pub(super) fn accept(&mut self, seq: u64, mapped: Mapped<T>, mut deliver: impl FnMut(&str, Vec<T>)) {
        self.waiting.insert(seq, mapped);
        while let Some(Mapped { text, items }) = self.waiting.remove(&self.next) {
            self.next += 1;
            deliver(&text, items);
            // Every buffer goes back, or the reader would wait for it forever; one grown
            // for a very long line is shrunk first, so memory stays bounded.
            let mut bytes = text.into_bytes();
            bytes.clear();
            bytes.shrink_to(CHUNK_BYTES);
            let _ = self.returns.try_send(bytes);
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

    fn mapped(text: &str, items: Vec<&'static str>) -> Mapped<&'static str> {
        Mapped { text: text.to_owned(), items }
    }

    #[test]
    fn reorder_delivers_in_sequence_and_hands_buffers_back() {
        let (returns, returned) = mpsc::sync_channel(3);
        let mut reorder = Reorder { next: 0, waiting: BTreeMap::new(), returns, last: None };
        let mut seen = Vec::new();
        reorder.accept(2, mapped("C", vec!["c"]), |text, batch| seen.push((text.to_owned(), batch)));
        reorder.accept(1, mapped("B", vec!["b"]), |text, batch| seen.push((text.to_owned(), batch)));
        assert!(seen.is_empty());
        assert!(returned.try_recv().is_err(), "no buffer is back before delivery");
        reorder.accept(0, mapped("A", vec!["a"]), |text, batch| seen.push((text.to_owned(), batch)));
        let texts: Vec<&str> = seen.iter().map(|(text, _)| text.as_str()).collect();
        assert_eq!(texts, ["A", "B", "C"]);
        assert_eq!(seen.iter().flat_map(|(_, items)| items.clone()).collect::<Vec<_>>(), ["a", "b", "c"]);
        reorder.end_after(3);
        assert!(reorder.complete());
        assert_eq!(returned.try_iter().count(), 3, "every buffer is back after delivery");
    }

    #[test]
    fn a_chunk_that_is_not_all_utf8_keeps_its_good_lines() {
        let bytes = b"{\"a\":1}\nab\xffcd\n{\"b\":2}\n".to_vec();
        let entries = vec![
            Entry::Line { number: 1, range: 0..7 },
            Entry::Line { number: 2, range: 8..13 },
            Entry::Line { number: 4, range: 14..21 },
        ];
        let chunk = Chunk { seq: 0, bytes, framed: 22, entries };
        let Mapped { text, items } = chunk.map(&|line: RawLine<'_>| match line {
            Ok(line) => format!("{}:{}@{}", line.number, line.text, line.offset),
            Err(error) => error.to_string(),
        });
        assert_eq!(text, "{\"a\":1}{\"b\":2}");
        assert_eq!(items, ["1:{\"a\":1}@0", "line 2 is not valid UTF-8 (first bad byte at column 3)", "4:{\"b\":2}@7"]);
    }
}
