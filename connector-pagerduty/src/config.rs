//! The connector's configuration: the [`Config`] struct and the JSON Schema `spec` publishes.
//!
//! The SDK checks a configuration against [`schema`] before [`Config`] is deserialised,
//! so the schema is where defaults, ranges and "unknown keys are invalid" live; the
//! struct repeats `deny_unknown_fields` so the two can never disagree silently.

use serde::Deserialize;
use serde_json::{json, Value};

/// PagerDuty's US service region.
pub const DEFAULT_BASE_URL: &str = "https://api.pagerduty.com";
/// PagerDuty's documented REST limit is 900-960 requests per minute per token.
pub const DEFAULT_MAX_REQUESTS_PER_MINUTE: u32 = 900;
/// The API's largest page.
pub const MAX_PAGE_SIZE: u32 = 100;
/// Requests in flight at once, by default: at 200 ms per answer, 8 requests keep 40 a
/// second going, well above the 15 a second of PagerDuty's 900 a minute.
pub const DEFAULT_MAX_CONCURRENCY: u32 = 8;
/// The most requests in flight that `maxConcurrency` allows.
pub const MAX_CONCURRENCY: u32 = 32;

/// A checked configuration.
#[derive(Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Config {
    /// REST API key (account-level or user-level). Secret: never printed.
    pub api_token: String,
    /// API root, e.g. `https://api.eu.pagerduty.com` for EU accounts.
    #[serde(default = "default_base_url")]
    pub api_base_url: String,
    /// Client-side ceiling on requests per rolling minute.
    #[serde(default = "default_rpm")]
    pub max_requests_per_minute: u32,
    /// Requests in flight at once.
    #[serde(default = "default_concurrency")]
    pub max_concurrency: u32,
    /// `limit` of every list request.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Only incidents (and their log entries) of these services; all when absent.
    #[serde(default)]
    pub service_ids: Option<Vec<String>>,
}

// A hand-written Debug so that the token can never reach a log through `{:?}`.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("api_token", &"***")
            .field("api_base_url", &self.api_base_url)
            .field("max_requests_per_minute", &self.max_requests_per_minute)
            .field("max_concurrency", &self.max_concurrency)
            .field("page_size", &self.page_size)
            .field("service_ids", &self.service_ids)
            .finish()
    }
}

fn default_base_url() -> String {
    DEFAULT_BASE_URL.to_owned()
}

fn default_rpm() -> u32 {
    DEFAULT_MAX_REQUESTS_PER_MINUTE
}

fn default_concurrency() -> u32 {
    DEFAULT_MAX_CONCURRENCY
}

fn default_page_size() -> u32 {
    MAX_PAGE_SIZE
}

/// The JSON Schema of the configuration, as published by `spec`.
pub fn schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "PagerDuty connector configuration",
        "type": "object",
        "required": ["apiToken"],
        "additionalProperties": false,
        "properties": {
            "apiToken": {
                "type": "string", "minLength": 1, "writeOnly": true,
                "description": "PagerDuty REST API key: an account-level key or a user-level key (read-only is enough)."
            },
            "apiBaseUrl": {
                "type": "string", "format": "uri", "pattern": "^https?://", "default": DEFAULT_BASE_URL,
                "description": "API root: https://api.pagerduty.com, or https://api.eu.pagerduty.com for EU accounts."
            },
            "maxRequestsPerMinute": {
                "type": "integer", "minimum": 1, "maximum": 10000, "default": DEFAULT_MAX_REQUESTS_PER_MINUTE,
                "description": "Client-side ceiling on API requests per rolling minute. Whatever it says, the connector also paces itself by PagerDuty's ratelimit-* headers, which count every client of the token."
            },
            "maxConcurrency": {
                "type": "integer", "minimum": 1, "maximum": MAX_CONCURRENCY, "default": DEFAULT_MAX_CONCURRENCY,
                "description": "Requests in flight at once (pages, windows and lists are fetched in parallel within the rate limit). 1 fetches one page after the other."
            },
            "pageSize": {
                "type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE, "default": MAX_PAGE_SIZE,
                "description": "Items per list request (PagerDuty's maximum is 100; smaller means more requests)."
            },
            "serviceIds": {
                "type": "array", "items": {"type": "string", "minLength": 1}, "uniqueItems": true,
                "description": "Only sync incidents and log entries of these service ids; all services when absent."
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_fill_in_and_unknown_keys_are_refused() {
        let config: Config = serde_json::from_value(json!({"apiToken": "abcd"})).unwrap();
        assert_eq!(config.api_base_url, DEFAULT_BASE_URL);
        assert_eq!((config.max_requests_per_minute, config.page_size, config.max_concurrency), (900, 100, 8));
        assert!(serde_json::from_value::<Config>(json!({"apiToken": "abcd", "pagesize": 5})).is_err());
    }

    #[test]
    fn the_schema_compiles_and_marks_the_token_secret() {
        let schema = schema();
        connector_sdk::protocol::registry::compile_schema(&schema).unwrap();
        assert_eq!(schema["properties"]["apiToken"]["writeOnly"], true);
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn debug_never_shows_the_token() {
        let config: Config = serde_json::from_value(json!({"apiToken": "s3cr3t-token"})).unwrap();
        assert!(!format!("{config:?}").contains("s3cr3t"));
    }
}
