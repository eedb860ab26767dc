//! `GET /oncalls`: who is on call for each escalation policy over a time range.
//!
//! Level 1 of every policy is its schedule: one entry per daily shift overlapping the
//! range. Level 2 is the policy's manager, a direct user target with no start or end.

use serde_json::{json, Value};

use super::list::{IdFilter, Listing, Selection};
use super::AppState;
use crate::catalog::Catalog;
use crate::error::ApiError;
use crate::ids::Kind;
use crate::query::{Paging, Params, Window};
use crate::render::{time, Render};

/// Longest range `/oncalls` accepts, in seconds (90 days).
const MAX_RANGE_SECS: i64 = 90 * 86_400;

#[derive(Debug, Clone, Copy)]
pub(super) struct OnCalls;

/// One on-call entry, before rendering.
struct OnCall {
    policy: usize,
    user: usize,
    /// `(schedule, start, end)` of a level-1 shift; `None` for the level-2 manager.
    shift: Option<(usize, i64, i64)>,
}

impl Listing for OnCalls {
    type Parent = ();

    fn key(self) -> &'static str {
        "oncalls"
    }

    fn select<'a>(self, server: &'a AppState, (): (), params: &Params) -> Result<Selection<'a>, ApiError> {
        let (since, until) = range(params, server.world.now())?;
        let paging = Paging::from_params(params)?;
        let world = &server.world;
        let users = IdFilter::parse(world, params, "user_ids", Kind::User);
        let policies = IdFilter::parse(world, params, "escalation_policy_ids", Kind::Policy);
        let schedules = IdFilter::parse(world, params, "schedule_ids", Kind::Schedule);
        let catalog = &world.catalog;
        let mut entries = Vec::new();
        for (index, policy) in catalog.policies.iter().enumerate().filter(|&(i, _)| policies.admits(i)) {
            if schedules.admits(policy.schedule) {
                let shifts = shifts(catalog, policy.schedule, since, until).filter(|&(user, ..)| users.admits(user));
                entries.extend(shifts.map(|(user, start, end)| OnCall {
                    policy: index,
                    user,
                    shift: Some((policy.schedule, start, end)),
                }));
            }
            // A schedule filter asks for schedule levels only.
            if users.admits(policy.manager) && !schedules.is_given() {
                entries.push(OnCall { policy: index, user: policy.manager, shift: None });
            }
        }
        let render = server.render();
        Ok(Selection::of(paging, entries, move |entry| Some(render_on_call(&render, entry))))
    }
}

/// The requested range: each missing bound is "now"; at most 90 days, never reversed.
fn range(params: &Params, now: i64) -> Result<(i64, i64), ApiError> {
    let window = Window::optional(params)?;
    let since = if window.since == Window::ALL.since { now } else { window.since };
    let until = if window.until == Window::ALL.until { now.max(since) } else { window.until };
    if until < since || until - since > MAX_RANGE_SECS {
        return Err(ApiError::bad_range("until must not be before since, and the range is limited to 90 days"));
    }
    Ok((since, until))
}

/// `(user, start, end)` of the daily shifts of `schedule`, from the one holding `since`
/// up to the first that ends after `until`.
fn shifts(catalog: &Catalog, schedule: usize, since: i64, until: i64) -> impl Iterator<Item = (usize, i64, i64)> + '_ {
    let first = catalog.on_call(schedule, since);
    std::iter::successors(Some(first), move |&(_, _, end)| (end <= until).then(|| catalog.on_call(schedule, end)))
}

fn render_on_call(render: &Render<'_>, entry: &OnCall) -> Value {
    match entry.shift {
        Some((schedule, start, end)) => json!({
            "escalation_policy": render.policy_ref(entry.policy), "escalation_level": 1,
            "schedule": render.schedule_ref(schedule), "user": render.user_ref(entry.user),
            "start": time(start), "end": time(end),
        }),
        None => json!({
            "escalation_policy": render.policy_ref(entry.policy), "escalation_level": 2,
            "schedule": null, "user": render.user_ref(entry.user), "start": null, "end": null,
        }),
    }
}
