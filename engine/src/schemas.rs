//! A run's schemas as the store's typed tables read them ([`store::typed::RecordSchemas`]):
//! the store depends on no other crate of the workspace, so the engine hands it this view
//! of the registry it validates with.

use std::collections::BTreeMap;
use std::sync::Arc;

use protocol::{DeclaredSchemaError, SchemaRegistry};
use serde_json::Value;
use store::typed::RecordSchemas;

/// The schemas a run validates with, shared and declared, for its typed tables.
pub struct RunSchemas {
    registry: Arc<SchemaRegistry>,
    declared_by: DeclaredBy,
}

/// Where the declared types' schemas came from.
enum DeclaredBy {
    /// The connector of the run.
    Connector(String),
    /// A store's typed tables, by type (`runner tables rebuild`): their recorded origin.
    Store(BTreeMap<String, String>),
}

impl RunSchemas {
    /// The view of `registry` for a run of `connector` (named in a declared type's origin).
    pub fn new(registry: Arc<SchemaRegistry>, connector: &str) -> Self {
        RunSchemas { registry, declared_by: DeclaredBy::Connector(connector.to_owned()) }
    }

    /// The shared schemas as this runner has them, and the schemas a store recorded for
    /// the other types of its typed tables (`stored`: type → schema and origin): what a
    /// rebuild projects with after an upgrade.
    ///
    /// # Errors
    /// A recorded schema no longer compiles.
    pub fn stored(stored: &BTreeMap<String, (Value, String)>) -> Result<Self, DeclaredSchemaError> {
        let shared = SchemaRegistry::global();
        let declared: BTreeMap<String, Value> = stored
            .iter()
            .filter(|(record_type, _)| shared.record_schema(record_type).is_none())
            .map(|(record_type, (schema, _))| (record_type.clone(), schema.clone()))
            .collect();
        let origins = stored.iter().map(|(record_type, (_, origin))| (record_type.clone(), origin.clone())).collect();
        let registry = Arc::new(shared.with_declared(&declared)?);
        Ok(RunSchemas { registry, declared_by: DeclaredBy::Store(origins) })
    }
}

impl RecordSchemas for RunSchemas {
    fn schema(&self, record_type: &str) -> Option<&Value> {
        self.registry.record_schema(record_type)
    }

    /// Read only when a table's columns are worked out (once per type and run): a scan of
    /// the record types is cheap enough.
    fn is_record_schema(&self, uri: &str) -> bool {
        let mut types = self.registry.record_types().chain(self.registry.declared_types());
        types.any(|t| self.schema(t).and_then(|s| s.get("$id")).and_then(Value::as_str) == Some(uri))
    }

    fn origin(&self, record_type: &str) -> String {
        if self.registry.is_declared(record_type) {
            return match &self.declared_by {
                DeclaredBy::Connector(connector) => format!("declared by connector {connector}"),
                DeclaredBy::Store(origins) => {
                    origins.get(record_type).cloned().unwrap_or_else(|| "declared".to_owned())
                }
            };
        }
        let id = self.schema(record_type).and_then(|s| s.get("$id")).and_then(Value::as_str);
        id.map_or_else(|| "shared".to_owned(), |id| format!("shared {id}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_schemas_are_found_and_their_ids_are_records() {
        let schemas = RunSchemas::new(
            Arc::new(SchemaRegistry::global().with_declared(&Default::default()).unwrap()),
            "pagerduty",
        );
        assert!(schemas.schema("Incident").is_some());
        assert!(schemas.is_record_schema("https://schemas.connector-toolkit.dev/records/Actor.json"));
        assert!(!schemas.is_record_schema("https://example.test/elsewhere.json"));
        assert_eq!(schemas.origin("Incident"), "shared https://schemas.connector-toolkit.dev/records/Incident.json");
    }

    #[test]
    fn a_stores_schemas_keep_their_origin_and_shared_types_take_the_runners() {
        let widget = serde_json::json!({"type": "object", "required": ["_type", "id"], "properties": {"id": {"type": "string"}}});
        let stored = BTreeMap::from([
            ("AcmeWidget".to_owned(), (widget.clone(), "declared by connector acme".to_owned())),
            ("Incident".to_owned(), (widget, "shared".to_owned())),
        ]);
        let schemas = RunSchemas::stored(&stored).unwrap();
        assert_eq!(schemas.origin("AcmeWidget"), "declared by connector acme");
        assert!(schemas.schema("Incident").unwrap().get("$id").is_some(), "the runner's own Incident schema");
    }
}
