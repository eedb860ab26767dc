//! Errors: [`MockError`] for the library's callers, [`ApiError`] for PagerDuty-style
//! error answers on the wire.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why the simulator could not be started or driven.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// A configuration value is out of range.
    #[error("invalid simulator configuration: {0}")]
    InvalidConfig(String),
    /// Binding the loopback listener failed.
    #[error("cannot listen on 127.0.0.1: {0}")]
    Bind(#[source] std::io::Error),
    /// The background runtime of [`crate::start_blocking`] could not be created or died.
    #[error("simulator runtime failed: {0}")]
    Runtime(String),
}

/// A PagerDuty error answer: HTTP status plus `{"error":{"message","code","errors"}}`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) message: &'static str,
    pub(crate) code: Option<u32>,
    pub(crate) errors: Vec<String>,
}

impl ApiError {
    fn new(status: StatusCode, message: &'static str, code: Option<u32>) -> Self {
        ApiError { status, message, code, errors: Vec::new() }
    }

    fn with(mut self, detail: impl Into<String>) -> Self {
        self.errors.push(detail.into());
        self
    }

    /// 400, code 2001: a query value is malformed.
    pub(crate) fn invalid_input(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Invalid Input Provided", Some(2001)).with(detail)
    }

    /// 400, code 2002: `offset + limit` beyond the 10,000 cap.
    pub(crate) fn offset_cap(cap: u64) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Arguments Caused Error", Some(2002)).with(format!(
            "Offset+limit exceeds maximum allowed value of {cap}. Narrow the query, for example with a smaller since/until range."
        ))
    }

    /// 400, code 2004: `since` or `until` is not a date.
    pub(crate) fn bad_date(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Invalid 'since' or 'until' Parameter Values", Some(2004)).with(detail)
    }

    /// 400, code 2005: the since/until range is reversed or longer than allowed.
    pub(crate) fn bad_range(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Invalid Query Date Range", Some(2005)).with(detail)
    }

    /// 401, code 2006.
    pub(crate) fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Authentication failed", Some(2006))
    }

    /// 402: the account lacks the ability (a feature of a higher plan) the endpoint
    /// needs; PagerDuty's advice is to look at `/abilities`.
    pub(crate) fn ability_missing(ability: &str) -> Self {
        Self::new(StatusCode::PAYMENT_REQUIRED, "Account does not have the abilities to perform the action", None)
            .with(format!("the account lacks the `{ability}` ability (see GET /abilities)"))
    }

    /// 404, code 2100.
    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not Found", Some(2100))
    }

    /// 429, code 2020.
    pub(crate) fn rate_limited() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "Rate Limit Exceeded", Some(2020))
    }

    /// 500, code 2000: an injected fault.
    pub(crate) fn internal() -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Error", Some(2000))
    }

    /// 503 without a code: an injected fault, as a load balancer would answer.
    pub(crate) fn unavailable() -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable", None)
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> serde_json::Value {
        let mut error = serde_json::Map::new();
        error.insert("message".into(), json!(self.message));
        if let Some(code) = self.code {
            error.insert("code".into(), json!(code));
        }
        if !self.errors.is_empty() {
            error.insert("errors".into(), json!(self.errors));
        }
        json!({ "error": error })
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_pagerduty_shape() {
        assert_eq!(ApiError::unauthorized().body(), json!({"error":{"message":"Authentication failed","code":2006}}));
        assert_eq!(ApiError::rate_limited().body(), json!({"error":{"message":"Rate Limit Exceeded","code":2020}}));
        let cap = ApiError::offset_cap(10_000).body();
        assert_eq!(cap["error"]["code"], 2002);
        assert!(cap["error"]["errors"][0].as_str().unwrap().contains("10000"));
    }
}
