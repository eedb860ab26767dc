//! `runner spec`, `runner verify` and `runner discover`: ask a connector about itself, a
//! configuration, or its streams, and print the answer.

use std::io::{self, IsTerminal};
use std::path::Path;

use protocol::{Redactor, Stream};
use serde_json::Value;

use super::{print, Settings, Status};
use crate::failure::CommandResult;
use crate::resolve;
use crate::untrusted::escape;
use engine::ConnectorClient;

/// `runner spec <connector>`: the spec, pretty on a terminal, one line otherwise. A spec
/// whose declared record types a sync would refuse is refused here too.
///
/// # Errors
/// Bad input, a failed connector, an unusable declared type, or a failed write to stdout.
pub fn spec(settings: &Settings, connector: &str) -> CommandResult<Status> {
    let connector = settings.connector(connector)?;
    let spec = connector.spec()?;
    connector.record_schemas(&spec)?;
    let text =
        if io::stdout().is_terminal() { serde_json::to_string_pretty(&spec)? } else { serde_json::to_string(&spec)? };
    print(&format!("{text}\n"))?;
    Ok(Status::Success)
}

/// `runner verify <connector> <config>`: [`Status::Failed`] when the configuration is invalid.
///
/// # Errors
/// Bad input, a failed connector, or a failed write to stdout.
pub fn verify(settings: &Settings, connector: &str, config: &Path) -> CommandResult<Status> {
    let (connector, config, redactor) = prepare(settings, connector, config)?;
    let verification = connector.verify(&config, &redactor)?;
    let errors: Vec<String> = verification.errors.iter().map(|e| redactor.redact(e).into_owned()).collect();
    if settings.json {
        let value = serde_json::json!({"type": "verification", "valid": verification.valid, "errors": errors});
        print(&format!("{value}\n"))?;
    } else if verification.valid {
        print(&format!("connector `{}`: the configuration is valid\n", connector.name()))?;
    } else {
        let list: String = errors.iter().map(|e| format!("  - {}\n", escape(e))).collect();
        print(&format!("connector `{}`: the configuration is not valid:\n{list}", connector.name()))?;
    }
    Ok(if verification.valid { Status::Success } else { Status::Failed })
}

/// `runner discover <connector> <config>`: a table of streams, or JSON lines with `--json`.
///
/// # Errors
/// Bad input, a failed connector, or a failed write to stdout.
pub fn discover(settings: &Settings, connector: &str, config: &Path) -> CommandResult<Status> {
    let (connector, config, redactor) = prepare(settings, connector, config)?;
    let streams = connector.discover(&config, &redactor)?;
    let text = if settings.json {
        streams.iter().map(|s| serde_json::to_string(s).map(|line| line + "\n")).collect::<Result<String, _>>()?
    } else {
        streams_table(&streams)
    };
    print(&text)?;
    Ok(Status::Success)
}

/// The connector, the config file and the redactor for its secrets (from the spec).
fn prepare(settings: &Settings, connector: &str, config: &Path) -> CommandResult<(ConnectorClient, Value, Redactor)> {
    let connector = settings.connector(connector)?;
    let config = resolve::config_file(config)?;
    let spec = connector.spec()?;
    let redactor = Redactor::from_config(&spec.config_schema, &config);
    Ok((connector, config, redactor))
}

fn streams_table(streams: &[Stream]) -> String {
    let mut rows = vec![["id", "name", "self"].map(String::from)];
    rows.extend(streams.iter().map(|s| [s.id.clone(), s.name.clone(), s.self_url.clone()]));
    crate::table::columns(&rows)
}
