//! Finding secrets in a connector's raw output: the values of the configuration's
//! `writeOnly` fields, as written and as they look inside a JSON string, and where each
//! was seen (command, stream, line). The kit masks them in everything it prints.

use std::borrow::Cow;
use std::fmt;

use serde_json::Value;

use protocol::Redactor;

/// The secrets of one configuration, ready to be searched for and masked.
#[derive(Debug, Clone, Default)]
pub struct Scanner {
    redactor: Redactor,
}

impl Scanner {
    /// The `writeOnly` values of `config` under `config_schema`, plus their JSON-escaped
    /// form (a secret holding `"` or `\` looks different inside a JSON line).
    pub fn new(config_schema: &Value, config: &Value) -> Self {
        let secrets = protocol::secrets::secret_values(config_schema, config);
        let escaped: Vec<String> = secrets.iter().map(|s| json_escaped(s)).collect();
        Scanner { redactor: Redactor::new(secrets.into_iter().chain(escaped)) }
    }

    /// Whether there is no secret to look for.
    pub fn is_empty(&self) -> bool {
        self.redactor.is_empty()
    }

    /// Whether `text` holds a secret.
    pub fn leaks(&self, text: &str) -> bool {
        self.redactor.leaks(text)
    }

    /// `text` with the secrets masked.
    pub fn mask<'a>(&self, text: &'a str) -> Cow<'a, str> {
        self.redactor.redact(text)
    }
}

fn json_escaped(secret: &str) -> String {
    let quoted = serde_json::to_string(secret).unwrap_or_default();
    quoted.trim_matches('"').to_owned()
}

/// Where a secret was seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leak {
    /// The kit's label for the run, e.g. `sync` or `verify (empty config)`.
    pub command: String,
    /// `stdout` or `stderr`.
    pub stream: &'static str,
    /// The line in that stream.
    pub line: u64,
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} line {}", self.command, self.stream, self.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({"type":"object","properties":{"apiToken":{"type":"string","writeOnly":true},"url":{"type":"string"}}})
    }

    #[test]
    fn finds_raw_and_json_escaped_secrets_and_masks_them() {
        let scanner = Scanner::new(&schema(), &json!({"apiToken":"ab\"cd-123","url":"https://x"}));
        assert!(scanner.leaks("token=ab\"cd-123"));
        assert!(scanner.leaks(r#"{"message":"token ab\"cd-123"}"#));
        assert!(!scanner.leaks("https://x"));
        assert_eq!(scanner.mask("token=ab\"cd-123!"), "token=***!");
    }

    #[test]
    fn a_config_without_secrets_gives_an_empty_scanner() {
        assert!(Scanner::new(&schema(), &json!({"url":"https://x"})).is_empty());
    }
}
