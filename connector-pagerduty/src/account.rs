//! The account: checking a configuration against it (`verify`) and naming its one
//! stream (`discover`).

use connector_sdk::{Stream, Verification};
use reqwest::Url;
use serde_json::Value;

use connector_sdk::http::RetryPolicy;

use crate::client::{self, ApiError, Client};
use crate::config::Config;

/// Stream id when the account's web address cannot be learnt.
pub const FALLBACK_STREAM_ID: &str = "pagerduty-account";

/// `verify` answers a person waiting at a terminal: retry less than a sync would.
fn verify_policy() -> RetryPolicy {
    RetryPolicy { max_attempts: 2, max_rate_limited: 3, ..RetryPolicy::default() }
}

/// Checks the token with `GET /abilities`, which works with account-level and
/// user-level tokens alike (`/users/me` refuses account-level ones).
pub fn verify(config: &Config) -> Verification {
    let client = match client::connect_with_policy(config, verify_policy()) {
        Ok(client) => client,
        Err(e) => return Verification::invalid([e.to_string()]),
    };
    match client.get("/abilities", &Vec::new()) {
        Ok(_) => Verification::valid(),
        Err(e) => Verification::invalid([describe(&e)]),
    }
}

/// One sentence for the person who wrote the configuration.
fn describe(error: &ApiError) -> String {
    match error {
        ApiError::Status { status: 401, message, code, .. } => {
            let code = code.map(|c| format!(", code {c}")).unwrap_or_default();
            format!("PagerDuty rejected apiToken: {message} (HTTP 401{code})")
        }
        ApiError::GaveUp { last, .. } if matches!(**last, ApiError::Unreachable { .. }) => last.to_string(),
        other => other.to_string(),
    }
}

/// The account's stream. Its id and address come from the account's web host (the
/// `html_url` of a user, e.g. `acme` for `https://acme.pagerduty.com`), which one
/// request reveals; without one, a fixed id and the API address.
///
/// # Errors
/// The request failed.
pub fn stream(client: &Client) -> Result<Stream, ApiError> {
    let answer = client.get("/users", &vec![("limit", "1".to_owned())])?;
    let web = answer["users"][0]["html_url"].as_str().and_then(web_root);
    let mut stream = match web {
        Some((subdomain, root)) => Stream::new(subdomain.clone(), root, format!("PagerDuty account {subdomain}")),
        None => Stream::new(FALLBACK_STREAM_ID, client.base_url(), format!("PagerDuty account ({})", client.host())),
    };
    stream.extra.insert(
        "description".into(),
        Value::String(
            "Every incident, log entry, user, service, team, escalation policy, priority and on-call of the account."
                .into(),
        ),
    );
    Ok(stream)
}

/// `https://acme.pagerduty.com/users/P1` -> (`acme`, `https://acme.pagerduty.com`).
fn web_root(html_url: &str) -> Option<(String, String)> {
    let url = Url::parse(html_url).ok()?;
    let host = url.host_str()?;
    let subdomain = host.split('.').next().filter(|s| !s.is_empty())?;
    Some((subdomain.to_owned(), format!("{}://{host}", url.scheme())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_root_names_the_account() {
        assert_eq!(
            web_root("https://acme.pagerduty.com/users/P1"),
            Some(("acme".into(), "https://acme.pagerduty.com".into()))
        );
        assert_eq!(web_root("not a url"), None);
    }

    #[test]
    fn a_401_is_described_with_pagerdutys_message() {
        let error = ApiError::Status {
            path: "/abilities".into(),
            status: 401,
            message: "Authentication failed".into(),
            code: Some(2006),
            errors: vec![],
        };
        assert_eq!(describe(&error), "PagerDuty rejected apiToken: Authentication failed (HTTP 401, code 2006)");
    }
}
