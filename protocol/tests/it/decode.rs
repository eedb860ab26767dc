//! The one-pass decoder ([`decode_line`]) against the two-pass path it replaces on the hot
//! path ([`ConnectorMessage::decode`], then [`SchemaRegistry::validate_record_json`] on the
//! record's text): the same message, the same record text byte for byte, the same
//! `extracted_at`, the same validation verdict (type, id, errors), the same decoding errors.
//! Every record fixture is wrapped in many envelopes, regular and tricky: escaped names,
//! duplicated fields, odd `extracted_at`s, records that are not objects, texts the tape
//! refuses but serde reads, and texts neither reads.

use protocol::{decode_line, ConnectorMessage, LineMessage, RecordCheck, SchemaRegistry};
use serde_json::Value;

use crate::tape::respelled;
use crate::util::record_fixture;

/// What a line decodes to, owned, so both paths can be compared.
#[derive(Debug, PartialEq)]
enum Decoded {
    Record { text: String, extracted_at: Option<String>, check: RecordCheck },
    Other(ConnectorMessage),
    Error(String),
}

fn two_pass(line: &str) -> Decoded {
    match ConnectorMessage::decode(line) {
        Ok(ConnectorMessage::Record(record)) => Decoded::Record {
            text: record.record.get().to_owned(),
            extracted_at: record.extracted_at,
            check: SchemaRegistry::global().validate_record_json(record.record.get()),
        },
        Ok(other) => Decoded::Other(other),
        Err(error) => Decoded::Error(error.to_string()),
    }
}

/// The one-pass result, and whether the record was validated on the line's own tape.
/// A record's offset must say where its text is in the line.
fn one_pass(line: &str) -> (Decoded, bool) {
    decode_line(line, |decoded| match decoded {
        Ok(LineMessage::Record(record)) => {
            let on_tape = record.node.is_some();
            let check = SchemaRegistry::global().validate_record_node(record.text, record.node);
            assert_eq!(line.get(record.offset..record.offset + record.text.len()), Some(record.text), "{line}");
            let extracted_at = record.extracted_at.map(|at| at.into_owned());
            (Decoded::Record { text: record.text.to_owned(), extracted_at, check }, on_tape)
        }
        Ok(LineMessage::Other(message)) => (Decoded::Other(message), false),
        Err(error) => (Decoded::Error(error.to_string()), false),
    })
}

/// Envelopes around a record's text `r`: the regular one and the tricky ones.
fn envelopes(r: &str) -> Vec<String> {
    let at = r#""2026-01-02T03:04:05Z""#;
    vec![
        format!(r#"{{"type":"record","record":{r}}}"#),
        format!(r#"{{"type":"record","record":{r},"extracted_at":{at}}}"#),
        format!(r#"{{"extracted_at":{at},"record":{r},"type":"record"}}"#),
        format!(" {{ \"type\" : \"record\" ,\t\"record\" : {r} , \"extracted_at\" : {at} }} "),
        format!(r#"{{"type":"record","record":{r},"extracted_at":null}}"#),
        format!(r#"{{"type":"record","record":{r},"extracted_at":"2026-01-02T03:04:05\u005a"}}"#),
        format!(r#"{{"type":"record","record":{r},"extracted_at":12}}"#),
        format!(r#"{{"type":"record","record":{r},"extracted_at":{{"at":1}}}}"#),
        format!(r#"{{"typ\u0065":"rec\u006frd","r\u0065cord":{r}}}"#),
        format!(r#"{{"type":"record","record":{r},"type":"record"}}"#),
        format!(r#"{{"type":"record","record":{r},"record":{r}}}"#),
        format!(r#"{{"type":"record","record":{r},"extracted_at":{at},"extracted_at":{at}}}"#),
        format!(r#"{{"type":"record","Record":{r},"record":{r},"more":{{"record":[{r}]}}}}"#),
        format!(r#"{{"type":"state","state":{r},"record":{r}}}"#),
        format!(r#"{{"type":"progress","record":{r}}}"#),
        format!(r#"{{"type":"log","level":"info","message":"m","record":{r}}}"#),
        format!(r#"{{"type":7,"record":{r}}}"#),
        format!(r#"{{"type":null,"record":{r}}}"#),
        format!(r#"{{"record":{r}}}"#),
        format!(r#"{{"type":"record","record":[{r}]}}"#),
        format!(r#"{{"type":"record","record":{r}}} x"#),
        format!(r#"{{"type":"record","record":{r},}}"#),
        format!(r#"[{{"type":"record","record":{r}}}]"#),
        format!(r#"{{"type":"record","record":{r},"n":1e400}}"#),
        format!(r#"{{"type":"record","record":{r},"s":"\ud83d\ude00"}}"#),
        format!(r#"{{"type":"record","record":{r},"bad":"\q"}}"#),
        format!("{{\"type\":\"record\",\"record\":{r},\"tab\":\"a\tb\"}}"),
    ]
}

/// Records that are not the fixtures' well-formed objects.
const ODD_RECORDS: [&str; 10] = [
    "[1]",
    "\"Incident\"",
    "null",
    "{}",
    r#"{"_type":"Gizmo","id":7}"#,
    r#"{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"caf\u00e9 \ud83d\ude00"}"#,
    r#"{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"Ops","n":1e400}"#,
    r#"{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"Ops","n":18446744073709551616}"#,
    r#"{ "_type" : "Team" , "id" : 5 , "self" : "https://x.test/T1" , "name" : "Ops" }"#,
    r#"{"_type":"Team","id":"T1","self":"https://x.test/T1""#,
];

fn records() -> Vec<String> {
    let fixtures = record_fixture("valid.jsonl").into_iter().chain(record_fixture("invalid.jsonl"));
    let fixtures = fixtures.map(|value| if value.get("record").is_some() { value["record"].clone() } else { value });
    let mut records: Vec<String> = fixtures.flat_map(|value: Value| respelled(&value)).collect();
    records.extend(ODD_RECORDS.iter().map(|r| (*r).to_owned()));
    records
}


#[test]
fn the_one_pass_decoder_gives_what_decode_then_validate_gives() {
    let (mut checked, mut on_tape, mut records_seen, mut errors) = (0, 0, 0, 0);
    for record in records() {
        for line in envelopes(&record) {
            let expected = two_pass(&line);
            let (got, tape) = one_pass(&line);
            assert_eq!(got, expected, "{line}");
            checked += 1;
            on_tape += usize::from(tape);
            records_seen += usize::from(matches!(expected, Decoded::Record { .. }));
            errors += usize::from(matches!(expected, Decoded::Error(_)));
        }
    }
    // The comparison means something only if the fast path ran on most records, and the
    // other outcomes were exercised too.
    assert!(on_tape * 10 > records_seen * 7, "{on_tape} of {records_seen} records on the line's tape");
    assert!(errors > 1_000 && checked > 5_000, "{errors} errors in {checked} lines");
    eprintln!("one pass: {checked} lines, {records_seen} records ({on_tape} validated on the line's tape), {errors} errors");
}

#[test]
fn a_record_is_a_slice_of_its_line() {
    let line = r#"{"type":"record","record":{"_type":"Team", "id":"T1","self":"https://x.test/T1","name":"Ops"}}"#;
    decode_line(line, |decoded| {
        let Ok(LineMessage::Record(record)) = decoded else { panic!("{decoded:?}") };
        let start = record.offset;
        assert_eq!(&line[start..start + record.text.len()], record.text);
        assert_eq!(record.node.unwrap().span(), start..start + record.text.len(), "the node's span in the line");
    });
    // The serde path (a line the tape leaves to it) says where the record is too.
    let line = line.replace(r#""Ops"}"#, r#""Ops"},"n":1e400"#);
    decode_line(&line, |decoded| {
        let Ok(LineMessage::Record(record)) = decoded else { panic!("{decoded:?}") };
        assert!(record.node.is_none());
        assert_eq!(&line[record.offset..record.offset + record.text.len()], record.text);
    });
}
