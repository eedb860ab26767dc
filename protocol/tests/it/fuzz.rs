//! Fuzzed input: arbitrary bytes and structured mutations of valid lines through the line
//! codec, the message decoder, the tape and the registry's validation. For every input:
//! - nothing panics;
//! - memory stays bounded: what one input allocates on its thread is at most a fixed
//!   multiple of its length (plus a constant), whatever its nesting or size;
//! - the codec never returns a line over its limit, and numbers lines in order;
//! - a decoded record is a JSON object's text;
//! - the tape agrees with `serde_json::Value`: a text the tape reads is JSON and reads as
//!   the same value, the tape's own verdict is the `Value` validator's, and
//!   `validate_record_json` gives exactly what `validate_record` gives on the parsed text.
//!
//! Inputs come from a seeded RNG; each test prints its seed and case count. A failing input
//! is written to `tests/fuzz-regressions/<target>-<hash>.bin` (commit it), and every file
//! there is replayed first by every run. `FUZZ_SECONDS=N` fuzzes each target for N seconds
//! instead of the fixed CI budget; `FUZZ_SEED=S` replays a run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::{BufReader, Read};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use fastrand::Rng;
use protocol::{ConnectorMessage, LineReader, RecordError, SchemaRegistry, TapeVerdict};
use serde_json::{json, Map, Value};

use crate::util::{awkward_values, record_fixture, reference};

/// Counts the bytes each thread has allocated and not freed, and their peak, so that a test
/// can bound the memory one input takes while other tests run on other threads.
struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn account(delta: isize) {
    // `try_with`: allocations while a thread's locals are torn down are not counted.
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + delta);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; only counters change.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        account(layout.size() as isize);
        System.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        account(-(layout.size() as isize));
        System.dealloc(ptr, layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        account(new_size as isize - layout.size() as isize);
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` and returns the most it held allocated at once on this thread, beyond what
/// was live before.
fn peak_of(f: impl FnOnce()) -> usize {
    let base = LIVE.with(Cell::get);
    PEAK.with(|peak| peak.set(base));
    f();
    (PEAK.with(Cell::get) - base).max(0) as usize
}

/// Memory allowed for one input: proportional to its length (a tape slot or a `Value` per
/// two bytes of `[1,1,...]`), plus the codec's buffer and the validator's fixed costs.
fn memory_bound(input_len: usize) -> usize {
    64 * input_len + (1 << 20)
}

/// The codec's line limit in these tests: small, so that long lines are exercised.
const LINE_LIMIT: usize = 64 * 1024;

/// How long each target runs: a fixed number of cases (CI), or `FUZZ_SECONDS`.
enum Budget {
    Cases(u64),
    Time(Duration),
}

impl Budget {
    fn of(ci_cases: u64) -> Budget {
        match std::env::var("FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()) {
            Some(seconds) => Budget::Time(Duration::from_secs(seconds)),
            None => Budget::Cases(ci_cases),
        }
    }

    fn more(&self, done: u64, started: Instant) -> bool {
        match self {
            Budget::Cases(cases) => done < *cases,
            Budget::Time(time) => started.elapsed() < *time,
        }
    }
}

/// Builds what is built once per process (the registry, the validators' lazy tables), so
/// that it is not counted against the first input.
fn warm_up() {
    for line in seeds() {
        let text = line.to_string();
        decode_line(&text);
        tape_agrees(&line["record"].to_string());
    }
}

fn seed(target: &str) -> u64 {
    let seed = match std::env::var("FUZZ_SEED") {
        Ok(text) => text.parse().unwrap_or_else(|_| panic!("FUZZ_SEED={text:?} is not a number")),
        Err(_) => fastrand::u64(..),
    };
    eprintln!("fuzz {target}: seed {seed} (replay with FUZZ_SEED={seed})");
    seed
}

fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz-regressions")
}

/// The kept failing inputs of `target`.
fn regressions(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let mut found: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(regressions_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .filter(|path| path.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{target}-"))))
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect();
    found.sort();
    found
}

/// Replays `target`'s kept inputs, then fuzzes it with `generate` for its budget. A failing
/// input is kept as a regression case before the test fails.
fn fuzz(target: &str, ci_cases: u64, generate: impl Fn(&mut Rng) -> Vec<u8>, check: impl Fn(&mut Rng, &[u8])) {
    warm_up();
    for (path, input) in regressions(target) {
        let mut rng = Rng::with_seed(0);
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&mut rng, &input))) {
            eprintln!("fuzz {target}: the kept input {} fails again", path.display());
            std::panic::resume_unwind(panic);
        }
    }
    let seed = seed(target);
    let mut rng = Rng::with_seed(seed);
    let (budget, started, mut cases, mut bytes) = (Budget::of(ci_cases), Instant::now(), 0u64, 0usize);
    while budget.more(cases, started) {
        let input = generate(&mut rng);
        let mut check_rng = Rng::with_seed(rng.u64(..));
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| check(&mut check_rng, &input))) {
            let path = keep(target, &input);
            eprintln!("fuzz {target}: case {cases} of seed {seed} fails; kept as {}", path.display());
            std::panic::resume_unwind(panic);
        }
        cases += 1;
        bytes += input.len();
    }
    eprintln!("fuzz {target}: {cases} cases, {bytes} bytes in {:.1?}, no failure", started.elapsed());
}

fn keep(target: &str, input: &[u8]) -> PathBuf {
    // FNV-1a: a stable name, so the same input is kept once.
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    let path = regressions_dir().join(format!("{target}-{hash:016x}.bin"));
    std::fs::create_dir_all(regressions_dir()).unwrap();
    std::fs::write(&path, input).unwrap();
    path
}

// ---- inputs ----

/// Valid lines to mutate: record messages of every record fixture, and one of every other
/// message type.
fn seeds() -> Vec<Value> {
    let mut lines: Vec<Value> = ["valid.jsonl", "invalid.jsonl"]
        .iter()
        .flat_map(|file| record_fixture(file))
        .map(|value| if value.get("record").is_some() { value["record"].clone() } else { value })
        .map(|record| json!({"type": "record", "record": record, "extracted_at": "2026-01-02T03:04:05Z"}))
        .collect();
    lines.extend([
        json!({"type":"state","state":{"version":1,"cursor":[1,2.5,"x"],"highWaterMark":"2026-11-27T18:00:00Z"}}),
        json!({"type":"log","level":"warn","message":"window 1: 812 incidents"}),
        json!({"type":"error","message":"PagerDuty answered 401","kind":"auth"}),
        json!({"type":"verification","valid":false,"errors":["apiToken must be present"]}),
        json!({"type":"stream","stream":{"_type":"Stream","id":"a","self":"https://x.test","name":"A","x":null}}),
        json!({"type":"spec","protocol":1,"name":"n","version":"1","config_schema":{"type":"object"},"record_types":["Team"]}),
        json!({"type":"progress","done":3,"total":10}),
    ]);
    lines
}

/// Values a mutation puts in place of another.
fn awkward_value(rng: &mut Rng) -> Value {
    let pick = awkward_values();
    pick[rng.usize(..pick.len())].clone()
}

/// A JSON text of `value` spelled with random liberties: escapes, respelled numbers,
/// duplicate keys, huge numbers, spaces. Mostly still JSON, not always the same value.
fn render(rng: &mut Rng, value: &Value, out: &mut String) {
    if rng.u8(..) < 4 {
        out.push_str(&huge_number(rng));
        return;
    }
    match value {
        Value::String(text) => render_string(rng, text, out),
        Value::Number(number) => out.push_str(&respelled_number(rng, &number.to_string())),
        Value::Array(elements) => {
            out.push('[');
            for (i, element) in elements.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                space(rng, out);
                render(rng, element, out);
            }
            out.push(']');
        }
        Value::Object(members) => render_object(rng, members, out),
        other => out.push_str(&other.to_string()),
    }
}

fn render_object(rng: &mut Rng, members: &Map<String, Value>, out: &mut String) {
    out.push('{');
    let mut first = true;
    let mut member = |rng: &mut Rng, key: &str, value: &Value, out: &mut String| {
        if !std::mem::take(&mut first) {
            out.push(',');
        }
        space(rng, out);
        render_string(rng, key, out);
        out.push(':');
        render(rng, value, out);
    };
    for (key, value) in members {
        // A duplicate key, before or after the real member, with another value.
        let duplicate = rng.u8(..) < 12;
        let before = rng.bool();
        let other = awkward_value(rng);
        if duplicate && before {
            member(rng, key, &other, out);
        }
        member(rng, key, value, out);
        if duplicate && !before {
            member(rng, key, &other, out);
        }
    }
    out.push('}');
}

fn space(rng: &mut Rng, out: &mut String) {
    if rng.u8(..) < 16 {
        out.push_str([" ", "\t", "\r\n ", "  "][rng.usize(..4)]);
    }
}

/// A string, some characters written as escapes (`\u0061`, surrogate pairs, and now and
/// then a lone surrogate or a bad escape, which are not JSON).
fn render_string(rng: &mut Rng, text: &str, out: &mut String) {
    out.push('"');
    let escape_some = rng.u8(..) < 32;
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c if escape_some && rng.bool() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04X}"));
                }
            }
            c => out.push(c),
        }
    }
    if rng.u8(..) < 3 {
        out.push_str(["\\ud800", "\\udc00x", "\\q", "\\u12", "\\ud83d\\ude00", "\\/", "\u{7f}"][rng.usize(..7)]);
    }
    out.push('"');
}

fn respelled_number(rng: &mut Rng, number: &str) -> String {
    match rng.u8(..8) {
        0 => format!("{number}e0"),
        1 if !number.contains(['.', 'e', 'E']) => format!("{number}.000"),
        2 => format!("{number}E+00"),
        _ => number.to_owned(),
    }
}

fn huge_number(rng: &mut Rng) -> String {
    let digits: String = (0..rng.usize(1..400)).map(|_| char::from(b'0' + rng.u8(0..10))).collect();
    let sign = if rng.bool() { "-" } else { "" };
    match rng.u8(..6) {
        0 => format!("{sign}1e{}", rng.i32(-400..400)),
        1 => format!("{sign}0.{digits}"),
        2 => format!("{sign}1{digits}e-{}", rng.u32(0..800)),
        3 => "-0".to_owned(),
        _ => format!("{sign}1{digits}"),
    }
}

/// A value nested `depth` levels deep around `inner`.
fn nested(rng: &mut Rng, depth: usize, inner: &str) -> String {
    let object = rng.bool();
    let (open, close) = if object { ("{\"a\":", "}") } else { ("[", "]") };
    let mut text = String::with_capacity(depth * (open.len() + 1) + inner.len());
    text.push_str(&open.repeat(depth));
    text.push_str(inner);
    text.push_str(&close.repeat(depth));
    text
}

/// Byte-level damage: truncation, invalid UTF-8, deletions, duplicated slices, stray bytes.
fn damage(rng: &mut Rng, bytes: &mut Vec<u8>) {
    for _ in 0..rng.usize(0..3) {
        let at = rng.usize(..=bytes.len());
        match rng.u8(..7) {
            0 => bytes.truncate(at),
            1 => {
                let bad: &[u8] =
                    [&b"\xff"[..], b"\xc0\x80", b"\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82"]
                        [rng.usize(..6)];
                bytes.splice(at..at, bad.iter().copied());
            }
            2 if at < bytes.len() => {
                bytes.remove(at);
            }
            3 => {
                let end = rng.usize(at..=bytes.len().min(at + 64));
                let slice = bytes[at..end].to_vec();
                bytes.splice(at..at, slice);
            }
            4 => {
                let stray = b"{}[]\":,\\\n\r\t 0e-+.";
                bytes.insert(at, stray[rng.usize(..stray.len())]);
            }
            5 => bytes.insert(at, rng.u8(..)),
            _ => {}
        }
    }
}

/// One input line: a mutated valid line most of the time, else JSON-ish or random bytes.
fn line(rng: &mut Rng, seeds: &[Value]) -> Vec<u8> {
    match rng.u8(..16) {
        0 => (0..rng.usize(0..300)).map(|_| rng.u8(..)).collect(),
        1 => {
            let alphabet = b"{}[]\":,\\ 0123456789eE.+-truefalsn\"_type";
            (0..rng.usize(0..300)).map(|_| alphabet[rng.usize(..alphabet.len())]).collect()
        }
        2 => {
            // Deep nesting, now and then far past any limit (100,000 levels).
            let depth = if rng.u8(..8) == 0 { 100_000 } else { rng.usize(100..300) };
            let record = r#"{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"n"}"#;
            let inner = nested(rng, depth, record);
            let text = match rng.u8(..3) {
                0 => inner,
                1 => format!(
                    r#"{{"type":"record","record":{{"_type":"Team","id":"T1","self":"https://x.test/T1","name":"n","deep":{inner}}}}}"#
                ),
                _ => format!(r#"{{"type":"state","state":{inner}}}"#),
            };
            text.into_bytes()
        }
        _ => {
            let seed = &seeds[rng.usize(..seeds.len())];
            let mut text = String::new();
            render(rng, seed, &mut text);
            let mut bytes = text.into_bytes();
            if rng.u8(..4) == 0 {
                damage(rng, &mut bytes);
            }
            bytes
        }
    }
}

// ---- properties ----

/// The tape and `Value` paths agree on `text`.
fn tape_agrees(text: &str) {
    let registry = SchemaRegistry::global();
    let parsed = serde_json::from_str::<Value>(text);
    if let Ok(tape) = protocol::tape::Tape::parse(text) {
        let value = parsed.as_ref().unwrap_or_else(|e| panic!("the tape read what is not JSON ({e}): {text}"));
        use jsonschema::json::Node as _;
        assert_eq!(tape.root().to_value().as_ref(), value, "the tape reads another value: {text}");
    }
    let verdict = registry.tape_verdict(text);
    if verdict != TapeVerdict::Unreadable {
        let value = parsed.as_ref().unwrap_or_else(|e| panic!("the tape judged what is not JSON ({e}): {text}"));
        let expected = match registry.validate_record(value) {
            Ok(()) => TapeVerdict::Valid,
            Err(RecordError::Invalid { .. }) => TapeVerdict::Invalid,
            Err(_) => TapeVerdict::NoSchema,
        };
        assert_eq!(verdict, expected, "the tape's verdict is not the Value validator's: {text}");
    }
    let check = registry.validate_record_json(text);
    match &parsed {
        Ok(value) => assert_eq!(check, reference(registry, value), "{text}"),
        Err(_) => assert!(
            matches!(check.verdict, Err(RecordError::Unreadable { .. } | RecordError::NotAnObject)),
            "{check:?}: {text}"
        ),
    }
}

/// A decoded line: never a panic; a record is an object's text, and is validated on both paths.
fn decode_line(text: &str) {
    match ConnectorMessage::decode(text) {
        Ok(ConnectorMessage::Record(record)) => {
            let json = record.record.get();
            assert!(json.starts_with('{'), "a record that is not an object: {json}");
            tape_agrees(json);
        }
        Ok(ConnectorMessage::Unknown(_)) => {}
        Ok(other) => {
            let value = serde_json::to_value(&other).unwrap();
            let _ = SchemaRegistry::global().validate_message(&value);
        }
        Err(error) => assert!(!error.to_string().is_empty()),
    }
}

/// A reader that hands out its input in pieces of random sizes, as a pipe does.
struct Pieces<'a> {
    data: &'a [u8],
    rng: Rng,
}

impl Read for Pieces<'_> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let n = self.rng.usize(1..=4096).min(self.data.len()).min(out.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// The codec on a whole stream: bounded lines in order, each decoded and validated.
fn codec_stream(rng: &mut Rng, input: &[u8]) {
    let limit = if rng.bool() { LINE_LIMIT } else { rng.usize(1..256) };
    let pieces = Pieces { data: input, rng: Rng::with_seed(rng.u64(..)) };
    let mut reader = LineReader::new(BufReader::with_capacity(rng.usize(1..8192), pieces), limit);
    let mut last = 0;
    loop {
        match reader.next_line() {
            Ok(Some(line)) => {
                assert!(line.number > last && line.text.len() <= limit, "line {} of {limit}", line.number);
                last = line.number;
                let text = line.text.to_owned();
                decode_line(&text);
            }
            Ok(None) => break,
            Err(error) => {
                assert!(error.line() > last, "{error}");
                last = error.line();
            }
        }
    }
    let newlines = input.iter().filter(|&&b| b == b'\n').count() as u64;
    assert!(last <= newlines + 1, "{last} lines from {newlines} newlines");
}

fn bounded(input: &[u8], f: impl FnOnce()) {
    let peak = peak_of(f);
    assert!(peak <= memory_bound(input.len()), "{peak} bytes allocated for an input of {} bytes", input.len());
}

#[test]
fn the_codec_and_decoder_survive_any_stream() {
    let seeds = seeds();
    let generate = |rng: &mut Rng| {
        let mut stream = Vec::new();
        for _ in 0..rng.usize(1..8) {
            stream.extend(line(rng, &seeds));
            stream.extend_from_slice([&b"\n"[..], b"\r\n", b"\n\n", b""][rng.usize(..4)]);
        }
        stream
    };
    fuzz("codec", 5_000, generate, |rng, input| bounded(input, || codec_stream(rng, input)));
}

#[test]
fn the_decoder_and_validator_survive_any_line() {
    let seeds = seeds();
    fuzz(
        "decode",
        15_000,
        |rng| line(rng, &seeds),
        |_, input| {
            let text = String::from_utf8_lossy(input);
            bounded(input, || decode_line(&text));
        },
    );
}

#[test]
fn the_tape_and_value_paths_agree_on_any_record() {
    let seeds = seeds();
    let records: Vec<Value> = seeds.iter().filter_map(|line| line.get("record").cloned()).collect();
    let generate = |rng: &mut Rng| {
        let mut text = String::new();
        let record = &records[rng.usize(..records.len())];
        render(rng, record, &mut text);
        let mut bytes = text.into_bytes();
        if rng.u8(..8) == 0 {
            damage(rng, &mut bytes);
        }
        bytes
    };
    fuzz("tape", 15_000, generate, |_, input| {
        let text = String::from_utf8_lossy(input);
        bounded(input, || tape_agrees(&text));
    });
}
