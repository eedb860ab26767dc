//! PagerDuty objects to shared records: snake_case to camelCase, only the fields the
//! shared schemas describe, references kept as `{id, self, type, summary, htmlUrl}`.
//!
//! Each record type is a table of the PagerDuty fields it takes. A field PagerDuty sends
//! as `null` is kept as `null` only where the schema allows it, and left out otherwise,
//! so a sparse answer never turns into an invalid record.

use serde_json::{Map, Value};

/// Whether `null` is a valid value of the field in the shared schema.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Null {
    Keep,
    Drop,
}
use Null::{Drop, Keep};

/// `(PagerDuty field, null handling)`; the record field is its camelCase.
type Fields = &'static [(&'static str, Null)];

const INCIDENT: Fields = &[
    ("id", Drop),
    ("self", Drop),
    ("title", Drop),
    ("status", Drop),
    ("created_at", Drop),
    ("html_url", Keep),
    ("summary", Keep),
    ("description", Keep),
    ("updated_at", Drop),
    ("last_status_change_at", Drop),
    ("last_status_change_by", Keep),
    ("resolved_at", Keep),
    ("urgency", Drop),
    ("incident_key", Keep),
    ("service", Drop),
    ("escalation_policy", Keep),
    ("priority", Keep),
    ("teams", Drop),
    ("assigned_via", Drop),
    ("first_trigger_log_entry", Keep),
    ("alert_counts", Drop),
    ("is_mergeable", Drop),
    ("incident_type", Keep),
    ("resolve_reason", Keep),
    ("conference_bridge", Keep),
];

const LOG_ENTRY: Fields = &[
    ("id", Drop),
    ("self", Drop),
    ("created_at", Drop),
    ("incident", Drop),
    ("summary", Keep),
    ("html_url", Keep),
    ("agent", Keep),
    ("channel", Keep),
    ("service", Keep),
    ("teams", Drop),
    ("note", Keep),
    ("assignees", Drop),
    ("user", Keep),
    ("acknowledgement_timeout", Keep),
    ("event_details", Keep),
    ("contexts", Drop),
];

const USER: Fields = &[
    ("id", Drop),
    ("self", Drop),
    ("name", Drop),
    ("email", Drop),
    ("summary", Keep),
    ("html_url", Keep),
    ("time_zone", Keep),
    ("role", Drop),
    ("job_title", Keep),
    ("description", Keep),
    ("avatar_url", Keep),
    ("color", Keep),
    ("teams", Drop),
    ("invitation_sent", Drop),
    ("created_via_sso", Drop),
];

const SERVICE: Fields = &[
    ("id", Drop),
    ("self", Drop),
    ("name", Drop),
    ("summary", Keep),
    ("description", Keep),
    ("status", Drop),
    ("html_url", Keep),
    ("created_at", Drop),
    ("updated_at", Drop),
    ("last_incident_timestamp", Keep),
    ("escalation_policy", Drop),
    ("teams", Drop),
    ("integrations", Drop),
    ("acknowledgement_timeout", Keep),
    ("auto_resolve_timeout", Keep),
    ("alert_creation", Drop),
];

const TEAM: Fields = &[
    ("id", Drop),
    ("self", Drop),
    ("name", Drop),
    ("summary", Keep),
    ("description", Keep),
    ("html_url", Keep),
    ("parent", Keep),
    ("default_role", Drop),
];

const ESCALATION_POLICY: Fields = &[
    ("id", Drop),
    ("self", Drop),
    ("name", Drop),
    ("summary", Keep),
    ("description", Keep),
    ("html_url", Keep),
    ("num_loops", Drop),
    ("on_call_handoff_notifications", Drop),
    ("escalation_rules", Drop),
    ("services", Drop),
    ("teams", Drop),
];

const PRIORITY: Fields =
    &[("id", Drop), ("self", Drop), ("name", Drop), ("summary", Keep), ("description", Keep), ("html_url", Keep)];

/// An Incident record from a PagerDuty incident.
pub fn incident(pd: &Value) -> Value {
    let mut record = pick("Incident", pd, INCIDENT);
    rename(&mut record, pd, "incident_number", "number");
    record.insert("assignees".into(), nested_refs(pd, "assignments", "assignee"));
    record.insert("acknowledgers".into(), nested_refs(pd, "acknowledgements", "acknowledger"));
    Value::Object(record)
}

/// An IncidentLogEntry record from a PagerDuty log entry.
pub fn log_entry(pd: &Value) -> Value {
    let mut record = pick("IncidentLogEntry", pd, LOG_ENTRY);
    rename(&mut record, pd, "type", "logType");
    Value::Object(record)
}

/// An Actor record from a PagerDuty user.
pub fn user(pd: &Value) -> Value {
    Value::Object(pick("Actor", pd, USER))
}

/// A Service record.
pub fn service(pd: &Value) -> Value {
    Value::Object(pick("Service", pd, SERVICE))
}

/// A Team record.
pub fn team(pd: &Value) -> Value {
    Value::Object(pick("Team", pd, TEAM))
}

/// An EscalationPolicy record.
pub fn escalation_policy(pd: &Value) -> Value {
    Value::Object(pick("EscalationPolicy", pd, ESCALATION_POLICY))
}

/// A Priority record.
pub fn priority(pd: &Value) -> Value {
    Value::Object(pick("Priority", pd, PRIORITY))
}

/// An OnCall record. PagerDuty's on-call entries have no id or URL: the id is
/// `<policy id>:<level>:<user id>:<start or "always">`, `self` the policy's URL.
pub fn on_call(pd: &Value) -> Value {
    let mut record = pick("OnCall", pd, &[("user", Drop), ("escalation_policy", Drop), ("schedule", Keep)]);
    rename(&mut record, pd, "escalation_level", "escalationLevel");
    for key in ["start", "end"] {
        record.insert(key.into(), pd.get(key).cloned().unwrap_or(Value::Null));
    }
    let id_of = |key: &str| pd[key]["id"].as_str().unwrap_or("?").to_owned();
    let start = pd["start"].as_str().unwrap_or("always");
    let level = pd["escalation_level"].as_i64().unwrap_or(0);
    let id = format!("{}:{level}:{}:{start}", id_of("escalation_policy"), id_of("user"));
    record.insert("id".into(), Value::String(id));
    record.insert("self".into(), pd["escalation_policy"]["self"].clone());
    Value::Object(record)
}

/// `_type` plus the table's fields, camelCased.
fn pick(record_type: &str, pd: &Value, fields: Fields) -> Map<String, Value> {
    let mut record = Map::new();
    record.insert("_type".into(), Value::String(record_type.to_owned()));
    for &(key, null) in fields {
        match pd.get(key) {
            None => {}
            Some(Value::Null) if null == Drop => {}
            Some(value) => {
                record.insert(camel_case(key), camelize(value));
            }
        }
    }
    record
}

/// Copies `pd[from]` to `record[to]` when present and not null.
fn rename(record: &mut Map<String, Value>, pd: &Value, from: &str, to: &str) {
    if let Some(value) = pd.get(from).filter(|v| !v.is_null()) {
        record.insert(to.to_owned(), camelize(value));
    }
}

/// `[{"assignee": ref}, ...]` to `[ref, ...]`.
fn nested_refs(pd: &Value, list: &str, key: &str) -> Value {
    let refs = pd[list].as_array().into_iter().flatten().filter_map(|item| item.get(key)).filter(|r| r.is_object());
    Value::Array(refs.map(camelize).collect())
}

/// A value with every object key camelCased, except inside free-form `details`, whose
/// keys are the user's own.
fn camelize(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let v = if k == "details" || k == "custom_details" { v.clone() } else { camelize(v) };
                    (camel_case(k), v)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(camelize).collect()),
        other => other.clone(),
    }
}

/// `last_status_change_at` -> `lastStatusChangeAt`; `self` and `_type` stay.
fn camel_case(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    let mut upper = false;
    for (i, c) in key.chars().enumerate() {
        if c == '_' && i > 0 {
            upper = true;
        } else if upper {
            out.extend(c.to_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use connector_sdk::protocol::SchemaRegistry;
    use serde_json::json;

    fn reference(kind: &str, id: &str) -> Value {
        json!({"id": id, "type": format!("{kind}_reference"), "summary": format!("{kind} {id}"),
               "self": format!("https://api.pagerduty.com/{kind}s/{id}"), "html_url": null})
    }

    fn valid(record: &Value) {
        SchemaRegistry::global().validate_record(record).unwrap_or_else(|e| panic!("{e}\n{record:#}"));
    }

    #[test]
    fn camel_case_converts_snake_case_only() {
        assert_eq!(camel_case("last_status_change_at"), "lastStatusChangeAt");
        assert_eq!(camel_case("self"), "self");
        assert_eq!(camel_case("_type"), "_type");
        assert_eq!(camel_case("html_url"), "htmlUrl");
    }

    #[test]
    fn an_incident_maps_to_a_valid_record_with_references_and_people() {
        let pd = json!({
            "id": "Q1", "type": "incident", "self": "https://api.pagerduty.com/incidents/Q1", "html_url": null,
            "summary": "[#7] Disk full", "incident_number": 7, "title": "Disk full", "status": "acknowledged",
            "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:10:00Z", "urgency": null,
            "service": reference("service", "S1"), "priority": null, "teams": [reference("team", "T1")],
            "assignments": [{"at": "2026-01-02T03:04:06Z", "assignee": reference("user", "U1")}],
            "acknowledgements": [{"at": "2026-01-02T03:05:00Z", "acknowledger": reference("user", "U2")}],
            "alert_counts": {"all": 2, "triggered": 2, "resolved": 0}, "incident_type": {"name": "incident_default"},
            "first_trigger_log_entry": reference("trigger_log_entry", "R1"), "pending_actions": [],
            "conference_bridge": {"conference_number": "+1", "conference_url": null}
        });
        let record = incident(&pd);
        valid(&record);
        assert_eq!(record["number"], 7);
        assert_eq!(record["createdAt"], "2026-01-02T03:04:05Z");
        assert_eq!(record["assignees"][0]["id"], "U1");
        assert_eq!(record["acknowledgers"][0]["id"], "U2");
        assert_eq!(record["teams"][0]["htmlUrl"], Value::Null);
        assert_eq!(record["priority"], Value::Null, "nullable fields keep null");
        assert!(record.get("urgency").is_none(), "non-nullable nulls are left out");
        assert!(record.get("pendingActions").is_none(), "fields outside the schema are left out");
        assert_eq!(record["conferenceBridge"]["conferenceNumber"], "+1");
    }

    #[test]
    fn a_log_entry_keeps_its_type_as_log_type_and_details_keys_verbatim() {
        let pd = json!({
            "id": "R1", "type": "trigger_log_entry", "self": "https://api.pagerduty.com/log_entries/R1",
            "created_at": "2026-01-02T03:04:05Z", "incident": reference("incident", "Q1"),
            "agent": reference("service", "S1"), "channel": {"type": "api", "details": {"my_key": 1}},
            "teams": [], "contexts": [{"type": "link", "href": "https://x.test", "text": "x"}],
            "event_details": {"description": "Disk full"}
        });
        let record = log_entry(&pd);
        valid(&record);
        assert_eq!(record["logType"], "trigger_log_entry");
        assert_eq!(record["incident"]["id"], "Q1");
        assert_eq!(record["channel"]["details"]["my_key"], 1);
        assert_eq!(record["eventDetails"]["description"], "Disk full");
    }

    #[test]
    fn small_objects_map_to_valid_records() {
        let user_pd = json!({"id": "U1", "type": "user", "self": "https://api.pagerduty.com/users/U1",
            "name": "Ada", "email": "ada@example.com", "time_zone": "Europe/London", "role": "admin",
            "job_title": null, "avatar_url": "https://x.test/a.png", "teams": [reference("team", "T1")],
            "invitation_sent": false, "contact_methods": [reference("email_contact_method", "C1")]});
        let actor = user(&user_pd);
        valid(&actor);
        assert!(actor.get("contactMethods").is_none());
        let policy = json!({"id": "P1", "type": "escalation_policy", "self": "https://api.pagerduty.com/escalation_policies/P1",
            "name": "Ops", "num_loops": 0, "on_call_handoff_notifications": "if_has_services",
            "escalation_rules": [{"id": "ER1", "escalation_delay_in_minutes": 30, "targets": [reference("schedule", "SC1")]}],
            "services": [reference("service", "S1")], "teams": []});
        let record = escalation_policy(&policy);
        valid(&record);
        assert_eq!(record["escalationRules"][0]["escalationDelayInMinutes"], 30);
        let svc = json!({"id": "S1", "type": "service", "self": "https://api.pagerduty.com/services/S1", "name": "API",
            "status": "active", "created_at": "2025-01-01T00:00:00Z", "escalation_policy": reference("escalation_policy", "P1"),
            "teams": [], "integrations": [], "acknowledgement_timeout": null, "auto_resolve_timeout": 14400,
            "last_incident_timestamp": null, "alert_creation": "create_alerts_and_incidents"});
        valid(&service(&svc));
        valid(&team(&json!({"id": "T1", "type": "team", "self": "https://api.pagerduty.com/teams/T1", "name": "Ops",
            "description": null, "parent": null, "default_role": "manager"})));
        valid(&priority(&json!({"id": "PR1", "type": "priority", "self": "https://api.pagerduty.com/priorities/PR1",
            "name": "P1", "description": "Worst"})));
    }

    #[test]
    fn an_on_call_gets_a_stable_id_and_the_policy_url() {
        let pd = json!({"escalation_policy": reference("escalation_policy", "P1"), "escalation_level": 1,
            "schedule": reference("schedule", "SC1"), "user": reference("user", "U1"),
            "start": "2026-01-05T09:00:00Z", "end": "2026-01-06T09:00:00Z"});
        let record = on_call(&pd);
        valid(&record);
        assert_eq!(record["id"], "P1:1:U1:2026-01-05T09:00:00Z");
        assert_eq!(record["self"], "https://api.pagerduty.com/escalation_policys/P1");
        let permanent = json!({"escalation_policy": reference("escalation_policy", "P1"), "escalation_level": 2,
            "schedule": null, "user": reference("user", "U2"), "start": null, "end": null});
        let record = on_call(&permanent);
        valid(&record);
        assert_eq!(record["id"], "P1:2:U2:always");
    }
}
