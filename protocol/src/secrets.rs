//! Secrets: finding the values of a configuration's `writeOnly` fields, and hiding them.
//!
//! A connector's `config_schema` marks secret fields with `"writeOnly": true`. Every
//! string value at such a place in the configuration is a secret; [`Redactor`] replaces
//! each occurrence with `***` in any text before it is printed or stored.
//!
//! Two more ways, for connectors that learn their secrets from their configuration (the
//! Singer and Airbyte adapters):
//! - a property marked `"secretKeyNames": true` holds key names: every string under a key
//!   so named, at any depth of the configuration, is secret ([`named_values`]);
//! - a Stream's `configSecrets` lists JSON pointers into the configuration ([`values_at`]).

use std::borrow::Cow;

use serde_json::Value;

/// What secrets are replaced with.
pub const MASK: &str = "***";

/// Secrets shorter than this are not redacted: masking every `a` in a log would make it
/// unreadable while protecting nothing.
const MIN_SECRET_CHARS: usize = 4;

/// Replaces secret values with [`MASK`].
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// A redactor for the `writeOnly` values of `config` according to `config_schema`.
    pub fn from_config(config_schema: &Value, config: &Value) -> Self {
        Redactor::new(secret_values(config_schema, config))
    }

    /// This redactor, also masking `more` (values from elsewhere than the config schema's
    /// `writeOnly` fields, such as a worker's environment).
    #[must_use]
    pub fn with(self, more: impl IntoIterator<Item = String>) -> Self {
        Redactor::new(self.secrets.into_iter().chain(more))
    }

    /// A redactor for the given secret strings. A secret with characters JSON escapes
    /// (`"`, `\`, control characters) is also searched in its escaped form, as it appears
    /// inside JSON text.
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets
            .into_iter()
            .filter(|s| s.chars().count() >= MIN_SECRET_CHARS)
            .flat_map(|s| {
                let escaped = json_escaped(&s);
                std::iter::once(s).chain(escaped)
            })
            .collect();
        // Longest first, so a secret containing another is masked whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// Whether there is anything to hide.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The secret values (for checks such as the conformance kit's leak test).
    pub fn secrets(&self) -> &[String] {
        &self.secrets
    }

    /// `text` with every secret replaced by `***`; borrowed when nothing matched.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut text = Cow::Borrowed(text);
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = Cow::Owned(text.replace(secret.as_str(), MASK));
            }
        }
        text
    }

    /// Whether `text` contains a secret.
    pub fn leaks(&self, text: &str) -> bool {
        self.secrets.iter().any(|secret| text.contains(secret.as_str()))
    }
}

/// The secret as it appears inside a JSON string, when that differs from the secret.
fn json_escaped(secret: &str) -> Option<String> {
    let quoted = serde_json::to_string(secret).ok()?;
    let inner = &quoted[1..quoted.len() - 1];
    (inner != secret).then(|| inner.to_owned())
}

/// The schema keyword of a property whose strings name secret keys of the configuration.
pub const SECRET_KEY_NAMES: &str = "secretKeyNames";

/// The string values in `config` at properties that `schema` marks `writeOnly`,
/// following `properties`, `items` and `additionalProperties` (nested objects too), and
/// under the keys that properties marked [`SECRET_KEY_NAMES`] name.
pub fn secret_values(schema: &Value, config: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(schema, config, false, &mut found);
    let mut names = Vec::new();
    collect_key_names(schema, config, &mut names);
    found.extend(named_values(config, &names));
    found
}

/// The strings of `config`'s properties that `schema` marks [`SECRET_KEY_NAMES`].
fn collect_key_names(schema: &Value, value: &Value, names: &mut Vec<String>) {
    if schema.get(SECRET_KEY_NAMES) == Some(&Value::Bool(true)) {
        if let Value::Array(items) = value {
            names.extend(items.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        return;
    }
    if let (Some(properties), Value::Object(map)) = (schema.get("properties").and_then(Value::as_object), value) {
        for (key, child) in map {
            if let Some(child_schema) = properties.get(key) {
                collect_key_names(child_schema, child, names);
            }
        }
    }
}

/// Every string under a key named in `names`, at any depth of `config`.
pub fn named_values(config: &Value, names: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    collect_named(config, names, &mut found);
    found
}

fn collect_named(value: &Value, names: &[String], found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                if names.iter().any(|name| name == key) {
                    collect_strings(child, found);
                } else {
                    collect_named(child, names, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_named(item, names, found)),
        _ => {}
    }
}

/// Every string at or under the JSON `pointers` of `config` (a Stream's `configSecrets`).
pub fn values_at(config: &Value, pointers: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    for value in pointers.iter().filter_map(|pointer| config.pointer(pointer)) {
        collect_strings(value, &mut found);
    }
    found
}

/// Every string in `value`, at any depth.
pub fn collect_strings(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::String(text) => found.push(text.clone()),
        Value::Object(map) => map.values().for_each(|child| collect_strings(child, found)),
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, found)),
        _ => {}
    }
}

fn collect(schema: &Value, value: &Value, inherited_secret: bool, found: &mut Vec<String>) {
    let secret = inherited_secret || schema.get("writeOnly").and_then(Value::as_bool).unwrap_or(false);
    match value {
        Value::String(s) if secret => found.push(s.clone()),
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|v| v.is_object());
            for (key, child) in map {
                let child_schema = properties.and_then(|p| p.get(key)).or(additional);
                match child_schema {
                    Some(child_schema) => collect(child_schema, child, secret, found),
                    None if secret => collect(&Value::Null, child, true, found),
                    None => {}
                }
            }
        }
        Value::Array(items) => {
            let item_schema = schema.get("items").unwrap_or(&Value::Null);
            for item in items {
                collect(item_schema, item, secret, found);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type":"object","properties":{
            "apiToken":{"type":"string","writeOnly":true},
            "apiBaseUrl":{"type":"string"},
            "oauth":{"type":"object","properties":{"clientSecret":{"type":"string","writeOnly":true},"clientId":{"type":"string"}}},
            "keys":{"type":"array","items":{"type":"string","writeOnly":true}}
        }})
    }

    #[test]
    fn finds_top_level_nested_and_array_secrets() {
        let config = json!({"apiToken":"tok-123","apiBaseUrl":"https://x","oauth":{"clientSecret":"s3cret","clientId":"id-1"},"keys":["k-one","k-two"]});
        let mut found = secret_values(&schema(), &config);
        found.sort();
        assert_eq!(found, ["k-one", "k-two", "s3cret", "tok-123"]);
    }

    #[test]
    fn keys_named_by_a_secret_key_names_property_are_secret_at_any_depth() {
        let schema = json!({"type":"object","properties":{
            "secretKeys":{"type":"array","secretKeyNames":true},
            "tapConfig":{"type":"object"}}});
        let config = json!({"secretKeys":["db_pass","keys"],"tapConfig":{"db":{"db_pass":"pw-1","host":"h"},
            "keys":["k-1",{"x":"k-2"}]}});
        let mut found = secret_values(&schema, &config);
        found.sort();
        assert_eq!(found, ["k-1", "k-2", "pw-1"]);
        assert!(secret_values(&schema, &json!({"tapConfig":{"db_pass":"pw"}})).is_empty(), "nothing named");
    }

    #[test]
    fn config_secrets_are_the_strings_at_their_pointers() {
        let config = json!({"sourceConfig":{"api_key":"key-1","auth":{"a":"s-1","b":["s-2"]},"region":"eu"}});
        let pointers = ["/sourceConfig/api_key".to_owned(), "/sourceConfig/auth".to_owned(), "/nothing".to_owned()];
        assert_eq!(values_at(&config, &pointers), ["key-1", "s-1", "s-2"]);
    }

    #[test]
    fn redacts_every_occurrence_longest_first() {
        let redactor = Redactor::new(["abcd".to_owned(), "abcdefgh".to_owned(), "x".to_owned()]);
        assert_eq!(redactor.redact("token abcdefgh and abcd; x stays"), "token *** and ***; x stays");
        assert!(matches!(redactor.redact("clean"), Cow::Borrowed(_)));
        assert!(redactor.leaks("..abcd.."));
    }

    #[test]
    fn secrets_are_also_found_json_escaped() {
        let redactor = Redactor::new([r#"pa"ss\word"#.to_owned()]);
        let json = serde_json::json!({"name": r#"pa"ss\word"#}).to_string();
        assert_eq!(redactor.redact(&json), r#"{"name":"***"}"#);
        assert!(redactor.leaks(r#"plain pa"ss\word"#));
    }
}
