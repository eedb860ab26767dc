//! The layering ARCHITECTURE.md promises, checked on the source: no import cycle among the
//! runner's modules (nor among the engine's), the engine imports no driver and knows no
//! terminal, the command line imports nothing of the runner, the exit codes depend on
//! nothing and are chosen only at the binary's edge, only the supervisor (and the demo's
//! simulator) starts processes, `drift` is a pure computation, and the crates depend on
//! each other only as drawn.
//!
//! Imports are read from the text (`crate::a`, `crate::{a, b::c}`, and `super::x` in the
//! engine's direct children), comments left out, test code included: a test inside the
//! engine that needed the console would break the rule just the same. The templates of
//! `runner new` (`scaffold/templates/`) are another crate's code and are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::util::workspace_root;

/// Runner modules the engine may use besides its own: plain text formatting.
const ENGINE_MAY_USE: [&str; 2] = ["engine", "human"];

/// Text that would mean the engine talks to a terminal.
const TERMINAL_WORDS: [&str; 6] = ["indicatif", "IsTerminal", "println!", "eprintln!", "print!(", "eprint!("];

struct Source {
    /// Relative to `runner/src`, e.g. `engine/sync/store.rs`.
    path: PathBuf,
    /// The text without comments.
    code: String,
}

fn sources() -> Vec<Source> {
    let src = workspace_root().join("runner/src");
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

/// The engine's child module a file belongs to (`None` outside the engine and for its facade).
fn engine_child(path: &Path) -> Option<String> {
    let mut parts = path.components().map(|c| c.as_os_str().to_str().unwrap_or(""));
    if parts.next()? != "engine" {
        return None;
    }
    match parts.next()? {
        "mod.rs" => None,
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

#[test]
fn the_runners_modules_import_each_other_without_a_cycle() {
    let sources = sources();
    let modules = graph(&sources, top_module, |s| imported(&s.code, "crate::"));
    assert!(modules.len() >= 15, "too few modules found: {modules:?}");
    assert_eq!(find_cycle(&modules), None, "an import cycle among the runner's modules");
}

#[test]
fn the_engines_modules_import_each_other_without_a_cycle() {
    let sources = sources();
    let children = graph(&sources, engine_child, |s| {
        let mut targets = imported(&s.code, "crate::engine::");
        if s.path.components().count() == 2 {
            // A direct child's `super::` is the engine.
            targets.extend(imported(&s.code, "super::"));
        }
        targets
    });
    assert!(children.contains_key("supervisor") && children.contains_key("sync"), "{children:?}");
    assert_eq!(find_cycle(&children), None, "an import cycle among the engine's modules");
}

#[test]
fn the_engine_imports_no_driver_and_knows_no_terminal() {
    for source in sources().iter().filter(|s| s.path.starts_with("engine")) {
        let imports = imported(&source.code, "crate::");
        let foreign: Vec<_> = imports.iter().filter(|m| !ENGINE_MAY_USE.contains(&m.as_str())).collect();
        assert!(foreign.is_empty(), "{} imports {foreign:?}", source.path.display());
        for word in TERMINAL_WORDS {
            assert!(!source.code.contains(word), "{} uses `{word}`", source.path.display());
        }
    }
}

#[test]
fn the_command_line_imports_only_the_duration_parser_and_exit_codes_depend_on_nothing() {
    let sources = sources();
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
fn drift_is_a_pure_computation_importing_nothing_of_the_runner() {
    let drift: Vec<_> = sources().into_iter().filter(|s| s.path.starts_with("drift")).collect();
    assert!(drift.len() >= 2, "drift/ has its modules");
    for source in drift {
        assert_eq!(
            imported(&source.code, "crate::"),
            BTreeSet::new(),
            "{} imports from the runner",
            source.path.display()
        );
        for word in TERMINAL_WORDS.iter().chain(&["std::fs", "std::process", "std::io"]) {
            assert!(!source.code.contains(word), "{} uses `{word}`", source.path.display());
        }
    }
}

/// The code of a file before its `#[cfg(test)]` module.
fn non_test_code(source: &Source) -> &str {
    source.code.split("#[cfg(test)]\nmod tests").next().unwrap_or_default()
}

#[test]
fn only_the_supervisor_and_the_demos_simulator_start_processes() {
    let allowed = [Path::new("engine/supervisor/process.rs"), Path::new("demo/simulator.rs")];
    for source in sources().iter().filter(|s| !allowed.contains(&s.path.as_path())) {
        let code = non_test_code(source);
        for word in ["Command::new", ".spawn()", "libc::kill(-"] {
            assert!(!code.contains(word), "{} uses `{word}`", source.path.display());
        }
    }
}

#[test]
fn exit_codes_are_chosen_only_at_the_binarys_edge() {
    for source in sources() {
        let edge = [Path::new("app.rs"), Path::new("main.rs"), Path::new("exit_code.rs")];
        if !edge.contains(&source.path.as_path()) {
            assert!(!source.code.contains("exit_code::"), "{} uses exit codes", source.path.display());
            assert!(!source.code.contains("ExitCode"), "{} builds an ExitCode", source.path.display());
        }
    }
}

/// The normal (not dev) dependencies of a workspace crate, by name.
fn dependencies(krate: &str) -> BTreeSet<String> {
    let text = std::fs::read_to_string(workspace_root().join(krate).join("Cargo.toml")).unwrap();
    let manifest: toml::Table = text.parse().unwrap();
    manifest
        .get("dependencies")
        .and_then(toml::Value::as_table)
        .map(|t| t.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn the_crates_depend_on_each_other_only_as_drawn() {
    let protocol = dependencies("protocol");
    for forbidden in ["clap", "tokio", "reqwest", "rusqlite", "axum", "tokio-postgres", "libc"] {
        assert!(!protocol.contains(forbidden), "protocol (the wire contract) depends on {forbidden}");
    }
    assert!(!dependencies("connector-pagerduty").contains("pagerduty-mock"), "the connector links the simulator");
    assert!(!dependencies("pagerduty-mock").contains("connector-pagerduty"), "the simulator links the connector");
    let runner = dependencies("runner");
    for forbidden in ["connector-sdk", "connector-pagerduty", "connector-adapters", "pagerduty-mock"] {
        assert!(!runner.contains(forbidden), "the runner links {forbidden}: connectors are processes to it");
    }
    assert!(!dependencies("connector-adapters").contains("runner"), "the adapters link the runner");
    assert!(dependencies("connector-sdk").contains("protocol"));
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
