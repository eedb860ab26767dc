//! A flat, borrowed view of a JSON document ("tape"), which the schema validator reads
//! in place of a `serde_json::Value`.
//!
//! Why: validating a record needs a tree, and building a `Value` costs an allocation per
//! string and a B-tree per object; profiling put that at well over half of the runner's
//! CPU time on a sync. A [`Tape`] is one `Vec` of fixed-size slots pointing into the
//! record's text: strings are borrowed (unescaped only when asked for and only if they
//! contain escapes), numbers are parsed only when a keyword looks at them.
//!
//! The tape is built from text the protocol decoder already accepted as JSON, so it
//! checks structure, not every detail of the grammar; [`Tape::parse`] refuses anything it
//! does not understand and the caller falls back to `serde_json` (see
//! [`crate::SchemaRegistry::validate_record_json`]). Validation through a tape must agree
//! with validation through a `Value`: `tests/it/tape.rs` compares the tape's own verdict
//! ([`crate::SchemaRegistry::tape_verdict`]) with the `Value` validator's on every fixture
//! variant, valid and invalid.

use std::borrow::Cow;
use std::ops::Range;

use jsonschema::json::{Array, Json, JsonNumber, Node, NodeIdentity, Object};
use jsonschema::JsonType;
use serde_json::Value;

/// Nesting deeper than this is left to `serde_json` (which has the same limit).
const MAX_DEPTH: usize = 128;

/// What a slot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Null,
    True,
    False,
    Number,
    /// A string; `true` if it contains a backslash escape.
    String(bool),
    Object,
    Array,
}

/// One value: its kind, its text span, and for containers where the next sibling starts.
#[derive(Debug, Clone, Copy)]
struct Slot {
    kind: Kind,
    /// Byte span of the value's JSON text (strings include their quotes).
    start: u32,
    end: u32,
    /// Index of the slot after this value's last descendant.
    next: u32,
    /// Members (objects) or elements (arrays).
    len: u32,
}

/// A JSON document as a flat list of slots; objects store each member as a key slot
/// followed by the value's slots.
#[derive(Debug)]
pub struct Tape<'t> {
    text: &'t str,
    slots: Vec<Slot>,
}

/// The text is not something the tape reads (the caller falls back to `serde_json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsupported;

impl<'t> Tape<'t> {
    /// Builds the tape of one JSON value (surrounding whitespace allowed).
    ///
    /// # Errors
    /// [`Unsupported`] for malformed JSON, nesting over 128 levels, or texts over 4 GiB.
    pub fn parse(text: &'t str) -> Result<Self, Unsupported> {
        if u32::try_from(text.len()).is_err() {
            return Err(Unsupported);
        }
        // About one value per 8 bytes of a typical record: one allocation, rarely grown.
        let slots = Vec::with_capacity(16 + text.len() / 8);
        let mut parser = Parser { bytes: text.as_bytes(), at: 0, slots };
        parser.value(0)?;
        parser.skip_whitespace();
        if parser.at != text.len() {
            return Err(Unsupported);
        }
        Ok(Tape { text, slots: parser.slots })
    }

    /// The document's root value.
    pub fn root(&self) -> TapeNode<'_> {
        TapeNode { tape: self, index: 0 }
    }
}

struct Parser<'b> {
    bytes: &'b [u8],
    at: usize,
    slots: Vec<Slot>,
}

impl Parser<'_> {
    fn skip_whitespace(&mut self) {
        while matches!(self.bytes.get(self.at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    fn push(&mut self, kind: Kind, start: usize) -> usize {
        let index = self.slots.len();
        // Positions fit: `parse` refuses texts over u32::MAX bytes.
        self.slots.push(Slot { kind, start: start as u32, end: 0, next: 0, len: 0 });
        index
    }

    fn finish(&mut self, index: usize, len: u32) {
        let next = self.slots.len() as u32;
        let slot = &mut self.slots[index];
        slot.end = self.at as u32;
        slot.next = next;
        slot.len = len;
    }

    fn value(&mut self, depth: usize) -> Result<(), Unsupported> {
        self.skip_whitespace();
        let start = self.at;
        match self.bytes.get(start).copied().ok_or(Unsupported)? {
            b'{' => self.container(depth, Kind::Object),
            b'[' => self.container(depth, Kind::Array),
            b'"' => self.string(),
            b't' => self.literal(b"true", Kind::True),
            b'f' => self.literal(b"false", Kind::False),
            b'n' => self.literal(b"null", Kind::Null),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(Unsupported),
        }
    }

    fn literal(&mut self, word: &[u8], kind: Kind) -> Result<(), Unsupported> {
        if !self.bytes[self.at..].starts_with(word) {
            return Err(Unsupported);
        }
        let index = self.push(kind, self.at);
        self.at += word.len();
        self.finish(index, 0);
        Ok(())
    }

    /// Consumes `byte` if it is next.
    fn eat(&mut self, byte: u8) -> bool {
        let next = self.bytes.get(self.at) == Some(&byte);
        self.at += usize::from(next);
        next
    }

    /// Consumes a run of digits; refuses an empty one.
    fn digits(&mut self) -> Result<(), Unsupported> {
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        if self.at == start {
            return Err(Unsupported);
        }
        Ok(())
    }

    /// A number, by JSON's grammar: `-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Result<(), Unsupported> {
        let index = self.push(Kind::Number, self.at);
        self.eat(b'-');
        if !self.eat(b'0') {
            self.digits()?;
        }
        if self.eat(b'.') {
            self.digits()?;
        }
        let exponent = self.eat(b'e') || self.eat(b'E');
        if exponent {
            let _ = self.eat(b'+') || self.eat(b'-');
            self.digits()?;
        }
        // serde_json refuses a number too large for an f64 (1e400); so does the tape.
        let text = &self.bytes[self.slots[index].start as usize..self.at];
        if (exponent || text.len() > 15)
            && !std::str::from_utf8(text).ok().and_then(|t| t.parse::<f64>().ok()).is_some_and(f64::is_finite)
        {
            return Err(Unsupported);
        }
        self.finish(index, 0);
        Ok(())
    }

    /// A string, by JSON's grammar: no raw control characters, only JSON's escapes.
    /// `\u` escapes of surrogates are left to serde_json, which knows how to pair them.
    fn string(&mut self) -> Result<(), Unsupported> {
        let index = self.push(Kind::String(false), self.at);
        let mut escaped = false;
        let mut at = self.at + 1;
        loop {
            match self.bytes.get(at).copied().ok_or(Unsupported)? {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    at += escape_length(&self.bytes[at..])?;
                }
                0..=0x1f => return Err(Unsupported),
                _ => at += 1,
            }
        }
        self.at = at + 1;
        self.slots[index].kind = Kind::String(escaped);
        self.finish(index, 0);
        Ok(())
    }

    fn container(&mut self, depth: usize, kind: Kind) -> Result<(), Unsupported> {
        if depth >= MAX_DEPTH {
            return Err(Unsupported);
        }
        let close = if kind == Kind::Object { b'}' } else { b']' };
        let index = self.push(kind, self.at);
        self.at += 1;
        self.skip_whitespace();
        let mut len = 0;
        if self.bytes.get(self.at) == Some(&close) {
            self.at += 1;
            self.finish(index, 0);
            return Ok(());
        }
        loop {
            if kind == Kind::Object {
                self.skip_whitespace();
                if self.bytes.get(self.at) != Some(&b'"') {
                    return Err(Unsupported);
                }
                self.string()?;
                self.skip_whitespace();
                if self.bytes.get(self.at) != Some(&b':') {
                    return Err(Unsupported);
                }
                self.at += 1;
            }
            self.value(depth + 1)?;
            len += 1;
            self.skip_whitespace();
            match self.bytes.get(self.at) {
                Some(b',') => self.at += 1,
                Some(byte) if *byte == close => {
                    self.at += 1;
                    self.finish(index, len);
                    return Ok(());
                }
                _ => return Err(Unsupported),
            }
        }
    }
}

/// The length of the escape at the start of `bytes` (which starts with a backslash).
fn escape_length(bytes: &[u8]) -> Result<usize, Unsupported> {
    match bytes.get(1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(2),
        Some(b'u') => {
            let hex = bytes.get(2..6).ok_or(Unsupported)?;
            let hex = std::str::from_utf8(hex).map_err(|_| Unsupported)?;
            let unit = u16::from_str_radix(hex, 16).map_err(|_| Unsupported)?;
            if (0xd800..=0xdfff).contains(&unit) {
                return Err(Unsupported);
            }
            Ok(6)
        }
        _ => Err(Unsupported),
    }
}

/// The [`Json`] representation backed by a [`Tape`].
#[derive(Debug)]
pub struct TapeJson;

impl Json for TapeJson {
    type Node<'a> = TapeNode<'a>;
    type PreparedKey = String;
    type StringBuffer = ();
    // Member names are compared in place, so a pass over the members is cheap.
    const KEYS_PER_LOOKUP: usize = 4;
    const ACYCLIC: bool = true;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>((): &mut (), string: &str, f: impl FnOnce(TapeNode<'_>) -> T) -> T {
        // Only `propertyNames` gets here; none of the shared schemas uses it.
        let text = Value::from(string).to_string();
        let tape = Tape::parse(&text).expect("a serialised string is a valid tape");
        f(tape.root())
    }
}

/// One value of a [`Tape`].
#[derive(Debug, Clone, Copy)]
pub struct TapeNode<'a> {
    tape: &'a Tape<'a>,
    index: u32,
}

impl<'a> TapeNode<'a> {
    fn slot(&self) -> Slot {
        self.tape.slots[self.index as usize]
    }

    fn raw(&self) -> &'a str {
        let slot = self.slot();
        &self.tape.text[slot.start as usize..slot.end as usize]
    }

    fn at(&self, index: u32) -> TapeNode<'a> {
        TapeNode { tape: self.tape, index }
    }

    /// The string's contents, unescaped if needed; `None` for other kinds.
    pub fn string(&self) -> Option<Cow<'a, str>> {
        let slot = self.slot();
        match slot.kind {
            Kind::String(false) => Some(Cow::Borrowed(&self.tape.text[slot.start as usize + 1..slot.end as usize - 1])),
            Kind::String(true) => serde_json::from_str::<String>(self.raw()).ok().map(Cow::Owned),
            _ => None,
        }
    }

    /// The value of member `key`, if this is an object that has it.
    pub fn member(&self, key: &str) -> Option<TapeNode<'a>> {
        TapeObject::of(*self).and_then(|object| object.find(key))
    }

    /// The members of this object, in document order (`None` for other kinds).
    pub fn members(&self) -> Option<TapeMembers<'a>> {
        TapeObject::of(*self).map(|object| object.members_iter())
    }

    /// Whether this is an object.
    pub fn is_object(&self) -> bool {
        self.slot().kind == Kind::Object
    }

    /// The value's JSON text, exactly as in the document (strings with their quotes).
    pub fn text(&self) -> &'a str {
        self.raw()
    }

    /// Where the value's text is in the document's text.
    pub fn span(&self) -> Range<usize> {
        let slot = self.slot();
        slot.start as usize..slot.end as usize
    }
}

/// A number, parsed from its text when asked.
#[derive(Debug, Clone, Copy)]
pub struct TapeNumber<'a>(&'a str);

impl JsonNumber for TapeNumber<'_> {
    fn as_u64(&self) -> Option<u64> {
        self.0.parse().ok()
    }

    fn as_i64(&self) -> Option<i64> {
        self.0.parse().ok()
    }

    fn as_f64(&self) -> Option<f64> {
        self.0.parse().ok()
    }

    fn as_str(&self) -> Cow<'_, str> {
        Cow::Borrowed(self.0)
    }

    fn to_number(&self) -> Cow<'_, serde_json::Number> {
        // The decoder accepted this text as a JSON number, so serde_json parses it.
        Cow::Owned(serde_json::from_str(self.0).unwrap_or_else(|_| serde_json::Number::from(0)))
    }
}

impl<'a> Node<'a, TapeJson> for TapeNode<'a> {
    type Object = TapeObject<'a>;
    type Array = TapeArray<'a>;
    type Number = TapeNumber<'a>;

    fn as_object(&self) -> Option<TapeObject<'a>> {
        TapeObject::of(*self)
    }

    fn as_array(&self) -> Option<TapeArray<'a>> {
        (self.slot().kind == Kind::Array).then_some(TapeArray(*self))
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        self.string()
    }

    fn as_number(&self) -> Option<TapeNumber<'a>> {
        (self.slot().kind == Kind::Number).then(|| TapeNumber(self.raw()))
    }

    fn as_boolean(&self) -> Option<bool> {
        match self.slot().kind {
            Kind::True => Some(true),
            Kind::False => Some(false),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        self.slot().kind == Kind::Null
    }

    fn json_type(&self) -> JsonType {
        match self.slot().kind {
            Kind::Null => JsonType::Null,
            Kind::True | Kind::False => JsonType::Boolean,
            Kind::Number => JsonType::Number,
            Kind::String(_) => JsonType::String,
            Kind::Object => JsonType::Object,
            Kind::Array => JsonType::Array,
        }
    }

    fn to_value(&self) -> Cow<'a, Value> {
        Cow::Owned(serde_json::from_str(self.raw()).unwrap_or(Value::Null))
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::tagged(std::ptr::from_ref(self.tape) as usize, self.index))
    }
}

/// An object of a [`Tape`].
#[derive(Debug, Clone, Copy)]
pub struct TapeObject<'a>(TapeNode<'a>);

impl<'a> TapeObject<'a> {
    fn of(node: TapeNode<'a>) -> Option<Self> {
        (node.slot().kind == Kind::Object).then_some(TapeObject(node))
    }

    fn find(&self, key: &str) -> Option<TapeNode<'a>> {
        // Objects are small: a scan comparing names in place beats any index.
        let (mut next, mut left) = (self.0.index + 1, self.0.slot().len);
        while left > 0 {
            let value = self.0.at(next + 1);
            if self.0.at(next).string().is_some_and(|name| name == key) {
                return Some(value);
            }
            next = value.slot().next;
            left -= 1;
        }
        None
    }

    fn members_iter(&self) -> TapeMembers<'a> {
        TapeMembers { node: self.0, next: self.0.index + 1, left: self.0.slot().len }
    }
}

/// The members of a [`TapeObject`], in document order.
#[derive(Debug)]
pub struct TapeMembers<'a> {
    node: TapeNode<'a>,
    next: u32,
    left: u32,
}

impl<'a> Iterator for TapeMembers<'a> {
    type Item = (Cow<'a, str>, TapeNode<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let key = self.node.at(self.next);
        let value = self.node.at(self.next + 1);
        self.next = value.slot().next;
        Some((key.string().unwrap_or_default(), value))
    }
}

impl<'a> Object<'a, TapeJson> for TapeObject<'a> {
    type Node = TapeNode<'a>;
    type MemberName = Cow<'a, str>;
    type MembersIter = TapeMembers<'a>;

    fn len(&self) -> usize {
        self.0.slot().len as usize
    }

    fn get(&self, key: &String) -> Option<TapeNode<'a>> {
        self.find(key)
    }

    fn members(&self) -> TapeMembers<'a> {
        self.members_iter()
    }
}

/// An array of a [`Tape`].
#[derive(Debug, Clone, Copy)]
pub struct TapeArray<'a>(TapeNode<'a>);

/// The elements of a [`TapeArray`].
#[derive(Debug)]
pub struct TapeElements<'a> {
    node: TapeNode<'a>,
    next: u32,
    left: u32,
}

impl<'a> Iterator for TapeElements<'a> {
    type Item = TapeNode<'a>;

    fn next(&mut self) -> Option<TapeNode<'a>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let element = self.node.at(self.next);
        self.next = element.slot().next;
        Some(element)
    }
}

impl<'a> Array<'a, TapeJson> for TapeArray<'a> {
    type Node = TapeNode<'a>;
    type ElementsIter = TapeElements<'a>;

    fn len(&self) -> usize {
        self.0.slot().len as usize
    }

    fn elements(&self) -> TapeElements<'a> {
        TapeElements { node: self.0, next: self.0.index + 1, left: self.0.slot().len }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(text: &str) -> Value {
        let tape = Tape::parse(text).unwrap();
        tape.root().to_value().into_owned()
    }

    #[test]
    fn reads_every_kind_of_value() {
        let text = r#" {"a": [1, -2.5e3, true, false, null], "b": {"c": "x\"y", "d": {}}, "e": [], "f": "plain"} "#;
        let tape = Tape::parse(text).unwrap();
        let root = tape.root();
        assert_eq!(root.json_type(), JsonType::Object);
        let object = root.as_object().unwrap();
        assert_eq!(Object::len(&object), 4);
        let names: Vec<String> = object.members().map(|(name, _)| name.into_owned()).collect();
        assert_eq!(names, ["a", "b", "e", "f"]);
        let a = root.member("a").unwrap().as_array().unwrap();
        let kinds: Vec<JsonType> = a.elements().map(|node| node.json_type()).collect();
        use JsonType::{Boolean, Null, Number};
        assert_eq!(kinds, [Number, Number, Boolean, Boolean, Null]);
        assert_eq!(a.elements().nth(1).unwrap().as_number().unwrap().as_f64(), Some(-2500.0));
        assert_eq!(root.member("b").unwrap().member("c").unwrap().string().unwrap(), "x\"y");
        assert_eq!(root.member("f").unwrap().string().unwrap(), "plain");
        assert!(root.member("zzz").is_none());
        assert_eq!(roundtrip(text), serde_json::from_str::<Value>(text).unwrap());
    }

    #[test]
    fn refuses_what_it_does_not_read() {
        // Malformed JSON, and (last) valid JSON the tape leaves to serde_json.
        let refused = [
            "",
            "{",
            r#"{"a" 1}"#,
            "[1,]x",
            r#"{"a":1,}"#,
            "nul",
            r#""open"#,
            "[1] 2",
            "-",
            "01",
            "1.",
            ".5",
            "1e",
            "+1",
            "--1",
            "1e+",
            r#""\q""#,
            r#""\u12""#,
            r#""\u12g4""#,
            "\"a\u{1}b\"",
            "1e400",
            &"9".repeat(400),
            r#""\ud83d\ude00""#,
        ];
        for text in refused {
            assert_eq!(Tape::parse(text).map(|_| ()), Err(Unsupported), "{text:?}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(Tape::parse(&deep).map(|_| ()), Err(Unsupported));
    }

    #[test]
    fn identities_differ_per_node() {
        let tape = Tape::parse(r#"[{"a":1},{"a":1}]"#).unwrap();
        let elements: Vec<TapeNode<'_>> = tape.root().as_array().unwrap().elements().collect();
        assert_ne!(elements[0].identity(), elements[1].identity());
        assert_eq!(elements[0].identity(), elements[0].clone().identity());
    }
}
