//! `connector-airbyte`: runs an Airbyte source executable as a connector (see the crate's
//! docs and the README's "Run an Airbyte source").

fn main() -> std::process::ExitCode {
    connector_sdk::run(connector_adapters::airbyte::Airbyte)
}
