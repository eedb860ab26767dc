//! JSON shapes of PagerDuty objects: references, full objects, incidents, log entries,
//! alerts and on-calls, with PagerDuty's field names and nulls.
//!
//! `self` URLs use the server's own base URL (PagerDuty uses its API host there);
//! `html_url` uses a fake web host.

use chrono::{DateTime, SecondsFormat};
use serde_json::{json, Value};

use crate::catalog::{POLICIES, SERVICES};
use crate::collection::Collection;
use crate::data::World;
use crate::ids::Kind;
use crate::incident::{Actor, Entry, EntryKind, Facts, Status};

/// Host of every `html_url`.
pub(crate) const WEB: &str = "https://mock.pagerduty.com";
const AVATAR: &str = "https://mock.pagerduty.com/assets/blank-avatar.png";
const ACK_TIMEOUT: u64 = 1800;

/// Formats unix seconds as PagerDuty does (`2015-10-06T21:30:42Z`).
pub(crate) fn time(t: i64) -> String {
    DateTime::from_timestamp(t, 0).unwrap_or_default().to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Renders objects of one world for one server address.
pub(crate) struct Render<'a> {
    pub(crate) world: &'a World,
    pub(crate) api: &'a str,
}

impl Render<'_> {
    fn reference(&self, kind: &str, id: &str, summary: &str, self_path: &str, html: Option<String>) -> Value {
        json!({
            "id": id,
            "type": format!("{kind}_reference"),
            "summary": summary,
            "self": format!("{}/{self_path}/{id}", self.api),
            "html_url": html,
        })
    }

    pub(crate) fn id(&self, kind: Kind, i: usize) -> String {
        self.world.ids.encode(kind, i as u64)
    }

    /// A reference to member `index` of a small collection.
    fn member_ref(&self, collection: &Collection, index: usize) -> Value {
        let id = self.id(collection.kind, index);
        let html = collection.web_path.map(|path| format!("{WEB}/{path}/{id}"));
        let name = collection.name(&self.world.catalog, index);
        self.reference(collection.singular, &id, name, collection.plural, html)
    }

    /// The full object of member `index`: its reference, typed as the object, plus `fields`.
    fn member(&self, collection: &Collection, index: usize, fields: Value) -> Value {
        let mut v = self.member_ref(collection, index);
        extend(&mut v, collection.singular, fields);
        v
    }

    pub(crate) fn team_ref(&self, t: usize) -> Value {
        self.member_ref(&Collection::TEAMS, t)
    }

    pub(crate) fn user_ref(&self, u: usize) -> Value {
        self.member_ref(&Collection::USERS, u)
    }

    pub(crate) fn service_ref(&self, s: usize) -> Value {
        self.member_ref(&Collection::SERVICES, s)
    }

    pub(crate) fn policy_ref(&self, p: usize) -> Value {
        self.member_ref(&Collection::POLICIES, p)
    }

    pub(crate) fn schedule_ref(&self, s: usize) -> Value {
        self.member_ref(&Collection::SCHEDULES, s)
    }

    fn priority_ref(&self, p: usize) -> Value {
        self.member_ref(&Collection::PRIORITIES, p)
    }

    fn agent(&self, f: &Facts, actor: Actor) -> Value {
        match actor {
            Actor::Service => self.service_ref(f.service),
            Actor::User(u) => self.user_ref(u),
        }
    }

    pub(crate) fn incident_ref(&self, f: &Facts) -> Value {
        let id = self.id(Kind::Incident, f.n as usize);
        let html = format!("{WEB}/incidents/{id}");
        self.reference("incident", &id, &self.incident_summary(f), "incidents", Some(html))
    }

    fn incident_summary(&self, f: &Facts) -> String {
        format!("[#{}] {}", f.n + 1, f.title(&self.world.catalog))
    }

    pub(crate) fn team(&self, t: usize) -> Value {
        let team = &self.world.catalog.teams[t];
        self.member(
            &Collection::TEAMS,
            t,
            json!({
                "name": team.name,
                "description": team.description,
                "default_role": "manager",
            }),
        )
    }

    pub(crate) fn user(&self, u: usize) -> Value {
        let user = &self.world.catalog.users[u];
        let uid = self.id(Kind::User, u);
        let sub = |kind: &str, path: &str, offset: usize, summary: &str| {
            let id = self.id(Kind::User, offset + u);
            self.reference(kind, &id, summary, &format!("users/{uid}/{path}"), None)
        };
        self.member(
            &Collection::USERS,
            u,
            json!({
                "name": user.name,
                "email": user.email,
                "time_zone": user.time_zone,
                "color": user.color,
                "role": user.role,
                "avatar_url": AVATAR,
                "description": null,
                "invitation_sent": false,
                "created_via_sso": false,
                "job_title": user.job_title,
                "teams": [self.team_ref(user.team)],
                "contact_methods": [sub("email_contact_method", "contact_methods", 1_000_000, "Default")],
                "notification_rules": [sub("assignment_notification_rule", "notification_rules", 2_000_000, "Default")],
            }),
        )
    }

    pub(crate) fn service(&self, s: usize) -> Value {
        let svc = &self.world.catalog.services[s];
        self.member(
            &Collection::SERVICES,
            s,
            json!({
                "name": svc.name,
                "description": svc.description,
                "auto_resolve_timeout": 14_400,
                "acknowledgement_timeout": ACK_TIMEOUT,
                "created_at": time(svc.created_at),
                "status": "active",
                "last_incident_timestamp": self.last_incident_of(s).map(time),
                "escalation_policy": self.policy_ref(svc.policy),
                "response_play": null,
                "teams": [self.team_ref(svc.team)],
                "integrations": [self.integration_ref(s)],
                "incident_urgency_rule": {"type": "constant", "urgency": "high"},
                "support_hours": null,
                "scheduled_actions": [],
                "addons": [],
                "alert_creation": "create_alerts_and_incidents",
                "alert_grouping_parameters": {"type": null},
                "auto_pause_notifications_parameters": {"enabled": false, "timeout": null},
            }),
        )
    }

    /// The Events API integration every service has (its ID is in the service ID space).
    fn integration_ref(&self, s: usize) -> Value {
        let service = self.id(Kind::Service, s);
        let id = self.id(Kind::Service, 1000 + s);
        let html = format!("{WEB}/services/{service}/integrations/{id}");
        let path = format!("services/{service}/integrations");
        self.reference("generic_events_api_inbound_integration", &id, "Events API V2", &path, Some(html))
    }

    /// Creation time of the service's newest incident (scans back from the newest).
    fn last_incident_of(&self, s: usize) -> Option<i64> {
        let total = self.world.total();
        (0..total)
            .rev()
            .take(100_000)
            .filter_map(|n| self.world.incident(n))
            .find(|f| f.service == s)
            .map(|f| f.created)
    }

    pub(crate) fn policy(&self, p: usize) -> Value {
        let pol = &self.world.catalog.policies[p];
        let rule = |level: usize, target: Value| {
            json!({
                "id": self.id(Kind::Policy, 1000 + p * 2 + level),
                "escalation_delay_in_minutes": 30,
                "targets": [target],
            })
        };
        let services: Vec<Value> = (0..SERVICES)
            .filter(|&s| self.world.catalog.services[s].policy == p)
            .map(|s| self.service_ref(s))
            .collect();
        let schedule = &self.world.catalog.schedules[pol.schedule].name;
        self.member(
            &Collection::POLICIES,
            p,
            json!({
                "name": pol.name,
                "description": format!("Pages {schedule} first, then its manager"),
                "num_loops": 0,
                "on_call_handoff_notifications": "if_has_services",
                "escalation_rules": [rule(0, self.schedule_ref(pol.schedule)), rule(1, self.user_ref(pol.manager))],
                "services": services,
                "teams": [self.team_ref(pol.team)],
            }),
        )
    }

    pub(crate) fn schedule(&self, s: usize) -> Value {
        let sch = &self.world.catalog.schedules[s];
        let policies: Vec<Value> = (0..POLICIES)
            .filter(|&p| self.world.catalog.policies[p].schedule == s)
            .map(|p| self.policy_ref(p))
            .collect();
        let team = self.world.catalog.policies[s].team;
        self.member(
            &Collection::SCHEDULES,
            s,
            json!({
                "name": sch.name,
                "time_zone": "Etc/UTC",
                "description": "Daily rotation, handoff at 00:00 UTC",
                "escalation_policies": policies,
                "users": sch.users.iter().map(|&u| self.user_ref(u)).collect::<Vec<_>>(),
                "teams": [self.team_ref(team)],
            }),
        )
    }

    pub(crate) fn priority(&self, p: usize) -> Value {
        let pr = &self.world.catalog.priorities[p];
        self.member(&Collection::PRIORITIES, p, json!({ "name": pr.name, "description": pr.description }))
    }

    fn log_entry_ref(&self, f: &Facts, pos: usize, e: &Entry) -> Value {
        let inc = self.id(Kind::Incident, f.n as usize);
        let id = self.world.ids.log_entry(f.n, pos as u64);
        json!({
            "id": id,
            "type": format!("{}_reference", e.kind.type_name()),
            "summary": self.entry_summary(f, e),
            "self": format!("{}/log_entries/{id}?incident_id={inc}", self.api),
            "html_url": format!("{WEB}/incidents/{inc}/log_entries/{id}"),
        })
    }

    pub(crate) fn incident(&self, f: &Facts) -> Value {
        let catalog = &self.world.catalog;
        let svc = &catalog.services[f.service];
        let status = f.status();
        let (assignee, assigned_at) = f.current_assignee();
        let assignments = match status {
            Status::Resolved => json!([]),
            _ => json!([{ "at": time(assigned_at), "assignee": self.user_ref(assignee) }]),
        };
        let acknowledgements = match f.acknowledgement() {
            Some(e) => json!([{ "at": time(e.at), "acknowledger": self.agent(f, e.agent) }]),
            None => json!([]),
        };
        let change = f.last_status_change();
        let alerts_resolved = if status == Status::Resolved { f.alerts } else { 0 };
        let mut v = self.incident_ref(f);
        extend(
            &mut v,
            "incident",
            json!({
                "incident_number": f.n + 1,
                "title": f.title(catalog),
                "created_at": time(f.created),
                "updated_at": time(f.updated_at()),
                "status": status.name(),
                "incident_key": f.incident_key(),
                "service": self.service_ref(f.service),
                "assignments": assignments,
                "assigned_via": "escalation_policy",
                "last_status_change_at": time(change.at),
                "last_status_change_by": self.agent(f, change.agent),
                "resolved_at": f.resolved_at().map(time),
                "first_trigger_log_entry": self.log_entry_ref(f, 0, f.first()),
                "alert_counts": { "all": f.alerts, "triggered": f.alerts - alerts_resolved, "resolved": alerts_resolved },
                "is_mergeable": true,
                "incident_type": { "name": "incident_default" },
                "escalation_policy": self.policy_ref(svc.policy),
                "teams": [self.team_ref(svc.team)],
                "pending_actions": [],
                "acknowledgements": acknowledgements,
                "alert_grouping": null,
                "priority": f.priority.map(|p| self.priority_ref(p)),
                "resolve_reason": null,
                "conference_bridge": f.conference_bridge().map(|b| json!({
                    "conference_number": b.number,
                    "conference_url": b.url,
                })),
                "incidents_responders": [],
                "responder_requests": [],
                "urgency": f.urgency(),
            }),
        );
        v
    }

    fn entry_summary(&self, f: &Facts, e: &Entry) -> String {
        let users = &self.world.catalog.users;
        let who = |a: Actor| match a {
            Actor::User(u) => users[u].name.clone(),
            Actor::Service => self.world.catalog.services[f.service].name.clone(),
        };
        let target = e.target.map(|u| users[u].name.clone()).unwrap_or_default();
        match (e.kind, e.agent) {
            (EntryKind::Trigger, _) => "Triggered through the API.".to_string(),
            (EntryKind::Assign, _) => format!("Assigned to {target}."),
            (EntryKind::Notify, _) => format!("Notified {target} by SMS."),
            (EntryKind::Escalate, _) => format!("Escalated to {target} after the acknowledgement timeout."),
            (EntryKind::Annotate, a) => format!("Note added by {}.", who(a)),
            (EntryKind::Acknowledge, a) => format!("Acknowledged by {}.", who(a)),
            (EntryKind::Resolve, Actor::Service) => "Resolved through the API.".to_string(),
            (EntryKind::Resolve, a) => format!("Resolved by {}.", who(a)),
        }
    }

    /// The log entry at `pos` of incident `f`.
    pub(crate) fn log_entry(&self, f: &Facts, pos: usize) -> Option<Value> {
        let e = f.entry(pos)?;
        let svc = &self.world.catalog.services[f.service];
        let mut v = self.log_entry_ref(f, pos, e);
        let mut extra = json!({
            "type": e.kind.type_name(),
            "created_at": time(e.at),
            "agent": self.agent(f, e.agent),
            "channel": { "type": e.channel },
            "service": self.service_ref(f.service),
            "incident": self.incident_ref(f),
            "teams": [self.team_ref(svc.team)],
            "contexts": [],
        });
        let target = e.target.map(|u| self.user_ref(u));
        let specific = match e.kind {
            EntryKind::Trigger => json!({ "event_details": { "description": f.title(&self.world.catalog) } }),
            EntryKind::Notify => json!({ "user": target }),
            EntryKind::Assign | EntryKind::Escalate => json!({ "assignees": target.into_iter().collect::<Vec<_>>() }),
            EntryKind::Acknowledge => json!({ "acknowledgement_timeout": ACK_TIMEOUT }),
            EntryKind::Annotate => json!({ "note": "Looking into it; following the runbook." }),
            EntryKind::Resolve => json!({}),
        };
        merge(&mut extra, specific);
        merge(&mut v, extra);
        Some(v)
    }

    /// Alert `a` (0-based) of incident `f`.
    pub(crate) fn alert(&self, f: &Facts, a: u64) -> Value {
        let id = self.world.ids.encode(Kind::Alert, f.n * 4 + a);
        let inc = self.id(Kind::Incident, f.n as usize);
        let resolved = f.status() == Status::Resolved;
        json!({
            "id": id,
            "type": "alert",
            "summary": f.title(&self.world.catalog),
            "self": format!("{}/incidents/{inc}/alerts/{id}", self.api),
            "html_url": format!("{WEB}/alerts/{id}"),
            "created_at": time(f.created + a as i64),
            "status": if resolved { "resolved" } else { "triggered" },
            "alert_key": f.incident_key(),
            "service": self.service_ref(f.service),
            "first_trigger_log_entry": self.log_entry_ref(f, 0, f.first()),
            "incident": self.incident_ref(f),
            "suppressed": false,
            "severity": if f.high_urgency { "critical" } else { "warning" },
            "integration": self.integration_ref(f.service),
            "body": { "type": "alert_body", "contexts": [], "details": { "check": f.title(&self.world.catalog) } },
        })
    }
}

/// Replaces the reference `type` with the full object's type and adds fields.
fn extend(v: &mut Value, kind: &str, fields: Value) {
    merge(v, fields);
    v["type"] = json!(kind);
}

fn merge(v: &mut Value, fields: Value) {
    if let (Some(obj), Value::Object(extra)) = (v.as_object_mut(), fields) {
        obj.extend(extra);
    }
}
