//! `connector-singer`: runs a Singer tap as a connector (see the crate's docs and the
//! README's "Run a Singer tap").

fn main() -> std::process::ExitCode {
    connector_sdk::run(connector_adapters::singer::Singer)
}
