//! Turning a tap's record into one of ours: its `_type`, its `id`, its `self`, and the
//! source's own fields of those names kept aside.
//!
//! - **Type name**: the stream's name made PascalCase (`order_items` → `OrderItems`),
//!   after a prefix (by default the tap's name without `tap-` / `source-`, so
//!   `tap-jsonl` streams are `Jsonl…`, `source-faker`'s `FakerUsers`): a declared type may
//!   not redefine a shared one (`Team`), and two taps' `users` should not share a type.
//! - **id**: the key's value as a string when the stream has one key field (`42` → `"42"`);
//!   for a compound key, each value as a string, percent-encoded (`%` → `%25`, `/` →
//!   `%2F`) and joined with `/`, so `["a/b", 1]` → `a%2Fb/1`, never ambiguous. A stream
//!   without a key gets a content hash: the first 128 bits of the SHA-256 of the record's
//!   canonical JSON (keys sorted, no spaces), in hex. Identical records then share an id
//!   (stored once); different ones collide with a probability of about n²/2¹²⁹.
//! - **self**: `<scheme>://<tap>/<stream>/<id>`, each part percent-encoded, e.g.
//!   `singer://tap-jsonl/orders/42`, a URI that passes the runner's `format: uri`.
//! - **The source's `_type`, `id`, `self`**: kept under `_source_type`, `_source_id`,
//!   `_source_self` whenever the value differs from ours (an integer `id` 42 becomes `id`
//!   `"42"` and `_source_id` 42; a string `id` that is the key is ours already).

use std::fmt::Write as _;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::schema::RESERVED;

/// The longest type name the runner accepts.
const MAX_TYPE_CHARS: usize = 100;

/// Why a record cannot be given an id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// A key field is missing or null.
    #[error("record has no value for key field `{field}` (the stream's key is {key}): it cannot be given an id")]
    MissingKey {
        /// The field path, dotted.
        field: String,
        /// The whole key, for the message.
        key: String,
    },
}

/// `words` as PascalCase ASCII: every run of letters and digits starts with a capital.
pub fn pascal_case(words: &str) -> String {
    words
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(|word| {
            let mut chars = word.chars();
            let first = chars.next().map(|c| c.to_ascii_uppercase()).into_iter();
            first.chain(chars).collect::<String>()
        })
        .collect()
}

/// The default type prefix for a tap: its file name without a `tap-`/`source-` start,
/// PascalCase (`/usr/bin/tap-jsonl` → `Jsonl`).
pub fn default_prefix(tap: &str) -> String {
    let name = tap.rsplit('/').next().unwrap_or(tap);
    let name = name.strip_prefix("tap-").or_else(|| name.strip_prefix("source-")).unwrap_or(name);
    pascal_case(name)
}

/// The `_type` of `stream`'s records: `prefix` then the stream name in PascalCase. A name
/// that would not start with a capital letter starts with `Stream`.
pub fn type_name(prefix: &str, stream: &str) -> String {
    let mut name = format!("{}{}", pascal_case(prefix), pascal_case(stream));
    if !name.starts_with(|c: char| c.is_ascii_uppercase()) {
        name.insert_str(0, "Stream");
    }
    name.chars().take(MAX_TYPE_CHARS).collect()
}

/// `text` percent-encoded: everything but RFC 3986's unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// A key value as id text: a string as it is, anything else as its JSON.
fn key_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => canonical_json(other),
    }
}

/// `value` as JSON with object keys sorted and no whitespace: the same text for the same
/// value, however the source ordered its fields.
pub fn canonical_json(value: &Value) -> String {
    let mut out = String::new();
    write_canonical(value, &mut out);
    out
}

fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            out.push('{');
            for (i, (key, value)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write_canonical(value, out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// The content hash id of a record without a key (see the module docs).
pub fn content_id(record: &Map<String, Value>) -> String {
    let digest = Sha256::digest(canonical_json(&Value::Object(record.clone())).as_bytes());
    digest[..16].iter().fold(String::with_capacity(32), |mut hex, byte| {
        let _ = write!(hex, "{byte:02x}");
        hex
    })
}

/// How one stream's records become ours.
#[derive(Debug, Clone)]
pub struct Shaper {
    type_name: String,
    /// Each key field as a path (Airbyte keys may point into nested objects).
    key: Vec<Vec<String>>,
    /// `<scheme>://<tap>/<stream>/`, encoded, to which the encoded id is appended.
    self_base: String,
}

impl Shaper {
    /// A shaper for the records of `stream` of `tap`, typed `type_name`, keyed by `key`
    /// (each field a path; empty: content hash), with `self` URIs under `scheme`.
    pub fn new(scheme: &str, tap: &str, stream: &str, type_name: String, key: Vec<Vec<String>>) -> Self {
        let tap = tap.rsplit('/').next().unwrap_or(tap);
        let self_base = format!("{scheme}://{}/{}/", percent_encode(tap), percent_encode(stream));
        Shaper { type_name, key, self_base }
    }

    /// The `_type` of the records.
    pub fn type_name(&self) -> &str {
        &self.type_name
    }

    /// The `self` URI of the stream itself (its records' URIs start with it).
    pub fn stream_uri(&self) -> &str {
        self.self_base.trim_end_matches('/')
    }

    /// The id of `record` (see the module docs).
    ///
    /// # Errors
    /// A key field missing or null.
    pub fn id(&self, record: &Map<String, Value>) -> Result<String, RecordError> {
        if self.key.is_empty() {
            return Ok(content_id(record));
        }
        let mut parts = Vec::with_capacity(self.key.len());
        for path in &self.key {
            let value = lookup(record, path)
                .filter(|value| !value.is_null())
                .ok_or_else(|| RecordError::MissingKey { field: path.join("."), key: self.describe_key() })?;
            parts.push(key_text(value));
        }
        Ok(match parts.as_slice() {
            [single] => single.clone(),
            compound => {
                compound.iter().map(|part| part.replace('%', "%25").replace('/', "%2F")).collect::<Vec<_>>().join("/")
            }
        })
    }

    /// `record` as one of ours: `_type`, `id` and `self` first, then the source's fields,
    /// its own `_type`/`id`/`self` kept aside when they differ from ours.
    ///
    /// # Errors
    /// A key field missing or null.
    pub fn shape(&self, mut record: Map<String, Value>) -> Result<Map<String, Value>, RecordError> {
        let id = self.id(&record)?;
        let ours = [
            Value::String(self.type_name.clone()),
            Value::String(id.clone()),
            Value::String(format!("{}{}", self.self_base, percent_encode(&id))),
        ];
        let mut shaped = Map::with_capacity(record.len() + 3);
        for ((field, kept_as), value) in RESERVED.iter().zip(&ours) {
            shaped.insert((*field).to_owned(), value.clone());
            if let Some(original) = record.remove(*field) {
                if &original != value {
                    record.insert((*kept_as).to_owned(), original);
                }
            }
        }
        shaped.extend(record);
        Ok(shaped)
    }

    fn describe_key(&self) -> String {
        let fields: Vec<String> = self.key.iter().map(|path| format!("`{}`", path.join("."))).collect();
        fields.join(", ")
    }
}

fn lookup<'a>(record: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(record.get(first)?, |value, field| value.get(field))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn shaper(key: &[&[&str]]) -> Shaper {
        let key = key.iter().map(|path| path.iter().map(|s| (*s).to_owned()).collect()).collect();
        Shaper::new("singer", "/opt/bin/tap-jsonl", "order items", "JsonlOrderItems".into(), key)
    }

    #[test]
    fn type_names_are_pascal_case_with_the_taps_prefix() {
        assert_eq!(default_prefix("/usr/local/bin/tap-jsonl"), "Jsonl");
        assert_eq!(default_prefix("source-faker"), "Faker");
        assert_eq!(default_prefix("my_tap"), "MyTap");
        assert_eq!(type_name("Jsonl", "order_items"), "JsonlOrderItems");
        assert_eq!(type_name("", "public-users.v2"), "PublicUsersV2");
        assert_eq!(type_name("", "2024_sales"), "Stream2024Sales");
        assert_eq!(type_name("", "élan"), "Lan", "non-ASCII letters are dropped");
        assert_eq!(type_name("", "---"), "Stream");
        assert_eq!(type_name("", &"a".repeat(300)).len(), 100);
    }

    #[test]
    fn a_single_key_is_its_value_as_a_string() {
        assert_eq!(shaper(&[&["id"]]).id(&map(json!({"id": 42}))).unwrap(), "42");
        assert_eq!(shaper(&[&["id"]]).id(&map(json!({"id": "a/b"}))).unwrap(), "a/b");
        assert_eq!(shaper(&[&["meta", "uuid"]]).id(&map(json!({"meta": {"uuid": "u-1"}}))).unwrap(), "u-1");
    }

    #[test]
    fn a_compound_key_is_joined_unambiguously() {
        let shaper = shaper(&[&["org"], &["n"]]);
        assert_eq!(shaper.id(&map(json!({"org": "a/b", "n": 1}))).unwrap(), "a%2Fb/1");
        assert_eq!(shaper.id(&map(json!({"org": "a%2F", "n": true}))).unwrap(), "a%252F/true");
        assert_ne!(
            shaper.id(&map(json!({"org": "a/b", "n": "c"}))).unwrap(),
            shaper.id(&map(json!({"org": "a", "n": "b/c"}))).unwrap()
        );
    }

    #[test]
    fn a_missing_or_null_key_is_an_error_naming_the_field() {
        let error = shaper(&[&["id"]]).id(&map(json!({"id": null}))).unwrap_err();
        assert_eq!(
            error.to_string(),
            "record has no value for key field `id` (the stream's key is `id`): it cannot be given an id"
        );
        assert!(shaper(&[&["org"], &["n"]]).id(&map(json!({"org": "x"}))).is_err());
    }

    #[test]
    fn without_a_key_the_id_is_a_stable_content_hash() {
        let shaper = shaper(&[]);
        let a = shaper.id(&map(json!({"x": 1, "y": {"b": 2, "a": [1, "z"]}}))).unwrap();
        let b = shaper.id(&map(json!({"y": {"a": [1, "z"], "b": 2}, "x": 1}))).unwrap();
        assert_eq!(a, b, "field order does not matter");
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, shaper.id(&map(json!({"x": 2, "y": {"a": [1, "z"], "b": 2}}))).unwrap());
        // Pinned: the hash must not change between versions, or a resumed sync duplicates.
        assert_eq!(
            canonical_json(&json!({"b": [1, {"d": null, "c": "é"}], "a": 1.5})),
            r#"{"a":1.5,"b":[1,{"c":"é","d":null}]}"#
        );
        assert_eq!(content_id(&map(json!({"a": 1}))), "015abd7f5cc57a2dd94b7590f04ad808");
    }

    #[test]
    fn self_is_an_encoded_uri_and_the_sources_own_fields_move_aside_when_they_differ() {
        let shaped = shaper(&[&["id"]]).shape(map(json!({"id": 42, "self": "x", "_type": "order", "n": 1}))).unwrap();
        assert_eq!(
            Value::Object(shaped),
            json!({"_type": "JsonlOrderItems", "id": "42", "self": "singer://tap-jsonl/order%20items/42",
                "_source_id": 42, "_source_self": "x", "_source_type": "order", "n": 1})
        );
        let shaped = shaper(&[&["id"]]).shape(map(json!({"id": "a/b ü"}))).unwrap();
        assert_eq!(shaped["self"], "singer://tap-jsonl/order%20items/a%2Fb%20%C3%BC");
        assert!(!shaped.contains_key("_source_id"), "a string key is ours already");
        assert_eq!(shaper(&[]).stream_uri(), "singer://tap-jsonl/order%20items");
    }
}
