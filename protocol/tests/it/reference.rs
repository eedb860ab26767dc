//! `schemas/REFERENCE.md`, the page people read to learn the record types, is generated
//! from the schemas the registry embeds, and a test fails when the committed page differs.
//! Regenerate it with `UPDATE_REFERENCE=1 cargo test -p protocol --test it reference`.
//!
//! What the page takes from each schema: the family (`x-family`), the purpose (the
//! `description`, up to "Differs from the platform's published schema:", which is shown
//! apart), the required fields, and the links: a `$ref` to another record schema (the
//! platform's form: the other record's `self` URL or the record nested), or an
//! `x-references` annotation on a field holding the source's own pointer objects
//! (PagerDuty's `{id, type, self, summary, htmlUrl}`), which no schema can tie to a type.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use protocol::SchemaRegistry;
use serde_json::{json, Value};

use crate::util::repo_path;

/// Where the page lives, relative to the repository's root.
const PAGE: &str = "schemas/REFERENCE.md";

/// How to regenerate the page, as the test failure says it.
const REGENERATE: &str = "UPDATE_REFERENCE=1 cargo test -p protocol --test it reference";

/// The `$id` of record schema `T` is this, then `T.json`.
const RECORDS_BASE: &str = "https://schemas.connector-toolkit.dev/records/";

/// The marker that starts the part of a description listing deviations from the platform.
const DIFFERS: &str = "Differs from the platform's published schema:";

/// A group of record types that come from the same kind of source, in page order.
struct Family {
    /// The value of `x-family` in the schemas.
    key: &'static str,
    title: &'static str,
    about: &'static str,
}

const FAMILIES: &[Family] = &[
    Family {
        key: "common",
        title: "People, groups and streams",
        about: "Who does things, and what a connector offers to sync. Every other family links here.",
    },
    Family {
        key: "vcs",
        title: "Version control",
        about: "Repositories on a Git host, their branches and commits, pushes, and pull requests with their reviews, \
                comments and events.",
    },
    Family {
        key: "delivery",
        title: "CI and delivery",
        about: "Build configurations of a CI system, the builds they run, the jobs of a build, and the test results \
                a build reports.",
    },
    Family {
        key: "issues",
        title: "Issues",
        about: "Projects, boards and sprints of an issue tracker, and the issues in them with their comments, \
                changes and priorities.",
    },
    Family {
        key: "deployments",
        title: "Deployments",
        about: "Applications and the components they are made of, the environments they run in, deployments to \
                those environments, and feature flags.",
    },
    Family {
        key: "incidents",
        title: "Incidents",
        about: "Incidents, the notifications they send and who is on call; the PagerDuty connector adds services, \
                teams, escalation policies, priorities and each incident's timeline.",
    },
    Family { key: "calendars", title: "Calendars", about: "Calendars and the events in them." },
    Family {
        key: "metrics",
        title: "Metrics",
        about: "Named series of values about some other record, and the measurements that make them up.",
    },
    Family {
        key: "packages",
        title: "Packages",
        about: "Published packages, what they depend on, and their releases to release stages.",
    },
    Family {
        key: "quality",
        title: "Code quality",
        about: "Problems found in source code and in dependencies, and how much of a commit's code its tests cover.",
    },
];

/// How a field points at another record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// The other record's `self` URL, or the record nested whole.
    UrlOrRecord,
    /// Only the nested record.
    Record,
    /// The source's own pointer object.
    Embedded,
}

/// A field of one record type pointing at records of other types.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Link {
    /// `repository`, `attendees[]` (a list), `resolveReason.incident` (a nested field).
    field: String,
    targets: Vec<String>,
    form: Form,
}

/// The record type `schema` is, when it is a `$ref` to a record schema.
fn record_ref(schema: &Value) -> Option<String> {
    let target = schema.get("$ref")?.as_str()?.strip_prefix(RECORDS_BASE)?.strip_suffix(".json")?;
    Some(target.to_owned())
}

fn is_url(schema: &Value) -> bool {
    schema.get("type") == Some(&json!("string")) && schema.get("format") == Some(&json!("uri"))
}

/// The links found in the schema of one field (and its items and nested fields).
fn links_in(schema: &Value, field: &str, out: &mut Vec<Link>) {
    if let Some(targets) = schema.get("x-references") {
        let targets = targets.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
        // On a list, the annotation speaks of its items.
        let field = if schema.get("type") == Some(&json!("array")) { format!("{field}[]") } else { field.to_owned() };
        out.push(Link { field, targets, form: Form::Embedded });
    }
    if let Some(target) = record_ref(schema) {
        out.push(Link { field: field.to_owned(), targets: vec![target], form: Form::Record });
    }
    for keyword in ["anyOf", "oneOf"] {
        let branches = schema.get(keyword).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let targets: Vec<String> = branches.iter().filter_map(record_ref).collect();
        if !targets.is_empty() {
            let form = if branches.iter().any(is_url) { Form::UrlOrRecord } else { Form::Record };
            out.push(Link { field: field.to_owned(), targets, form });
        }
        for branch in branches.iter().filter(|branch| record_ref(branch).is_none()) {
            links_in(branch, field, out);
        }
    }
    if let Some(items) = schema.get("items") {
        links_in(items, &format!("{field}[]"), out);
    }
    for (name, sub) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
        links_in(sub, &format!("{field}.{name}"), out);
    }
}

fn links_of(schema: &Value) -> Vec<Link> {
    let mut links = Vec::new();
    for (name, sub) in schema["properties"].as_object().into_iter().flatten() {
        links_in(sub, name, &mut links);
    }
    links
}

/// The description of a type, split into its purpose and its deviations from the platform.
fn purpose_and_differences(schema: &Value) -> (&str, Option<&str>) {
    let description = schema["description"].as_str().unwrap_or("").trim();
    match description.find(DIFFERS) {
        Some(at) => (description[..at].trim(), Some(description[at + DIFFERS.len()..].trim())),
        None => (description, None),
    }
}

/// The anchor GitHub gives a heading: lower case, spaces to dashes, punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
            _ => None,
        })
        .collect()
}

fn type_link(record_type: &str) -> String {
    format!("[{record_type}](#{})", anchor(record_type))
}

/// The page for these record schemas (by type), or every reason it cannot be made.
fn render(schemas: &BTreeMap<String, Value>) -> Result<String, Vec<String>> {
    let mut problems = Vec::new();
    let mut by_family: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut links: BTreeMap<&str, Vec<Link>> = BTreeMap::new();
    // Target type -> source type -> the source's fields that link to the target.
    let mut linked_from: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for (record_type, schema) in schemas {
        match schema.get("x-family").and_then(Value::as_str) {
            Some(key) if FAMILIES.iter().any(|f| f.key == key) => by_family.entry(key).or_default().push(record_type),
            other => problems.push(format!(
                "schemas/records/{record_type}.json: x-family is {other:?}; expected one of {:?}",
                FAMILIES.iter().map(|f| f.key).collect::<Vec<_>>()
            )),
        }
        let found = links_of(schema);
        for link in &found {
            for target in &link.targets {
                if !schemas.contains_key(target) {
                    problems.push(format!(
                        "schemas/records/{record_type}.json: field {} links to {target:?}, which is no record type",
                        link.field
                    ));
                }
                let fields = linked_from.entry(target.clone()).or_default().entry(record_type.clone()).or_default();
                fields.push(format!("`{}`", link.field));
            }
        }
        links.insert(record_type, found);
    }
    if !problems.is_empty() {
        return Err(problems);
    }

    let mut page = String::new();
    let out = &mut page;
    let families = FAMILIES.iter().filter(|f| by_family.contains_key(f.key)).count();
    writeln!(out, "# Shared record types").unwrap();
    writeln!(out).unwrap();
    writeln!(out, "<!-- Generated from schemas/records/*.json by protocol/tests/it/reference.rs: do not edit.")
        .unwrap();
    writeln!(out, "     Regenerate with `{REGENERATE}`. -->").unwrap();
    writeln!(out).unwrap();
    writeln!(
        out,
        "Every record a connector emits names one of these {} types in `_type`, and the runner validates it \
         against [`records/<Type>.json`](records/) (JSON Schema 2020-12, formats enforced) before storing it. \
         The types are grouped in {families} families by the kind of source they come from. A connector whose \
         source has something none of them describes declares a type of its own in its spec \
         ([`record_schemas`](../PROTOCOL.md#declared-record-types)); it may not redefine one of these.",
        schemas.len()
    )
    .unwrap();
    writeln!(out).unwrap();
    writeln!(out, "How to read an entry:").unwrap();
    writeln!(out).unwrap();
    writeln!(
        out,
        "- Every record has `_type`, `id` (unique among the records of its type from one source) and `self` \
         (the record's canonical URL). **Required** lists these and the type's own required fields; every \
         other field may be left out, and fields no schema describes are allowed and stored."
    )
    .unwrap();
    writeln!(
        out,
        "- **Links** are fields that point at other records. Most hold the other record's `self` URL or the \
         whole record nested in place, which is then validated against its own schema. An *embedded \
         reference* is the source's own pointer object (PagerDuty's `{{id, type, self, summary, htmlUrl}}`), \
         not a whole record. `[]` after a field marks a list; `a.b` is field `b` inside field `a`."
    )
    .unwrap();
    writeln!(
        out,
        "- The vocabulary is that of the Code Climate connector platform's record types, written afresh; where \
         a type differs from the platform's published schema, its entry says how and why."
    )
    .unwrap();
    writeln!(out).unwrap();
    writeln!(out, "## Contents").unwrap();
    writeln!(out).unwrap();
    for family in FAMILIES.iter().filter(|f| by_family.contains_key(f.key)) {
        let types: Vec<String> = by_family[family.key].iter().map(|t| type_link(t)).collect();
        writeln!(out, "- [{}](#{}): {}", family.title, anchor(family.title), types.join(", ")).unwrap();
    }
    for family in FAMILIES.iter().filter(|f| by_family.contains_key(f.key)) {
        writeln!(out).unwrap();
        writeln!(out, "## {}", family.title).unwrap();
        writeln!(out).unwrap();
        writeln!(out, "{}", family.about).unwrap();
        for record_type in &by_family[family.key] {
            let schema = &schemas[*record_type];
            let (purpose, differences) = purpose_and_differences(schema);
            writeln!(out).unwrap();
            writeln!(out, "### {record_type}").unwrap();
            writeln!(out).unwrap();
            writeln!(out, "{purpose}").unwrap();
            if let Some(differences) = differences {
                writeln!(out).unwrap();
                writeln!(out, "*Differs from the platform's published schema:* {differences}").unwrap();
            }
            writeln!(out).unwrap();
            let required: Vec<String> = schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|field| format!("`{field}`"))
                .collect();
            writeln!(out, "- **Required:** {}", required.join(", ")).unwrap();
            let own = &links[*record_type];
            if own.is_empty() {
                writeln!(out, "- **Links:** none").unwrap();
            } else {
                writeln!(out, "- **Links:**").unwrap();
                for link in own {
                    let targets: Vec<String> = link.targets.iter().map(|t| type_link(t)).collect();
                    let form = match link.form {
                        Form::UrlOrRecord => "`self` URL or nested record",
                        Form::Record => "nested record",
                        Form::Embedded => "embedded reference",
                    };
                    writeln!(out, "  - `{}` → {} ({form})", link.field, targets.join(" or ")).unwrap();
                }
            }
            if let Some(sources) = linked_from.get(*record_type) {
                let sources: Vec<String> = sources
                    .iter()
                    .map(|(source, fields)| format!("{} ({})", type_link(source), fields.join(", ")))
                    .collect();
                writeln!(out, "- **Linked from:** {}", sources.join(", ")).unwrap();
            }
            writeln!(out, "- **Schema:** [`records/{record_type}.json`](records/{record_type}.json)").unwrap();
        }
    }
    Ok(page)
}

fn embedded_schemas() -> BTreeMap<String, Value> {
    let registry = SchemaRegistry::global();
    registry.record_types().map(|t| (t.to_owned(), registry.record_schema(t).unwrap().clone())).collect()
}

/// The line number and the two texts of the first line where `a` and `b` differ.
fn first_difference(a: &str, b: &str) -> (usize, String, String) {
    let (mut left, mut right) = (a.lines(), b.lines());
    let mut number = 1;
    loop {
        match (left.next(), right.next()) {
            (Some(x), Some(y)) if x == y => number += 1,
            (x, y) => return (number, x.unwrap_or("<end>").to_owned(), y.unwrap_or("<end>").to_owned()),
        }
    }
}

#[test]
fn reference_md_is_generated_from_the_schemas() {
    let page = render(&embedded_schemas()).unwrap_or_else(|problems| panic!("{}", problems.join("\n")));
    let path = repo_path(PAGE);
    if std::env::var_os("UPDATE_REFERENCE").is_some_and(|v| !v.is_empty() && v != "0") {
        std::fs::write(&path, &page).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    if committed != page {
        let (line, was, now) = first_difference(&committed, &page);
        panic!(
            "{PAGE} is out of date: the schemas say something else from line {line}:\n  \
             committed: {was}\n  generated: {now}\nRegenerate it with `{REGENERATE}` and commit it."
        );
    }
}

#[test]
fn the_page_shows_purpose_required_fields_and_links_both_ways() {
    let page = render(&embedded_schemas()).unwrap();
    let registry = SchemaRegistry::global();
    for record_type in registry.record_types() {
        assert_eq!(page.matches(&format!("\n### {record_type}\n")).count(), 1, "one entry for {record_type}");
    }
    let team = page.split("\n### Team\n").nth(1).unwrap().split("\n### ").next().unwrap();
    assert!(team.contains("A group of people who share responsibility"), "{team}");
    assert!(team.contains("- **Required:** `_type`, `id`, `self`, `name`"), "{team}");
    assert!(team.contains("  - `parent` → [Team](#team) (embedded reference)"), "{team}");
    assert!(team.contains("- **Linked from:** ") && team.contains("[Incident](#incident) (`teams[]`)"), "{team}");
}

#[test]
fn links_are_read_from_refs_and_annotations_in_every_form() {
    let repository = format!("{RECORDS_BASE}Repository.json");
    let schema = json!({"properties": {
        "repository": {"anyOf": [{"type": "string", "format": "uri"}, {"$ref": repository}]},
        "owner": {"$ref": format!("{RECORDS_BASE}Actor.json")},
        "reviewers": {"type": "array", "items": {"anyOf": [{"type": "string", "format": "uri"}, {"$ref": format!("{RECORDS_BASE}Actor.json")}]}},
        "service": {"anyOf": [{"$ref": "#/$defs/Reference"}, {"type": "null"}], "x-references": ["Service"]},
        "teams": {"type": "array", "items": {"$ref": "#/$defs/Reference"}, "x-references": ["Team"]},
        "reason": {"type": "object", "properties": {"incident": {"$ref": "#/$defs/Reference", "x-references": ["Incident"]}}},
        "title": {"type": "string"}
    }});
    let link = |field: &str, target: &str, form| Link { field: field.into(), targets: vec![target.into()], form };
    assert_eq!(
        links_of(&schema),
        [
            link("owner", "Actor", Form::Record),
            link("reason.incident", "Incident", Form::Embedded),
            link("repository", "Repository", Form::UrlOrRecord),
            link("reviewers[]", "Actor", Form::UrlOrRecord),
            link("service", "Service", Form::Embedded),
            link("teams[]", "Team", Form::Embedded),
        ]
    );
}

#[test]
fn a_type_without_a_family_or_a_link_to_nothing_is_refused() {
    let mut schemas = embedded_schemas();
    let team = schemas.get_mut("Team").unwrap();
    team.as_object_mut().unwrap().remove("x-family");
    team["properties"]["parent"]["x-references"] = json!(["Squad"]);
    let problems = render(&schemas).unwrap_err().join("\n");
    assert!(problems.contains("Team.json: x-family is None"), "{problems}");
    assert!(problems.contains("Team.json: field parent links to \"Squad\", which is no record type"), "{problems}");
}
