//! The account's small, fixed-size objects: teams, users, services, escalation
//! policies, schedules and priorities, all cross-referenced.
//!
//! Layout (indices): policy `p` belongs to team `p % TEAMS` and targets schedule `p` at
//! level 1 and manager user `ROTATION_USERS + p` at level 2; schedule `s` rotates daily
//! through the users `u < ROTATION_USERS` with `u % POLICIES == s`; service `s` uses
//! policy `s % POLICIES`. User 0 owns the user-level token.

/// Number of teams.
pub(crate) const TEAMS: usize = 4;
/// Number of escalation policies (and of schedules: one each).
pub(crate) const POLICIES: usize = 5;
/// Users who take part in schedule rotations.
pub(crate) const ROTATION_USERS: usize = 25;
/// All users: rotation users plus one manager per policy.
pub(crate) const USERS: usize = ROTATION_USERS + POLICIES;
/// Number of services.
pub(crate) const SERVICES: usize = 10;

const TEAM_NAMES: [(&str, &str); TEAMS] = [
    ("Platform", "Runs the shared infrastructure"),
    ("Payments", "Owns checkout and billing"),
    ("Data", "Pipelines, search and analytics"),
    ("Customer Tools", "Support tooling and internal apps"),
];

/// Name, description and relative share of incidents: a few services carry most.
const SERVICE_NAMES: [(&str, &str, u32); SERVICES] = [
    ("Checkout API", "Public checkout endpoints", 40),
    ("Payments Gateway", "Card processor bridge", 22),
    ("Search Cluster", "Product search", 12),
    ("Auth Service", "Login and sessions", 8),
    ("Mail Relay", "Outbound e-mail", 6),
    ("Data Pipeline", "Nightly ETL", 4),
    ("Mobile Backend", "API for the mobile apps", 3),
    ("CDN Edge", "Static assets", 2),
    ("Billing Batch", "Invoice runs", 2),
    ("Internal Wiki", "Documentation site", 1),
];

const FIRST: [&str; 10] = ["Ada", "Bela", "Chen", "Dara", "Emeka", "Farah", "Goran", "Hana", "Ines", "Jonas"];
const LAST: [&str; 6] = ["Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak"];
const ZONES: [&str; 4] = ["Etc/UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo"];
const COLORS: [&str; 6] = ["green", "red", "purple", "teal", "orange", "brown"];

/// A team.
#[derive(Debug, Clone)]
pub(crate) struct Team {
    pub(crate) name: String,
    pub(crate) description: String,
}

/// A user.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) time_zone: &'static str,
    pub(crate) color: &'static str,
    pub(crate) role: &'static str,
    pub(crate) job_title: &'static str,
    pub(crate) team: usize,
}

/// A service.
#[derive(Debug, Clone)]
pub(crate) struct Service {
    pub(crate) name: String,
    pub(crate) description: String,
    pub(crate) team: usize,
    pub(crate) policy: usize,
    pub(crate) created_at: i64,
    pub(crate) weight: u32,
}

/// An escalation policy.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    pub(crate) name: String,
    pub(crate) team: usize,
    pub(crate) schedule: usize,
    pub(crate) manager: usize,
}

/// An on-call schedule rotating daily (UTC days) through its users.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub(crate) name: String,
    pub(crate) users: Vec<usize>,
}

/// A priority (P1 highest).
#[derive(Debug, Clone)]
pub(crate) struct Priority {
    pub(crate) name: &'static str,
    pub(crate) description: &'static str,
}

/// Every small object of the account.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    pub(crate) teams: Vec<Team>,
    pub(crate) users: Vec<User>,
    pub(crate) services: Vec<Service>,
    pub(crate) policies: Vec<Policy>,
    pub(crate) schedules: Vec<Schedule>,
    pub(crate) priorities: Vec<Priority>,
    /// Relative incident share per service, for weighted picks.
    pub(crate) service_weights: Vec<u32>,
}

impl Catalog {
    /// Builds the catalog; `start` is the beginning of the data span (services predate it).
    pub(crate) fn build(start: i64) -> Self {
        let teams = TEAM_NAMES.iter().map(|(n, d)| Team { name: n.to_string(), description: d.to_string() }).collect();
        let policies: Vec<Policy> = (0..POLICIES)
            .map(|p| Policy {
                name: format!("{} Escalation {}", TEAM_NAMES[p % TEAMS].0, p / TEAMS + 1),
                team: p % TEAMS,
                schedule: p,
                manager: ROTATION_USERS + p,
            })
            .collect();
        let users = (0..USERS).map(|u| user(u, &policies)).collect();
        let schedules = (0..POLICIES)
            .map(|s| Schedule {
                name: format!("{} Primary Rotation", policies[s].name.replace(" Escalation", "")),
                users: (0..ROTATION_USERS).filter(|u| u % POLICIES == s).collect(),
            })
            .collect();
        let services: Vec<Service> = SERVICE_NAMES
            .iter()
            .enumerate()
            .map(|(i, (n, d, w))| Service {
                name: n.to_string(),
                description: d.to_string(),
                team: policies[i % POLICIES].team,
                policy: i % POLICIES,
                created_at: start - 86_400 * (30 + 7 * i as i64),
                weight: *w,
            })
            .collect();
        Catalog {
            teams,
            users,
            service_weights: services.iter().map(|s| s.weight).collect(),
            services,
            policies,
            schedules,
            priorities: priorities(),
        }
    }

    /// The user on call for schedule `s` at unix time `t`, with the shift's bounds.
    pub(crate) fn on_call(&self, s: usize, t: i64) -> (usize, i64, i64) {
        let members = &self.schedules[s].users;
        let day = t.div_euclid(86_400);
        let idx = (day + s as i64).rem_euclid(members.len() as i64) as usize;
        (members[idx], day * 86_400, (day + 1) * 86_400)
    }
}

fn user(u: usize, policies: &[Policy]) -> User {
    let name = format!("{} {}", FIRST[u % FIRST.len()], LAST[(u / FIRST.len() + u) % LAST.len()]);
    let manager = u >= ROTATION_USERS;
    let team = if manager { policies[u - ROTATION_USERS].team } else { policies[u % POLICIES].team };
    User {
        email: format!("{}.{}@example.com", name.to_lowercase().replace(' ', "."), u),
        name,
        time_zone: ZONES[u % ZONES.len()],
        color: COLORS[u % COLORS.len()],
        role: if u == 0 {
            "admin"
        } else if manager {
            "manager"
        } else {
            "user"
        },
        job_title: if manager { "Engineering Manager" } else { "Site Reliability Engineer" },
        team,
    }
}

fn priorities() -> Vec<Priority> {
    vec![
        Priority { name: "P1", description: "Critical outage, customers cannot use the product" },
        Priority { name: "P2", description: "Major degradation for many customers" },
        Priority { name: "P3", description: "Partial degradation, workaround exists" },
        Priority { name: "P4", description: "Minor issue, fix during business hours" },
        Priority { name: "P5", description: "Cosmetic issue" },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_consistent() {
        let c = Catalog::build(1_700_000_000);
        for s in &c.services {
            assert_eq!(c.policies[s.policy].team, s.team);
        }
        for (i, sch) in c.schedules.iter().enumerate() {
            assert_eq!(sch.users.len(), ROTATION_USERS / POLICIES);
            for &u in &sch.users {
                assert_eq!(c.users[u].team, c.policies[i].team);
            }
        }
        let (u, start, end) = c.on_call(2, 1_700_000_123);
        assert!(c.schedules[2].users.contains(&u));
        assert!(start <= 1_700_000_123 && end > 1_700_000_123);
    }
}
