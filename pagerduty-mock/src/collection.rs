//! How the API presents each small collection of the catalog: users, teams, services,
//! escalation policies, schedules and priorities.
//!
//! One table row per collection holds what differs between them: its path and object
//! type, its ID space, its size, and the member fields that lists filter on. The routes
//! list and fetch members through it, and references to members are rendered from it,
//! so a collection is described once.

use serde_json::Value;

use crate::catalog::Catalog;
use crate::ids::Kind;
use crate::render::Render;

/// One collection as the API names, filters and renders it.
pub(crate) struct Collection {
    /// Path segment, `self` URL segment and list key: `escalation_policies`.
    pub(crate) plural: &'static str,
    /// Object `type` and the key of a one-object answer: `escalation_policy`.
    pub(crate) singular: &'static str,
    /// The ID space of its members.
    pub(crate) kind: Kind,
    /// Path of a member's page on the web host; `None` where PagerDuty gives no
    /// `html_url` (priorities).
    pub(crate) web_path: Option<&'static str>,
    /// Whether `query` filters the list by name (PagerDuty has no `query` on priorities).
    pub(crate) searchable: bool,
    size: fn(&Catalog) -> usize,
    name: fn(&Catalog, usize) -> &str,
    /// The member's team, where the list takes `team_ids[]`.
    team: Option<fn(&Catalog, usize) -> usize>,
    render: fn(&Render<'_>, usize) -> Value,
}

impl Collection {
    pub(crate) const USERS: Collection = Collection {
        plural: "users",
        singular: "user",
        kind: Kind::User,
        web_path: Some("users"),
        searchable: true,
        size: |catalog| catalog.users.len(),
        name: |catalog, i| &catalog.users[i].name,
        team: Some(|catalog, i| catalog.users[i].team),
        render: |render, i| render.user(i),
    };

    pub(crate) const TEAMS: Collection = Collection {
        plural: "teams",
        singular: "team",
        kind: Kind::Team,
        web_path: Some("teams"),
        searchable: true,
        size: |catalog| catalog.teams.len(),
        name: |catalog, i| &catalog.teams[i].name,
        team: None,
        render: |render, i| render.team(i),
    };

    pub(crate) const SERVICES: Collection = Collection {
        plural: "services",
        singular: "service",
        kind: Kind::Service,
        web_path: Some("service-directory"),
        searchable: true,
        size: |catalog| catalog.services.len(),
        name: |catalog, i| &catalog.services[i].name,
        team: Some(|catalog, i| catalog.services[i].team),
        render: |render, i| render.service(i),
    };

    pub(crate) const POLICIES: Collection = Collection {
        plural: "escalation_policies",
        singular: "escalation_policy",
        kind: Kind::Policy,
        web_path: Some("escalation_policies"),
        searchable: true,
        size: |catalog| catalog.policies.len(),
        name: |catalog, i| &catalog.policies[i].name,
        team: Some(|catalog, i| catalog.policies[i].team),
        render: |render, i| render.policy(i),
    };

    pub(crate) const SCHEDULES: Collection = Collection {
        plural: "schedules",
        singular: "schedule",
        kind: Kind::Schedule,
        web_path: Some("schedules"),
        searchable: true,
        size: |catalog| catalog.schedules.len(),
        name: |catalog, i| &catalog.schedules[i].name,
        team: None,
        render: |render, i| render.schedule(i),
    };

    pub(crate) const PRIORITIES: Collection = Collection {
        plural: "priorities",
        singular: "priority",
        kind: Kind::Priority,
        web_path: None,
        searchable: false,
        size: |catalog| catalog.priorities.len(),
        name: |catalog, i| catalog.priorities[i].name,
        team: None,
        render: |render, i| render.priority(i),
    };

    /// How many members it has.
    pub(crate) fn len(&self, catalog: &Catalog) -> usize {
        (self.size)(catalog)
    }

    /// The name of member `index` (`index < len`).
    pub(crate) fn name<'c>(&self, catalog: &'c Catalog, index: usize) -> &'c str {
        (self.name)(catalog, index)
    }

    /// The team of member `index`, if the list filters by team.
    pub(crate) fn team(&self, catalog: &Catalog, index: usize) -> Option<usize> {
        self.team.map(|team_of| team_of(catalog, index))
    }

    /// The full object of member `index`.
    pub(crate) fn render(&self, render: &Render<'_>, index: usize) -> Value {
        (self.render)(render, index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_collection_names_its_members() {
        let catalog = Catalog::build(1_700_000_000);
        let all = [
            Collection::USERS,
            Collection::TEAMS,
            Collection::SERVICES,
            Collection::POLICIES,
            Collection::SCHEDULES,
            Collection::PRIORITIES,
        ];
        let sizes: Vec<usize> = all.iter().map(|c| c.len(&catalog)).collect();
        assert_eq!(sizes, [30, 4, 10, 5, 5, 5]);
        assert_eq!(Collection::SERVICES.name(&catalog, 0), "Checkout API");
        assert_eq!(Collection::PRIORITIES.name(&catalog, 4), "P5");
        assert_eq!(Collection::POLICIES.team(&catalog, 1), Some(1));
        assert_eq!(Collection::TEAMS.team(&catalog, 1), None);
    }
}
