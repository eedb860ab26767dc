//! Bounded capture of a connector's stderr: the first and the last bytes, with a marker
//! saying how much was dropped in between, so a connector writing hundreds of megabytes
//! of diagnostics cannot grow the runner.

use std::collections::VecDeque;

/// Keeps at most `head_cap` bytes from the start and `tail_cap` bytes from the end.
#[derive(Debug)]
pub struct HeadTail {
    head: Vec<u8>,
    tail: VecDeque<u8>,
    head_cap: usize,
    tail_cap: usize,
    total: u64,
}

impl HeadTail {
    /// A buffer keeping `head_cap` + `tail_cap` bytes at most.
    pub fn new(head_cap: usize, tail_cap: usize) -> Self {
        HeadTail { head: Vec::new(), tail: VecDeque::new(), head_cap, tail_cap, total: 0 }
    }

    /// Appends a chunk.
    pub fn push(&mut self, mut chunk: &[u8]) {
        self.total += chunk.len() as u64;
        let room = self.head_cap - self.head.len();
        if room > 0 {
            let take = room.min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
        }
        if chunk.len() >= self.tail_cap {
            self.tail.clear();
            self.tail.extend(&chunk[chunk.len() - self.tail_cap..]);
            return;
        }
        let overflow = (self.tail.len() + chunk.len()).saturating_sub(self.tail_cap);
        self.tail.drain(..overflow);
        self.tail.extend(chunk);
    }

    /// What was kept so far.
    pub fn snapshot(&self) -> Captured {
        let kept = (self.head.len() + self.tail.len()) as u64;
        Captured {
            head: String::from_utf8_lossy(&self.head).into_owned(),
            tail: String::from_utf8_lossy(&self.tail.iter().copied().collect::<Vec<_>>()).into_owned(),
            total_bytes: self.total,
            truncated_bytes: self.total - kept,
        }
    }
}

/// A captured stderr: its start, its end and how much was dropped in between.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Captured {
    /// The first bytes (lossy UTF-8).
    pub head: String,
    /// The last bytes after the head (lossy UTF-8).
    pub tail: String,
    /// Everything the connector wrote.
    pub total_bytes: u64,
    /// Bytes dropped between head and tail.
    pub truncated_bytes: u64,
}

impl Captured {
    /// Whether the connector wrote nothing but whitespace.
    pub fn is_blank(&self) -> bool {
        self.head.trim().is_empty() && self.tail.trim().is_empty()
    }

    /// The whole capture, with a `[... N bytes truncated ...]` marker where bytes were dropped.
    pub fn text(&self) -> String {
        if self.truncated_bytes == 0 {
            return format!("{}{}", self.head, self.tail);
        }
        format!("{}\n[... {} bytes truncated ...]\n{}", self.head, self.truncated_bytes, self.tail)
    }

    /// The last `max_bytes` (about) of the capture, cut at a line start when possible,
    /// for error messages. Returns the text and whether it is only part of the whole.
    pub fn last(&self, max_bytes: usize) -> (String, bool) {
        let text = self.text();
        if text.len() <= max_bytes {
            return (text, self.truncated_bytes > 0);
        }
        let mut cut = text.len() - max_bytes;
        while !text.is_char_boundary(cut) {
            cut += 1;
        }
        let rest = &text[cut..];
        let rest = rest.find('\n').map_or(rest, |i| &rest[i + 1..]);
        (rest.to_owned(), true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_is_kept_whole() {
        let mut buf = HeadTail::new(8, 8);
        buf.push(b"abc");
        buf.push(b"def");
        let captured = buf.snapshot();
        assert_eq!(captured.text(), "abcdef");
        assert_eq!(captured.truncated_bytes, 0);
    }

    #[test]
    fn large_output_keeps_head_and_tail_with_a_marker() {
        let mut buf = HeadTail::new(4, 4);
        for chunk in [&b"0123"[..], b"45", b"6789ab", b"cd"] {
            buf.push(chunk);
        }
        let captured = buf.snapshot();
        assert_eq!(captured.head, "0123");
        assert_eq!(captured.tail, "abcd");
        assert_eq!(captured.total_bytes, 14);
        assert_eq!(captured.text(), "0123\n[... 6 bytes truncated ...]\nabcd");
    }

    #[test]
    fn memory_stays_bounded_under_a_flood() {
        let mut buf = HeadTail::new(1024, 1024);
        let chunk = vec![b'y'; 64 * 1024];
        for _ in 0..100 {
            buf.push(&chunk);
        }
        assert!(buf.head.len() <= 1024 && buf.tail.len() <= 1024);
        assert_eq!(buf.snapshot().total_bytes, 6_553_600);
    }

    #[test]
    fn last_cuts_at_a_line_start() {
        let mut buf = HeadTail::new(100, 100);
        buf.push(b"first line\nsecond line\nthird\n");
        let (text, partial) = buf.snapshot().last(12);
        assert_eq!(text, "third\n");
        assert!(partial);
    }
}
