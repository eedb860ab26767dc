//! The layering ARCHITECTURE.md promises. The crate graph says most of it: `store` depends
//! on no crate of the workspace, `engine` on `store` and `protocol` and on no command-line,
//! terminal or HTML crate, `drift` on the schemas alone, and the `runner` binary on the
//! layers but never on a connector; checked here on `cargo tree`, the whole graph and not
//! only the direct dependencies. What the crate graph cannot say is checked on the source:
//! no import cycle among a crate's modules, the engine and the store know no terminal, the
//! command line imports nothing of the runner, the exit codes depend on nothing and are
//! chosen only at the binary's edge, only the supervisor (and the demo's simulator) starts
//! processes, and `drift` touches no file or process.
//!
//! Imports are read from the text (`crate::a`, `crate::{a, b::c}`), comments left out, test
//! code included. The templates of `runner new` (`scaffold/templates/`) are another
//! crate's code and are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::workspace_root;

/// Text that would mean the engine talks to a terminal.
const TERMINAL_WORDS: [&str; 6] = ["indicatif", "IsTerminal", "println!", "eprintln!", "print!(", "eprint!("];

struct Source {
    /// Relative to the crate's `src`, e.g. `sync/store_loop.rs`.
    path: PathBuf,
    /// The text without comments.
    code: String,
}

/// The Rust sources of a workspace crate (`runner`, `engine`, ...).
fn sources(krate: &str) -> Vec<Source> {
    let src = workspace_root().join(krate).join("src");
    let mut files = Vec::new();
    collect(&src, &mut files);
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).unwrap();
            let code = text.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
            Source { path: file.strip_prefix(&src).unwrap().to_owned(), code }
        })
        .collect()
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.ends_with("scaffold/templates") {
            collect(&path, files);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
}

/// The first segment of every path imported through `prefix` (`crate::`, `super::`).
fn imported(code: &str, prefix: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut rest = code;
    while let Some(at) = rest.find(prefix) {
        let preceded_by_ident = rest[..at].chars().next_back().is_some_and(|c| c.is_alphanumeric() || c == '_');
        rest = &rest[at + prefix.len()..];
        if preceded_by_ident {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            found.extend(group_heads(group));
        } else {
            found.insert(ident(rest).to_owned());
        }
    }
    found.remove("");
    found
}

/// The first segment of each item of a `{...}` import group (nested groups allowed).
fn group_heads(group: &str) -> Vec<String> {
    let mut heads = Vec::new();
    let (mut depth, mut item_start) = (0, 0);
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                heads.push(ident(group[item_start..i].trim_start()).to_owned());
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                heads.push(ident(group[item_start..i].trim_start()).to_owned());
                item_start = i + 1;
            }
            _ => {}
        }
    }
    heads
}

fn ident(text: &str) -> &str {
    let end = text.find(|c: char| !(c.is_alphanumeric() || c == '_')).unwrap_or(text.len());
    &text[..end]
}

/// The top-level module a file belongs to (`None` for the crate root and the binary).
fn top_module(path: &Path) -> Option<String> {
    let first = path.components().next()?.as_os_str().to_str()?;
    match first {
        "lib.rs" | "main.rs" => None,
        file => Some(file.trim_end_matches(".rs").to_owned()),
    }
}

/// A cycle in `graph`, if any, as the path around it.
fn find_cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(start) = path.iter().position(|n| n == node) {
            let mut cycle = path[start..].to_vec();
            cycle.push(node.to_owned());
            return Some(cycle);
        }
        if !done.insert(node.to_owned()) {
            return None;
        }
        path.push(node.to_owned());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|node| visit(node, graph, &mut Vec::new(), &mut done))
}

/// Edges between the nodes `node_of` gives, to the modules `targets` finds in each file,
/// self-edges and unknown targets left out.
fn graph(
    sources: &[Source],
    node_of: impl Fn(&Path) -> Option<String>,
    targets: impl Fn(&Source) -> BTreeSet<String>,
) -> BTreeMap<String, BTreeSet<String>> {
    let nodes: BTreeSet<String> = sources.iter().filter_map(|s| node_of(&s.path)).collect();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for source in sources {
        let Some(from) = node_of(&source.path) else { continue };
        let edges: Vec<String> = targets(source).into_iter().filter(|to| *to != from && nodes.contains(to)).collect();
        graph.entry(from).or_default().extend(edges);
    }
    graph
}

/// The crates whose modules must not import each other in a cycle, with the fewest
/// modules each is known to have (so a reader that finds nothing fails).
const LAYERED_CRATES: [(&str, usize); 4] = [("runner", 15), ("engine", 8), ("store", 10), ("drift", 1)];

#[test]
fn each_crates_modules_import_each_other_without_a_cycle() {
    for (krate, at_least) in LAYERED_CRATES {
        let sources = sources(krate);
        let modules = graph(&sources, top_module, |s| imported(&s.code, "crate::"));
        assert!(modules.len() >= at_least, "too few modules found in {krate}: {modules:?}");
        assert_eq!(find_cycle(&modules), None, "an import cycle among the modules of {krate}");
    }
}

#[test]
fn the_engine_and_the_store_know_no_terminal() {
    for krate in ["engine", "store", "drift"] {
        for source in sources(krate) {
            for word in TERMINAL_WORDS {
                assert!(!source.code.contains(word), "{krate}/src/{} uses `{word}`", source.path.display());
            }
        }
    }
}

#[test]
fn the_command_line_imports_only_the_duration_parser_and_exit_codes_depend_on_nothing() {
    let sources = sources("runner");
    let code = |name: &str| &sources.iter().find(|s| s.path == Path::new(name)).unwrap().code;
    // `human` is a leaf: text for people, importing nothing of the runner.
    assert_eq!(
        imported(code("cli.rs"), "crate::"),
        BTreeSet::from(["human".to_owned()]),
        "cli.rs imports from the runner"
    );
    assert_eq!(imported(code("human.rs"), "crate::"), BTreeSet::new(), "human.rs imports from the runner");
    assert!(!code("exit_code.rs").contains("use "), "exit_code.rs imports something");
    assert_eq!(imported(code("exit_code.rs"), "crate::"), BTreeSet::new());
}

#[test]
fn drift_touches_no_file_process_or_terminal() {
    let drift = sources("drift");
    assert!(drift.len() >= 2, "drift/ has its modules");
    for source in drift {
        for word in TERMINAL_WORDS.iter().chain(&["std::fs", "std::process", "std::io"]) {
            assert!(!source.code.contains(word), "drift/src/{} uses `{word}`", source.path.display());
        }
    }
}

/// The code of a file before its `#[cfg(test)]` module.
fn non_test_code(source: &Source) -> &str {
    source.code.split("#[cfg(test)]\nmod tests").next().unwrap_or_default()
}

#[test]
fn only_the_supervisor_and_the_demos_simulator_start_processes() {
    let allowed = [("engine", Path::new("supervisor/process.rs")), ("runner", Path::new("demo/simulator.rs"))];
    for krate in ["engine", "store", "drift", "runner"] {
        for source in sources(krate) {
            if allowed.contains(&(krate, source.path.as_path())) {
                continue;
            }
            let code = non_test_code(&source);
            for word in ["Command::new", ".spawn()", "libc::kill(-"] {
                assert!(!code.contains(word), "{krate}/src/{} uses `{word}`", source.path.display());
            }
        }
    }
}

#[test]
fn exit_codes_are_chosen_only_at_the_binarys_edge() {
    let edge = [Path::new("app.rs"), Path::new("main.rs"), Path::new("exit_code.rs")];
    for krate in ["engine", "store", "runner"] {
        for source in sources(krate) {
            if krate == "runner" && edge.contains(&source.path.as_path()) {
                continue;
            }
            let place = format!("{krate}/src/{}", source.path.display());
            assert!(!source.code.contains("exit_code::"), "{place} uses exit codes");
            assert!(!source.code.contains("ExitCode"), "{place} builds an ExitCode");
        }
    }
}

/// Every package a workspace crate depends on, directly or not, through normal
/// dependencies only (what its users link), as `cargo tree` resolves them from the lock.
fn linked_packages(krate: &str) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let output = std::process::Command::new(cargo)
        .args(["tree", "--offline", "--locked", "-e", "normal", "--prefix", "none", "-f", "{p}", "-p", krate])
        .current_dir(workspace_root())
        .output()
        .expect("cargo tree runs");
    assert!(output.status.success(), "cargo tree -p {krate}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(1) // the crate itself
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// The normal (not dev) dependencies a workspace crate names itself.
fn direct_dependencies(krate: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(workspace_root().join(krate).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    manifest
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

/// The crates of this workspace.
const WORKSPACE: [&str; 13] = [
    "protocol",
    "connector-sdk",
    "store",
    "engine",
    "drift",
    "runner",
    "connector-pagerduty",
    "connector-adapters",
    "pagerduty-mock",
    "benchmarks",
    "throwaway-postgres",
    "process-guard",
    "test-support",
];

/// Crates that only a driver may link: the command line, the terminal, HTML.
const DRIVER_ONLY: [&str; 4] = ["clap", "indicatif", "maud", "reqwest"];

fn assert_links_none(krate: &str, linked: &BTreeSet<String>, forbidden: &[&str], why: &str) {
    let found: Vec<_> = forbidden.iter().filter(|name| linked.contains(**name)).collect();
    assert!(found.is_empty(), "{krate} links {found:?}: {why}");
}

#[test]
fn the_crates_depend_on_each_other_only_as_drawn() {
    let store = linked_packages("store");
    assert_links_none("store", &store, &WORKSPACE, "the store is the bottom layer");
    assert_links_none("store", &store, &DRIVER_ONLY, "the store knows no command line or terminal");

    let engine = linked_packages("engine");
    assert!(engine.contains("store") && engine.contains("protocol"), "{engine:?}");
    let engine_may_link = ["store", "protocol", "process-guard"];
    let others: Vec<_> = WORKSPACE.into_iter().filter(|c| !engine_may_link.contains(c)).collect();
    assert_links_none("engine", &engine, &others, "the engine drives the store and nothing above it");
    assert_links_none("engine", &engine, &DRIVER_ONLY, "the engine knows no command line or terminal");

    let drift = linked_packages("drift");
    let others: Vec<_> = WORKSPACE.into_iter().filter(|c| *c != "protocol").collect();
    assert_links_none("drift", &drift, &others, "drift is a pure computation over schemas");

    // Direct dependencies only: libc comes in below through the JSON Schema crate.
    let protocol = direct_dependencies("protocol");
    for forbidden in ["clap", "tokio", "reqwest", "rusqlite", "axum", "tokio-postgres", "libc"] {
        assert!(!protocol.contains(forbidden), "protocol (the wire contract) depends on {forbidden}");
    }
    assert!(!linked_packages("connector-pagerduty").contains("pagerduty-mock"), "the connector links the simulator");
    assert!(!linked_packages("pagerduty-mock").contains("connector-pagerduty"), "the simulator links the connector");
    let runner = linked_packages("runner");
    for forbidden in ["connector-sdk", "connector-pagerduty", "connector-adapters", "pagerduty-mock"] {
        assert!(!runner.contains(forbidden), "the runner links {forbidden}: connectors are processes to it");
    }
    assert!(!linked_packages("connector-adapters").contains("runner"), "the adapters link the runner");
    assert!(linked_packages("connector-sdk").contains("protocol"));
}

#[test]
fn the_import_reader_sees_groups_nested_groups_and_ignores_longer_names() {
    let code = "use crate::{a, b::c, d::{e, f}};\nuse crate::g::h;\nlet x = mycrate::z;\nuse super::{k, l};";
    let found: Vec<_> = imported(code, "crate::").into_iter().collect();
    assert_eq!(found, ["a", "b", "d", "g"]);
    assert_eq!(imported(code, "super::").into_iter().collect::<Vec<_>>(), ["k", "l"]);
    let graph = BTreeMap::from([
        ("a".to_owned(), BTreeSet::from(["b".to_owned()])),
        ("b".to_owned(), BTreeSet::from(["a".to_owned()])),
    ]);
    assert_eq!(find_cycle(&graph), Some(vec!["a".to_owned(), "b".to_owned(), "a".to_owned()]));
}
