//! `runner-bench baseline`: the obvious single-threaded loop the issue compares the runner
//! with. Deliberately plain: a `serde_json::Value` per line, the registry's `Value`
//! validation, and a buffered write of each record; no tricks, so that "x baseline" means
//! what it says.

use std::io::{self, BufRead, BufReader, BufWriter, Write};

use anyhow::{bail, Context, Result};
use serde_json::Value;

/// Read and write buffers, as large as the runner's read buffer.
const BUFFER_BYTES: usize = 256 * 1024;

/// The loop on this process's stdin and stdout.
pub fn run_stdio() -> Result<()> {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let input = BufReader::with_capacity(BUFFER_BYTES, stdin.lock());
    let mut output = BufWriter::with_capacity(BUFFER_BYTES, stdout.lock());
    copy_records(input, &mut output)?;
    output.flush().context("cannot write to stdout")?;
    Ok(())
}

/// Validates each `record` message of `input` and writes its record to `output`, one per
/// line; other message types are ignored. Returns the records written.
///
/// # Errors
/// A line that is not JSON, an invalid record (with its line number and the registry's
/// reason), or an I/O error.
pub fn copy_records(input: impl BufRead, output: &mut impl Write) -> Result<u64> {
    let registry = protocol::SchemaRegistry::global();
    let mut records = 0;
    for (index, line) in input.lines().enumerate() {
        let number = index + 1;
        let line = line.with_context(|| format!("cannot read line {number} of stdin"))?;
        let value: Value = serde_json::from_str(&line).with_context(|| format!("line {number} is not JSON"))?;
        if value["type"] != "record" {
            continue;
        }
        if let Err(error) = registry.validate_record(&value["record"]) {
            bail!("invalid record on line {number}: {error}");
        }
        serde_json::to_writer(&mut *output, &value["record"]).context("cannot write to stdout")?;
        output.write_all(b"\n").context("cannot write to stdout")?;
        records += 1;
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::record_message;

    #[test]
    fn records_are_validated_and_written_one_per_line_and_states_skipped() {
        let input = format!("{}\n{{\"type\":\"state\",\"state\":{{}}}}\n{}\n", record_message(0), record_message(1));
        let mut output = Vec::new();
        assert_eq!(copy_records(input.as_bytes(), &mut output).unwrap(), 2);
        let lines: Vec<Value> = output
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1]["id"], crate::incident::id(1));
    }

    #[test]
    fn an_invalid_record_is_an_error_with_its_line() {
        let mut bad: Value = serde_json::from_str(&record_message(0)).unwrap();
        bad["record"]["createdAt"] = Value::from("yesterday");
        let input = format!("{}\n{bad}\n", record_message(1));
        let error = copy_records(input.as_bytes(), &mut Vec::new()).unwrap_err().to_string();
        assert!(error.contains("invalid record on line 2") && error.contains("/createdAt"), "{error}");
    }

    #[test]
    fn a_line_that_is_not_json_is_an_error() {
        let error = copy_records("{oops\n".as_bytes(), &mut Vec::new()).unwrap_err().to_string();
        assert_eq!(error, "line 1 is not JSON");
    }
}
