//! The README's "Run a Singer tap" and "Run an Airbyte source" work as written: their
//! JSON becomes the configuration files (the tap's path swapped for the test's virtual
//! environment, the data path for a fixture), and their `runner` and `sqlite3` lines run
//! in a scratch directory. The `python3 -m venv … pip install` lines are what the test's
//! environment already did; `runner test-connector` is left to `real.rs`, which runs it
//! on the same configurations and reads its report.

use std::path::Path;
use std::process::Command;

use crate::util::*;

/// The text of the README's section `title`, up to the next `## `.
fn section(title: &str) -> String {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md")).unwrap();
    let start = readme.find(&format!("## {title}\n")).unwrap_or_else(|| panic!("README has no section {title}"));
    let rest = &readme[start + 3..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].to_owned()
}

/// The fenced blocks of `language` in `markdown`: every other piece between fences.
fn blocks(markdown: &str, language: &str) -> Vec<String> {
    let fenced = markdown.split("```").skip(1).step_by(2);
    fenced.filter_map(|block| block.strip_prefix(language)?.strip_prefix('\n').map(str::to_owned)).collect()
}

/// Runs the section's commands in `sandbox` after writing its JSON block to `config`.
fn run_section(sandbox: &Sandbox, title: &str, config: &str, swaps: &[(&str, String)]) {
    let text = section(title);
    let mut json = blocks(&text, "json").into_iter().next().unwrap_or_else(|| panic!("{title}: no ```json block"));
    for (from, to) in swaps {
        assert!(json.contains(from), "{title}: the configuration no longer shows {from}");
        json = json.replace(from, to);
    }
    serde_json::from_str::<serde_json::Value>(&json).unwrap_or_else(|e| panic!("{title}: the JSON block: {e}"));
    sandbox.write(config, &json);
    let path = format!("{}:{}", bin_dir().display(), std::env::var("PATH").unwrap_or_default());
    let mut ran = 0;
    for line in blocks(&text, "shell").concat().lines() {
        let command = line.split(" #").next().unwrap_or_default().trim();
        if command.starts_with("python3 -m venv") || command.starts_with("runner test-connector") {
            continue;
        }
        if let Some(rest) = command.strip_prefix("sqlite3 runner.db ") {
            let sql = rest.trim_matches('"');
            let rows = sandbox.query(sql);
            assert!(!rows.is_empty(), "{title}: `{command}` returned no rows");
            ran += 1;
            continue;
        }
        assert!(command.starts_with("runner "), "{title}: a command the test does not know: {command}");
        let output = Command::new("sh")
            .arg("-c")
            .arg(command)
            .current_dir(sandbox.dir.path())
            .env("PATH", &path)
            .output()
            .unwrap();
        assert_success(&format!("{title}: `{command}`"), &output);
        ran += 1;
    }
    assert!(ran >= 4, "{title}: only {ran} commands ran");
}

#[test]
fn the_readmes_singer_section_runs_as_written() {
    let Some(taps) = taps() else { return };
    let sandbox = Sandbox::new();
    std::fs::create_dir(sandbox.path("orders")).unwrap();
    sandbox.write("orders/2024.jsonl", "{\"id\": 1, \"total\": 9.5}\n{\"id\": 2, \"total\": 12}\n");
    let swaps = [
        ("/home/me/taps/jsonl/bin/tap-jsonl", taps.join("tap-jsonl").display().to_string()),
        ("/data/orders/*.jsonl", sandbox.path("orders").join("*.jsonl").display().to_string()),
    ];
    run_section(&sandbox, "Run a Singer tap", "singer.json", &swaps);
}

#[test]
fn the_readmes_airbyte_section_runs_as_written() {
    let Some(taps) = taps() else { return };
    let sandbox = Sandbox::new();
    let swaps = [("/home/me/taps/faker/bin/source-faker", taps.join("source-faker").display().to_string())];
    run_section(&sandbox, "Run an Airbyte source", "faker.json", &swaps);
}
