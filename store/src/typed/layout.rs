//! A record type's JSON Schema → the columns of its typed table: `connection` and `id`
//! (the key), then one column per top-level property (`_type` and `id` aside: the table
//! is the type, and `id` is the key), and a `<name>_id` column for each link to another
//! record.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::names::{snake_case, unique};
use super::RecordSchemas;

/// The columns every typed table starts with, its primary key.
pub const KEY_COLUMNS: [&str; 2] = ["connection", "id"];

/// How deep `$ref`s and unions are followed before a property is simply JSON (a schema
/// that refers to itself must not loop).
const MAX_DEPTH: usize = 16;

/// What a column holds, whatever the store: each store names it in its own SQL type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// `string`.
    Text,
    /// `string` with `format: date-time`.
    Timestamp,
    /// `string` with `format: date`.
    Date,
    /// `integer`.
    Integer,
    /// `number` (and a union of `integer` and `number`).
    Number,
    /// `boolean`.
    Boolean,
    /// Objects, arrays, unions of different types, anything the schema leaves open.
    Json,
}

impl ColumnType {
    /// The name people see (`runner tables`).
    pub fn as_str(self) -> &'static str {
        match self {
            ColumnType::Text => "text",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Date => "date",
            ColumnType::Integer => "integer",
            ColumnType::Number => "number",
            ColumnType::Boolean => "boolean",
            ColumnType::Json => "json",
        }
    }

    /// Whether a column of this type can take every value of `to` as it is, so the
    /// column may be altered in place: integers fit a number, anything fits JSON.
    pub fn widens_to(self, to: ColumnType) -> bool {
        self == to || to == ColumnType::Json || (self == ColumnType::Integer && to == ColumnType::Number)
    }
}

/// One column of a typed table (the key columns aside).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Column {
    /// Its name in the table (unquoted).
    pub name: String,
    /// The top-level property it comes from, as the connector spells it.
    pub property: String,
    /// What it holds.
    #[serde(rename = "type")]
    pub ty: ColumnType,
    /// Whether it is the `<name>_id` of a link: the linked record's `id`, as text.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub link_id: bool,
}

/// What the schema says of one property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Kind {
    ty: ColumnType,
    link: bool,
}

impl Kind {
    const JSON: Kind = Kind { ty: ColumnType::Json, link: false };
}

/// The columns of `schema`'s typed table, in a stable order: the properties' columns by
/// property name, then the link columns. Names follow [`super::names`].
pub fn columns(schema: &Value, schemas: &dyn RecordSchemas) -> Vec<Column> {
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else { return Vec::new() };
    let mut taken: HashSet<String> = KEY_COLUMNS.iter().map(|c| (*c).to_owned()).collect();
    let mut columns = Vec::new();
    let mut links = Vec::new();
    for (property, definition) in properties.iter().filter(|(p, _)| !matches!(p.as_str(), "_type" | "id")) {
        let kind = kind_of(definition, schema, schemas, Depth::default());
        let name = unique(&snake_case(property), &mut taken);
        columns.push(Column { name, property: property.clone(), ty: kind.ty, link_id: false });
        if kind.link {
            links.push(property);
        }
    }
    for property in links {
        let name = unique(&snake_case(&format!("{}_id", snake_case(property))), &mut taken);
        columns.push(Column { name, property: property.clone(), ty: ColumnType::Text, link_id: true });
    }
    columns
}

/// How far into a property's schema [`kind_of`] is, and whether a schema on the way
/// said which record types it points to (`x-references`, as the shared schemas do).
#[derive(Debug, Clone, Copy, Default)]
struct Depth {
    level: usize,
    hinted: bool,
}

impl Depth {
    fn into(self, object: &serde_json::Map<String, Value>) -> Depth {
        Depth { level: self.level + 1, hinted: self.hinted || object.contains_key("x-references") }
    }
}

/// The column type of a property's schema, and whether it links to another record.
fn kind_of(definition: &Value, root: &Value, schemas: &dyn RecordSchemas, depth: Depth) -> Kind {
    let Some(object) = definition.as_object().filter(|_| depth.level < MAX_DEPTH) else { return Kind::JSON };
    let inner = depth.into(object);
    if let Some(target) = object.get("$ref").and_then(Value::as_str) {
        return referenced(target, root, schemas, inner);
    }
    for union in ["anyOf", "oneOf"] {
        if let Some(branches) = object.get(union).and_then(Value::as_array) {
            let kinds = branches.iter().filter(|b| !is_null_only(b)).map(|b| kind_of(b, root, schemas, inner));
            return merged(kinds.collect()).unwrap_or(Kind::JSON);
        }
    }
    if let Some([single]) = object.get("allOf").and_then(Value::as_array).map(Vec::as_slice) {
        return kind_of(single, root, schemas, inner);
    }
    let ty = declared_type(object);
    let link = ty == ColumnType::Json && is_link_object(object);
    Kind { ty, link }
}

/// A `$ref`: within the schema (`#/$defs/...`), followed; to another record type's
/// schema, a link; anything else, JSON.
/// A `$ref` within the schema to an object with an `id` is a link when a schema on the
/// way named the types it points to.
fn referenced(target: &str, root: &Value, schemas: &dyn RecordSchemas, depth: Depth) -> Kind {
    if let Some(pointer) = target.strip_prefix('#') {
        let Some(resolved) = root.pointer(pointer) else { return Kind::JSON };
        let kind = kind_of(resolved, root, schemas, depth);
        let has_id = resolved.get("properties").and_then(|p| p.get("id")).is_some();
        return Kind { link: kind.link || (depth.hinted && has_id && kind.ty == ColumnType::Json), ..kind };
    }
    Kind { ty: ColumnType::Json, link: schemas.is_record_schema(target) }
}

/// One kind for the branches of a union: their common type (integer and number give
/// number), else JSON. `None` when no branch is left (only `null`).
fn merged(kinds: Vec<Kind>) -> Option<Kind> {
    let first = *kinds.first()?;
    kinds
        .iter()
        .skip(1)
        .try_fold(first, |acc, k| match (acc.ty, k.ty) {
            (a, b) if a == b => Some(Kind { ty: a, link: acc.link && k.link }),
            (ColumnType::Integer, ColumnType::Number) | (ColumnType::Number, ColumnType::Integer) => {
                Some(Kind { ty: ColumnType::Number, link: false })
            }
            _ => None,
        })
        .or(Some(Kind::JSON))
}

/// A schema that allows only `null`.
fn is_null_only(branch: &Value) -> bool {
    branch.get("type").and_then(Value::as_str) == Some("null") || branch.get("const") == Some(&Value::Null)
}

/// The type a schema's `type` (a name, or names with `null`) gives; `const` and `enum`
/// of strings are text; no type at all is JSON.
fn declared_type(object: &serde_json::Map<String, Value>) -> ColumnType {
    let format = object.get("format").and_then(Value::as_str);
    let names: Vec<&str> = match object.get("type") {
        Some(Value::String(name)) => vec![name.as_str()],
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).filter(|n| *n != "null").collect(),
        _ => return untyped(object),
    };
    let types: Vec<ColumnType> = names.iter().map(|name| named_type(name, format)).collect();
    match types.as_slice() {
        [single] => *single,
        [a, b] if a.widens_to(*b) || b.widens_to(*a) => {
            if a.widens_to(*b) {
                *b
            } else {
                *a
            }
        }
        _ => ColumnType::Json,
    }
}

fn named_type(name: &str, format: Option<&str>) -> ColumnType {
    match (name, format) {
        ("string", Some("date-time")) => ColumnType::Timestamp,
        ("string", Some("date")) => ColumnType::Date,
        ("string", _) => ColumnType::Text,
        ("integer", _) => ColumnType::Integer,
        ("number", _) => ColumnType::Number,
        ("boolean", _) => ColumnType::Boolean,
        _ => ColumnType::Json,
    }
}

/// A schema without `type`: text when every allowed value is a string.
fn untyped(object: &serde_json::Map<String, Value>) -> ColumnType {
    let all_strings = |values: &[Value]| !values.is_empty() && values.iter().all(Value::is_string);
    match (object.get("const"), object.get("enum").and_then(Value::as_array)) {
        (Some(Value::String(_)), _) => ColumnType::Text,
        (None, Some(values)) if all_strings(values) => ColumnType::Text,
        _ => ColumnType::Json,
    }
}

/// An object schema with both `_type` and `id` properties: a link to another record.
fn is_link_object(object: &serde_json::Map<String, Value>) -> bool {
    let properties = object.get("properties").and_then(Value::as_object);
    properties.is_some_and(|p| p.contains_key("_type") && p.contains_key("id"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::typed::tests::Schemas;

    fn types(schema: &Value) -> Vec<(String, ColumnType, bool)> {
        columns(schema, &Schemas::default()).into_iter().map(|c| (c.name, c.ty, c.link_id)).collect()
    }

    fn one(definition: Value) -> ColumnType {
        let schema = json!({"properties": {"p": definition}});
        columns(&schema, &Schemas::default())[0].ty
    }

    #[test]
    fn each_json_type_has_its_column_type() {
        use ColumnType::*;
        for (definition, expected) in [
            (json!({"type": "string"}), Text),
            (json!({"type": "string", "format": "date-time"}), Timestamp),
            (json!({"type": ["string", "null"], "format": "date-time"}), Timestamp),
            (json!({"type": "string", "format": "date"}), Date),
            (json!({"type": "string", "format": "uri"}), Text),
            (json!({"type": "integer"}), Integer),
            (json!({"type": ["integer", "null"]}), Integer),
            (json!({"type": "number"}), Number),
            (json!({"type": ["integer", "number"]}), Number),
            (json!({"type": "boolean"}), Boolean),
            (json!({"type": "object"}), Json),
            (json!({"type": "array", "items": {"type": "string"}}), Json),
            (json!({"type": ["string", "integer"]}), Json),
            (json!({"anyOf": [{"type": "string"}, {"type": "integer"}]}), Json),
            (json!({"anyOf": [{"type": "integer"}, {"type": "null"}]}), Integer),
            (json!({"enum": ["high", "low"]}), Text),
            (json!({"const": "x"}), Text),
            (json!({}), Json),
            (json!(true), Json),
        ] {
            assert_eq!(one(definition.clone()), expected, "{definition}");
        }
    }

    #[test]
    fn links_give_an_id_column() {
        let schema = json!({
            "$defs": {"Reference": {"type": "object", "properties": {"id": {"type": "string"}}}},
            "properties": {
                "_type": {"const": "Incident"},
                "id": {"type": "string"},
                "service": {"$ref": "#/$defs/Reference", "x-references": ["Service"]},
                "priority": {"anyOf": [{"$ref": "#/$defs/Reference"}, {"type": "null"}], "x-references": ["Priority"]},
                "owner": {"type": "object", "properties": {"_type": {"const": "Actor"}, "id": {"type": "string"}}},
                "repo": {"$ref": "https://example.test/records/Repository.json"},
                "plain": {"$ref": "#/$defs/Reference"},
            }
        });
        let got = types(&schema);
        let expect = |name: &str, ty, link| (name.to_owned(), ty, link);
        use ColumnType::*;
        assert_eq!(
            got,
            [
                expect("owner", Json, false),
                expect("plain", Json, false),
                expect("priority", Json, false),
                expect("repo", Json, false),
                expect("service", Json, false),
                expect("owner_id", Text, true),
                expect("priority_id", Text, true),
                expect("repo_id", Text, true),
                expect("service_id", Text, true),
            ]
        );
    }

    #[test]
    fn hostile_property_names_get_predictable_columns() {
        let schema = json!({"properties": {
            "Name": {"type": "string"}, "name": {"type": "string"},
            "connection": {"type": "string"}, "id": {"type": "string"},
            "a\"; DROP TABLE records; --": {"type": "integer"},
            "日付": {"type": "string"},
            "x".repeat(200): {"type": "boolean"},
            "serviceId": {"type": "string"},
            "service": {"type": "object", "properties": {"_type": {}, "id": {}}},
        }});
        let names: Vec<String> = types(&schema).into_iter().map(|(name, ..)| name).collect();
        let long = snake_case(&"x".repeat(200));
        assert_eq!(
            names,
            [
                "name",
                "a_drop_table_records",
                "connection_2",
                "name_2",
                "service",
                "service_id",
                &long,
                "日付",
                "service_id_2"
            ]
        );
    }

    #[test]
    fn a_schema_that_refers_to_itself_ends_as_json() {
        let schema =
            json!({"$defs": {"Loop": {"$ref": "#/$defs/Loop"}}, "properties": {"p": {"$ref": "#/$defs/Loop"}}});
        assert_eq!(types(&schema), [("p".to_owned(), ColumnType::Json, false)]);
    }
}
