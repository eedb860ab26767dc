//! The `spec.*` checks: one valid spec message, a compilable `config_schema`, the given
//! configuration valid under it, secret-looking properties marked `writeOnly`, and
//! declared record types (`record_schemas`) the runner accepts; the latter then validate
//! the records of the kit's syncs.

use serde_json::Value;

use protocol::registry::{compile_schema, violations};
use protocol::{ConnectorMessage, SchemaRegistry, Spec, PROTOCOL_VERSION};

use super::check::{self, verdict, Check, Problem};
use super::exec::{Executor, Run};

/// Words that make a property look secret (matched case-insensitively in its name).
const SECRET_WORDS: [&str; 4] = ["token", "password", "secret", "key"];

/// Runs `spec` and the five `spec.*` checks; returns the spec when there is exactly one.
/// From then on the executor validates records with the spec's declared types, if the
/// runner accepts them.
pub fn checks(executor: &mut Executor<'_>, config: &Value) -> (Vec<Check>, Option<Spec>) {
    let transcript = executor.run(Run::new("spec", "spec", None));
    let specs: Vec<(u64, &Spec)> = transcript
        .messages
        .iter()
        .filter_map(|(line, m)| match m {
            ConnectorMessage::Spec(spec) => Some((*line, spec)),
            _ => None,
        })
        .collect();
    let single = match (transcript.problem(), specs.as_slice()) {
        (Some(problem), _) => Err(problem),
        (None, [(line, spec)]) if spec.protocol != PROTOCOL_VERSION => Err(Problem::at(
            *line,
            format!("the spec says protocol {}, the kit speaks {PROTOCOL_VERSION}", spec.protocol),
        )),
        (None, [(_, spec)]) => {
            Ok(format!("{} {}, record types: {}", spec.name, spec.version, spec.record_types.join(", ")))
        }
        (None, many) => Err(Problem::new(format!("expected exactly one spec message, got {}", many.len()))
            .with_line(many.get(1).map(|(line, _)| *line))),
    };
    let spec = single.is_ok().then(|| specs[0].1.clone());
    let mut checks = vec![verdict(check::SPEC_SINGLE_MESSAGE, single)];
    match &spec {
        Some(spec) => {
            checks.extend(schema_checks(&spec.config_schema, config));
            checks.push(declared_check(executor, spec));
        }
        None => {
            let reason = "no usable spec message (see spec.single_message)";
            checks.extend(
                [
                    check::SPEC_CONFIG_SCHEMA_VALID,
                    check::SPEC_CONFIG_MATCHES_SCHEMA,
                    check::SPEC_SECRETS_WRITE_ONLY,
                    check::SPEC_RECORD_SCHEMAS_VALID,
                ]
                .map(|name| Check::skip(name, reason)),
            );
        }
    }
    (checks, spec)
}

/// `spec.record_schemas_valid`: the runner's own verdict on the declared types
/// ([`SchemaRegistry::with_declared`]), so the kit refuses exactly what a sync would.
fn declared_check(executor: &mut Executor<'_>, spec: &Spec) -> Check {
    let name = check::SPEC_RECORD_SCHEMAS_VALID;
    if spec.record_schemas.is_empty() {
        return Check::pass(name, "no declared record types: every record must have a shared schema");
    }
    match SchemaRegistry::global().with_declared(&spec.record_schemas) {
        Err(refused) => Check::fail(name, refused.to_string()),
        Ok(schemas) => {
            executor.set_schemas(&spec.record_schemas, schemas);
            let types: Vec<&str> = spec.record_schemas.keys().map(String::as_str).collect();
            let unlisted: Vec<&str> =
                types.iter().copied().filter(|t| !spec.record_types.iter().any(|listed| listed == t)).collect();
            let mut reason = format!("declares {}; each compiles and requires _type and id", types.join(", "));
            if !unlisted.is_empty() {
                reason.push_str(&format!(" (note: not listed in record_types: {})", unlisted.join(", ")));
            }
            Check::pass(name, reason)
        }
    }
}

fn schema_checks(schema: &Value, config: &Value) -> Vec<Check> {
    let compiled = compile_schema(schema);
    let matches = match &compiled {
        Err(_) => Check::skip(check::SPEC_CONFIG_MATCHES_SCHEMA, "config_schema does not compile"),
        Ok(validator) => {
            let found = violations(validator, config);
            if found.is_empty() {
                Check::pass(check::SPEC_CONFIG_MATCHES_SCHEMA, "the given configuration is valid")
            } else {
                let list = found.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
                Check::fail(check::SPEC_CONFIG_MATCHES_SCHEMA, format!("the given configuration is not: {list}"))
            }
        }
    };
    let valid = match compiled {
        Ok(_) => Check::pass(check::SPEC_CONFIG_SCHEMA_VALID, "a valid JSON Schema (draft 2020-12)"),
        Err(reason) => Check::fail(check::SPEC_CONFIG_SCHEMA_VALID, format!("not a valid JSON Schema: {reason}")),
    };
    let unmarked = unmarked_secrets(schema, "");
    let write_only = if unmarked.is_empty() {
        Check::pass(check::SPEC_SECRETS_WRITE_ONLY, "every secret-looking property is writeOnly")
    } else {
        Check::fail(
            check::SPEC_SECRETS_WRITE_ONLY,
            format!("secret-looking properties without \"writeOnly\": true: {}", unmarked.join(", ")),
        )
    };
    vec![valid, matches, write_only]
}

/// JSON pointers of string properties (at any depth) whose name contains a secret word
/// but that are not marked `writeOnly`.
fn unmarked_secrets(schema: &Value, at: &str) -> Vec<String> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return Vec::new() };
    let mut found = Vec::new();
    for (name, property) in properties {
        let path = format!("{at}/{name}");
        if looks_secret(name) && may_be_string(property) && property.get("writeOnly") != Some(&Value::Bool(true)) {
            found.push(path.clone());
        }
        found.extend(unmarked_secrets(property, &path));
    }
    found
}

fn looks_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|word| lower.contains(word))
}

/// A property with no `type`, or one that allows `string` (a number named `maxTokens` is no secret).
fn may_be_string(property: &Value) -> bool {
    match property.get("type") {
        None => true,
        Some(Value::String(t)) => t == "string",
        Some(Value::Array(types)) => types.iter().any(|t| t == "string"),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kit::check::Status;
    use serde_json::json;

    #[test]
    fn secret_looking_string_properties_must_be_write_only() {
        let schema = json!({"type":"object","properties":{
            "apiToken":{"type":"string","writeOnly":true},
            "password":{"type":"string"},
            "maxTokens":{"type":"integer"},
            "oauth":{"type":"object","properties":{"clientSecret":{}}}
        }});
        assert_eq!(unmarked_secrets(&schema, ""), ["/oauth/clientSecret", "/password"]);
    }

    #[test]
    fn schema_checks_report_compile_errors_and_config_violations() {
        let checks = schema_checks(&json!({"type": 12}), &json!({}));
        assert_eq!(checks[0].status, Status::Fail);
        assert_eq!(checks[1].status, Status::Skip);
        let schema = json!({"type":"object","required":["apiToken"],"properties":{"apiToken":{"type":"string","writeOnly":true}}});
        let checks = schema_checks(&schema, &json!({"apiToken": 5}));
        assert_eq!(checks.iter().map(|c| c.status).collect::<Vec<_>>(), [Status::Pass, Status::Fail, Status::Pass]);
        assert!(checks[1].reason.contains("/apiToken"), "{}", checks[1].reason);
        assert!(!checks[1].reason.contains('5'), "values are masked: {}", checks[1].reason);
    }
}
