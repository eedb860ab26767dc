//! Text a connector wrote (its log lines, error messages, stderr, stream ids, field
//! names, values quoted in errors), made safe to show on a terminal. Connectors are
//! third-party programs: a control character in their text would otherwise reach the
//! terminal and act there (`ESC[31m` recolours the screen, `ESC]0;…BEL` retitles the
//! window, `\r` overwrites the line the user is reading).
//!
//! Every control character (Unicode `Cc`: C0, DEL and C1) is shown escaped and visible:
//! `\n`, `\r`, `\t` by name, the others as `\x1b` or `\u{9b}`. [`escape`] is for text
//! shown on one line; [`escape_lines`] keeps `\n` as a line break, for text shown as
//! several lines on purpose (a stderr tail inside an error). Stored text is never
//! escaped: only what is rendered for a terminal goes through here. JSON outputs need
//! nothing: JSON escapes C0 controls itself, and [`escape_json`] the rest.

use std::borrow::Cow;
use std::fmt::Write;

/// `text` with every control character escaped, `\n` included: for one line.
pub fn escape(text: &str) -> Cow<'_, str> {
    escape_unless(text, |_| false)
}

/// `text` with every control character escaped but `\n`: for text shown as lines.
pub fn escape_lines(text: &str) -> Cow<'_, str> {
    escape_unless(text, |c| c == '\n')
}

/// A JSON document with the control characters JSON leaves raw (DEL and C1, which only a
/// string can hold) written as `\u` escapes: the same document, safe on a terminal.
pub fn escape_json(json: &str) -> Cow<'_, str> {
    if !json.chars().any(char::is_control) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        match c {
            // C0 controls are already escaped by the serialiser; a raw one is a line break
            // between documents (JSON lines).
            c if c.is_control() && u32::from(c) >= 0x7f => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The one escaping: every control character that `keep` does not keep.
fn escape_unless(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    // The fast path: most text holds no control character and is shown as it is.
    if !text.chars().any(|c| c.is_control() && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !c.is_control() || keep(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x80 => {
                let _ = write!(out, "\\x{:02x}", u32::from(c));
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "\x1b[31mred\x1b]0;pwned\x07\rover\tdone\nnext\u{9b}2J\x7f";

    #[test]
    fn every_control_character_is_shown_escaped() {
        assert_eq!(escape(HOSTILE), "\\x1b[31mred\\x1b]0;pwned\\x07\\rover\\tdone\\nnext\\u{9b}2J\\x7f");
        assert!(!escape(HOSTILE).chars().any(char::is_control));
    }

    #[test]
    fn lines_keep_their_line_breaks_and_nothing_else() {
        let shown = escape_lines(HOSTILE);
        assert_eq!(shown, "\\x1b[31mred\\x1b]0;pwned\\x07\\rover\\tdone\nnext\\u{9b}2J\\x7f");
        assert!(!shown.chars().any(|c| c.is_control() && c != '\n'));
    }

    #[test]
    fn plain_text_is_not_copied() {
        assert!(matches!(escape("plain, ünïcode ✓"), Cow::Borrowed(_)));
        assert!(matches!(escape_lines("two\nlines"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_stays_the_same_document_without_raw_controls() {
        let json = serde_json::json!({ "message": HOSTILE }).to_string();
        let shown = escape_json(&json);
        assert!(!shown.chars().any(char::is_control), "{shown}");
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back["message"], HOSTILE);
    }
}
