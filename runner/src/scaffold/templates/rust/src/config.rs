//! The configuration: what a user writes in `config.json`, and the JSON Schema that `spec`
//! publishes. The SDK validates every configuration against [`schema`] before it
//! deserialises a [`Config`], so required keys, types and formats are checked there, and a
//! bad configuration is an answer of `verify` rather than a crash.

use serde::Deserialize;
use serde_json::{json, Value};

/// Where the API lives unless the configuration says otherwise.
pub const DEFAULT_API_BASE_URL: &str = "https://api.example.com";

/// A checked configuration. No `Debug`: a `{:?}` in a log line would print the token.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// The API token. Secret: `writeOnly` in the schema, so the runner masks it everywhere.
    pub api_token: String,
    /// The API's root URL.
    #[serde(default = "default_api_base_url")]
    pub api_base_url: String,
}

fn default_api_base_url() -> String {
    DEFAULT_API_BASE_URL.to_owned()
}

/// The JSON Schema of the configuration. Mark every secret `"writeOnly": true`: that is how
/// the runner knows which values to mask in logs, errors and stored data.
pub fn schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "{{name}} connector configuration",
        "type": "object",
        "required": ["apiToken"],
        "additionalProperties": false,
        "properties": {
            "apiToken": {
                "type": "string", "minLength": 1, "writeOnly": true,
                "description": "API token of {{name}} (read-only access is enough)."
            },
            "apiBaseUrl": {
                "type": "string", "format": "uri", "pattern": "^https?://", "default": DEFAULT_API_BASE_URL,
                "description": "The API's root URL."
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_compiles_and_marks_the_token_secret() {
        let schema = schema();
        connector_sdk::protocol::registry::compile_schema(&schema).expect("the schema compiles");
        assert_eq!(schema["properties"]["apiToken"]["writeOnly"], true);
    }

    #[test]
    fn the_base_url_has_a_default_and_unknown_keys_are_refused() {
        let config: Config = serde_json::from_value(json!({"apiToken": "t0k3n"})).unwrap();
        assert_eq!(config.api_base_url, DEFAULT_API_BASE_URL);
        assert!(serde_json::from_value::<Config>(json!({"apiToken": "t0k3n", "apitoken": "x"})).is_err());
    }
}
