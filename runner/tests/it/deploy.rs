//! deploy/: the Kubernetes manifests validate offline against a pinned Kubernetes version
//! (`kubernetes-validate` from PyPI, installed by `.ci/run` into its virtual environment),
//! the commands they run are commands the runner accepts, the ConfigMap's connections
//! apply to a real database, and the Dockerfile copies and builds what exists.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::util::{runner, workspace_root};

/// The Kubernetes version the manifests are checked against (the oldest we support).
const KUBERNETES: &str = "1.34.0";

fn manifests() -> Vec<PathBuf> {
    let dir = workspace_root().join("deploy/kubernetes");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

/// `kubernetes-validate`: `$KUBERNETES_VALIDATE`, else on PATH. `None` (said loudly)
/// outside CI when it is not installed.
fn validator(test: &str) -> Option<PathBuf> {
    let program =
        std::env::var_os("KUBERNETES_VALIDATE").map_or_else(|| PathBuf::from("kubernetes-validate"), PathBuf::from);
    if Command::new(&program).arg("--version").output().is_ok_and(|o| o.status.success()) {
        return Some(program);
    }
    let how = "pip install kubernetes-validate==1.34.1 (.ci/run does, into its virtual environment)";
    assert!(std::env::var_os("CI").is_none(), "{test}: kubernetes-validate is required in CI: {how}");
    eprintln!("SKIPPED {test}: kubernetes-validate is not installed; {how}");
    None
}

fn validate(program: &Path, files: &[PathBuf]) -> std::process::Output {
    Command::new(program).args(["--strict", "-k", KUBERNETES]).args(files).output().unwrap()
}

#[test]
fn the_manifests_validate_strictly_against_the_pinned_kubernetes_version() {
    let Some(program) = validator("the_manifests_validate") else { return };
    let files = manifests();
    let output = validate(&program, &files);
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "{text}");
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy();
        assert!(text.contains(&format!("{name} passed")), "{name} was not checked: {text}");
    }
    // The validator does refuse: a field Kubernetes does not have.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    let deployment =
        std::fs::read_to_string(workspace_root().join("deploy/kubernetes/worker-deployment.yaml")).unwrap();
    std::fs::write(&bad, deployment.replace("terminationGracePeriodSeconds:", "terminationGracePeriod:")).unwrap();
    assert!(!validate(&program, &[bad]).status.success(), "a misspelt field is refused");
}

/// The `args: [...]` lines of a manifest (written as JSON arrays on purpose).
fn args_of(manifest: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(manifest).unwrap();
    text.lines()
        .filter_map(|line| line.trim().strip_prefix("args: "))
        .map(|array| serde_json::from_str(array).unwrap_or_else(|e| panic!("{}: {array}: {e}", manifest.display())))
        .collect()
}

#[test]
fn every_command_in_the_manifests_is_one_the_runner_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let mut seen = 0;
    for manifest in manifests() {
        for args in args_of(&manifest) {
            // `--help` after the arguments: clap refuses an unknown flag or a bad value first.
            let mut with_help: Vec<&str> = args.iter().map(String::as_str).collect();
            with_help.push("--help");
            let output = runner(dir.path(), &with_help).output().unwrap();
            assert!(
                output.status.success(),
                "{}: {args:?}: {}",
                manifest.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            seen += 1;
        }
    }
    assert_eq!(seen, 3, "the apply Job, the Deployment and the CronJob");
}

#[test]
fn the_grace_period_outlasts_the_runners_own_and_the_cronjob_never_overlaps() {
    let number_after = |text: &str, key: &str| -> u64 {
        let at = text.find(key).unwrap_or_else(|| panic!("no {key}")) + key.len();
        text[at..].trim_start().split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
    };
    let deployment =
        std::fs::read_to_string(workspace_root().join("deploy/kubernetes/worker-deployment.yaml")).unwrap();
    let grace = args_of(&workspace_root().join("deploy/kubernetes/worker-deployment.yaml"))[0]
        .windows(2)
        .find(|pair| pair[0] == "--grace")
        .map(|pair| pair[1].parse::<u64>().unwrap())
        .expect("the worker's --grace is explicit");
    let period = number_after(&deployment, "terminationGracePeriodSeconds:");
    assert!(period >= grace + 20, "{period} s for a {grace} s grace, the last commit and the release");
    let cronjob = std::fs::read_to_string(workspace_root().join("deploy/kubernetes/worker-cronjob.yaml")).unwrap();
    assert!(cronjob.contains("concurrencyPolicy: Forbid"));
    assert!(args_of(&workspace_root().join("deploy/kubernetes/worker-cronjob.yaml"))[0]
        .contains(&"--until-idle".to_owned()));
}

#[test]
fn deployed_workers_stop_a_silent_connector_rather_than_hold_its_lease_forever() {
    for manifest in ["worker-deployment.yaml", "worker-cronjob.yaml"] {
        let args = &args_of(&workspace_root().join("deploy/kubernetes").join(manifest))[0];
        let idle = args.windows(2).find(|pair| pair[0] == "--idle-timeout").map(|pair| pair[1].parse::<u64>());
        assert!(matches!(idle, Some(Ok(60..=7200))), "{manifest}: {args:?}");
    }
}

#[test]
fn the_configmaps_connections_apply_to_a_real_database_with_the_token_left_a_reference() {
    let Some(cluster) = throwaway_postgres::require("deploy_connections_apply") else { return };
    cluster.create_database("deploy_apply").unwrap();
    let configmap = std::fs::read_to_string(workspace_root().join("deploy/kubernetes/connections.yaml")).unwrap();
    let (_, block) = configmap.split_once("connections.toml: |\n").expect("the ConfigMap holds connections.toml");
    let toml: String = block.lines().map(|line| format!("{}\n", line.strip_prefix("    ").unwrap_or(line))).collect();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("connections.toml"), toml).unwrap();
    let output = runner(
        dir.path(),
        &["connections", "apply", "connections.toml", "--prune", "--db", &cluster.url("deploy_apply")],
    )
    .output()
    .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stored =
        cluster.psql("deploy_apply", "SELECT config::text FROM connections WHERE name = 'pagerduty-eu'").unwrap();
    let config: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(config["apiToken"], "${env:PD_EU_TOKEN}");
}

#[test]
fn the_dockerfile_copies_what_exists_and_builds_workspace_binaries() {
    let dockerfile = std::fs::read_to_string(workspace_root().join("deploy/Dockerfile")).unwrap();
    for line in dockerfile.lines().filter(|l| l.starts_with("COPY ") && !l.contains("--from=")) {
        let source = line.split_whitespace().nth(1).unwrap();
        assert!(workspace_root().join(source).exists(), "{line}: {source} does not exist");
    }
    let members = std::fs::read_to_string(workspace_root().join("Cargo.toml")).unwrap();
    let built: Vec<&str> =
        dockerfile.split(" -p ").skip(1).map(|rest| rest.split_whitespace().next().unwrap()).collect();
    assert_eq!(built, ["runner", "connector-pagerduty"]);
    for package in built {
        assert!(members.contains(&format!("\"{package}\"")), "{package} is not a workspace member");
        assert!(dockerfile.contains(&format!("target/release/{package}")), "{package}'s binary is not installed");
    }
    assert!(dockerfile.contains(r#"ENTRYPOINT ["/usr/bin/tini", "--", "runner"]"#));
    let ignore = std::fs::read_to_string(workspace_root().join("deploy/Dockerfile.dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l == "target/"), "the build context leaves target/ out");
}
