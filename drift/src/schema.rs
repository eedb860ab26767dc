//! What a JSON Schema says about one place of a record, as drift needs it: the JSON types
//! allowed there, and for an object the fields it names, requires, and what it says of
//! other fields; for an array, what its items are.
//!
//! A schema place is flattened into *facets*: alternatives a value may match. `$ref` and
//! `allOf` are conjunctions (their facets are merged: types intersected, fields and
//! requirements united); `anyOf` and `oneOf` are alternatives (one facet per branch, so a
//! nullable reference `anyOf: [{$ref}, {type: null}]` is two facets). The distinction
//! `oneOf` makes (exactly one) does not matter for drift: which fields exist and which types
//! are possible is the same. `$ref`s are followed through a [`Resolver`], within a document
//! (`#/$defs/Reference`) and across documents by `$id`, relative or absolute.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::rc::Rc;

use serde_json::Value;

/// Where `$ref`s to other documents lead: the schema documents by `$id`. The registry of
/// shared record schemas is one; connector-declared schemas can be another.
pub trait Resolver {
    /// The schema document whose `$id` is `uri` (absolute, without a fragment).
    fn document(&self, uri: &str) -> Option<&Value>;
}

/// Resolves nothing beyond the document itself: for a schema with local `$ref`s only.
#[cfg(test)]
pub struct NoDocuments;

#[cfg(test)]
impl Resolver for NoDocuments {
    fn document(&self, _uri: &str) -> Option<&Value> {
        None
    }
}

/// Follow at most this many `$ref`s, `allOf`s and `anyOf`s nested in one place: a schema
/// that refers to itself without ever describing a value is read as "anything".
const MAX_DEPTH: usize = 32;

/// At most this many alternatives per place: `allOf` of several `anyOf`s multiplies them.
const MAX_FACETS: usize = 64;

/// A node of a schema and the document it belongs to (where `#...` references point).
#[derive(Debug, Clone, Copy)]
pub(super) struct Node<'s> {
    document: &'s Value,
    value: &'s Value,
}

impl<'s> Node<'s> {
    /// The root of a document.
    pub(super) fn root(document: &'s Value) -> Self {
        Node { document, value: document }
    }

    /// An identity for caching: the address of the node (documents outlive the cache).
    fn key(self) -> usize {
        std::ptr::from_ref(self.value) as usize
    }
}

/// The JSON types, as a set of bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) struct Types(u8);

impl Types {
    const NULL: u8 = 1;
    const BOOLEAN: u8 = 2;
    const INTEGER: u8 = 4;
    const NUMBER: u8 = 8;
    const STRING: u8 = 16;
    const ARRAY: u8 = 32;
    const OBJECT: u8 = 64;
    const NAMES: [(u8, &'static str); 7] = [
        (Self::OBJECT, "object"),
        (Self::ARRAY, "array"),
        (Self::STRING, "string"),
        (Self::NUMBER, "number"),
        (Self::INTEGER, "integer"),
        (Self::BOOLEAN, "boolean"),
        (Self::NULL, "null"),
    ];
    /// Every type.
    pub(super) const ANY: Types = Types(127);
    /// No type.
    pub(super) const NONE: Types = Types(0);

    /// The type of a value (a number without a fraction is an integer, as JSON Schema says).
    pub(super) fn of(value: &Value) -> Types {
        Types(match value {
            Value::Null => Self::NULL,
            Value::Bool(_) => Self::BOOLEAN,
            Value::Number(n) if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) => {
                Self::INTEGER
            }
            Value::Number(_) => Self::NUMBER,
            Value::String(_) => Self::STRING,
            Value::Array(_) => Self::ARRAY,
            Value::Object(_) => Self::OBJECT,
        })
    }

    fn named(name: &str) -> Types {
        Types(Self::NAMES.iter().find(|(_, n)| *n == name).map_or(0, |(bit, _)| *bit))
    }

    /// The types a `type` keyword allows (`"number"` allows integers too).
    fn from_keyword(keyword: &Value) -> Types {
        let names: Vec<&str> = match keyword {
            Value::String(name) => vec![name.as_str()],
            Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
            _ => return Types::ANY,
        };
        let mut types = names.into_iter().fold(Types::NONE, |all, name| all.or(Types::named(name)));
        if types.0 & Self::NUMBER != 0 {
            types.0 |= Self::INTEGER;
        }
        types
    }

    /// The types of the values a `const` or `enum` allows.
    fn of_values<'v>(values: impl IntoIterator<Item = &'v Value>) -> Types {
        values.into_iter().fold(Types::NONE, |all, value| all.or(Types::of(value)))
    }

    fn and(self, other: Types) -> Types {
        Types(self.0 & other.0)
    }

    pub(super) fn or(self, other: Types) -> Types {
        Types(self.0 | other.0)
    }

    /// Whether a value of type `value` (one type) is allowed.
    pub(super) fn admits(self, value: Types) -> bool {
        self.0 & value.0 != 0
    }

    /// `string or null`; `integer` is left out where `number` is there.
    pub(super) fn describe(self) -> String {
        let mut bits = self.0;
        if bits & Self::NUMBER != 0 {
            bits &= !Self::INTEGER;
        }
        let names: Vec<&str> = Self::NAMES.iter().filter(|(bit, _)| bits & bit != 0).map(|(_, n)| *n).collect();
        if names.is_empty() {
            "nothing".to_owned()
        } else {
            names.join(" or ")
        }
    }
}

/// What a facet says of the fields it does not name.
#[derive(Debug, Clone, Default)]
pub(super) enum Others<'s> {
    /// Nothing (`additionalProperties` absent or `true`): allowed, but not described.
    #[default]
    Unsaid,
    /// `additionalProperties: false`.
    Forbidden,
    /// `additionalProperties: {schema}`: a map whose values are described.
    Described(Vec<Node<'s>>),
}

/// One alternative of a schema place.
#[derive(Debug, Clone)]
pub(super) struct Facet<'s> {
    /// The types a value may have here.
    pub(super) types: Types,
    /// Named fields and their schemas (several when `allOf` names a field twice).
    pub(super) properties: BTreeMap<&'s str, Vec<Node<'s>>>,
    /// `patternProperties`: the pattern and its schema.
    pub(super) patterns: Vec<(&'s str, Node<'s>)>,
    /// Required fields.
    pub(super) required: BTreeSet<&'s str>,
    /// Fields not named.
    pub(super) others: Others<'s>,
    /// Whether the facet says anything of an object's fields (else an object here is free-form).
    pub(super) describes_fields: bool,
    /// `items` (2020-12) or the array form's rest: every item past `prefix`.
    pub(super) items: Vec<Node<'s>>,
    /// `prefixItems` (or draft-07 `items: [...]`): the first items, each its own schema.
    pub(super) prefix: Vec<Vec<Node<'s>>>,
}

impl<'s> Facet<'s> {
    /// A facet that allows anything and describes nothing.
    fn any() -> Self {
        Facet {
            types: Types::ANY,
            properties: BTreeMap::new(),
            patterns: Vec::new(),
            required: BTreeSet::new(),
            others: Others::Unsaid,
            describes_fields: false,
            items: Vec::new(),
            prefix: Vec::new(),
        }
    }

    /// A facet no value matches (the schema `false`).
    fn nothing() -> Self {
        Facet { types: Types::NONE, ..Facet::any() }
    }

    /// The facet of a schema object's own keywords (not its `$ref`, `allOf`, `anyOf`, `oneOf`).
    fn own(node: Node<'s>) -> Self {
        let Some(schema) = node.value.as_object() else { return Facet::any() };
        let at = |value: &'s Value| Node { document: node.document, value };
        let mut facet = Facet::any();
        if let Some(keyword) = schema.get("type") {
            facet.types = Types::from_keyword(keyword);
        }
        if let Some(value) = schema.get("const") {
            facet.types = facet.types.and(Types::of(value));
        }
        if let Some(Value::Array(values)) = schema.get("enum") {
            facet.types = facet.types.and(Types::of_values(values));
        }
        if let Some(Value::Object(properties)) = schema.get("properties") {
            facet.properties = properties.iter().map(|(name, value)| (name.as_str(), vec![at(value)])).collect();
        }
        if let Some(Value::Object(patterns)) = schema.get("patternProperties") {
            facet.patterns = patterns.iter().map(|(pattern, value)| (pattern.as_str(), at(value))).collect();
        }
        if let Some(Value::Array(required)) = schema.get("required") {
            facet.required = required.iter().filter_map(Value::as_str).collect();
        }
        facet.others = match schema.get("additionalProperties") {
            None | Some(Value::Bool(true)) => Others::Unsaid,
            Some(Value::Bool(false)) => Others::Forbidden,
            Some(other) => Others::Described(vec![at(other)]),
        };
        facet.describes_fields = ["properties", "patternProperties", "additionalProperties", "required"]
            .iter()
            .any(|keyword| schema.contains_key(*keyword));
        match (schema.get("prefixItems"), schema.get("items")) {
            (Some(Value::Array(prefix)), items) => {
                facet.prefix = prefix.iter().map(|item| vec![at(item)]).collect();
                facet.items = items.map(at).into_iter().collect();
            }
            (_, Some(Value::Array(tuple))) => {
                facet.prefix = tuple.iter().map(|item| vec![at(item)]).collect();
                facet.items = schema.get("additionalItems").map(at).into_iter().collect();
            }
            (_, Some(items)) => facet.items = vec![at(items)],
            (_, None) => {}
        }
        facet
    }

    /// Both facets at once (`allOf`): types intersected, fields and requirements united.
    fn merge(mut self, other: &Facet<'s>) -> Self {
        self.types = self.types.and(other.types);
        for (name, nodes) in &other.properties {
            self.properties.entry(name).or_default().extend(nodes.iter().copied());
        }
        self.patterns.extend(other.patterns.iter().copied());
        self.required.extend(other.required.iter().copied());
        self.others = match (self.others, &other.others) {
            (Others::Forbidden, _) | (_, Others::Forbidden) => Others::Forbidden,
            (Others::Described(mut mine), Others::Described(theirs)) => {
                mine.extend(theirs.iter().copied());
                Others::Described(mine)
            }
            (Others::Unsaid, theirs) => theirs.clone(),
            (mine, Others::Unsaid) => mine,
        };
        self.describes_fields |= other.describes_fields;
        self.items.extend(other.items.iter().copied());
        for (index, nodes) in other.prefix.iter().enumerate() {
            match self.prefix.get_mut(index) {
                Some(mine) => mine.extend(nodes.iter().copied()),
                None => self.prefix.push(nodes.clone()),
            }
        }
        self
    }
}

/// Every alternative of `left` merged with every alternative of `right`, at most [`MAX_FACETS`].
fn cross<'s>(left: Vec<Facet<'s>>, right: &[Facet<'s>]) -> Vec<Facet<'s>> {
    let mut out = Vec::new();
    for mine in &left {
        for theirs in right {
            if out.len() == MAX_FACETS {
                return out;
            }
            out.push(mine.clone().merge(theirs));
        }
    }
    out
}

/// Flattens schema places into facets, following `$ref`s, and remembers the answers
/// (records of one type ask about the same places again and again).
pub(super) struct Facets<'s> {
    resolver: &'s dyn Resolver,
    cache: HashMap<Vec<usize>, Rc<Vec<Facet<'s>>>>,
}

impl<'s> Facets<'s> {
    pub(super) fn new(resolver: &'s dyn Resolver) -> Self {
        Facets { resolver, cache: HashMap::new() }
    }

    /// The alternatives of a value that must match every schema of `nodes`.
    pub(super) fn of(&mut self, nodes: &[Node<'s>]) -> Rc<Vec<Facet<'s>>> {
        let key: Vec<usize> = nodes.iter().map(|node| node.key()).collect();
        if let Some(found) = self.cache.get(&key) {
            return Rc::clone(found);
        }
        let facets = Rc::new(self.all_of(nodes, 0));
        self.cache.insert(key, Rc::clone(&facets));
        facets
    }

    fn all_of(&self, nodes: &[Node<'s>], depth: usize) -> Vec<Facet<'s>> {
        nodes.iter().fold(vec![Facet::any()], |facets, node| cross(facets, &self.node(*node, depth)))
    }

    fn node(&self, node: Node<'s>, depth: usize) -> Vec<Facet<'s>> {
        match node.value {
            Value::Bool(false) => return vec![Facet::nothing()],
            Value::Object(_) if depth < MAX_DEPTH => {}
            _ => return vec![Facet::any()],
        }
        let at = |value: &'s Value| Node { document: node.document, value };
        let mut facets = vec![Facet::own(node)];
        if let Some(Value::String(reference)) = node.value.get("$ref") {
            let target = self.resolve(node, reference);
            facets = cross(facets, &target.map_or_else(|| vec![Facet::any()], |t| self.node(t, depth + 1)));
        }
        if let Some(Value::Array(all)) = node.value.get("allOf") {
            let all: Vec<Node<'s>> = all.iter().map(at).collect();
            facets = cross(facets, &self.all_of(&all, depth + 1));
        }
        for keyword in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = node.value.get(keyword) {
                let alternatives: Vec<Facet<'s>> =
                    branches.iter().flat_map(|branch| self.node(at(branch), depth + 1)).collect();
                facets = cross(facets, &alternatives);
            }
        }
        facets
    }

    /// The node a `$ref` names: `#/json/pointer` in the same document, or another document
    /// by its `$id` (absolute, or relative to this document's `$id`), then its pointer.
    /// An anchor (`#name`) is looked up by `$anchor`. `None`: it leads nowhere.
    fn resolve(&self, from: Node<'s>, reference: &str) -> Option<Node<'s>> {
        let (uri, fragment) = reference.split_once('#').unwrap_or((reference, ""));
        let document = if uri.is_empty() {
            from.document
        } else {
            let base = from.document.get("$id").and_then(Value::as_str).unwrap_or("");
            self.resolver.document(&join_uri(base, uri))?
        };
        let value = if fragment.is_empty() {
            document
        } else if fragment.starts_with('/') {
            document.pointer(&unescape_fragment(fragment))?
        } else {
            find_anchor(document, fragment)?
        };
        Some(Node { document, value })
    }
}

/// `reference` against `base`: absolute stays; relative replaces the base's last segment.
fn join_uri(base: &str, reference: &str) -> String {
    if reference.contains("://") || base.is_empty() {
        return reference.to_owned();
    }
    match base.rfind('/') {
        Some(slash) => format!("{}{reference}", &base[..=slash]),
        None => reference.to_owned(),
    }
}

/// A URI fragment's percent-escapes undone (`%25` and the like), for a JSON pointer.
fn unescape_fragment(fragment: &str) -> String {
    let bytes = fragment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = (bytes[index] == b'%').then(|| fragment.get(index + 1..index + 3)).flatten();
        match hex.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
            Some(byte) => {
                out.push(byte);
                index += 3;
            }
            None => {
                out.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The subschema of `document` whose `$anchor` is `name`.
fn find_anchor<'s>(document: &'s Value, name: &str) -> Option<&'s Value> {
    match document {
        Value::Object(map) if map.get("$anchor").and_then(Value::as_str) == Some(name) => Some(document),
        Value::Object(map) => map.values().find_map(|value| find_anchor(value, name)),
        Value::Array(items) => items.iter().find_map(|value| find_anchor(value, name)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    struct Documents(Vec<Value>);

    impl Resolver for Documents {
        fn document(&self, uri: &str) -> Option<&Value> {
            self.0.iter().find(|doc| doc["$id"] == uri)
        }
    }

    fn facets_of<'s>(resolver: &'s dyn Resolver, schema: &'s Value) -> Vec<Facet<'s>> {
        Facets::new(resolver).of(&[Node::root(schema)]).as_ref().clone()
    }

    #[test]
    fn types_come_from_type_const_and_enum_and_number_admits_integers() {
        let integer = Types::of(&json!(3));
        assert!(Types::from_keyword(&json!("number")).admits(integer));
        assert!(!Types::from_keyword(&json!("integer")).admits(Types::of(&json!(3.5))));
        assert!(Types::from_keyword(&json!("integer")).admits(Types::of(&json!(3.0))));
        assert_eq!(Types::from_keyword(&json!(["string", "null"])).describe(), "string or null");
        let schema = json!({"enum": ["a", null]});
        assert_eq!(facets_of(&NoDocuments, &schema)[0].types.describe(), "string or null");
        let schema = json!({"const": "Incident"});
        assert_eq!(facets_of(&NoDocuments, &schema)[0].types.describe(), "string");
    }

    #[test]
    fn any_of_gives_alternatives_and_all_of_merges() {
        let schema = json!({
            "$defs": {"Ref": {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}},
            "anyOf": [{"$ref": "#/$defs/Ref"}, {"type": "null"}],
        });
        let facets = facets_of(&NoDocuments, &schema);
        assert_eq!(facets.len(), 2);
        assert_eq!(facets[0].types.describe(), "object");
        assert!(facets[0].required.contains("id"));
        assert_eq!(facets[1].types.describe(), "null");

        let schema = json!({"allOf": [
            {"type": ["object", "null"], "properties": {"a": {}}},
            {"type": "object", "properties": {"b": {}}, "required": ["b"], "additionalProperties": false},
        ]});
        let facets = facets_of(&NoDocuments, &schema);
        assert_eq!(facets.len(), 1);
        assert_eq!(facets[0].types.describe(), "object");
        assert_eq!(facets[0].properties.keys().copied().collect::<Vec<_>>(), ["a", "b"]);
        assert!(matches!(facets[0].others, Others::Forbidden));
    }

    #[test]
    fn refs_cross_documents_by_id_relative_or_absolute_and_by_anchor() {
        let other = json!({"$id": "https://x.test/records/Actor.json", "$defs": {"Name": {"$anchor": "name", "type": "string"}},
                           "type": "object", "properties": {"email": {"type": "string"}}});
        let resolver = Documents(vec![other]);
        let schema = json!({"$id": "https://x.test/records/Incident.json", "properties": {
            "relative": {"$ref": "Actor.json"},
            "absolute": {"$ref": "https://x.test/records/Actor.json#/properties/email"},
            "anchored": {"$ref": "Actor.json#name"},
            "nowhere": {"$ref": "Missing.json"},
        }});
        let facets = facets_of(&resolver, &schema);
        let mut place = Facets::new(&resolver);
        let mut describe = |name: &str| place.of(&facets[0].properties[name])[0].types.describe();
        assert_eq!(describe("relative"), "object");
        assert_eq!(describe("absolute"), "string");
        assert_eq!(describe("anchored"), "string");
        assert_eq!(describe("nowhere"), "object or array or string or number or boolean or null");
    }

    #[test]
    fn a_schema_referring_to_itself_ends() {
        let schema = json!({"$defs": {"A": {"$ref": "#/$defs/B"}, "B": {"$ref": "#/$defs/A"}}, "$ref": "#/$defs/A"});
        let facets = facets_of(&NoDocuments, &schema);
        assert_eq!(facets[0].types, Types::ANY);
        let tree = json!({"type": "object", "properties": {"children": {"type": "array", "items": {"$ref": "#"}}}});
        let facets = facets_of(&NoDocuments, &tree);
        assert_eq!(facets[0].properties["children"].len(), 1);
    }

    #[test]
    fn tuples_and_pointer_escapes() {
        let schema = json!({"prefixItems": [{"type": "string"}], "items": {"type": "integer"}});
        let facets = facets_of(&NoDocuments, &schema);
        assert_eq!((facets[0].prefix.len(), facets[0].items.len()), (1, 1));
        assert_eq!(unescape_fragment("/$defs/a%20b"), "/$defs/a b");
        assert_eq!(join_uri("https://x.test/a/B.json", "C.json"), "https://x.test/a/C.json");
    }
}
