//! A run's schemas as the store's typed tables read them ([`store::typed::RecordSchemas`]):
//! the store depends on no other crate of the workspace, so the engine hands it this view
//! of the registry it validates with.

use std::sync::Arc;

use protocol::SchemaRegistry;
use serde_json::Value;
use store::typed::RecordSchemas;

/// The schemas a run validates with, shared and declared, for its typed tables.
pub struct RunSchemas {
    registry: Arc<SchemaRegistry>,
    connector: String,
}

impl RunSchemas {
    /// The view of `registry` for a run of `connector` (named in a declared type's origin).
    pub fn new(registry: Arc<SchemaRegistry>, connector: &str) -> Self {
        RunSchemas { registry, connector: connector.to_owned() }
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
            return format!("declared by connector {}", self.connector);
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
}
