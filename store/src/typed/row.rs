//! A record's JSON text → the values of its typed row, in one pass over the text: the
//! top-level members are visited once, each value kept as a slice of the text and read
//! only if a column wants it. Values borrow the text (a string without escapes, a JSON
//! object or array), so a row costs no allocation but a time in another offset or an
//! escaped string.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::layout::{Column, ColumnType, KEY_COLUMNS};

/// The key's cells come first in a row.
const KEYS: usize = KEY_COLUMNS.len();

/// One value of a typed row, as the store binds it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell<'a> {
    /// SQL NULL: the property is absent, `null`, or its value does not fit the column.
    Null,
    /// Text.
    Text(Cow<'a, str>),
    /// A 64-bit integer.
    Integer(i64),
    /// A double.
    Number(f64),
    /// A boolean.
    Boolean(bool),
    /// An instant, and the text it was read from.
    Timestamp(DateTime<Utc>, &'a str),
    /// A calendar date.
    Date(NaiveDate, &'a str),
    /// A JSON text, as the connector sent it.
    Json(&'a str),
}

/// Where a property's value goes: its column and, for a link, the `<name>_id` column.
#[derive(Debug, Clone, Copy)]
struct Target {
    column: usize,
    ty: ColumnType,
    link_id: Option<usize>,
}

/// Reads records into rows of one table's columns.
#[derive(Debug, Clone)]
pub struct Projector {
    targets: HashMap<String, Target>,
    width: usize,
}

impl Projector {
    /// For a table of `columns` (the key columns aside).
    pub fn new(columns: &[Column]) -> Self {
        let mut targets: HashMap<String, Target> = HashMap::with_capacity(columns.len());
        for (index, column) in columns.iter().enumerate().filter(|(_, c)| !c.link_id) {
            targets.insert(column.property.clone(), Target { column: index, ty: column.ty, link_id: None });
        }
        for (index, column) in columns.iter().enumerate().filter(|(_, c)| c.link_id) {
            if let Some(target) = targets.get_mut(&column.property) {
                target.link_id = Some(index);
            }
        }
        Projector { targets, width: columns.len() }
    }

    /// Fills `row` with the key (`connection`, `id`) and the values of `json`, one per
    /// column, in the table's order; a value that does not fit its column is NULL and
    /// counted in `misfits` (one counter per column, the key aside). A text that is not a
    /// JSON object (the runner stores only objects) gives NULLs.
    pub fn project<'a>(
        &self,
        connection: &'a str,
        id: &'a str,
        json: &'a str,
        row: &mut Vec<Cell<'a>>,
        misfits: &mut [u64],
    ) {
        row.clear();
        row.extend([Cell::Text(Cow::Borrowed(connection)), Cell::Text(Cow::Borrowed(id))]);
        row.resize(KEYS + self.width, Cell::Null);
        let mut reader = serde_json::Deserializer::from_str(json);
        if (Members { projector: self, row: &mut row[KEYS..], misfits }).deserialize(&mut reader).is_err() {
            row[KEYS..].iter_mut().for_each(|cell| *cell = Cell::Null);
        }
    }

    fn take<'a>(&self, target: Target, raw: &'a RawValue, row: &mut [Cell<'a>], misfits: &mut [u64]) {
        let text = raw.get();
        if text == "null" {
            return;
        }
        match cell(target.ty, text) {
            Some(value) => row[target.column] = value,
            None => misfits[target.column] += 1,
        }
        if let Some(link) = target.link_id {
            match linked_id(text) {
                Some(id) => row[link] = Cell::Text(id),
                None => misfits[link] += 1,
            }
        }
    }
}

/// The value of a JSON text in a column of `ty`, or `None` when it does not fit.
pub fn cell(ty: ColumnType, text: &str) -> Option<Cell<'_>> {
    Some(match ty {
        // PostgreSQL's jsonb refuses `\u0000`, its text a NUL character: neither fits.
        ColumnType::Json if text.contains("\\u0000") => return None,
        ColumnType::Json => Cell::Json(text),
        ColumnType::Text => Cell::Text(string(text).or_else(|| scalar_text(text)).filter(|t| !t.contains('\0'))?),
        ColumnType::Integer => Cell::Integer(integer(text)?),
        ColumnType::Number => Cell::Number(text.parse::<f64>().ok().filter(|n| n.is_finite())?),
        ColumnType::Boolean => Cell::Boolean(match text {
            "true" => true,
            "false" => false,
            _ => return None,
        }),
        ColumnType::Timestamp => {
            let Cow::Borrowed(at) = string(text)? else { return None };
            Cell::Timestamp(DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc), at)
        }
        ColumnType::Date => {
            let Cow::Borrowed(day) = string(text)? else { return None };
            Cell::Date(NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?, day)
        }
    })
}

/// A JSON string's text: borrowed when it has no escapes, `None` for any other value.
fn string(text: &str) -> Option<Cow<'_, str>> {
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if !inner.contains('\\') {
        return Some(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text).ok().map(Cow::Owned)
}

/// A number or a boolean in a text column: its JSON text, which says it exactly (so a
/// property that turned from a number into a string keeps its old values).
fn scalar_text(text: &str) -> Option<Cow<'_, str>> {
    let scalar = matches!(text.as_bytes().first(), Some(b'-' | b'0'..=b'9' | b't' | b'f'));
    scalar.then_some(Cow::Borrowed(text))
}

/// A JSON integer, also written as `3.0` or `3e2` (JSON Schema's integers).
fn integer(text: &str) -> Option<i64> {
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    let n = text.parse::<f64>().ok()?;
    // Beyond 2^63 a double no longer converts exactly: not an i64 either way.
    (n.fract() == 0.0 && n.abs() < 9.2e18).then_some(n as i64)
}

/// The `id` of a linked record (`{"id": "P1", ...}`): a string, or a number's text.
fn linked_id(text: &str) -> Option<Cow<'_, str>> {
    #[derive(Deserialize)]
    struct Link<'a> {
        #[serde(borrow)]
        id: Option<&'a RawValue>,
    }
    let id = serde_json::from_str::<Link<'_>>(text).ok()?.id?.get();
    match id.as_bytes().first() {
        Some(b'"') => string(id),
        Some(b'-' | b'0'..=b'9') => Some(Cow::Borrowed(id)),
        _ => None,
    }
}

/// The visitor of a record's top-level members.
struct Members<'p, 'r, 'a> {
    projector: &'p Projector,
    row: &'r mut [Cell<'a>],
    misfits: &'r mut [u64],
}

impl<'de> DeserializeSeed<'de> for Members<'_, '_, 'de> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Members<'_, '_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        while let Some(Key(key)) = map.next_key()? {
            match self.projector.targets.get(key.as_ref()) {
                Some(&target) => {
                    let raw: &'de RawValue = map.next_value()?;
                    self.projector.take(target, raw, self.row, self.misfits);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A member's name, borrowed from the text unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::typed::layout::columns;
    use crate::typed::tests::Schemas;

    fn project(schema: serde_json::Value, json: &str) -> (Vec<(String, Cell<'_>)>, Vec<u64>) {
        let columns = columns(&schema, &Schemas::default());
        let projector = Projector::new(&columns);
        let (mut row, mut misfits) = (Vec::new(), vec![0; columns.len()]);
        projector.project("c", "i", json, &mut row, &mut misfits);
        assert_eq!(row[..2], [Cell::Text("c".into()), Cell::Text("i".into())]);
        (columns.into_iter().map(|c| c.name).zip(row.into_iter().skip(2)).collect(), misfits)
    }

    #[test]
    fn every_type_is_read_from_the_json_text() {
        let schema = json!({"properties": {
            "title": {"type": "string"}, "n": {"type": "integer"}, "x": {"type": "number"},
            "ok": {"type": "boolean"}, "at": {"type": "string", "format": "date-time"},
            "day": {"type": "string", "format": "date"}, "tags": {"type": "array"},
            "service": {"type": "object", "properties": {"_type": {}, "id": {}}},
            "missing": {"type": "string"}, "nothing": {"type": ["string", "null"]},
        }});
        let json = r#"{"_type":"T","id":"1","title":"a \"b\"","n":3.0,"x":1.5,"ok":true,
            "at":"2026-01-02T03:04:05+01:00","day":"2026-01-02","tags":["a", 1],
            "service":{"_type":"Service","id":"S1"},"nothing":null,"extra":{"deep":[1,2]}}"#;
        let (row, misfits) = project(schema, json);
        let at = DateTime::parse_from_rfc3339("2026-01-02T02:04:05Z").unwrap().with_timezone(&Utc);
        let day = NaiveDate::from_ymd_opt(2026, 1, 2).unwrap();
        let expected = [
            ("at", Cell::Timestamp(at, "2026-01-02T03:04:05+01:00")),
            ("day", Cell::Date(day, "2026-01-02")),
            ("missing", Cell::Null),
            ("n", Cell::Integer(3)),
            ("nothing", Cell::Null),
            ("ok", Cell::Boolean(true)),
            ("service", Cell::Json(r#"{"_type":"Service","id":"S1"}"#)),
            ("tags", Cell::Json(r#"["a", 1]"#)),
            ("title", Cell::Text(Cow::Owned("a \"b\"".into()))),
            ("x", Cell::Number(1.5)),
            ("service_id", Cell::Text(Cow::Borrowed("S1"))),
        ];
        let got: Vec<(&str, Cell<'_>)> = row.iter().map(|(n, c)| (n.as_str(), c.clone())).collect();
        assert_eq!(got, expected);
        assert!(misfits.iter().all(|&n| n == 0));
    }

    #[test]
    fn a_value_that_does_not_fit_is_null_and_counted() {
        let schema = json!({"properties": {
            "at": {"type": "string", "format": "date-time"}, "n": {"type": "integer"},
            "ok": {"type": "boolean"}, "s": {"type": "string"},
        }});
        let json = r#"{"at":"yesterday","n":18446744073709551616,"ok":"yes","s":{"a":5}}"#;
        let (row, misfits) = project(schema.clone(), json);
        assert!(row.iter().all(|(_, cell)| *cell == Cell::Null), "{row:?}");
        assert_eq!(misfits, [1, 1, 1, 1]);
        let (row, misfits) = project(schema, r#"{"s":"a\u0000b"}"#);
        assert_eq!((row[3].1.clone(), misfits[3]), (Cell::Null, 1), "no store keeps a NUL in text alike");
    }

    #[test]
    fn hostile_member_names_are_read_as_their_properties() {
        let schema = json!({"properties": {"Name": {"type": "string"}, "name": {"type": "string"},
            "a\"; --": {"type": "integer"}, "日付": {"type": "string"}}});
        let json = r#"{"name":"lower","Name":"upper","a\"; --":7,"\u65e5\u4ed8":"escaped key"}"#;
        let (row, _) = project(schema, json);
        let got: Vec<(&str, &Cell<'_>)> = row.iter().map(|(n, c)| (n.as_str(), c)).collect();
        assert_eq!(
            got,
            [
                ("name", &Cell::Text("upper".into())),
                ("a", &Cell::Integer(7)),
                ("name_2", &Cell::Text("lower".into())),
                ("日付", &Cell::Text("escaped key".into())),
            ]
        );
    }

    #[test]
    fn a_text_column_takes_numbers_and_booleans_as_their_json_text() {
        let schema = json!({"properties": {"a": {"type": "string"}, "b": {"type": "string"}}});
        let (row, misfits) = project(schema, r#"{"a":2.50,"b":false}"#);
        assert_eq!((row[0].1.clone(), row[1].1.clone()), (Cell::Text("2.50".into()), Cell::Text("false".into())));
        assert_eq!(misfits, [0, 0]);
    }

    #[test]
    fn link_ids_may_be_numbers_and_a_broken_text_gives_nulls() {
        let schema = json!({"properties": {"owner": {"type": "object", "properties": {"_type": {}, "id": {}}}}});
        let (row, _) = project(schema.clone(), r#"{"owner":{"_type":"Actor","id":42}}"#);
        assert_eq!(row[1].1, Cell::Text("42".into()));
        let (row, _) = project(schema, "[1, 2");
        assert!(row.iter().all(|(_, cell)| *cell == Cell::Null));
    }
}
