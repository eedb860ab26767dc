//! The rate limit: a sync paces itself within its token's budget as the `ratelimit-*`
//! headers report it, whoever else spends it; a 429 is waited out until the reset.
//!
//! The simulator's windows last a second or three here instead of PagerDuty's minute,
//! and hold five requests, so that syncs of a dozen requests need several windows.

use std::collections::BTreeSet;

use pagerduty_mock::MockConfig;

use crate::util::*;

/// Requests per window: a sync of [`small`] needs several windows.
const LIMIT: u32 = 5;

/// One window of incidents and log entries (cutoff at the start of the data): about a
/// dozen requests.
fn small(seed: u64) -> MockConfig {
    MockConfig { seed, incidents: 50, days: 10, ..Default::default() }
}

fn limited(data: MockConfig, window_secs: u64) -> MockConfig {
    MockConfig { rate_limit_rpm: Some(LIMIT), rate_limit_window_secs: window_secs, ..data }
}

#[test]
fn a_sync_needing_several_windows_of_budget_paces_itself_without_a_429_despite_failures() {
    let data = small(26);
    let clean = start(data.clone());
    let faulty = start(MockConfig { fail_rate: 0.2, ..limited(data, 1) });
    let expected = full_sync_records(&clean);
    let got = full_sync_records(&faulty);
    assert_same_records(&got, &expected);

    let stats = faulty.stats();
    assert!(stats.total > 2 * u64::from(LIMIT), "the sync needed several windows: {:?}", stats.by_path);
    assert!(answered(&stats, 500) + answered(&stats, 503) > 0, "failures were injected: {:?}", stats.by_status);
    assert_eq!(stats.rate_limited(USER_TOKEN), 0, "paced within the budget: {:?}", stats.by_status);
}

#[test]
fn a_budget_another_client_spent_costs_one_429_waited_out_until_the_reset() {
    let data = small(23);
    let clean = start(data.clone());
    // Three-second windows: the budget spent just before the sync starts is still spent
    // when its first request arrives. Thirty requests each, the sync's dozen fit in one.
    let budget = 30;
    let limited = start(MockConfig { rate_limit_rpm: Some(budget), rate_limit_window_secs: 3, ..data });
    let expected = full_sync_records(&clean);
    assert_eq!(spend_budget(&limited, budget), budget, "another client spends the whole window");
    let got = full_sync_records(&limited);
    assert_same_records(&got, &expected);

    // The sync's first request was refused; it waited `ratelimit-reset` seconds (into a
    // fresh window) before anything else went out, and then kept within the budget. A
    // connector that guessed a shorter wait, or let its other requests go meanwhile,
    // would be refused again.
    let stats = limited.stats();
    assert_eq!(stats.rate_limited(USER_TOKEN), 1, "{:?}", stats.by_path);
    assert_eq!(stats.count("/abilities", 429), 0);
}

#[test]
fn two_syncs_on_one_token_share_its_budget_and_both_complete() {
    let data = small(29);
    let clean = start(data.clone());
    let shared = start(limited(data, 1));
    let expected = full_sync_records(&clean);
    let (first, second) = std::thread::scope(|scope| {
        let first = scope.spawn(|| full_sync_records(&shared));
        let second = scope.spawn(|| full_sync_records(&shared));
        (first.join().unwrap(), second.join().unwrap())
    });
    assert_same_records(&first, &expected);
    assert_same_records(&second, &expected);

    // Each sees the other's spending in `ratelimit-remaining` and slows down: together
    // they fit the budget but for a refusal at the edge of a window now and then.
    let stats = shared.stats();
    let refused = stats.rate_limited(USER_TOKEN);
    let windows = stats.total / u64::from(LIMIT);
    assert!(windows >= 3, "the two syncs needed several windows: {} requests", stats.total);
    assert!(refused <= 2, "{refused} refusals in about {windows} windows: {:?}", stats.by_token);
    let tokens: BTreeSet<&String> = stats.by_token.keys().collect();
    assert_eq!(tokens, BTreeSet::from([&USER_TOKEN.to_owned()]), "one token for both");
}
