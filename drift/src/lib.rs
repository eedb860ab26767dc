//! Schema drift: how the records of one type differ from that type's JSON Schema.
//!
//! A pure computation, apart from any connector or store: [`Observer::new`] takes a
//! type's schema (a `serde_json::Value`) and a [`Resolver`] for the `$ref`s that leave it,
//! [`Observer::observe`] walks one record at a time beside the schema (memory grows with
//! the number of distinct paths, not of records), and [`Observer::finish`] says, per path:
//!
//! - **unnamed fields**: fields records carry that the schema does not name (nor a
//!   `patternProperties` pattern matches); under `additionalProperties: false` they are
//!   also not allowed. Fields of a map (`additionalProperties: {schema}`) are named by it
//!   and walked as `path.*`. A free-form object (a schema that says nothing of fields)
//!   names nothing and reports nothing.
//! - **never seen**: fields the schema names that no record had, under a parent that
//!   appeared (a field of `service` is reported only if some record had a `service` object).
//! - **missing required**: how many objects lacked a field their schema requires.
//! - **type mismatches**: values whose JSON type the schema does not allow there (`null`
//!   where it is not nullable, a string for an integer), with a count and an example.
//!
//! Paths read like `assignees[].summary`: `.` between fields, `[]` for any array item, `*`
//! for any map key; examples name a record's `id` and the concrete place,
//! `assignees[2].summary`; no value is ever quoted (only types), as in validation
//! errors, so a secret in a misplaced field cannot reach a report. `anyOf`/`oneOf` branches are alternatives: a value is
//! compared with the branches its type matches (fields named by any, required by all).

mod schema;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;
use serde_json::Value;

#[cfg(test)]
pub use schema::NoDocuments;
pub use schema::Resolver;
use schema::{Facet, Facets, Node, Others, Types};

/// The schemas records are compared with: each record type's schema, and every schema
/// document by its `$id` for the `$ref`s between them ([`Resolver`]).
pub struct Schemas {
    by_type: BTreeMap<String, Value>,
    /// A schema's `$id` to its record type.
    by_id: HashMap<String, String>,
}

impl Schemas {
    /// Every shared record schema of [`protocol::SchemaRegistry::global`].
    pub fn shared() -> Self {
        Schemas::of(protocol::SchemaRegistry::global())
    }

    /// Every record schema of `registry`: the shared ones and those its connector declared
    /// (a declared schema may `$ref` a shared one by its `$id`).
    pub fn of(registry: &protocol::SchemaRegistry) -> Self {
        let names = registry.record_types().chain(registry.declared_types());
        let by_type: BTreeMap<String, Value> =
            names.filter_map(|name| Some((name.to_owned(), registry.record_schema(name)?.clone()))).collect();
        let by_id = by_type
            .iter()
            .filter_map(|(name, schema)| Some((schema.get("$id")?.as_str()?.to_owned(), name.clone())))
            .collect();
        Schemas { by_type, by_id }
    }

    /// The schema of a record type.
    pub fn of_type(&self, record_type: &str) -> Option<&Value> {
        self.by_type.get(record_type)
    }
}

impl Resolver for Schemas {
    fn document(&self, uri: &str) -> Option<&Value> {
        self.by_type.get(self.by_id.get(uri)?)
    }
}

/// Where a finding was seen: a record's `id` and the place in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Example {
    /// The record's `id` (`?` when it has none).
    pub record: String,
    /// The concrete place, e.g. `assignees[2].summary`.
    pub path: String,
}

/// A field the schema does not name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnnamedField {
    /// Its path.
    pub path: String,
    /// How many times it was seen.
    pub count: u64,
    /// The JSON types of its values.
    pub types: Vec<String>,
    /// `false` when the schema forbids other fields (`additionalProperties: false`).
    pub allowed: bool,
    /// The first place it was seen.
    pub example: Example,
}

/// A field the schema names that no record had.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NeverSeen {
    /// Its path.
    pub path: String,
    /// How many objects could have had it (records, or the parent objects seen).
    pub of: u64,
}

/// A required field that was missing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MissingRequired {
    /// Its path.
    pub path: String,
    /// How many objects lacked it.
    pub count: u64,
    /// How many objects should have had it.
    pub of: u64,
    /// The first record that lacked it.
    pub example: Example,
}

/// Values of a type the schema does not allow at their place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeMismatch {
    /// The path.
    pub path: String,
    /// What the schema allows there, e.g. `string or null`.
    pub expected: String,
    /// The type found.
    pub found: String,
    /// How many values.
    pub count: u64,
    /// The first one.
    pub example: Example,
}

/// Everything found for one record type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeDrift {
    /// The `_type`.
    #[serde(rename = "type")]
    pub record_type: String,
    /// Records compared.
    pub records: u64,
    /// Fields records carry that the schema does not name.
    pub unnamed_fields: Vec<UnnamedField>,
    /// Fields the schema names that never appeared.
    pub never_seen: Vec<NeverSeen>,
    /// Required fields that were missing.
    pub missing_required: Vec<MissingRequired>,
    /// Values of a type not allowed at their place.
    pub type_mismatches: Vec<TypeMismatch>,
}

impl TypeDrift {
    /// Whether records break or leave the schema: unnamed fields, missing required fields
    /// or type mismatches. Fields never seen alone are not drift: a sample may simply
    /// not hold an optional field.
    pub fn drifted(&self) -> bool {
        !(self.unnamed_fields.is_empty() && self.missing_required.is_empty() && self.type_mismatches.is_empty())
    }
}

/// The drift of `records` from `schema`, all at once: what [`Observer`] finds when it is
/// given them one by one, as `runner schema diff` does to keep memory flat.
#[cfg(test)]
pub fn diff<'r>(
    record_type: &str,
    schema: &Value,
    resolver: &dyn Resolver,
    records: impl IntoIterator<Item = &'r Value>,
) -> TypeDrift {
    let mut observer = Observer::new(record_type, schema, resolver);
    records.into_iter().for_each(|record| observer.observe(record));
    observer.finish()
}

/// What was seen of the objects at one path.
#[derive(Default)]
struct ObjectStats {
    seen: u64,
    /// Fields the schema names there, and how often each appeared.
    named: BTreeMap<String, u64>,
}

/// A count and the first place it was seen.
struct Tally {
    count: u64,
    example: Example,
}

/// Per-path counts of an unnamed field.
struct UnnamedTally {
    tally: Tally,
    types: BTreeSet<String>,
    allowed: bool,
}

/// The records of one type, walked beside its schema.
pub struct Observer<'s> {
    record_type: String,
    root: Node<'s>,
    facets: Facets<'s>,
    patterns: HashMap<&'s str, Pattern>,
    records: u64,
    objects: BTreeMap<String, ObjectStats>,
    unnamed: BTreeMap<String, UnnamedTally>,
    missing: BTreeMap<String, Tally>,
    mismatches: BTreeMap<(String, String), (String, Tally)>,
}

/// A compiled `patternProperties` pattern (`None`: it does not compile).
type Pattern = Option<Box<dyn Fn(&Value) -> bool>>;

/// A place in the record being walked: its generic path, and the steps that lead to it,
/// from which the concrete path of an example is spelled only when one is needed.
struct Place<'a> {
    record: &'a str,
    generic: String,
    parent: Option<(&'a Place<'a>, Step<'a>)>,
}

/// One step down from a place.
#[derive(Clone, Copy)]
enum Step<'a> {
    Field(&'a str),
    Item(usize),
}

impl<'a> Place<'a> {
    fn field(&'a self, name: &'a str, as_map_value: bool) -> Self {
        let generic = if as_map_value { join(&self.generic, "*") } else { join(&self.generic, &field_segment(name)) };
        Place { record: self.record, generic, parent: Some((self, Step::Field(name))) }
    }

    fn item(&'a self, index: usize) -> Self {
        Place { record: self.record, generic: format!("{}[]", self.generic), parent: Some((self, Step::Item(index))) }
    }

    /// The concrete path: `assignees[2].summary`.
    fn concrete(&self) -> String {
        match self.parent {
            None => String::new(),
            Some((parent, Step::Field(name))) => join(&parent.concrete(), &field_segment(name)),
            Some((parent, Step::Item(index))) => format!("{}[{index}]", parent.concrete()),
        }
    }

    fn example(&self) -> Example {
        Example { record: self.record.to_owned(), path: self.concrete() }
    }
}

fn join(parent: &str, segment: &str) -> String {
    if parent.is_empty() || segment.starts_with('[') {
        format!("{parent}{segment}")
    } else {
        format!("{parent}.{segment}")
    }
}

/// A field name as a path segment: plain names as they are, others quoted (`["a.b"]`).
fn field_segment(name: &str) -> String {
    let plain = !name.is_empty()
        && name.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '$' | '@'))
        && name != "*";
    if plain {
        name.to_owned()
    } else {
        format!("[{}]", Value::String(name.to_owned()))
    }
}

impl<'s> Observer<'s> {
    /// An observer of records of `record_type` against `schema`.
    pub fn new(record_type: &str, schema: &'s Value, resolver: &'s dyn Resolver) -> Self {
        Observer {
            record_type: record_type.to_owned(),
            root: Node::root(schema),
            facets: Facets::new(resolver),
            patterns: HashMap::new(),
            records: 0,
            objects: BTreeMap::new(),
            unnamed: BTreeMap::new(),
            missing: BTreeMap::new(),
            mismatches: BTreeMap::new(),
        }
    }

    /// Walks one record.
    pub fn observe(&mut self, record: &Value) {
        self.records += 1;
        let id = match record.get("id") {
            Some(Value::String(id)) => id.clone(),
            Some(other) => other.to_string(),
            None => "?".to_owned(),
        };
        let place = Place { record: &id, generic: String::new(), parent: None };
        let facets = self.facets.of(&[self.root]);
        self.visit(record, &facets, &place);
    }

    fn visit(&mut self, value: &Value, facets: &[Facet<'s>], place: &Place<'_>) {
        let found = Types::of(value);
        let matching: Vec<&Facet<'s>> = facets.iter().filter(|facet| facet.types.admits(found)).collect();
        if matching.is_empty() {
            let expected = facets.iter().fold(Types::NONE, |all, facet| all.or(facet.types));
            self.mismatch(place, expected, found);
            return;
        }
        match value {
            Value::Object(object) => self.visit_object(object, &matching, place),
            Value::Array(items) => self.visit_array(items, &matching, place),
            _ => {}
        }
    }

    fn mismatch(&mut self, place: &Place<'_>, expected: Types, found: Types) {
        let key = (place.generic.clone(), found.describe());
        let (_, tally) = self
            .mismatches
            .entry(key)
            .or_insert_with(|| (expected.describe(), Tally { count: 0, example: place.example() }));
        tally.count += 1;
    }

    fn visit_object(&mut self, object: &serde_json::Map<String, Value>, matching: &[&Facet<'s>], place: &Place<'_>) {
        let describing: Vec<&Facet<'s>> = matching.iter().copied().filter(|f| f.describes_fields).collect();
        if describing.is_empty() {
            return; // A free-form object: nothing named, nothing to compare.
        }
        if !self.objects.contains_key(&place.generic) {
            self.objects.insert(place.generic.clone(), ObjectStats::default());
        }
        let stats = self.objects.get_mut(&place.generic).expect("inserted above");
        stats.seen += 1;
        for facet in &describing {
            for name in facet.properties.keys() {
                let present = u64::from(object.contains_key(*name));
                match stats.named.get_mut(*name) {
                    Some(count) => *count += present,
                    None => {
                        stats.named.insert((*name).to_owned(), present);
                    }
                }
            }
        }
        self.check_required(object, &describing, place);
        for (name, value) in object {
            self.visit_field(name, value, &describing, place);
        }
    }

    /// A field is required when every facet describing the object requires it.
    fn check_required(
        &mut self,
        object: &serde_json::Map<String, Value>,
        describing: &[&Facet<'s>],
        place: &Place<'_>,
    ) {
        let (first, others) = describing.split_first().expect("an object described by some facet");
        let required = first.required.iter().filter(|name| others.iter().all(|facet| facet.required.contains(*name)));
        for name in required.filter(|name| !object.contains_key(**name)) {
            let missing = place.field(name, false);
            let example = missing.example();
            let tally = self.missing.entry(missing.generic).or_insert_with(|| Tally { count: 0, example });
            tally.count += 1;
        }
    }

    fn visit_field(&mut self, name: &str, value: &Value, describing: &[&Facet<'s>], place: &Place<'_>) {
        let mut named: Vec<Node<'s>> = Vec::new();
        let mut is_named = false;
        let mut map_value = false;
        for facet in describing {
            if let Some(nodes) = facet.properties.get(name) {
                named.extend(nodes.iter().copied());
                is_named = true;
            }
            for &(pattern, node) in &facet.patterns {
                if self.matches(pattern, name) {
                    named.push(node);
                    is_named = true;
                }
            }
        }
        if !is_named {
            if let Some(nodes) = describing.iter().find_map(|f| match &f.others {
                Others::Described(nodes) => Some(nodes.clone()),
                _ => None,
            }) {
                named = nodes;
                map_value = true;
            }
        }
        let child = place.field(name, map_value);
        if !is_named && !map_value {
            let allowed = !describing.iter().all(|f| matches!(f.others, Others::Forbidden));
            self.unnamed_field(&child, value, allowed);
            return;
        }
        let facets = self.facets.of(&named);
        self.visit(value, &facets, &child);
    }

    fn unnamed_field(&mut self, place: &Place<'_>, value: &Value, allowed: bool) {
        let entry = self.unnamed.entry(place.generic.clone()).or_insert_with(|| UnnamedTally {
            tally: Tally { count: 0, example: place.example() },
            types: BTreeSet::new(),
            allowed,
        });
        entry.tally.count += 1;
        entry.types.insert(Types::of(value).describe());
        entry.allowed &= allowed;
    }

    fn visit_array(&mut self, items: &[Value], matching: &[&Facet<'s>], place: &Place<'_>) {
        for (index, item) in items.iter().enumerate() {
            let nodes: Vec<Node<'s>> = matching
                .iter()
                .flat_map(|facet| facet.prefix.get(index).unwrap_or(&facet.items).iter().copied())
                .collect();
            if nodes.is_empty() {
                continue; // Items the schema says nothing about.
            }
            let facets = self.facets.of(&nodes);
            self.visit(item, &facets, &place.item(index));
        }
    }

    /// Whether `name` matches a `patternProperties` pattern (ECMA 262, compiled once, as
    /// the validator compiles it; a pattern that does not compile matches nothing).
    fn matches(&mut self, pattern: &'s str, name: &str) -> bool {
        let matcher = self.patterns.entry(pattern).or_insert_with(|| {
            let compiled = protocol::registry::compile_schema(&serde_json::json!({"pattern": pattern})).ok();
            compiled.map(|validator| Box::new(move |name: &Value| validator.is_valid(name)) as _)
        });
        matcher.as_ref().is_some_and(|matches| matches(&Value::String(name.to_owned())))
    }

    /// What was found, sorted by path.
    pub fn finish(self) -> TypeDrift {
        let never_seen = self
            .objects
            .iter()
            .flat_map(|(path, stats)| {
                stats
                    .named
                    .iter()
                    .filter(|(_, count)| **count == 0)
                    .map(|(name, _)| NeverSeen { path: join(path, &field_segment(name)), of: stats.seen })
            })
            .collect();
        let missing_required = self
            .missing
            .into_iter()
            .map(|(path, tally)| {
                let parent = parent_of(&path);
                let of = self.objects.get(parent).map_or(0, |stats| stats.seen);
                MissingRequired { path, count: tally.count, of, example: tally.example }
            })
            .collect();
        TypeDrift {
            record_type: self.record_type,
            records: self.records,
            unnamed_fields: self
                .unnamed
                .into_iter()
                .map(|(path, u)| UnnamedField {
                    path,
                    count: u.tally.count,
                    types: u.types.into_iter().collect(),
                    allowed: u.allowed,
                    example: u.tally.example,
                })
                .collect(),
            never_seen,
            missing_required,
            type_mismatches: self
                .mismatches
                .into_iter()
                .map(|((path, found), (expected, tally))| TypeMismatch {
                    path,
                    expected,
                    found,
                    count: tally.count,
                    example: tally.example,
                })
                .collect(),
        }
    }
}

/// The generic path of the object holding the field at `path` (a quoted last segment
/// `a["x.y"]` or a plain one `a.b`).
fn parent_of(path: &str) -> &str {
    if path.ends_with("\"]") {
        if let Some(open) = path.rfind("[\"") {
            return &path[..open];
        }
    }
    path.rfind('.').map_or("", |dot| &path[..dot])
}

#[cfg(test)]
mod tests;
