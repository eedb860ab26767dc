//! The `connector-pagerduty` executable: the SDK's command line around [`connector_pagerduty::PagerDuty`].

fn main() -> std::process::ExitCode {
    connector_sdk::run(connector_pagerduty::PagerDuty)
}
