//! The alert tests' webhook receiver, on test-support's HTTP server.

use test_support::http::{Reply, Server};

/// The path of the alert tests' webhook URL: a secret, as a webhook's path often is, so
/// the tests check that it is never printed.
pub const HOOK_PATH: &str = "/hook/SECRET-PATH";

/// A webhook receiver on loopback for the alert tests, answering every request `200 OK`
/// and recording it.
pub fn webhook_receiver() -> Server {
    Server::always(Reply::text(200, "ok"))
}
