//! Connector-declared record types (`record_schemas` in the spec), end to end: a Python
//! connector written with `connector_protocol.py` declares `AcmeWidget`, and the runner
//! validates, stores, rejects and refuses through the real binary. Storage in every
//! destination is in the destination conformance suite
//! (`declared_records_are_stored_like_any_other`).

use crate::util::{self, stderr_of, workspace_root, Sandbox};

/// `runner/tests/fixtures/widget-connector.py`.
pub fn widget_connector() -> String {
    workspace_root().join("runner/tests/fixtures/widget-connector.py").display().to_string()
}

/// `runner -q sync widget-connector c.json s1 2026-01-01 ARGS` with `config`, the spec
/// declaring `declares` instead of AcmeWidget when given.
fn sync(sandbox: &Sandbox, config: &str, declares: Option<&str>, extra: &[&str]) -> std::process::Output {
    sync_declaring_on("spec", sandbox, config, declares, extra)
}

/// [`sync`], the type declared `on` the spec, the stream or both (`WIDGET_DECLARE_ON`).
fn sync_declaring_on(
    on: &str,
    sandbox: &Sandbox,
    config: &str,
    declares: Option<&str>,
    extra: &[&str],
) -> std::process::Output {
    let config = sandbox.config(config);
    let connector = widget_connector();
    let mut args = vec!["-q", "sync", connector.as_str(), config.as_str(), "s1", "2026-01-01"];
    args.extend_from_slice(extra);
    let mut command = sandbox.runner(&args);
    command.env("WIDGET_DECLARE_ON", on);
    if let Some(declares) = declares {
        command.env("WIDGET_DECLARES", declares);
    }
    command.output().unwrap()
}

#[test]
fn a_declared_type_syncs_with_its_records_validated_and_stored() {
    let sandbox = Sandbox::new();
    let output = sync(&sandbox, r#"{"widgets": 3}"#, None, &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    let widgets = sandbox.strings("SELECT id FROM records WHERE type = 'AcmeWidget' ORDER BY id");
    assert_eq!(widgets, ["w1", "w2", "w3"]);
    assert_eq!(sandbox.count("SELECT count(*) FROM records WHERE type = 'Team'"), 1, "shared types beside it");
    let sprockets =
        sandbox.strings("SELECT CAST(json_extract(json, '$.sprockets') AS TEXT) FROM records WHERE id = 'w2'");
    assert_eq!(sprockets, ["2"], "stored as sent");
}

#[test]
fn an_invalid_declared_record_is_rejected_with_its_field_named() {
    let sandbox = Sandbox::new();
    let output = sync(&sandbox, r#"{"invalid": "w2"}"#, None, &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("record AcmeWidget `w2` does not match its schema: at /sprockets:"), "{stderr}");

    let output = sync(&sandbox, r#"{"invalid": "w2"}"#, None, &["--skip-invalid"]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(sandbox.strings("SELECT id FROM records WHERE type = 'AcmeWidget' ORDER BY id"), ["w1", "w3"]);
    let errors = sandbox.strings("SELECT errors FROM rejected_records WHERE type = 'AcmeWidget' AND id = 'w2'");
    assert!(errors.len() == 1 && errors[0].contains("/sprockets"), "{errors:?}");
}

#[test]
fn a_declared_schema_that_redefines_incident_is_refused_by_name() {
    let sandbox = Sandbox::new();
    let output = sync(&sandbox, "{}", Some("Incident"), &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("sent an unusable spec: record_schemas declares `Incident`, a shared type"), "{stderr}");
    assert!(
        !sandbox.path("runner.db").exists() || sandbox.count("SELECT count(*) FROM records") == 0,
        "nothing synced"
    );

    let spec = sandbox.runner(&["spec", &widget_connector()]).env("WIDGET_DECLARES", "Incident").output().unwrap();
    assert_eq!(spec.status.code(), Some(1), "`runner spec` refuses it too");
    assert!(stderr_of(&spec).contains("`Incident`, a shared type"), "{}", stderr_of(&spec));
}

#[test]
fn a_declared_type_that_is_not_a_type_name_is_refused_by_name() {
    let sandbox = Sandbox::new();
    let output = sync(&sandbox, "{}", Some("acme_widget"), &[]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr_of(&output).contains("record_schemas declares `acme_widget`: a type name is"),
        "{}",
        stderr_of(&output)
    );
}

#[test]
fn the_kit_checks_declared_schemas_and_validates_declared_records() {
    let sandbox = Sandbox::new();
    let config = sandbox.config("{}");
    let (report, code) = util::kit(sandbox.dir.path(), &[&widget_connector(), &config]);
    assert_eq!(util::status(&report, "spec.record_schemas_valid"), "pass", "{report:#}");
    assert!(util::check(&report, "spec.record_schemas_valid")["reason"].as_str().unwrap().contains("AcmeWidget"));
    assert_eq!(util::status(&report, "sync.records_valid"), "pass", "{report:#}");
    assert!(!util::failed(&report).contains(&"spec.record_schemas_valid".to_owned()), "{code}");

    let invalid = sandbox.write("invalid.json", r#"{"invalid": "w1"}"#);
    let (report, _) = util::kit(sandbox.dir.path(), &[&widget_connector(), &invalid]);
    let records = util::check(&report, "sync.records_valid");
    assert_eq!(records["status"], "fail", "{report:#}");
    assert!(records["reason"].as_str().unwrap().contains("/sprockets"), "{records}");
}

/// The kit's JSON report of the widget connector with `config`, under `env`.
fn kit_report(sandbox: &Sandbox, config: &str, env: &[(&str, &str)]) -> serde_json::Value {
    let mut command = sandbox.runner(&["--json", "test-connector", &widget_connector(), config]);
    command.env("NO_COLOR", "1").envs(env.iter().copied());
    serde_json::from_slice(&command.output().unwrap().stdout).unwrap()
}

#[test]
fn the_kit_fails_a_declared_schema_that_redefines_a_shared_type() {
    let sandbox = Sandbox::new();
    let report = kit_report(&sandbox, &sandbox.config("{}"), &[("WIDGET_DECLARES", "Incident")]);
    let check = util::check(&report, "spec.record_schemas_valid");
    assert_eq!(check["status"], "fail", "{report:#}");
    assert!(check["reason"].as_str().unwrap().contains("`Incident`, a shared type"), "{check}");
}

#[test]
fn a_type_declared_on_the_stream_is_validated_and_stored_like_a_spec_s() {
    let sandbox = Sandbox::new();
    let output = sync_declaring_on("stream", &sandbox, r#"{"widgets": 2}"#, None, &[]);
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(sandbox.strings("SELECT id FROM records WHERE type = 'AcmeWidget' ORDER BY id"), ["w1", "w2"]);

    let output = sync_declaring_on("stream", &sandbox, r#"{"invalid": "w2"}"#, None, &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("record AcmeWidget `w2` does not match its schema: at /sprockets:"), "{stderr}");
}

#[test]
fn a_stream_declaring_a_shared_type_or_the_spec_s_is_refused_by_name() {
    let sandbox = Sandbox::new();
    let output = sync_declaring_on("stream", &sandbox, "{}", Some("Incident"), &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("cannot sync stream `s1`: record_schemas declares `Incident`, a shared type"), "{stderr}");
    assert!(stderr.contains("fix `recordSchemas` of the Stream `s1`"), "{stderr}");

    let output = sync_declaring_on("both", &sandbox, "{}", None, &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = stderr_of(&output);
    assert!(stderr.contains("stream `s1` declares `AcmeWidget` in recordSchemas, which the spec's"), "{stderr}");
    assert!(
        !sandbox.path("runner.db").exists() || sandbox.count("SELECT count(*) FROM records") == 0,
        "nothing synced"
    );
}

#[test]
fn the_kit_validates_records_of_a_type_the_stream_declares() {
    let sandbox = Sandbox::new();
    let invalid = sandbox.write("invalid.json", r#"{"invalid": "w1"}"#);
    let kit = |on: &str, config: &str| kit_report(&sandbox, config, &[("WIDGET_DECLARE_ON", on)]);
    let report = kit("stream", &sandbox.config("{}"));
    assert_eq!(util::status(&report, "discover.streams"), "pass", "{report:#}");
    assert_eq!(util::status(&report, "sync.records_valid"), "pass", "{report:#}");

    let records = util::check(&kit("stream", &invalid), "sync.records_valid").clone();
    assert_eq!(records["status"], "fail", "{records}");
    assert!(records["reason"].as_str().unwrap().contains("/sprockets"), "{records}");

    let discover = util::check(&kit("both", &invalid), "discover.streams").clone();
    assert_eq!(discover["status"], "fail", "{discover}");
    assert!(
        discover["reason"].as_str().unwrap().contains("unusable recordSchemas: stream `s1` declares"),
        "{discover}"
    );
}
