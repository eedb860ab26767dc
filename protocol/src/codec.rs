//! JSON-lines framing: reading bounded, numbered lines and writing one message per line.
//!
//! [`LineReader`] never holds more than `max_line_bytes` of a line in memory: a longer
//! line is reported as [`CodecError::LineTooLong`] and skipped up to its newline, so a
//! connector printing a gigantic line cannot take the reader's memory with it.
//! Line numbers count every physical line (blank ones included) from 1, so they match
//! what `sed -n Np` shows on a saved copy of the output.
//!
//! [`Framer`] applies the same rules to bytes the caller holds, for a reader that owns its
//! buffers: the runner reads a connector's pipe straight into the chunks its threads
//! decode, so a line is never copied on its way there.

use std::io::{self, BufRead, Write};
use std::ops::Range;

use serde::Serialize;

use crate::message::{ConnectorMessage, MessageError};

/// Default cap on one line: 16 MiB.
pub const DEFAULT_MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Why a line could not be read or decoded.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// Reading the underlying stream failed.
    #[error("reading line {line}: {source}")]
    Io {
        /// The line being read.
        line: u64,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The line exceeds the configured limit; the rest of it was discarded.
    #[error("line {line} is longer than the limit of {limit} bytes")]
    LineTooLong {
        /// Its line number.
        line: u64,
        /// The limit in bytes.
        limit: usize,
    },
    /// The line is not valid UTF-8.
    #[error("line {line} is not valid UTF-8 (first bad byte at column {column})")]
    InvalidUtf8 {
        /// Its line number.
        line: u64,
        /// 1-based byte column of the first invalid byte.
        column: usize,
    },
    /// The line is UTF-8 but not a valid message.
    #[error("line {line} is not a valid protocol message: {source}; the line starts with: {snippet}")]
    InvalidMessage {
        /// Its line number.
        line: u64,
        /// The start of the line, for the error report.
        snippet: String,
        /// What is wrong with it.
        #[source]
        source: MessageError,
    },
}

impl CodecError {
    /// The line number the error is about.
    pub fn line(&self) -> u64 {
        match self {
            CodecError::Io { line, .. }
            | CodecError::LineTooLong { line, .. }
            | CodecError::InvalidUtf8 { line, .. }
            | CodecError::InvalidMessage { line, .. } => *line,
        }
    }
}

/// One non-blank line, without its `\n` or `\r\n` terminator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Line<'a> {
    /// 1-based physical line number.
    pub number: u64,
    /// The text of the line.
    pub text: &'a str,
}

/// Reads numbered, length-bounded UTF-8 lines from a [`BufRead`], skipping blank ones.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    max_line_bytes: usize,
    line_number: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> LineReader<R> {
    /// A reader that rejects lines longer than `max_line_bytes` (terminator excluded).
    pub fn new(inner: R, max_line_bytes: usize) -> Self {
        LineReader { inner, max_line_bytes, line_number: 0, buf: Vec::new() }
    }

    /// The number of the last line read (0 before the first).
    pub fn line_number(&self) -> u64 {
        self.line_number
    }

    /// The next non-blank line, or `None` at end of input.
    ///
    /// # Errors
    /// I/O errors, a line over the limit (the reader then continues after it) and
    /// invalid UTF-8, each with the line number.
    pub fn next_line(&mut self) -> Result<Option<Line<'_>>, CodecError> {
        loop {
            self.buf.clear();
            self.line_number += 1;
            let line = self.line_number;
            let (complete, too_long) = self.fill_line().map_err(|source| CodecError::Io { line, source })?;
            if too_long {
                return Err(CodecError::LineTooLong { line, limit: self.max_line_bytes });
            }
            if !complete && self.buf.is_empty() {
                self.line_number -= 1;
                return Ok(None);
            }
            let content = without_cr(&self.buf).len();
            if is_blank(&self.buf[..content]) {
                continue;
            }
            let text = line_text(line, &self.buf[..content])?;
            return Ok(Some(Line { number: line, text }));
        }
    }

    /// Reads and decodes the next message. Blank lines are skipped.
    ///
    /// # Errors
    /// As [`LineReader::next_line`], plus [`CodecError::InvalidMessage`] for a line that
    /// is not a protocol message.
    pub fn next_message(&mut self) -> Result<Option<(u64, ConnectorMessage)>, CodecError> {
        let Some(line) = self.next_line()? else { return Ok(None) };
        let number = line.number;
        ConnectorMessage::decode(line.text)
            .map(|message| Some((number, message)))
            .map_err(|source| CodecError::InvalidMessage { line: number, snippet: snippet(line.text, 120), source })
    }

    /// Appends the current line to `buf` up to the limit. Returns (saw a newline, was
    /// too long). Past the limit, bytes are consumed and dropped up to the newline.
    fn fill_line(&mut self) -> io::Result<(bool, bool)> {
        let mut too_long = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                return Ok((false, too_long || self.over_limit()));
            }
            let (chunk, newline) = match memchr::memchr(b'\n', available) {
                Some(i) => (&available[..i], Some(i)),
                None => (available, None),
            };
            if !too_long {
                if self.buf.len() + chunk.len() > self.max_line_bytes + 1 {
                    // `+ 1` leaves room for a `\r` that is not part of the limit.
                    too_long = true;
                    self.buf.clear();
                } else {
                    self.buf.extend_from_slice(chunk);
                }
            }
            let consumed = newline.map_or(chunk.len(), |i| i + 1);
            self.inner.consume(consumed);
            if newline.is_some() {
                return Ok((true, too_long || self.over_limit()));
            }
        }
    }
}

impl<R> LineReader<R> {
    /// Whether the buffered line, less a trailing `\r`, exceeds the limit.
    fn over_limit(&self) -> bool {
        without_cr(&self.buf).len() > self.max_line_bytes
    }
}

/// A line's bytes without the `\r` of a `\r\n` terminator.
fn without_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Blank lines (whitespace only) are skipped, though counted.
fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

/// A line's text, or why it is not UTF-8 (with its number and the column of the first bad
/// byte). For readers of [`Framer`] lines.
///
/// # Errors
/// [`CodecError::InvalidUtf8`].
pub fn line_text(number: u64, bytes: &[u8]) -> Result<&str, CodecError> {
    std::str::from_utf8(bytes).map_err(|e| CodecError::InvalidUtf8 { line: number, column: e.valid_up_to() + 1 })
}

/// Frames bytes the caller holds into bounded, numbered lines by the rules of
/// [`LineReader`] (limit, `\r\n`, blank lines, line numbers), without copying them.
///
/// The caller keeps a buffer of bytes not framed yet, which starts where a line starts
/// (or inside a line over the limit being skipped), appends what it reads, and calls
/// [`Framer::next`] until it asks for more. The bytes of a line over the limit are never
/// needed: a buffer holds at most the limit of an unfinished line.
#[derive(Debug, Clone)]
pub struct Framer {
    max_line_bytes: usize,
    line_number: u64,
    /// Inside a line over the limit: its bytes are dropped up to its newline.
    skipping: bool,
}

/// What [`Framer::next`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A non-blank line: its number, and where its bytes are in the buffer given to
    /// [`Framer::next`] (without the terminator).
    Line {
        /// 1-based physical line number.
        number: u64,
        /// Its bytes in the buffer.
        range: Range<usize>,
    },
    /// A line longer than the limit ended (at its newline or at the end of input); its
    /// bytes were dropped.
    TooLong {
        /// Its line number.
        number: u64,
    },
}

impl Framer {
    /// A framer that refuses lines longer than `max_line_bytes` (terminator excluded).
    pub fn new(max_line_bytes: usize) -> Self {
        Framer { max_line_bytes, line_number: 0, skipping: false }
    }

    /// The limit on a line's length.
    pub fn max_line_bytes(&self) -> usize {
        self.max_line_bytes
    }

    /// The number of the last line begun (0 before the first).
    pub fn line_number(&self) -> u64 {
        self.line_number
    }

    /// Whether the bytes at hand belong to a line over the limit: after a `None` from
    /// [`Framer::next`], the bytes it was given need not be kept.
    pub fn is_skipping(&self) -> bool {
        self.skipping
    }

    /// The next frame in `buf` (the bytes not framed yet), and how many bytes of `buf` are
    /// done with: the frame's line, blank lines before it, bytes of a line being skipped.
    /// Those may be dropped once the frame is used.
    ///
    /// `None` means `buf` holds no further complete line: keep `buf[done..]`, the start of
    /// an unfinished line (at most the limit plus one byte), append more and call again.
    /// With `eof`, an unterminated last line is a line.
    pub fn next(&mut self, buf: &[u8], eof: bool) -> (Option<Frame>, usize) {
        let mut at = 0;
        loop {
            let rest = &buf[at..];
            let newline = memchr::memchr(b'\n', rest);
            if self.skipping {
                return match newline {
                    Some(i) => self.end_skipping(at + i + 1),
                    None if eof => self.end_skipping(buf.len()),
                    None => (None, buf.len()),
                };
            }
            let (end, after) = match newline {
                Some(i) => (at + i, at + i + 1),
                None if rest.is_empty() => return (None, at),
                // `+ 1` leaves room for a `\r` that is not part of the limit.
                None if rest.len() > self.max_line_bytes + 1 => {
                    self.line_number += 1;
                    self.skipping = true;
                    continue;
                }
                None if eof => (buf.len(), buf.len()),
                None => return (None, at),
            };
            self.line_number += 1;
            let number = self.line_number;
            let content = without_cr(&buf[at..end]);
            if content.len() > self.max_line_bytes {
                return (Some(Frame::TooLong { number }), after);
            }
            if is_blank(content) {
                at = after;
                continue;
            }
            return (Some(Frame::Line { number, range: at..at + content.len() }), after);
        }
    }

    fn end_skipping(&mut self, done: usize) -> (Option<Frame>, usize) {
        self.skipping = false;
        (Some(Frame::TooLong { number: self.line_number }), done)
    }
}

/// The first `max_chars` characters of `text`, with `…` when cut.
pub fn snippet(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// Writes `message` as one JSON line (compact JSON and `\n`).
///
/// # Errors
/// Serialisation or I/O errors of `out`.
pub fn write_message<W: Write, M: Serialize + ?Sized>(out: &mut W, message: &M) -> io::Result<()> {
    serde_json::to_writer(&mut *out, message)?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::LogLevel;

    /// A reader that hands out its input a few bytes at a time, as a pipe does.
    struct Trickle<'a> {
        data: &'a [u8],
        step: usize,
    }

    impl io::Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(self.data.len()).min(out.len());
            out[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn lines(input: &[u8], limit: usize, step: usize) -> Vec<Result<(u64, String), String>> {
        let reader = io::BufReader::with_capacity(8, Trickle { data: input, step });
        let mut reader = LineReader::new(reader, limit);
        let mut out = Vec::new();
        loop {
            match reader.next_line() {
                Ok(Some(line)) => out.push(Ok((line.number, line.text.to_owned()))),
                Ok(None) => return out,
                Err(e) => out.push(Err(e.to_string())),
            }
        }
    }

    /// What [`Framer`] frames from `input` handed over `step` bytes at a time, into a
    /// buffer kept as its docs say, in the form of [`lines`].
    fn framed(input: &[u8], limit: usize, step: usize) -> Vec<Result<(u64, String), String>> {
        let mut framer = Framer::new(limit);
        let (mut buf, mut out, mut fed) = (Vec::new(), Vec::new(), 0);
        loop {
            let eof = fed == input.len();
            loop {
                let (frame, done) = framer.next(&buf, eof);
                let more = frame.is_some();
                match frame {
                    Some(Frame::Line { number, range }) => out.push(
                        line_text(number, &buf[range]).map(|text| (number, text.to_owned())).map_err(|e| e.to_string()),
                    ),
                    Some(Frame::TooLong { number }) => {
                        out.push(Err(CodecError::LineTooLong { line: number, limit }.to_string()));
                    }
                    None => {}
                }
                buf.drain(..done);
                if !more {
                    break;
                }
            }
            if eof {
                return out;
            }
            assert!(buf.len() <= limit + 1, "kept {} bytes of an unfinished line", buf.len());
            let next = (fed + step).min(input.len());
            buf.extend_from_slice(&input[fed..next]);
            fed = next;
        }
    }

    /// Both readers of lines, which must agree.
    fn both(input: &[u8], limit: usize, step: usize) -> Vec<Result<(u64, String), String>> {
        let read = lines(input, limit, step);
        assert_eq!(framed(input, limit, step), read, "Framer and LineReader disagree on {input:?}");
        read
    }

    #[test]
    fn the_framer_frames_as_the_reader_reads() {
        let mut long = b"short\n".to_vec();
        long.extend(std::iter::repeat_n(b'x', 50));
        long.extend_from_slice(b"\r\n\nafter\r\n");
        long.extend(std::iter::repeat_n(b'y', 30));
        let inputs: [&[u8]; 9] = [
            b"{\"a\":1}\n{\"bb\":22}\nlast-without-newline",
            b"one\r\n\r\n   \ntwo\n\n",
            b"ok\nab\xffcd\nnext\n",
            b"0123456789\r\n0123456789\n01234567890\n0123456789\r",
            b"01234567890\r\n012345678901",
            b"\n\n\n",
            b"",
            b"\r",
            &long,
        ];
        for input in inputs {
            for step in [1, 2, 3, 7, 11, 100] {
                both(input, 10, step);
            }
        }
    }

    #[test]
    fn lines_split_across_reads_are_joined() {
        for step in [1, 3, 7, 100] {
            let got = lines(b"{\"a\":1}\n{\"bb\":22}\nlast-without-newline", 100, step);
            assert_eq!(
                got,
                vec![
                    Ok((1, "{\"a\":1}".into())),
                    Ok((2, "{\"bb\":22}".into())),
                    Ok((3, "last-without-newline".into()))
                ],
                "step {step}"
            );
        }
    }

    #[test]
    fn crlf_is_stripped_and_blank_lines_are_skipped_but_counted() {
        let got = lines(b"one\r\n\r\n   \ntwo\n\n", 100, 5);
        assert_eq!(got, vec![Ok((1, "one".into())), Ok((4, "two".into()))]);
    }

    #[test]
    fn invalid_utf8_names_the_line_and_column() {
        let got = lines(b"ok\nab\xffcd\nnext\n", 100, 4);
        assert_eq!(got[1], Err("line 2 is not valid UTF-8 (first bad byte at column 3)".into()));
        assert_eq!(got[2], Ok((3, "next".into())));
    }

    #[test]
    fn a_line_over_the_limit_is_reported_and_skipped() {
        let mut input = b"short\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 1000));
        input.extend_from_slice(b"\nafter\n");
        let got = lines(&input, 10, 7);
        assert_eq!(
            got,
            vec![
                Ok((1, "short".into())),
                Err("line 2 is longer than the limit of 10 bytes".into()),
                Ok((3, "after".into()))
            ]
        );
    }

    #[test]
    fn the_limit_is_exact_and_excludes_the_terminator() {
        assert_eq!(lines(b"0123456789\r\n", 10, 3), vec![Ok((1, "0123456789".into()))]);
        assert_eq!(lines(b"0123456789", 10, 3), vec![Ok((1, "0123456789".into()))]);
        assert_eq!(lines(b"01234567890\n", 10, 3), vec![Err("line 1 is longer than the limit of 10 bytes".into())]);
    }

    #[test]
    fn the_reader_never_buffers_much_more_than_the_limit() {
        let huge = vec![b'y'; 5_000_000];
        let mut reader = LineReader::new(io::BufReader::new(&huge[..]), 1024);
        assert!(matches!(reader.next_line(), Err(CodecError::LineTooLong { line: 1, .. })));
        assert!(reader.buf.capacity() < 64 * 1024, "buffered {}", reader.buf.capacity());
    }

    #[test]
    fn next_message_decodes_and_reports_bad_lines_with_a_snippet() {
        let input = b"{\"type\":\"log\",\"level\":\"warn\",\"message\":\"m\"}\nnot json at all\n";
        let mut reader = LineReader::new(&input[..], 1000);
        let (number, message) = reader.next_message().unwrap().unwrap();
        assert_eq!(number, 1);
        assert!(matches!(message, ConnectorMessage::Log(log) if log.level == LogLevel::Warn));
        let err = reader.next_message().unwrap_err();
        assert_eq!(err.line(), 2);
        assert!(err.to_string().contains("the line starts with: not json at all"), "{err}");
    }

    #[test]
    fn snippets_cut_on_character_boundaries() {
        assert_eq!(snippet("héllo wörld", 4), "héll…");
        assert_eq!(snippet("short", 10), "short");
    }

    #[test]
    fn write_message_writes_one_line() {
        let mut out = Vec::new();
        let state = ConnectorMessage::State(crate::message::StateMessage { state: serde_json::json!({}) });
        write_message(&mut out, &state).unwrap();
        assert_eq!(out, b"{\"type\":\"state\",\"state\":{}}\n");
    }
}
