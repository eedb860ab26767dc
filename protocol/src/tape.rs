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

/// Nesting deeper than this is left to `serde_json`, which refuses it: its recursion limit
/// of 128 refuses a 128th nested container (the tape once read one level more, and judged
/// records `serde_json` cannot read; found by `tests/it/fuzz.rs`).
const MAX_DEPTH: usize = 127;

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

impl Slot {
    /// A string's span without its quotes.
    fn unquoted(&self) -> Range<usize> {
        self.start as usize + 1..self.end as usize - 1
    }
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
        let mut parser = Parser { bytes: text.as_bytes(), at: 0, slots, names: Vec::new() };
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
    /// Scratch space of the duplicate-name check: each name's fingerprint and bytes.
    names: Vec<(u64, &'b [u8])>,
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
            at = skip_plain_string_bytes(self.bytes, at);
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
                    if kind == Kind::Object && self.has_duplicate_names(index) {
                        return Err(Unsupported);
                    }
                    return Ok(());
                }
                _ => return Err(Unsupported),
            }
        }
    }
}

impl<'b> Parser<'b> {
    /// The name slots of the finished object at `index`, in order.
    fn member_names(&self, index: usize) -> impl Iterator<Item = Slot> + '_ {
        let mut key = index + 1;
        (0..self.slots[index].len).map(move |_| {
            let slot = self.slots[key];
            key = self.slots[key + 1].next as usize;
            slot
        })
    }

    /// Whether two members of the finished object at `index` have the same name (once
    /// unescaped). `serde_json` keeps the last of them, the tape would find the first: the
    /// tape and `Value` validators would judge different values, so such objects are left
    /// to `serde_json` (found by `tests/it/fuzz.rs`).
    fn has_duplicate_names(&mut self, index: usize) -> bool {
        let len = self.slots[index].len as usize;
        if len < 2 {
            return false;
        }
        if let Some(duplicate) = self.small_object_has_duplicate_names(index, len) {
            return duplicate;
        }
        let mut names: Vec<Cow<'_, [u8]>> = Vec::with_capacity(len);
        for slot in self.member_names(index) {
            names.push(match slot.kind {
                Kind::String(false) => Cow::Borrowed(&self.bytes[slot.unquoted()]),
                // An escape the tape accepted always unescapes; if not, a name that matches
                // none is the cautious answer's opposite, so say "duplicate".
                _ => match serde_json::from_slice::<String>(&self.bytes[slot.start as usize..slot.end as usize]) {
                    Ok(name) => Cow::Owned(name.into_bytes()),
                    Err(_) => return true,
                },
            });
        }
        names.sort_unstable();
        names.windows(2).any(|pair| pair[0] == pair[1])
    }

    /// [`Self::has_duplicate_names`] for the common object, of at most [`SMALL_OBJECT`]
    /// members whose names have no escapes, without sorting: each name against those
    /// before it, by a fingerprint (its length and first bytes) and only when that matches
    /// by its bytes. `None` for any other object.
    fn small_object_has_duplicate_names(&mut self, index: usize, len: usize) -> Option<bool> {
        if len > SMALL_OBJECT {
            return None;
        }
        let bytes = self.bytes;
        let mut names = std::mem::take(&mut self.names);
        names.clear();
        let mut duplicate = Some(false);
        for slot in self.member_names(index) {
            if slot.kind != Kind::String(false) {
                duplicate = None;
                break;
            }
            let name = &bytes[slot.unquoted()];
            let fingerprint = name_fingerprint(name);
            if names.iter().any(|&(other, earlier)| other == fingerprint && earlier == name) {
                duplicate = Some(true);
                break;
            }
            names.push((fingerprint, name));
        }
        self.names = names;
        duplicate
    }
}

/// Objects up to this many members are checked for duplicate names pairwise.
const SMALL_OBJECT: usize = 32;

/// A word of a name's first bytes and its length: equal names have equal fingerprints.
/// Read straight from the name (no copy into a buffer, which stalled the load after it).
fn name_fingerprint(name: &[u8]) -> u64 {
    let head = match name.get(..8) {
        Some(head) => u64::from_le_bytes(head.try_into().expect("eight bytes")),
        None => name.iter().fold(0, |word, &byte| word << 8 | u64::from(byte)),
    };
    head ^ (name.len() as u64).rotate_right(8)
}

/// The first position from `at` on where `bytes` may hold a quote, a backslash or a
/// control character, skipping plain bytes many at a time. The string scan was the
/// runner's largest single cost, at one branchy step per byte. The caller still checks
/// every byte it stops at, so stopping early costs a step, never a wrong answer.
fn skip_plain_string_bytes(bytes: &[u8], at: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    let at = skip_plain_string_bytes_sse2(bytes, at);
    skip_plain_string_bytes_swar(bytes, at)
}

/// Sixteen bytes at a time, and exactly to the first special byte: SSE2 is part of every
/// x86-64 processor.
#[cfg(target_arch = "x86_64")]
fn skip_plain_string_bytes_sse2(bytes: &[u8], mut at: usize) -> usize {
    use std::arch::x86_64::{
        _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    while let Some(chunk) = bytes.get(at..at + 16) {
        // SAFETY: the load reads the 16 bytes of `chunk` (unaligned loads are allowed), and
        // SSE2 is always enabled on x86_64.
        let special = unsafe {
            let word = _mm_loadu_si128(chunk.as_ptr().cast());
            let quote = _mm_cmpeq_epi8(word, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(word, _mm_set1_epi8(b'\\' as i8));
            // Unsigned `byte <= 0x1f`: the smaller of the two is the byte itself.
            let control = _mm_cmpeq_epi8(_mm_min_epu8(word, _mm_set1_epi8(0x1f)), word);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control))
        };
        if special != 0 {
            return at + special.trailing_zeros() as usize;
        }
        at += 16;
    }
    at
}

/// Eight bytes at a time on any processor ("SWAR": each test sets a byte's high bit when
/// that byte may be special); stops at the first word that may hold one.
fn skip_plain_string_bytes_swar(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let has_zero_byte = |word: u64| word.wrapping_sub(ONES) & !word & HIGHS;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let quote = has_zero_byte(word ^ (ONES * u64::from(b'"')));
        let backslash = has_zero_byte(word ^ (ONES * u64::from(b'\\')));
        let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
        if quote | backslash | control != 0 {
            break;
        }
        at += 8;
    }
    at
}

/// The length of the escape at the start of `bytes` (which starts with a backslash).
fn escape_length(bytes: &[u8]) -> Result<usize, Unsupported> {
    match bytes.get(1) {
        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => Ok(2),
        Some(b'u') => {
            // Four hex digits: `from_str_radix` alone also takes a sign (`\u+041` is not JSON).
            let hex = bytes.get(2..6).filter(|hex| hex.iter().all(u8::is_ascii_hexdigit)).ok_or(Unsupported)?;
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
    #[inline]
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
    #[inline]
    pub fn string(&self) -> Option<Cow<'a, str>> {
        let slot = self.slot();
        match slot.kind {
            Kind::String(false) => Some(Cow::Borrowed(&self.tape.text[slot.unquoted()])),
            Kind::String(true) => serde_json::from_str::<String>(self.raw()).ok().map(Cow::Owned),
            _ => None,
        }
    }

    /// Whether this is the string `expected`: compared in place, without unescaping or
    /// slicing a `str`, unless it has escapes (member lookups compare every name).
    #[inline]
    fn is_string(&self, expected: &str) -> bool {
        let slot = self.slot();
        match slot.kind {
            Kind::String(false) => {
                let unquoted = slot.unquoted();
                unquoted.len() == expected.len() && &self.tape.text.as_bytes()[unquoted] == expected.as_bytes()
            }
            Kind::String(true) => self.string().is_some_and(|string| string == expected),
            _ => false,
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
            if self.0.at(next).is_string(key) {
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
            r#""\u+067""#,
            "\"a\u{1}b\"",
            "1e400",
            &"9".repeat(400),
            r#""\ud83d\ude00""#,
            // Duplicate member names, however spelled: serde_json keeps the last.
            r#"{"a":1,"b":2,"a":3}"#,
            r#"[{"id":"x","\u0069d":"y"}]"#,
        ];
        for text in refused {
            assert_eq!(Tape::parse(text).map(|_| ()), Err(Unsupported), "{text:?}");
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert_eq!(Tape::parse(&deep).map(|_| ()), Err(Unsupported));
        // Exactly serde_json's limit: what one reads, the other reads.
        for depth in [126, 127, 128] {
            let nested = "[".repeat(depth) + &"]".repeat(depth);
            let serde = serde_json::from_str::<Value>(&nested).is_ok();
            assert_eq!(Tape::parse(&nested).is_ok(), serde, "{depth} levels");
            assert_eq!(serde, depth < 128, "{depth} levels");
        }
    }

    #[test]
    fn the_eight_byte_string_scan_stops_at_every_special_byte_wherever_it_lies() {
        // Each special byte at each offset in and around an eight-byte word, after plain
        // ASCII and after multi-byte UTF-8 (whose bytes are all >= 0x80).
        for prefix in ["", "abcdefg", "ééé", "abcdefghijklmnopq"] {
            for pad in 0..17 {
                let plain = format!("{prefix}{}", "x".repeat(pad));
                let quoted = format!("\"{plain}\"");
                let tape = Tape::parse(&quoted).unwrap();
                assert_eq!(tape.root().string().unwrap(), plain);
                let escaped = format!("\"{plain}\\n{plain}\"");
                assert_eq!(Tape::parse(&escaped).unwrap().root().string().unwrap(), format!("{plain}\n{plain}"));
                for control in ["\u{0}", "\u{1f}", "\n", "\t"] {
                    let raw = format!("\"{plain}{control}{plain}\"");
                    assert_eq!(Tape::parse(&raw).map(|_| ()), Err(Unsupported), "{raw:?}");
                }
                let unterminated = format!("\"{plain}");
                assert_eq!(Tape::parse(&unterminated).map(|_| ()), Err(Unsupported));
            }
        }
        let swar = skip_plain_string_bytes_swar;
        assert_eq!(swar(b"abcdefgh\"", 0), 8);
        assert_eq!(swar(b"abcdefg\"h", 0), 0, "the word holding the quote is not skipped");
        assert_eq!(swar("\u{7f}ÿabcdef.".as_bytes(), 0), 8, "DEL and UTF-8 are plain");
        #[cfg(target_arch = "x86_64")]
        {
            let sse2 = skip_plain_string_bytes_sse2;
            assert_eq!(sse2(b"abcdefghijklmnopqrstuvwx\"yz0123456789", 0), 24, "exactly at the quote");
            assert_eq!(sse2(b"abcdefghijklmnopqrstuvwx\\yz0123456789", 3), 24, "exactly at the backslash");
            assert_eq!(sse2("ÿÿÿÿÿÿÿÿ\u{1f}xxxxxxxxxxxxxxxxx".as_bytes(), 0), 16, "UTF-8 is plain, 0x1f is not");
            assert_eq!(sse2("\u{7f} xxxxxxxxxxxxxxxxxxxxxxxxx".as_bytes(), 0), 16, "DEL and space are plain");
            assert_eq!(sse2(b"short\"", 0), 0, "fewer than sixteen bytes are left to the caller");
        }
    }

    #[test]
    fn duplicate_names_are_found_in_small_and_large_objects() {
        let object = |names: &[String]| {
            let members: Vec<String> = names.iter().map(|name| format!("\"{name}\":1")).collect();
            format!("{{{}}}", members.join(","))
        };
        for len in [2, 15, 16, 17, 32, 33, 40] {
            let mut names: Vec<String> = (0..len).map(|i| format!("n{i}")).collect();
            assert!(Tape::parse(&object(&names)).is_ok(), "{len} distinct names");
            names[len - 1] = "n0".to_owned();
            assert_eq!(Tape::parse(&object(&names)).map(|_| ()), Err(Unsupported), "{len} names, last repeats first");
            names[len - 1] = "n\\u0030".to_owned();
            assert_eq!(Tape::parse(&object(&names)).map(|_| ()), Err(Unsupported), "{len} names, escaped repeat");
        }
    }

    #[test]
    fn identities_differ_per_node() {
        let tape = Tape::parse(r#"[{"a":1},{"a":1}]"#).unwrap();
        let elements: Vec<TapeNode<'_>> = tape.root().as_array().unwrap().elements().collect();
        assert_ne!(elements[0].identity(), elements[1].identity());
        assert_eq!(elements[0].identity(), elements[0].clone().identity());
    }
}
