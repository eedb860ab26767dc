//! `pagerduty-mock`: serves a simulated PagerDuty REST API until killed.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Parser;
use pagerduty_mock::MockConfig;

/// A local, deterministic PagerDuty REST API v2 simulator.
///
/// Prints `listening on http://127.0.0.1:PORT` as its first line, then serves until
/// killed. Authenticate with `Authorization: Token token=<T>`.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed of all generated data.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Incidents spread over the last --days days.
    #[arg(long, default_value_t = 5000)]
    incidents: u64,
    /// Days of history, back from --now.
    #[arg(long, default_value_t = 365)]
    days: u32,
    /// User-level API token.
    #[arg(long, default_value = "mock-user-token")]
    token: String,
    /// Account-level API token (/users/me answers 400 with it).
    #[arg(long, default_value = "mock-account-token")]
    account_token: String,
    /// Requests per minute per token; off when absent.
    #[arg(long)]
    rate_limit_rpm: Option<u32>,
    /// Length of the rate-limit window in seconds (PagerDuty's is a minute).
    #[arg(long, default_value_t = 60)]
    rate_limit_window_secs: u64,
    /// Share of requests (0.0-1.0) answered with 500 or 503.
    #[arg(long, default_value_t = 0.0)]
    fail_rate: f64,
    /// Delay added to every answer, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Spread of that delay: each answer waits --latency-ms plus or minus up to this many
    /// milliseconds (at most --latency-ms).
    #[arg(long, default_value_t = 0)]
    latency_jitter_ms: u64,
    /// An ability the account lacks (teams, priorities): its endpoints answer 402.
    /// Repeatable.
    #[arg(long, value_name = "ABILITY")]
    without_ability: Vec<String>,
    /// Reference "now" of the data (RFC 3339); default: the current hour.
    #[arg(long)]
    now: Option<DateTime<Utc>>,
    /// Extra incidents all created within one hour (0: none).
    #[arg(long, default_value_t = 0)]
    burst_incidents: u64,
    /// Start of that hour (RFC 3339); default: 3 days before --now.
    #[arg(long)]
    burst_at: Option<DateTime<Utc>>,
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args = Args::parse();
    let port = args.port;
    let config = MockConfig {
        seed: args.seed,
        incidents: args.incidents,
        days: args.days,
        token: args.token,
        account_token: args.account_token,
        rate_limit_rpm: args.rate_limit_rpm,
        rate_limit_window_secs: args.rate_limit_window_secs,
        fail_rate: args.fail_rate,
        latency_ms: args.latency_ms,
        latency_jitter_ms: args.latency_jitter_ms,
        missing_abilities: args.without_ability,
        now: args.now,
        burst_incidents: args.burst_incidents,
        burst_at: args.burst_at,
    };
    let rt = tokio::runtime::Runtime::new().context("cannot start the tokio runtime")?;
    rt.block_on(async move {
        let server = pagerduty_mock::start_on_port(config, port).await.context("cannot start the simulator")?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}", server.base_url).context("cannot write to stdout")?;
        out.flush().context("cannot write to stdout")?;
        drop(out);
        tokio::signal::ctrl_c().await.context("cannot wait for Ctrl-C")?;
        Ok(())
    })
}
