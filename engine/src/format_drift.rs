//! Format drift: the values of a sync's records that break a `format` of a third party's
//! schema (a Stream's `recordFormats: report`), stored anyway. Per record type and
//! field: the format, how many values broke it, and one example. The one report of it
//! that every rendering uses: the summary (table and `--json`), the run's logs (one
//! `drift` line per field, which `runner runs` shows), `runner schema diff`.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use protocol::{FormatViolation, Redactor};

/// What the summary and the logs say to do about format drift.
pub const HINT: &str = "stored anyway, the schema being the source's own; the adapter's \"formats\": \"enforce\" \
                        rejects such records, \"ignore\" drops the formats";

/// What to do about a record rejected for its formats alone, of a type the connector
/// declares (enforced formats: a shared schema's never are a third party's).
pub const ENFORCED_HINT: &str = "only formats are broken, of a schema the connector declares; when it is a Singer \
                                 tap's or an Airbyte source's, the adapter's \"formats\" option decides: \"report\" \
                                 (the default) stores such records and reports the drift, \"ignore\" drops the formats";

/// An example value is cut to this many characters.
const EXAMPLE_CHARS: usize = 80;

/// The format drift of one stream sync (or several, merged).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FormatDrift {
    /// By (record type, field): what was found.
    fields: BTreeMap<(String, String), FieldDrift>,
}

/// The drift of one field of one record type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDrift {
    /// The format its values break.
    pub format: String,
    /// How many values broke it.
    pub count: u64,
    /// The first of them, as JSON text, secrets masked, cut to 80 characters.
    pub example: String,
}

impl FormatDrift {
    /// Counts `found`, a value of a `record_type` record; its example masked by `redactor`.
    pub fn add(&mut self, record_type: &str, found: &FormatViolation, redactor: &Redactor) {
        let key = (record_type.to_owned(), field_of(&found.path));
        let field = self.fields.entry(key).or_insert_with(|| FieldDrift {
            format: found.format.clone(),
            count: 0,
            example: example(&found.value, redactor),
        });
        field.count += 1;
    }

    /// Adds the counts of `other` (the streams of a sample, for `schema diff`).
    pub fn merge(&mut self, other: &FormatDrift) {
        for (key, found) in &other.fields {
            self.fields
                .entry(key.clone())
                .and_modify(|field| field.count += found.count)
                .or_insert_with(|| found.clone());
        }
    }

    /// Whether nothing drifted.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// `(record type, field, drift)`, by type then field.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str, &FieldDrift)> {
        self.fields.iter().map(|((record_type, field), drift)| (record_type.as_str(), field.as_str(), drift))
    }

    /// One line per field, for people and the run's logs:
    /// `FakerPurchases /created_at: 12 values are not a "date-time", e.g. "2001-02-03T11:53:10.771720"`.
    pub fn lines(&self) -> Vec<String> {
        self.fields()
            .map(|(record_type, field, drift)| {
                let values = if drift.count == 1 { "1 value is" } else { &format!("{} values are", drift.count) };
                format!("{record_type} {field}: {values} not a \"{}\", e.g. {}", drift.format, drift.example)
            })
            .collect()
    }

    /// `[{"type","field","format","count","example"}]`.
    pub fn to_json(&self) -> Value {
        let fields: Vec<Value> = self
            .fields()
            .map(|(record_type, field, drift)| {
                json!({"type": record_type, "field": field, "format": drift.format, "count": drift.count,
                    "example": drift.example})
            })
            .collect();
        Value::Array(fields)
    }
}

/// A value's JSON pointer with array indices as `*`: one field, whatever the item.
fn field_of(path: &str) -> String {
    let segments: Vec<&str> =
        path.split('/').map(|s| if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) { "*" } else { s }).collect();
    segments.join("/")
}

fn example(value: &Value, redactor: &Redactor) -> String {
    let text = redactor.redact(&value.to_string()).into_owned();
    if text.chars().count() <= EXAMPLE_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(EXAMPLE_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken(path: &str, value: &str) -> FormatViolation {
        FormatViolation { path: path.into(), format: "date-time".into(), value: json!(value) }
    }

    #[test]
    fn drift_is_counted_per_type_and_field_with_the_first_value_masked() {
        let redactor = Redactor::new(["s3cr3t-value".to_owned()]);
        let mut drift = FormatDrift::default();
        drift.add("FakerPurchases", &broken("/created_at", "2001-02-03T11:53:10"), &redactor);
        drift.add("FakerPurchases", &broken("/created_at", "2002-02-03T11:53:10"), &redactor);
        drift.add("FakerPurchases", &broken("/items/3/at", "s3cr3t-value"), &redactor);
        drift.add("FakerPurchases", &broken("/items/4/at", "x"), &redactor);
        assert_eq!(
            drift.lines(),
            [
                r#"FakerPurchases /created_at: 2 values are not a "date-time", e.g. "2001-02-03T11:53:10""#,
                r#"FakerPurchases /items/*/at: 2 values are not a "date-time", e.g. "***""#,
            ]
        );
        assert_eq!(drift.to_json()[0]["count"], 2);
        let mut merged = drift.clone();
        merged.merge(&drift);
        assert_eq!(merged.to_json()[1]["count"], 4);
        assert!(FormatDrift::default().is_empty() && !drift.is_empty());
    }
}
