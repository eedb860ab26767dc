//! Checking a configuration against the connector's `config_schema` before use.
//!
//! Messages are written for the person who wrote the configuration file: a missing
//! property reads `apiToken must be present`, an unknown one `unknown configuration key
//! "x"`, anything else `<path>: <reason>`. Values are never quoted, because the value of
//! a wrongly typed secret is still a secret.

use jsonschema::error::ValidationErrorKind;
use serde::de::DeserializeOwned;
use serde_json::Value;

use protocol::registry::compile_schema;

/// Checks `config` against `schema` and deserialises it.
///
/// # Errors
/// One human-readable message per problem.
pub(crate) fn check<C: DeserializeOwned>(schema: &Value, config: &Value) -> Result<C, Vec<String>> {
    let validator =
        compile_schema(schema).map_err(|e| vec![format!("the connector's config_schema is invalid: {e}")])?;
    let problems: Vec<String> = validator.iter_errors(config).map(|error| describe(&error)).collect();
    if !problems.is_empty() {
        return Err(problems);
    }
    C::deserialize(config).map_err(|e| {
        // serde's messages can quote values; keep only where it happened.
        let detail = e.to_string();
        let position = detail.rsplit_once(" at ").map(|(_, pos)| pos).unwrap_or("");
        vec![format!("the configuration does not fit the connector's settings {position}").trim_end().to_owned()]
    })
}

fn describe(error: &jsonschema::ValidationError<'_>) -> String {
    let path = error.instance_path().as_str();
    match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().map_or_else(|| property.to_string(), str::to_owned);
            format!("{}{name} must be present", prefix(path))
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let keys = unexpected.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ");
            let noun = if unexpected.len() == 1 { "key" } else { "keys" };
            format!("{}unknown configuration {noun} {keys}", prefix(path))
        }
        _ => {
            let field = if path.is_empty() {
                "configuration".to_owned()
            } else {
                path.trim_start_matches('/').replace('/', ".")
            };
            format!("{field}: {}", error.masked())
        }
    }
}

/// `oauth.` for a problem inside the nested object at `/oauth`.
fn prefix(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{}.", path.trim_start_matches('/').replace('/', "."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["apiToken"],
            "additionalProperties": false,
            "properties": {
                "apiToken": {"type": "string", "minLength": 1, "writeOnly": true},
                "pageSize": {"type": "integer", "minimum": 1, "maximum": 100}
            }
        })
    }

    fn problems(config: Value) -> Vec<String> {
        check::<Value>(&schema(), &config).unwrap_err()
    }

    #[test]
    fn a_missing_field_must_be_present() {
        assert_eq!(problems(json!({})), ["apiToken must be present"]);
    }

    #[test]
    fn unknown_keys_are_named() {
        assert_eq!(problems(json!({"apiToken":"t0k3n","pagesize":5})), ["unknown configuration key \"pagesize\""]);
    }

    #[test]
    fn wrong_values_name_the_field_and_hide_the_value() {
        let found = problems(json!({"apiToken": 987654321, "pageSize": 500}));
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found.iter().any(|p| p.starts_with("apiToken: ")), "{found:?}");
        assert!(found.iter().any(|p| p.starts_with("pageSize: ")), "{found:?}");
        assert!(!found.iter().any(|p| p.contains("987654321")), "secret leaked: {found:?}");
    }

    #[test]
    fn a_valid_config_deserialises() {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Config {
            api_token: String,
        }
        let config: Config = check(&schema(), &json!({"apiToken":"t0k3n"})).unwrap();
        assert_eq!(config.api_token, "t0k3n");
    }
}
