//! Rule 7: spec, verify and discover.

use crate::util::{fake, stderr_of, stdout_of, Sandbox};

#[test]
fn spec_prints_the_connectors_spec() {
    let sandbox = Sandbox::new();
    let output = sandbox.runner(&["spec", &fake()]).output().unwrap();
    assert!(output.status.success());
    let spec: serde_json::Value = serde_json::from_str(&stdout_of(&output)).unwrap();
    assert_eq!(spec["name"], "fake");
    assert_eq!(spec["record_types"], serde_json::json!(["Team"]));
}

#[test]
fn verify_exits_0_for_a_valid_config_and_1_with_the_reasons_otherwise() {
    let sandbox = Sandbox::new();
    let valid = sandbox.write("valid.json", r#"{"mode":"ok"}"#);
    let output = sandbox.runner(&["verify", &fake(), &valid]).output().unwrap();
    assert!(output.status.success());
    assert!(stdout_of(&output).contains("the configuration is valid"));

    let invalid = sandbox.write("invalid.json", r#"{"mode":"bad-config"}"#);
    let output = sandbox.runner(&["verify-configuration", &fake(), &invalid]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stdout = stdout_of(&output);
    assert!(stdout.contains("not valid:\n  - token must be present\n  - mode is unknown\n"), "{stdout}");

    let output = sandbox.runner(&["verify", &fake(), &invalid, "--json"]).output().unwrap();
    let answer: serde_json::Value = serde_json::from_str(&stdout_of(&output)).unwrap();
    assert_eq!(answer["valid"], false);
}

#[test]
fn discover_prints_a_table_or_json_lines() {
    let sandbox = Sandbox::new();
    let config = sandbox.config(r#"{"mode":"ok","streams":2}"#);
    let output = sandbox.runner(&["discover", &fake(), &config]).output().unwrap();
    assert!(output.status.success(), "{}", stderr_of(&output));
    assert_eq!(
        stdout_of(&output),
        "id  name        self\ns1  Stream one  https://example.test/s1\ns2  Stream two  https://example.test/s2\n"
    );
    let output = sandbox.runner(&["discover-streams", &fake(), &config, "--json"]).output().unwrap();
    let lines: Vec<serde_json::Value> =
        stdout_of(&output).lines().map(|line| serde_json::from_str(line).unwrap()).collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["_type"], "Stream");
    assert_eq!(lines[1]["id"], "s2");
}

#[test]
fn every_command_has_help() {
    // The commands as `runner --help` lists them, so a new one is covered as it is added.
    let sandbox = Sandbox::new();
    let output = sandbox.runner(&["--help"]).output().unwrap();
    assert!(output.status.success(), "{output:?}");
    let commands = listed_commands(&stdout_of(&output));
    let known = ["spec", "verify", "discover", "sync", "sync-all", "test-connector", "new", "demo"];
    for command in known {
        assert!(commands.iter().any(|c| c == command), "`{command}` is missing from runner --help: {commands:?}");
    }
    for command in &commands {
        let output = sandbox.runner(&[command, "--help"]).output().unwrap();
        assert!(output.status.success(), "{command} --help: {output:?}");
        let usage = format!("Usage: runner {command} ");
        assert!(stdout_of(&output).contains(&usage), "{command} --help: {}", stdout_of(&output));
    }
}

/// The names of the `Commands:` section of a clap help text, without clap's own `help`.
fn listed_commands(help: &str) -> Vec<String> {
    let section = help.split_once("\nCommands:\n").map_or("", |(_, rest)| rest);
    section
        .lines()
        .take_while(|line| !line.trim().is_empty())
        // A name is indented by two spaces; a wrapped description by many more.
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}
