//! The `verify.*` checks: the given configuration is valid; `{}` and a configuration with
//! one wrongly typed value are answered valid=false with a reason, and exit 0 (an invalid
//! configuration is an answer, not a crash).

use serde_json::{json, Value};

use protocol::{ConnectorMessage, Verification};

use engine::connector::stdin_for;

use super::check::{self, verdict, Check, Problem};
use super::exec::{Executor, Run};

/// Runs `verify` three times: the given, an empty and a wrongly typed configuration.
/// `config_schema` is `None` when there is no usable spec.
pub fn checks(executor: &mut Executor<'_>, config: &Value, config_schema: Option<&Value>) -> Vec<Check> {
    let given = answer(executor, "verify", config).and_then(|(line, v)| match v.valid {
        true => Ok("valid=true".to_owned()),
        false => Err(Problem::at(line, format!("valid=false for the given configuration: {}", v.errors.join("; ")))),
    });
    let empty = expect_invalid(answer(executor, "verify (empty config)", &json!({})));
    let wrong = match config_schema.map(|schema| wrong_value(config, schema)) {
        None => Check::skip(check::VERIFY_WRONG_VALUE_INVALID, "no usable spec (see spec.single_message)"),
        Some(Err(reason)) => Check::skip(check::VERIFY_WRONG_VALUE_INVALID, reason),
        Some(Ok((key, wrong))) => {
            let mut changed = config.clone();
            changed[key.as_str()] = wrong.clone();
            let outcome = expect_invalid(answer(executor, "verify (wrong value)", &changed));
            verdict(check::VERIFY_WRONG_VALUE_INVALID, outcome.map(|r| format!("`{key}` set to {wrong}: {r}")))
        }
    };
    vec![verdict(check::VERIFY_VALID_CONFIG, given), verdict(check::VERIFY_EMPTY_CONFIG_INVALID, empty), wrong]
}

/// Runs `verify` with `config`; the one verification and its line, or what went wrong.
fn answer(executor: &mut Executor<'_>, label: &str, config: &Value) -> Result<(u64, Verification), Problem> {
    let transcript = executor.run(Run::new(label, "verify", Some(stdin_for(config, None))));
    if let Some(problem) = transcript.problem() {
        return Err(problem);
    }
    let mut answers = transcript.messages.into_iter().filter_map(|(line, m)| match m {
        ConnectorMessage::Verification(v) => Some((line, v)),
        _ => None,
    });
    match (answers.next(), answers.next()) {
        (Some(answer), None) => Ok(answer),
        (None, _) => Err(Problem::new(format!("{label}: expected exactly one verification message, got none"))),
        (Some(_), Some((line, _))) => {
            Err(Problem::at(line, format!("{label}: expected exactly one verification message, got several")))
        }
    }
}

fn expect_invalid(answer: Result<(u64, Verification), Problem>) -> Result<String, Problem> {
    let (line, verification) = answer?;
    match (verification.valid, verification.errors.is_empty()) {
        (true, _) => Err(Problem::at(line, "answered valid=true, expected valid=false")),
        (false, true) => Err(Problem::at(line, "answered valid=false without any error message")),
        (false, false) => Ok(format!("valid=false: {}", verification.errors.join("; "))),
    }
}

/// The first property of `config` (keys in sorted order) and a value of a JSON type its
/// schema does not allow.
///
/// # Errors
/// Why no such value can be derived: an empty configuration, or no declared `type`.
pub fn wrong_value(config: &Value, schema: &Value) -> Result<(String, Value), String> {
    let (key, _) = config
        .as_object()
        .and_then(|object| object.iter().next())
        .ok_or("the given configuration has no property to change")?;
    let declared = match schema.pointer(&format!("/properties/{}/type", key.replace('~', "~0").replace('/', "~1"))) {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(types)) => types.iter().filter_map(Value::as_str).collect(),
        _ => return Err(format!("config_schema declares no type for `{key}`, so no wrong value can be derived")),
    };
    let allows = |t: &str| declared.contains(&t) || (t == "integer" && declared.contains(&"number"));
    let candidates = [
        ("integer", json!(12345)),
        ("string", json!("kit: a value of the wrong type")),
        ("boolean", json!(true)),
        ("array", json!([])),
        ("object", json!({})),
        ("null", Value::Null),
    ];
    candidates
        .into_iter()
        .find(|(t, _)| !allows(t))
        .map(|(_, value)| (key.clone(), value))
        .ok_or_else(|| format!("config_schema allows every JSON type for `{key}`"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({"properties":{
            "apiBaseUrl":{"type":"string"},"count":{"type":"number"},"any":{},"both":{"type":["integer","string"]}
        }})
    }

    #[test]
    fn the_first_property_gets_a_value_of_another_type() {
        let got = wrong_value(&json!({"apiToken":"x","apiBaseUrl":"https://x"}), &schema()).unwrap();
        assert_eq!(got, ("apiBaseUrl".to_owned(), json!(12345)));
        assert_eq!(wrong_value(&json!({"count": 3}), &schema()).unwrap().1, json!("kit: a value of the wrong type"));
        assert_eq!(wrong_value(&json!({"both": 3}), &schema()).unwrap().1, json!(true));
    }

    #[test]
    fn nothing_to_derive_is_a_reason_to_skip() {
        assert!(wrong_value(&json!({}), &schema()).unwrap_err().contains("no property"));
        assert!(wrong_value(&json!({"any": 1}), &schema()).unwrap_err().contains("declares no type"));
    }

    #[test]
    fn invalid_answers_need_a_reason() {
        assert!(expect_invalid(Ok((1, Verification::invalid(["apiToken must be present"])))).is_ok());
        assert!(expect_invalid(Ok((1, Verification::invalid(Vec::<String>::new())))).is_err());
        assert_eq!(expect_invalid(Ok((4, Verification::valid()))).unwrap_err().line, Some(4));
    }
}
