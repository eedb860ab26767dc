//! Formats of third-party schemas, reported rather than enforced.
//!
//! A record type a connector declares on a Stream whose `recordFormats` is `report` (an
//! adapter's translation of a Singer tap's or an Airbyte source's own schema) gets a
//! second validator, blind to `format`. A record its strict validator rejects but the
//! format-blind one accepts breaks only formats: the source's bug, not the user's; it is
//! accepted and each broken format named ([`FormatViolation`]). Structure (types,
//! `required`, enums, bounds) stays strict, and shared schemas are always enforced.
//!
//! Only the failure path pays: a valid record never reaches the second validator.

use jsonschema::error::ValidationErrorKind;
use jsonschema::Validator;
use serde_json::Value;

/// A value that breaks only a `format` of a schema whose formats are reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatViolation {
    /// JSON pointer of the value inside the record.
    pub path: String,
    /// The format it breaks (`date-time`, `uri`, ...).
    pub format: String,
    /// The value itself (not masked: the caller masks secrets before showing it).
    pub value: Value,
}

/// The format violations of `record`, when they are all that `strict` finds wrong with
/// it (`structure`, the same schema blind to formats, accepts it); `None` when anything
/// else is wrong too.
pub(super) fn only_formats(strict: &Validator, structure: &Validator, record: &Value) -> Option<Vec<FormatViolation>> {
    if !structure.is_valid(record) {
        return None;
    }
    let found: Vec<FormatViolation> = strict
        .iter_errors(record)
        .filter_map(|error| match error.kind() {
            ValidationErrorKind::Format { format } => Some(FormatViolation {
                path: error.instance_path().as_str().to_owned(),
                format: format.clone(),
                value: error.instance().clone().into_owned(),
            }),
            _ => None,
        })
        .collect();
    // A format inside a `oneOf` branch can fail without a format error of its own; such a
    // record is refused rather than accepted with nothing to report.
    (!found.is_empty()).then_some(found)
}
