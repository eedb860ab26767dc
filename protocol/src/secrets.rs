//! Secrets: finding the values of a configuration's `writeOnly` fields, and hiding them.
//!
//! A connector's `config_schema` marks secret fields with `"writeOnly": true`. Every
//! string value at such a place in the configuration is a secret; [`Redactor`] replaces
//! each occurrence with `***` in any text before it is printed or stored.

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

/// The string values in `config` at properties that `schema` marks `writeOnly`,
/// following `properties`, `items` and `additionalProperties` (nested objects too).
pub fn secret_values(schema: &Value, config: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect(schema, config, false, &mut found);
    found
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
