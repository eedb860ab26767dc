//! Realistic Incident records, pre-serialised: the shared schema's fields plus nested
//! objects shaped like PagerDuty's incident (assignments, pending actions, impacted
//! services, body) as extra fields, about 1.3 KB each.
//!
//! A [`Generator`] serialises [`VARIANTS`] distinct records once, then produces record `i`
//! by copying variant `i % VARIANTS` and writing `i` into the fixed-width digits of its id
//! (which also appears in its `self` and `htmlUrl`). Producing a record is a memcpy and a
//! few digits, so the generator is never what a benchmark measures.

use serde_json::{json, Value};

/// Distinct records serialised up front.
pub const VARIANTS: usize = 1024;

/// Digits of the numeric part of an id: ids are `Q` followed by this many digits.
const ID_DIGITS: usize = 10;

/// The largest record index a generator can number (ids have [`ID_DIGITS`] digits).
pub const MAX_RECORDS: u64 = 10_u64.pow(ID_DIGITS as u32) - 1;

/// What precedes the record object in a line: `{"type":"record","record":`.
pub const RECORD_PREFIX: &str = r#"{"type":"record","record":"#;

/// Record `i`'s protocol line without its newline (slow; used for the variants).
pub fn record_message(i: u64) -> String {
    format!("{RECORD_PREFIX}{}}}", incident(i))
}

/// The `id` of record `i`.
pub fn id(i: u64) -> String {
    format!("Q{i:0width$}", width = ID_DIGITS)
}

fn reference(kind: &str, id: &str, summary: &str) -> Value {
    let plural = kind.strip_suffix('y').map_or_else(|| format!("{kind}s"), |stem| format!("{stem}ies"));
    json!({
        "id": id,
        "type": format!("{kind}_reference"),
        "summary": summary,
        "self": format!("https://api.pagerduty.com/{plural}/{id}"),
    })
}

fn timestamp(i: u64, offset_seconds: u64) -> String {
    let base = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").expect("a valid constant");
    let at = base + chrono::Duration::seconds(((i * 7_919) % 27_000_000 + offset_seconds) as i64);
    at.with_timezone(&chrono::Utc).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Record `i` as a JSON value.
pub fn incident(i: u64) -> Value {
    let id = id(i);
    let status = ["resolved", "resolved", "acknowledged", "triggered"][(i % 4) as usize];
    let service = reference("service", &format!("PSVC{:03}", i % 50), "Checkout API (production)");
    let user = reference("user", &format!("PUSR{:03}", i % 200), "Ada Lovelace");
    let (created, updated) = (timestamp(i, 0), timestamp(i, 2_747));
    json!({
        "_type": "Incident",
        "id": id,
        "self": format!("https://api.pagerduty.com/incidents/{id}"),
        "htmlUrl": format!("https://acme.pagerduty.com/incidents/{id}"),
        "number": i % 1_000_000 + 1,
        "title": "Checkout latency above 2s for more than five minutes in eu-west-1",
        "summary": format!("[#{}] Checkout latency above 2s in eu-west-1", i + 1),
        "status": status,
        "urgency": if i % 3 == 0 { "low" } else { "high" },
        "createdAt": created,
        "updatedAt": updated,
        "lastStatusChangeAt": updated,
        "lastStatusChangeBy": {"id": service["id"], "type": "service_reference"},
        "resolvedAt": if status == "resolved" { Value::from(updated.clone()) } else { Value::Null },
        "incidentKey": format!("{:032x}", u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        "service": service,
        "escalationPolicy": {"id": format!("PEP{:03}", i % 10), "type": "escalation_policy_reference", "summary": "Checkout on-call"},
        "priority": {"id": "PPRIO01", "summary": "P1", "type": "priority"},
        "teams": [{"id": format!("PTEAM{:02}", i % 7), "type": "team_reference", "summary": "Payments"}],
        "assignees": if status == "resolved" { json!([]) } else { json!([user]) },
        "assignedVia": "escalation_policy",
        "alertCounts": {"all": 2, "triggered": 0, "resolved": 2},
        "isMergeable": true,
        // Extra fields, shaped like PagerDuty's own incident object.
        "assignments": [{"at": created, "assignee": {"id": user["id"], "type": "user_reference"}}],
        "impactedServices": [{"id": service["id"], "type": "service_reference"}],
        "body": {"type": "incident_body", "details": "p99 2.4s"},
    })
}

/// Produces record lines at memcpy speed; see the module docs.
pub struct Generator {
    /// The serialised `record` message of each variant, with a trailing newline.
    lines: Vec<Vec<u8>>,
    /// Where the id's digits start in each variant.
    digits_at: Vec<Vec<usize>>,
}

impl Default for Generator {
    fn default() -> Self {
        Self::new()
    }
}

impl Generator {
    /// Serialises the variants.
    pub fn new() -> Self {
        let mut lines = Vec::with_capacity(VARIANTS);
        let mut digits_at = Vec::with_capacity(VARIANTS);
        for variant in 0..VARIANTS as u64 {
            let mut line = record_message(variant).into_bytes();
            line.push(b'\n');
            let needle = id(variant).into_bytes();
            let positions =
                line.windows(needle.len()).enumerate().filter(|(_, w)| *w == needle).map(|(at, _)| at + 1).collect();
            digits_at.push(positions);
            lines.push(line);
        }
        Generator { lines, digits_at }
    }

    /// Writes record `i`'s line (with its newline) into `out`, replacing its contents.
    pub fn line_into(&self, i: u64, out: &mut Vec<u8>) {
        let variant = (i % VARIANTS as u64) as usize;
        out.clear();
        out.extend_from_slice(&self.lines[variant]);
        let mut digits = [b'0'; ID_DIGITS];
        let mut n = i;
        for digit in digits.iter_mut().rev() {
            *digit = b'0' + (n % 10) as u8;
            n /= 10;
        }
        for &at in &self.digits_at[variant] {
            out[at..at + ID_DIGITS].copy_from_slice(&digits);
        }
    }

    /// Record `i`'s object alone (its JSON text), as a destination stores it.
    pub fn record_into(&self, i: u64, out: &mut Vec<u8>) {
        self.line_into(i, out);
        out.truncate(out.len() - "}\n".len());
        out.drain(..RECORD_PREFIX.len());
    }

    /// Average bytes per line, newline included.
    pub fn average_line_bytes(&self) -> f64 {
        self.lines.iter().map(Vec::len).sum::<usize>() as f64 / self.lines.len() as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Record 1026, written out by hand from what the module promises rather than derived
    /// from [`incident`]: the fields of variant 2 (1026 % [`VARIANTS`]) with 1026's id in
    /// `id`, `self` and `htmlUrl`. Variant 2 is `acknowledged`, so it has an assignee.
    fn record_1026_by_hand() -> Value {
        json!({
            "_type": "Incident",
            "id": "Q0000001026",
            "self": "https://api.pagerduty.com/incidents/Q0000001026",
            "htmlUrl": "https://acme.pagerduty.com/incidents/Q0000001026",
            "number": 3,
            "title": "Checkout latency above 2s for more than five minutes in eu-west-1",
            "summary": "[#3] Checkout latency above 2s in eu-west-1",
            "status": "acknowledged",
            "urgency": "high",
            "createdAt": "2026-01-01T04:23:58Z",
            "updatedAt": "2026-01-01T05:09:45Z",
            "lastStatusChangeAt": "2026-01-01T05:09:45Z",
            "lastStatusChangeBy": {"id": "PSVC002", "type": "service_reference"},
            "resolvedAt": null,
            "incidentKey": "00000000000000013c6ef372fe94f82a",
            "service": {
                "id": "PSVC002",
                "type": "service_reference",
                "summary": "Checkout API (production)",
                "self": "https://api.pagerduty.com/services/PSVC002",
            },
            "escalationPolicy": {"id": "PEP002", "type": "escalation_policy_reference", "summary": "Checkout on-call"},
            "priority": {"id": "PPRIO01", "summary": "P1", "type": "priority"},
            "teams": [{"id": "PTEAM02", "type": "team_reference", "summary": "Payments"}],
            "assignees": [{
                "id": "PUSR002",
                "type": "user_reference",
                "summary": "Ada Lovelace",
                "self": "https://api.pagerduty.com/users/PUSR002",
            }],
            "assignedVia": "escalation_policy",
            "alertCounts": {"all": 2, "triggered": 0, "resolved": 2},
            "isMergeable": true,
            "assignments": [{"at": "2026-01-01T04:23:58Z", "assignee": {"id": "PUSR002", "type": "user_reference"}}],
            "impactedServices": [{"id": "PSVC002", "type": "service_reference"}],
            "body": {"type": "incident_body", "details": "p99 2.4s"},
        })
    }

    #[test]
    fn generated_lines_equal_serialised_records_and_are_valid() {
        let generator = Generator::new();
        let registry = protocol::SchemaRegistry::global();
        let mut line = Vec::new();
        for i in [0, 1, 2, 1023, 1024, 1026, 123_456_789, MAX_RECORDS] {
            generator.line_into(i, &mut line);
            let text = std::str::from_utf8(&line).unwrap();
            // The module's promise, by the slow path: variant i % VARIANTS serialised, with
            // i's id wherever the variant's id was (its id, self and htmlUrl).
            let variant = i % VARIANTS as u64;
            let expected = format!("{}\n", record_message(variant).replace(&id(variant), &id(i)));
            assert_eq!(text, expected, "record {i}");
            assert_eq!(text.matches(&id(i)).count(), 3, "record {i}: its id in id, self and htmlUrl");
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(value["type"], "record", "record {i}");
            registry.validate_record(&value["record"]).unwrap_or_else(|e| panic!("record {i}: {e}"));
        }
        generator.line_into(1026, &mut line);
        let message: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(message, json!({"type": "record", "record": record_1026_by_hand()}));
    }

    #[test]
    fn a_record_alone_is_the_line_without_its_envelope() {
        let generator = Generator::new();
        let (mut line, mut record) = (Vec::new(), Vec::new());
        generator.line_into(77, &mut line);
        generator.record_into(77, &mut record);
        let message: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(serde_json::from_slice::<Value>(&record).unwrap(), message["record"]);
    }

    #[test]
    fn records_are_about_1_3_kb() {
        let average = Generator::new().average_line_bytes();
        assert!((1_200.0..1_500.0).contains(&average), "{average}");
    }
}
