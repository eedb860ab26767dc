//! Every command shown in README.md runs, so the README cannot rot.
//!
//! The README's ```sh blocks are executed line by line in a scratch directory, against
//! the PagerDuty simulator instead of the real API: its ```json block becomes `pd.json`
//! (token and API URL swapped for the simulator's), its ```toml blocks become the files
//! their first line names (`# fleet.toml`; `connections.toml` when it names none), and `connectors/` is linked in. A pipeline runs one stage at a
//! time, so every stage must succeed, not only the last. Lines of `cargo` (CI runs those
//! itself) and `export` are skipped; `./target/release/runner` is the runner under test;
//! `sqlite3 DB "SQL"` lines run their query with rusqlite (so sqlite3 need not be
//! installed) and must return rows. The README's PostgreSQL URL
//! ([`README_POSTGRES_URL`]) is swapped for a database of a throwaway cluster, and `psql`
//! is the cluster's; where no server is installed those lines are skipped, loudly (never
//! in CI).

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use pagerduty_mock::{start_blocking, MockConfig};

use crate::util::{runner_bin, workspace_root};

/// The URL the README's PostgreSQL section uses, for a local server set up as it says.
const README_POSTGRES_URL: &str = "postgres://runner:secret@localhost:5432/runner";

/// The contents of every fenced block of `language`, in order.
fn blocks(markdown: &str, language: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_end()) {
            (None, fence) if fence == format!("```{language}") => current = Some(String::new()),
            (Some(_), "```") => found.extend(current.take()),
            (Some(block), text) => {
                block.push_str(text);
                block.push('\n');
            }
            _ => {}
        }
    }
    found
}

/// The file a ```toml block is written to: the name in its first line's comment
/// (`# fleet.toml`), else `connections.toml`.
fn toml_file_name(block: &str) -> String {
    let first = block.lines().next().unwrap_or_default();
    match first.strip_prefix("# ") {
        Some(name) if name.ends_with(".toml") && !name.contains('/') => name.to_owned(),
        _ => "connections.toml".to_owned(),
    }
}

/// The commands of the README's shell blocks, `\` continuations joined, `&&` chains split.
fn commands(markdown: &str) -> Vec<String> {
    let mut commands = Vec::new();
    for block in blocks(markdown, "sh") {
        for line in block.replace("\\\n", " ").lines() {
            for part in line.split(" && ") {
                let part = part.trim();
                if part.is_empty() || part.starts_with('#') || part.starts_with("export ") || part.starts_with("cargo ")
                {
                    continue;
                }
                commands.push(part.replace("./target/release/", ""));
            }
        }
    }
    commands
}

/// `sqlite3 DB "SQL"` → (DB, SQL).
fn sqlite_command(command: &str) -> Option<(&str, &str)> {
    let rest = command.strip_prefix("sqlite3 ")?;
    let (db, sql) = rest.split_once(' ')?;
    Some((db, sql.trim().strip_prefix('"')?.strip_suffix('"')?))
}

fn run_query(dir: &Path, db: &str, sql: &str) {
    let conn = rusqlite::Connection::open(dir.join(db)).unwrap_or_else(|e| panic!("open {db}: {e}"));
    let mut statement = conn.prepare(sql).unwrap_or_else(|e| panic!("README query does not prepare: {sql}: {e}"));
    let mut rows = statement.query([]).unwrap_or_else(|e| panic!("README query fails: {sql}: {e}"));
    assert!(rows.next().unwrap().is_some(), "README query returns no rows: {sql}");
}

/// The stages of a shell pipeline: `|` outside quotes and `$( )`, not `||`.
fn pipeline_stages(command: &str) -> Vec<String> {
    let (mut stages, mut current) = (Vec::new(), String::new());
    let (mut quote, mut depth) = (None, 0usize);
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '(') => depth += 1,
            (None, ')') => depth = depth.saturating_sub(1),
            (None, '|') if depth == 0 && chars.peek() != Some(&'|') && !current.ends_with('|') => {
                stages.push(current.trim().to_owned());
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    stages.push(current.trim().to_owned());
    stages
}

/// Runs a README command one pipeline stage at a time, each stage's stdout the next one's
/// stdin, and fails the test naming the first stage that fails. Run as one pipeline, a
/// failing `runner ... | head -n 3` would pass: a pipeline's status is its last stage's.
fn run_shell(dir: &Path, path_var: &str, command: &str) {
    let mut input = Vec::new();
    for stage in pipeline_stages(command) {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(&stage)
            .current_dir(dir)
            .env("PATH", path_var)
            .env("NO_COLOR", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        // A stage that does not read its input (the first one) closes it: ignore EPIPE.
        let feeder = std::thread::spawn(move || drop(stdin.write_all(&input)));
        let output = child.wait_with_output().unwrap();
        feeder.join().unwrap();
        assert!(
            output.status.success(),
            "README command failed ({}) at `{stage}` of: {command}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        input = output.stdout;
    }
}

#[test]
fn every_readme_command_runs_against_the_simulator() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).unwrap();
    let mock = start_blocking(MockConfig { incidents: 600, days: 400, ..MockConfig::default() }).unwrap();
    let dir = tempfile::tempdir().unwrap();

    let config = blocks(&readme, "json").into_iter().next().expect("README shows pd.json in a ```json block");
    let config = config
        .replace("YOUR_API_TOKEN", &MockConfig::default().token)
        .replace("https://api.pagerduty.com", &mock.base_url);
    std::fs::write(dir.path().join("pd.json"), config).unwrap();
    let tomls = blocks(&readme, "toml");
    assert!(!tomls.is_empty(), "README shows connections.toml in a ```toml block");
    for toml in tomls {
        std::fs::write(dir.path().join(toml_file_name(&toml)), &toml).unwrap();
    }
    std::os::unix::fs::symlink(
        workspace_root().join("connectors").canonicalize().unwrap(),
        dir.path().join("connectors"),
    )
    .unwrap();

    let bin_dir = runner_bin().parent().unwrap().to_owned();
    let mut path_var = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let postgres = throwaway_postgres::require("every_readme_command_runs (its PostgreSQL section)");
    if let Some(cluster) = postgres {
        cluster.create_database("readme").unwrap();
        let server_bin = throwaway_postgres::server_bin().expect("a running cluster has its binaries");
        path_var = format!("{path_var}:{}", server_bin.display());
    }

    let commands = commands(&readme);
    assert!(commands.len() >= 15, "expected the README's commands, found only {commands:?}");
    assert!(commands.iter().any(|c| c.contains(README_POSTGRES_URL)), "the PostgreSQL section's URL changed");
    for command in &commands {
        let command = match postgres {
            Some(cluster) => command.replace(README_POSTGRES_URL, &cluster.url("readme")),
            None if command.contains(README_POSTGRES_URL) => continue,
            None => command.clone(),
        };
        match sqlite_command(&command) {
            Some((db, sql)) => run_query(dir.path(), db, sql),
            None => run_shell(dir.path(), &path_var, &command),
        }
    }
}

#[test]
fn the_extraction_sees_chains_continuations_and_skips_cargo() {
    let markdown = "```sh\ncargo build && ./target/release/runner demo\nrunner a \\\n  b\n# note\nexport X=1\n```\n";
    assert_eq!(commands(markdown), ["runner demo", "runner a    b"]);
    assert_eq!(sqlite_command(r#"sqlite3 runner.db "SELECT 1""#), Some(("runner.db", "SELECT 1")));
    assert_eq!(
        pipeline_stages("runner sync a b - 2>/dev/null | head -n 3"),
        ["runner sync a b - 2>/dev/null", "head -n 3"]
    );
    assert_eq!(pipeline_stages(r#"a "x | y" '|' | b"#), [r#"a "x | y" '|'"#, "b"]);
    assert_eq!(pipeline_stages(r#"a "$(b | c)" $(d | e) || f"#), [r#"a "$(b | c)" $(d | e) || f"#]);
}
