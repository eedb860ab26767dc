//! `runner new`, end to end: the real binary refuses bad slugs and existing directories
//! and creates nothing then; and for each of the four languages it generates a project
//! into a temporary directory whose own tests pass and which passes every check of
//! `runner test-connector`.
//!
//! The Rust project is built with `CARGO_TARGET_DIR=<workspace>/target/scaffold-test`: a
//! directory of its own, so the outer `cargo test` holds no lock on it, and a fixed one, so
//! a second run only recompiles the generated crate. Python 3, Node and cargo are required.

/// The slug of every generated project.
const SLUG: &str = "acme-cloud";

/// `runner new SLUG --lang LANGUAGE` in a fresh temporary directory: the directory,
/// the project's path and what the command printed.
fn generate(language: &str) -> (tempfile::TempDir, std::path::PathBuf, String) {
    let dir = tempfile::tempdir().unwrap();
    let printed = succeed("runner new", &mut runner(dir.path(), &["new", SLUG, "--lang", language]));
    let project = dir.path().join(format!("connector-{SLUG}"));
    (dir, project, printed)
}

/// Runs the conformance kit on `connector` from `project` and asserts that all its
/// checks pass (the secrets check included: the sample config has a writeOnly token).
fn assert_kit_passes(project: &std::path::Path, connector: &str) {
    let started = std::time::Instant::now();
    let (report, code) = kit(project, &[connector, "config.json", "--since", "2026-01-01"]);
    eprintln!("runner test-connector: {:.1} s", started.elapsed().as_secs_f64());
    assert_eq!(
        (code, &report["passed"], &report["failed"]),
        (0, &check_count(&report).into(), &0.into()),
        "{report:#}"
    );
    let records = check(&report, "sync.records_valid")["reason"].as_str().unwrap_or_default();
    assert!(records.contains("Incident: 5"), "{report:#}");
}

use crate::util::{check, check_count, kit, runner, succeed};

mod refusals {
    use assert_cmd::assert::OutputAssertExt;
    use predicates::str::contains;

    use crate::util::{entries, runner};

    #[test]
    fn a_bad_slug_is_refused_with_the_rule_and_nothing_is_created() {
        let dir = tempfile::tempdir().unwrap();
        let cases = [
            ("Foo_x", "connector slug `Foo_x` is invalid: use lowercase letters, digits and dashes, starting with a letter\nhint: `foo-x` would do"),
            ("9lives", "connector slug `9lives` is invalid: use lowercase letters"),
            ("connector-acme", "leave out `connector-`"),
        ];
        for (slug, message) in cases {
            runner(dir.path(), &["new", slug, "--lang", "shell"]).assert().code(2).stderr(contains(message));
        }
        assert!(entries(dir.path()).is_empty(), "{:?}", entries(dir.path()));
    }

    #[test]
    fn an_existing_directory_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let existing = dir.path().join("connectors/connector-acme");
        std::fs::create_dir_all(&existing).unwrap();
        std::fs::write(existing.join("notes.txt"), "mine").unwrap();
        runner(dir.path(), &["new", "acme", "--dir", "connectors"])
            .assert()
            .code(2)
            .stderr(contains("error: connectors/connector-acme already exists; refusing to overwrite it"));
        assert_eq!(entries(&dir.path().join("connectors")), ["connector-acme"], "no staging directory left");
        assert_eq!(entries(&existing), ["notes.txt"]);
    }

    #[test]
    fn a_missing_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        runner(dir.path(), &["new", "acme", "--dir", "nowhere"])
            .assert()
            .code(2)
            .stderr(contains("error: nowhere is not a directory"));
        assert!(entries(dir.path()).is_empty());
    }
}

mod languages {
    use std::process::Command;

    use super::{assert_kit_passes, generate, SLUG};
    use crate::util::{require, succeed, workspace_root};

    #[test]
    fn rust_builds_without_warnings_passes_its_tests_and_the_kit() {
        let (_dir, project, printed) = generate("rust");
        let manifest = std::fs::read_to_string(project.join("Cargo.toml")).unwrap();
        let sdk = workspace_root().join("connector-sdk").canonicalize().unwrap();
        assert!(manifest.contains(&format!("connector-sdk = {{ path = \"{}\" }}", sdk.display())), "{manifest}");
        assert!(project.join("Cargo.lock").is_file(), "the toolkit's Cargo.lock is copied");
        assert!(printed.contains("  cargo test\n"), "{printed}");
        let target = workspace_root().join("target/scaffold-test");
        let cargo = option_env!("CARGO").unwrap_or("cargo");
        let mut test = Command::new(cargo);
        test.args(["test", "--offline"]).current_dir(&project).env("CARGO_TARGET_DIR", &target);
        let output = succeed("cargo test (generated project)", &mut test);
        assert!(!output.contains("warning"), "the generated project builds without warnings:\n{output}");
        assert!(output.contains("test result: ok. 7 passed"), "the integration tests ran:\n{output}");
        succeed(
            "cargo fmt --check (generated project)",
            Command::new(cargo).args(["fmt", "--check"]).current_dir(&project),
        );
        let binary = target.join(format!("debug/connector-{SLUG}"));
        assert_kit_passes(&project, binary.to_str().unwrap());
    }

    #[test]
    fn python_passes_its_tests_and_the_kit() {
        require("python3", "Python 3.9 or newer");
        let (_dir, project, _) = generate("python");
        let output = succeed(
            "python3 -m unittest",
            Command::new("python3").args(["-m", "unittest", "-v"]).current_dir(&project),
        );
        assert!(output.contains("Ran 8 tests") && output.contains("OK"), "{output}");
        assert_kit_passes(&project, &format!("./connector-{SLUG}"));
    }

    #[test]
    fn node_passes_its_tests_and_the_kit() {
        require("node", "Node.js 18 or newer");
        let (_dir, project, _) = generate("node");
        let output = succeed("node --test", Command::new("node").arg("--test").current_dir(&project));
        assert!(output.contains("# pass 8") && output.contains("# fail 0"), "{output}");
        assert_kit_passes(&project, &format!("./connector-{SLUG}"));
    }

    #[test]
    fn shell_passes_its_tests_and_the_kit() {
        let (_dir, project, _) = generate("shell");
        let output = succeed("sh test.sh", Command::new("sh").arg("test.sh").current_dir(&project));
        assert!(output.contains("27 passed, 0 failed"), "{output}");
        assert_kit_passes(&project, &format!("./connector-{SLUG}"));
    }
}

mod output {
    use super::{generate, SLUG};
    use crate::util::{runner, succeed};

    #[test]
    fn the_summary_lists_the_files_and_the_next_three_commands() {
        let (_dir, _project, printed) = generate("shell");
        assert!(printed.starts_with(&format!("created connector-{SLUG}/: a POSIX sh connector")), "{printed}");
        assert!(printed.contains(&format!("\n  connector-{SLUG}\n  test.sh\n  testlib.sh\n")), "{printed}");
        let next = format!("\nnext:\n  cd connector-{SLUG}\n  sh test.sh\n  ");
        assert!(printed.contains(&next), "{printed}");
        assert!(printed.contains(&format!(" test-connector ./connector-{SLUG} config.json --since 2026-01-01\n")));
    }

    #[test]
    fn json_describes_the_project() {
        let dir = tempfile::tempdir().unwrap();
        let printed = succeed("runner --json new", &mut runner(dir.path(), &["--json", "new", "x1", "--lang", "node"]));
        let created: serde_json::Value = serde_json::from_str(&printed).unwrap();
        assert_eq!((&created["path"], &created["language"]), (&"connector-x1".into(), &"node".into()));
        assert!(created["files"].as_array().unwrap().contains(&"protocol.js".into()), "{created:#}");
        assert_eq!(created["next"][1], "node --test");
    }
}
