//! The small lists (users, teams, services, escalation policies, priorities, on-calls):
//! fetched whole on every sync, page after page, because they change without leaving a
//! trace that could be queried.

use connector_sdk::http::Priority;
use connector_sdk::{ConnectorError, LogLevel};
use serde_json::Value;

use super::{Sync, Tag, FIRST_PAGES};
use crate::client::ApiError;
use crate::paging::{Endpoint, OFFSET_CAP};
use crate::records;

/// A small list.
#[derive(Debug)]
pub(super) struct List {
    path: &'static str,
    key: &'static str,
    map: fn(&Value) -> Value,
    /// Accounts without the feature answer 402 or 403: skipped with a warning.
    optional: bool,
}

pub(super) const LISTS: [List; 6] = [
    List { path: "/users", key: "users", map: records::user, optional: false },
    List { path: "/teams", key: "teams", map: records::team, optional: true },
    List { path: "/services", key: "services", map: records::service, optional: false },
    List { path: "/escalation_policies", key: "escalation_policies", map: records::escalation_policy, optional: false },
    List { path: "/priorities", key: "priorities", map: records::priority, optional: true },
    List { path: "/oncalls", key: "oncalls", map: records::on_call, optional: false },
];

impl Sync<'_> {
    fn list_endpoint(&self, list: &List) -> Endpoint {
        let List { path, key, .. } = *list;
        Endpoint { path, key, query: vec![("time_zone", "UTC".to_owned())], limit: u64::from(self.config.page_size) }
    }

    pub(super) fn push_list(&mut self, list: &'static List, offset: u64) {
        let request = self.list_endpoint(list).request(None, offset, offset == 0);
        let priority = Priority { class: FIRST_PAGES, newest_first: i64::MIN, offset };
        self.pool.push(priority, request, Tag::List { list, offset });
    }

    /// A page of a small list.
    pub(super) fn list_page(
        &mut self,
        list: &'static List,
        offset: u64,
        answer: Result<Value, ApiError>,
    ) -> Result<(), ConnectorError> {
        let endpoint = self.list_endpoint(list);
        let page = match answer.and_then(|answer| endpoint.page(answer)) {
            Ok(page) => page,
            Err(e) if list.optional && matches!(e.status(), Some(402 | 403)) => {
                if offset == 0 {
                    self.progress.total_dropped();
                }
                return Ok(self.out.log(LogLevel::Warn, format!("skipping {}: {e}", list.key))?);
            }
            Err(e) => return Err(e.into()),
        };
        if offset == 0 {
            self.progress.total_came(page.total);
        }
        self.progress.received(page.items.len() as u64);
        for item in &page.items {
            self.out.record(&(list.map)(item))?;
        }
        self.out.flush()?;
        if page.more {
            let next = offset + endpoint.limit;
            if !endpoint.reachable(next) {
                return Err(ConnectorError::internal(format!(
                    "GET {}: more than {OFFSET_CAP} items; PagerDuty's offset pagination cannot reach the rest",
                    list.path
                )));
            }
            self.push_list(list, next);
        }
        Ok(())
    }
}
