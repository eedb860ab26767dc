//! Which values of a tap's configuration are secrets, so the adapter masks them in all it
//! writes (records, logs, errors, the tap's stderr), and the runner masks them again.
//!
//! - Singer taps say nothing about their secrets: `secretKeys` in the adapter's
//!   configuration names them (a key of `tapConfig` at any depth; every string under it is
//!   secret). The keys in [`CONVENTIONAL`] are secret too, and are marked `writeOnly` in the
//!   adapter's `config_schema`, so the runner knows them as well.
//! - Airbyte sources mark secret fields `airbyte_secret: true` in their spec; the adapter
//!   reads the spec, marks those fields `writeOnly` ([`airbyte_write_only`]) and collects
//!   their values ([`write_only_values`]), through `oneOf` / `anyOf` / `allOf` too (Airbyte
//!   puts authentication methods in a `oneOf`).

use serde_json::{json, Map, Value};

/// Key names that are secret in every tap configuration seen in practice.
pub const CONVENTIONAL: [&str; 12] = [
    "password",
    "secret",
    "client_secret",
    "api_key",
    "apiKey",
    "token",
    "api_token",
    "access_token",
    "refresh_token",
    "private_key",
    "secret_key",
    "aws_secret_access_key",
];

/// The schema of a tap's configuration as the adapter's spec gives it: any object, with
/// the [`CONVENTIONAL`] keys `writeOnly`.
pub fn conventional_schema(description: &str) -> Value {
    let properties: Map<String, Value> =
        CONVENTIONAL.iter().map(|name| ((*name).to_owned(), json!({"writeOnly": true}))).collect();
    json!({"type": "object", "description": description, "properties": properties})
}

pub use connector_sdk::protocol::secrets::named_values;
use connector_sdk::protocol::secrets::values_at;

/// `schema` with every subschema marked `airbyte_secret: true` also marked
/// `writeOnly: true`, the toolkit's word for a secret.
pub fn airbyte_write_only(schema: &Value) -> Value {
    match schema {
        Value::Object(map) => {
            let mut out: Map<String, Value> =
                map.iter().map(|(key, value)| (key.clone(), airbyte_write_only(value))).collect();
            if map.get("airbyte_secret") == Some(&Value::Bool(true)) {
                out.insert("writeOnly".into(), Value::Bool(true));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(airbyte_write_only).collect()),
        other => other.clone(),
    }
}

/// The string values of `config` at places `schema` marks `writeOnly`, following
/// `properties`, `additionalProperties`, `items` and every branch of `oneOf`, `anyOf` and
/// `allOf` (a value is secret if any branch says so).
pub fn write_only_values(schema: &Value, config: &Value) -> Vec<String> {
    let mut found = values_at(config, &write_only_pointers(schema, config));
    found.sort();
    found.dedup();
    found
}

/// The JSON pointers of the places of `config` that `schema` marks `writeOnly` (as
/// [`write_only_values`] finds them), for a Stream's `configSecrets` once prefixed with
/// where `config` sits in the adapter's configuration.
pub fn write_only_pointers(schema: &Value, config: &Value) -> Vec<String> {
    let mut found = Vec::new();
    collect_write_only(schema, config, String::new(), &mut found);
    found.sort();
    found.dedup();
    found
}

fn collect_write_only(schema: &Value, value: &Value, at: String, found: &mut Vec<String>) {
    if schema.get("writeOnly") == Some(&Value::Bool(true)) {
        found.push(at);
        return;
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(Value::Array(branches)) = schema.get(combinator) {
            branches.iter().for_each(|branch| collect_write_only(branch, value, at.clone(), found));
        }
    }
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|v| v.is_object());
            for (key, child) in map {
                if let Some(child_schema) = properties.and_then(|p| p.get(key)).or(additional) {
                    collect_write_only(child_schema, child, pointer(&at, key), found);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (index, item) in items.iter().enumerate() {
                    collect_write_only(item_schema, item, pointer(&at, &index.to_string()), found);
                }
            }
        }
        _ => {}
    }
}

/// `at` followed by the reference token `key`, escaped as RFC 6901 says.
pub fn pointer(at: &str, key: &str) -> String {
    format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_name_keys_at_any_depth_and_everything_under_them() {
        let config =
            json!({"user": "me", "db": {"password": "pw-1", "host": "h"}, "auth": {"keys": ["k-1", {"x": "k-2"}]}});
        let mut found = named_values(&config, &["password".into(), "keys".into()]);
        found.sort();
        assert_eq!(found, ["k-1", "k-2", "pw-1"]);
    }

    #[test]
    fn airbyte_secrets_become_write_only_and_are_found_through_one_of() {
        let spec = json!({"type": "object", "properties": {
            "api_key": {"type": "string", "airbyte_secret": true},
            "start": {"type": "string"},
            "credentials": {"type": "object", "oneOf": [
                {"properties": {"method": {"const": "oauth"}, "client_secret": {"type": "string", "airbyte_secret": true}}},
                {"properties": {"method": {"const": "password"}, "password": {"type": "string", "airbyte_secret": true}}}]},
            "replicas": {"type": "array", "items": {"properties": {"dsn": {"type": "string", "airbyte_secret": true}}}}}});
        let schema = airbyte_write_only(&spec);
        assert_eq!(
            schema["properties"]["api_key"],
            json!({"type": "string", "airbyte_secret": true, "writeOnly": true})
        );
        assert_eq!(schema["properties"]["start"], json!({"type": "string"}));
        assert_eq!(schema["properties"]["credentials"]["oneOf"][0]["properties"]["client_secret"]["writeOnly"], true);
        let config = json!({"api_key": "key-1", "start": "2024", "credentials": {"method": "password", "password": "pw-2"},
            "replicas": [{"dsn": "dsn-3"}]});
        assert_eq!(write_only_values(&schema, &config), ["dsn-3", "key-1", "pw-2"]);
        let pointers = write_only_pointers(&schema, &config);
        assert_eq!(pointers, ["/api_key", "/credentials/password", "/replicas/0/dsn"]);
        assert_eq!(pointer("/a", "b/c~d"), "/a/b~1c~0d");
    }

    #[test]
    fn the_conventional_names_are_write_only_in_the_schema() {
        let schema = conventional_schema("x");
        assert_eq!(schema["properties"]["password"], json!({"writeOnly": true}));
        let found = write_only_values(&schema, &json!({"password": "pw", "path": "/tmp"}));
        assert_eq!(found, ["pw"]);
    }
}
