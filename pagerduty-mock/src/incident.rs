//! One incident's facts and timeline, recomputed on demand from (seed, index).
//!
//! Nothing per incident is stored: [`Facts::generate`] derives the service, urgency,
//! priority, assignee and the whole log-entry timeline from the seed, the index and the
//! creation time, then cuts the timeline at the reference "now". The status follows from
//! the entries that already happened, so data and log entries always agree.
//!
//! A P1 or P2 incident also has a conference bridge ([`Facts::conference_bridge`]),
//! hashed from its incident number rather than drawn from the generator, so adding it
//! left every other generated value as it was.

use crate::catalog::Catalog;
use crate::rng::{splitmix64, Rng};

const SALT_INCIDENT: u64 = 0x1C1D;
/// Salt of the conference bridge hash (of the incident number; no generator draw).
const SALT_BRIDGE: u64 = 0xB21D;
/// Host of every conference bridge URL (a reserved, fictional domain).
pub(crate) const MEETING_HOST: &str = "https://meet.example.com";
/// Most entries a timeline holds: 8 generated plus acknowledge and resolve from churn.
pub(crate) const MAX_ENTRIES: usize = 10;

/// The log entry types the simulator produces (PagerDuty's `*_log_entry` types).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryKind {
    Trigger = 0,
    Assign = 1,
    Notify = 2,
    Escalate = 3,
    Annotate = 4,
    Acknowledge = 5,
    Resolve = 6,
}

impl EntryKind {
    /// The `type` field value.
    pub(crate) fn type_name(self) -> &'static str {
        match self {
            EntryKind::Trigger => "trigger_log_entry",
            EntryKind::Assign => "assign_log_entry",
            EntryKind::Notify => "notify_log_entry",
            EntryKind::Escalate => "escalate_log_entry",
            EntryKind::Annotate => "annotate_log_entry",
            EntryKind::Acknowledge => "acknowledge_log_entry",
            EntryKind::Resolve => "resolve_log_entry",
        }
    }

    /// Whether `is_overview=true` keeps this entry: the status changes and notes, not
    /// the notification and assignment chatter.
    pub(crate) fn is_overview(self) -> bool {
        !matches!(self, EntryKind::Notify | EntryKind::Assign)
    }

    /// Inverse of `kind as u64`, for entries packed into the log index.
    pub(crate) fn from_code(code: u64) -> EntryKind {
        match code {
            0 => EntryKind::Trigger,
            1 => EntryKind::Assign,
            2 => EntryKind::Notify,
            3 => EntryKind::Escalate,
            4 => EntryKind::Annotate,
            5 => EntryKind::Acknowledge,
            _ => EntryKind::Resolve,
        }
    }
}

/// Who caused a log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Actor {
    /// The incident's service (API events, automatic actions).
    Service,
    /// A user, by catalog index.
    User(usize),
}

/// One log entry of a timeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) kind: EntryKind,
    pub(crate) at: i64,
    pub(crate) agent: Actor,
    /// The user notified, assigned or escalated to.
    pub(crate) target: Option<usize>,
    pub(crate) channel: &'static str,
}

/// Current status of an incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Status {
    Triggered,
    Acknowledged,
    Resolved,
}

impl Status {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Status::Triggered => "triggered",
            Status::Acknowledged => "acknowledged",
            Status::Resolved => "resolved",
        }
    }
}

/// Everything known about one incident.
#[derive(Debug, Clone)]
pub(crate) struct Facts {
    /// Index; the incident number is `n + 1`.
    pub(crate) n: u64,
    pub(crate) created: i64,
    pub(crate) service: usize,
    pub(crate) high_urgency: bool,
    pub(crate) priority: Option<usize>,
    pub(crate) title_template: usize,
    pub(crate) key: (u64, u64),
    pub(crate) alerts: u64,
    pub(crate) assignee: usize,
    entries: [Option<Entry>; MAX_ENTRIES],
    len: usize,
}

/// The conference bridge of an incident, as PagerDuty's `conference_bridge` holds it:
/// a dial-in number, a web link, or both (an unset one is `None`, rendered as null).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Bridge {
    /// `+1 41555501XX,,CODE#`: a fictional 555-01XX number, two one-second pauses and
    /// a nine-digit access code completed by `#`, the format PagerDuty documents.
    pub(crate) number: Option<String>,
    /// `https://meet.example.com/j/CODE`, the same meeting as the number's access code.
    pub(crate) url: Option<String>,
}

/// Incident titles; `{}` is the service name.
pub(crate) const TITLES: [&str; 8] = [
    "High error rate on {}",
    "Latency above SLO on {}",
    "{} health check failing",
    "Disk usage above 90% on a {} host",
    "{} queue backlog growing",
    "Certificate expiring soon for {}",
    "Memory pressure on {} pods",
    "{} returning 5xx to synthetic checks",
];

impl Facts {
    /// Generates incident `n` created at `created`, keeping entries before `now`.
    pub(crate) fn generate(seed: u64, catalog: &Catalog, n: u64, created: i64, now: i64) -> Facts {
        let mut r = Rng::new(seed, SALT_INCIDENT, n);
        let mut facts = Facts::base(&mut r, catalog, n, created);
        let template = r.weighted(&[5, 15, 25, 20, 15, 12, 8]) + 2;
        for entry in timeline(&mut r, catalog, &facts, template, now) {
            if entry.at < now {
                facts.push(entry);
            }
        }
        facts
    }

    /// A churned incident: just triggered and assigned at `created`.
    pub(crate) fn fresh(seed: u64, catalog: &Catalog, n: u64, created: i64) -> Facts {
        let mut r = Rng::new(seed, SALT_INCIDENT, n);
        let mut facts = Facts::base(&mut r, catalog, n, created);
        let assignee = facts.assignee;
        facts.push(entry(EntryKind::Trigger, created, Actor::Service, None, "api"));
        facts.push(entry(EntryKind::Assign, created, Actor::Service, Some(assignee), "auto"));
        facts
    }

    fn base(r: &mut Rng, catalog: &Catalog, n: u64, created: i64) -> Facts {
        let service = r.weighted(&catalog.service_weights);
        let policy = &catalog.policies[catalog.services[service].policy];
        Facts {
            n,
            created,
            service,
            high_urgency: r.unit() < 0.7,
            priority: (r.unit() < 0.45).then(|| r.weighted(&[5, 15, 35, 30, 15])),
            title_template: r.below(TITLES.len() as u64) as usize,
            key: (r.next_u64(), r.next_u64()),
            alerts: r.weighted(&[70, 20, 10]) as u64 + 1,
            assignee: catalog.on_call(policy.schedule, created).0,
            entries: [None; MAX_ENTRIES],
            len: 0,
        }
    }

    /// Appends an entry (churn uses it for acknowledge and resolve).
    pub(crate) fn push(&mut self, e: Entry) {
        if self.len < MAX_ENTRIES {
            self.entries[self.len] = Some(e);
            self.len += 1;
        }
    }

    /// The timeline in time order.
    pub(crate) fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry> + ExactSizeIterator {
        self.entries[..self.len].iter().map(|e| e.as_ref().expect("filled up to len"))
    }

    /// The entry at `pos`, if any.
    pub(crate) fn entry(&self, pos: usize) -> Option<&Entry> {
        self.entries.get(pos).and_then(Option::as_ref).filter(|_| pos < self.len)
    }

    fn last_of(&self, kind: EntryKind) -> Option<&Entry> {
        self.entries().rev().find(|e| e.kind == kind)
    }

    pub(crate) fn status(&self) -> Status {
        if self.last_of(EntryKind::Resolve).is_some() {
            Status::Resolved
        } else if self.last_of(EntryKind::Acknowledge).is_some() {
            Status::Acknowledged
        } else {
            Status::Triggered
        }
    }

    pub(crate) fn resolved_at(&self) -> Option<i64> {
        self.last_of(EntryKind::Resolve).map(|e| e.at)
    }

    /// The acknowledgement in force (only while acknowledged).
    pub(crate) fn acknowledgement(&self) -> Option<&Entry> {
        match self.status() {
            Status::Acknowledged => self.last_of(EntryKind::Acknowledge),
            _ => None,
        }
    }

    /// The entry that set the current status.
    pub(crate) fn last_status_change(&self) -> &Entry {
        let kind = match self.status() {
            Status::Resolved => EntryKind::Resolve,
            Status::Acknowledged => EntryKind::Acknowledge,
            Status::Triggered => EntryKind::Trigger,
        };
        self.last_of(kind).unwrap_or_else(|| self.first())
    }

    pub(crate) fn first(&self) -> &Entry {
        self.entries().next().expect("every timeline starts with a trigger")
    }

    pub(crate) fn updated_at(&self) -> i64 {
        self.entries().last().map_or(self.created, |e| e.at)
    }

    /// The user currently assigned: the escalation target once escalated.
    pub(crate) fn current_assignee(&self) -> (usize, i64) {
        self.entries()
            .rev()
            .find(|e| matches!(e.kind, EntryKind::Assign | EntryKind::Escalate))
            .and_then(|e| e.target.map(|u| (u, e.at)))
            .unwrap_or((self.assignee, self.created))
    }

    pub(crate) fn title(&self, catalog: &Catalog) -> String {
        TITLES[self.title_template].replace("{}", &catalog.services[self.service].name)
    }

    /// The `incident_key` (and `alert_key`): 32 hex digits.
    pub(crate) fn incident_key(&self) -> String {
        format!("{:016x}{:016x}", self.key.0, self.key.1)
    }

    pub(crate) fn urgency(&self) -> &'static str {
        if self.high_urgency {
            "high"
        } else {
            "low"
        }
    }

    /// The conference bridge responders join: major incidents (priority P1 or P2, about
    /// 9% of all) have one, the others none. Which fields are set and their values are
    /// a hash of the incident number, never a draw from the incident's generator (which
    /// would shift every later draw): 70% of bridges have a number and a URL, 20% only a
    /// URL, 10% only a number.
    pub(crate) fn conference_bridge(&self) -> Option<Bridge> {
        if !matches!(self.priority, Some(0 | 1)) {
            return None;
        }
        let h = splitmix64(SALT_BRIDGE ^ splitmix64(self.n + 1));
        let (shape, line, code) = (h % 10, 100 + h / 10 % 100, 100_000_000 + h / 1000 % 900_000_000);
        let number = format!("+1 415555{line:04},,{code}#");
        let url = format!("{MEETING_HOST}/j/{code}");
        Some(match shape {
            0..=6 => Bridge { number: Some(number), url: Some(url) },
            7 | 8 => Bridge { number: None, url: Some(url) },
            _ => Bridge { number: Some(number), url: None },
        })
    }
}

fn entry(kind: EntryKind, at: i64, agent: Actor, target: Option<usize>, channel: &'static str) -> Entry {
    Entry { kind, at, agent, target, channel }
}

/// The full lifecycle of a template with `k` entries (2 to 8), before cutting at `now`.
///
/// Every template with three or more entries starts with trigger and assign in the same
/// second, so even an incident created a second before `now` has two entries.
fn timeline(r: &mut Rng, catalog: &Catalog, f: &Facts, k: usize, now: i64) -> Vec<Entry> {
    use EntryKind::*;
    let t0 = f.created;
    let assignee = f.assignee;
    let manager = catalog.policies[catalog.services[f.service].policy].manager;
    if k == 2 {
        // A flapping check resolved by its monitor within seconds.
        let d = r.range(0, 30).min((now - t0 - 1).max(0) as u64) as i64;
        return vec![
            entry(Trigger, t0, Actor::Service, None, "api"),
            entry(Resolve, t0 + d, Actor::Service, None, "api"),
        ];
    }
    let plan: &[EntryKind] = match k {
        3 => &[Trigger, Assign, Resolve],
        4 => &[Trigger, Assign, Acknowledge, Resolve],
        5 => &[Trigger, Assign, Notify, Acknowledge, Resolve],
        6 => &[Trigger, Assign, Notify, Annotate, Acknowledge, Resolve],
        7 => &[Trigger, Assign, Notify, Escalate, Notify, Acknowledge, Resolve],
        _ => &[Trigger, Assign, Notify, Escalate, Notify, Annotate, Acknowledge, Resolve],
    };
    // A few incidents are never resolved (and some never acknowledged): stale open ones.
    let stale = r.unit() < 0.02;
    let stale_acked = r.unit() < 0.5;
    let ack_channel = ["web_ui", "mobile", "sms"][r.below(3) as usize];
    let mut t = t0;
    let mut responder = assignee;
    let mut out = Vec::with_capacity(plan.len());
    for &kind in plan {
        let e = match kind {
            Trigger => entry(Trigger, t0, Actor::Service, None, "api"),
            Assign => entry(Assign, t0, Actor::Service, Some(assignee), "auto"),
            Notify => {
                t += r.range(5, 60) as i64;
                entry(Notify, t, Actor::Service, Some(responder), "auto")
            }
            Escalate => {
                t = t.max(t0 + 1800) + r.range(0, 5) as i64;
                responder = manager;
                entry(Escalate, t, Actor::Service, Some(manager), "timeout")
            }
            Annotate => {
                t += r.log_range(60, 3600) as i64;
                entry(Annotate, t, Actor::User(responder), None, "web_ui")
            }
            Acknowledge => {
                if stale && !stale_acked {
                    break;
                }
                t += r.log_range(30, 1500) as i64;
                entry(Acknowledge, t, Actor::User(responder), None, ack_channel)
            }
            Resolve => {
                if stale {
                    break;
                }
                t += r.log_range(120, 2 * 86_400) as i64;
                if k == 3 {
                    entry(Resolve, t, Actor::Service, None, "api")
                } else {
                    entry(Resolve, t, Actor::User(responder), None, "web_ui")
                }
            }
        };
        out.push(e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::build(1_600_000_000)
    }

    #[test]
    fn timelines_are_ordered_with_two_to_eight_entries() {
        let c = catalog();
        let now = 1_700_000_000;
        for n in 0..2000 {
            let created = now - 1 - (n as i64 * 97) % (40 * 86_400);
            let f = Facts::generate(3, &c, n, created, now);
            assert!((2..=8).contains(&f.entries().len()), "incident {n}");
            assert_eq!(f.first().kind, EntryKind::Trigger);
            assert_eq!(f.first().at, created);
            let times: Vec<i64> = f.entries().map(|e| e.at).collect();
            assert!(times.windows(2).all(|w| w[0] <= w[1]));
            assert!(times.iter().all(|&t| t < now));
            if f.status() == Status::Resolved {
                assert_eq!(f.resolved_at(), Some(f.updated_at()));
            }
        }
    }

    /// 20,000 incidents of seed 9, a minute apart and old enough for their timelines to
    /// be complete.
    fn old_incidents(c: &Catalog) -> Vec<Facts> {
        let now = 1_700_000_000;
        (0..20_000).map(|n| Facts::generate(9, c, n, now - 30 * 86_400 - n as i64 * 60, now)).collect()
    }

    /// Share of `incidents` for which `property` holds.
    fn share(incidents: &[Facts], property: impl Fn(&Facts) -> bool) -> f64 {
        incidents.iter().filter(|f| property(f)).count() as f64 / incidents.len() as f64
    }

    #[test]
    fn generated_incidents_follow_the_documented_mix() {
        // Shares the README promises, checked on 20,000 incidents old enough for their
        // timelines to be complete. With a fixed seed the counts are fixed; the bands are
        // about five standard deviations wide.
        let old = old_incidents(&catalog());
        let near = |value: f64, expected: f64, band: f64| (value - expected).abs() <= band;
        let high = share(&old, |f| f.high_urgency);
        assert!(near(high, 0.70, 0.02), "high urgency {high}");
        let prioritised = share(&old, |f| f.priority.is_some());
        assert!(near(prioritised, 0.45, 0.02), "with a priority {prioritised}");
        // Service weights 40, 22, ... out of 100.
        let checkout = share(&old, |f| f.service == 0);
        assert!(near(checkout, 0.40, 0.02), "Checkout API {checkout}");
        let payments = share(&old, |f| f.service == 1);
        assert!(near(payments, 0.22, 0.015), "Payments Gateway {payments}");
        // About 2% are never resolved (the two-entry template, 5%, always resolves).
        let open = share(&old, |f| f.status() != Status::Resolved);
        assert!(near(open, 0.019, 0.005), "open for good {open}");
    }

    #[test]
    fn major_incidents_have_a_conference_bridge_of_every_shape() {
        let c = catalog();
        let incidents = old_incidents(&c);
        for f in &incidents {
            let major = matches!(f.priority, Some(0 | 1));
            assert_eq!(f.conference_bridge().is_some(), major, "incident {} priority {:?}", f.n, f.priority);
        }
        // 45% have a priority, a fifth of those P1 or P2.
        let bridged: Vec<Bridge> = incidents.iter().filter_map(Facts::conference_bridge).collect();
        let share = bridged.len() as f64 / incidents.len() as f64;
        assert!((share - 0.09).abs() <= 0.01, "with a bridge {share}");
        let of_shape = |number: bool, url: bool| {
            let count = bridged.iter().filter(|b| (b.number.is_some(), b.url.is_some()) == (number, url)).count();
            count as f64 / bridged.len() as f64
        };
        assert!((of_shape(true, true) - 0.7).abs() <= 0.05, "both {}", of_shape(true, true));
        assert!((of_shape(false, true) - 0.2).abs() <= 0.05, "URL only {}", of_shape(false, true));
        assert!((of_shape(true, false) - 0.1).abs() <= 0.04, "number only {}", of_shape(true, false));
        assert_eq!(of_shape(false, false), 0.0);
        // The number's access code is the URL's meeting; both come from the number alone.
        for b in &bridged {
            if let (Some(number), Some(url)) = (&b.number, &b.url) {
                let code = number.trim_end_matches('#').rsplit(',').next().unwrap();
                assert_eq!(url, &format!("{MEETING_HOST}/j/{code}"));
            }
        }
        let first = incidents.iter().find(|f| f.conference_bridge().is_some()).unwrap();
        let fresh = Facts::fresh(9, &c, first.n, first.created);
        assert_eq!(
            fresh.conference_bridge(),
            first.conference_bridge(),
            "an incident churn adds follows the same rule"
        );
    }

    #[test]
    fn recent_incidents_are_in_every_status() {
        let c = catalog();
        let now = 1_700_000_000;
        let recent: Vec<Facts> =
            (0..3000).map(|n| Facts::generate(9, &c, n, now - 1 - (n as i64 * 13) % 86_400, now)).collect();
        for status in [Status::Triggered, Status::Acknowledged, Status::Resolved] {
            assert!(recent.iter().any(|f| f.status() == status), "no {status:?} incident");
        }
    }

    #[test]
    fn fresh_incidents_are_triggered() {
        let f = Facts::fresh(1, &catalog(), 5, 1_700_000_000);
        assert_eq!(f.status(), Status::Triggered);
        assert_eq!(f.entries().len(), 2);
        assert!(f.entry(1).is_some() && f.entry(2).is_none());
    }
}
