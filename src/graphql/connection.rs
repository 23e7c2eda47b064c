//! Relay connections built from service pages, with a lazily computed `totalCount`.

use async_graphql::connection::{Connection, CursorType, Edge, EmptyFields};
use async_graphql::{Context, Object, OutputType};
use uuid::Uuid;

use super::context::services;
use crate::service::admin::audit_logs::AuditFilter;
use crate::service::admin::fraud_protection::DecisionFilter;
use crate::service::admin::resources::ResourceFilter;
use crate::service::admin::resources::ScopeFilter;
use crate::service::admin::roles_groups::KeyedFilter;
use crate::service::admin::roles_groups::Kind;
use crate::service::admin::roles_groups::Link;
use crate::service::admin::user_search::UserFilter;
use crate::service::paging::Cursor;
use crate::service::paging::Page;
use crate::service::paging::PageArgs;
use crate::service::paging::PageCursor;
use crate::service::paging::SortKind;
use crate::service::paging::paginate_in_memory;

/// A connection of `T` with `totalCount`.
pub type Conn<T> = Connection<PageCursor, T, TotalCount, EmptyFields>;

/// Cursors are encoded when an edge's `cursor` is selected, not before.
impl CursorType for PageCursor {
    type Error = &'static str;

    fn decode_cursor(s: &str) -> Result<Self, Self::Error> {
        PageCursor::decode(s).map_err(|_| "not a valid cursor")
    }

    fn encode_cursor(&self) -> String {
        self.encode()
    }
}

/// How to count the items of a connection, evaluated only if `totalCount` is asked for.
#[derive(Debug, Clone)]
pub enum CountSource {
    /// Already known.
    Known(u64),
    /// Users matching a filter.
    Users(Box<UserFilter>),
    /// Roles or groups matching a filter.
    Keyed(Kind, KeyedFilter),
    /// Rows of a link table on one side.
    Links(Link, bool, Uuid),
    /// Audit log entries matching a filter.
    AuditLogs(Box<AuditFilter>),
    /// Fraud protection decision records matching a filter.
    FraudProtectionLogs(Box<DecisionFilter>),
    /// Applications matching a search keyword.
    Applications(Option<String>),
    /// Resources matching a filter.
    Resources(ResourceFilter),
    /// Scopes matching a filter.
    Scopes(ScopeFilter),
    /// Webhook deliveries matching a filter.
    WebhookDeliveries(Box<crate::service::events::deliveries::DeliveryFilter>),
}

/// Extra connection fields.
pub struct TotalCount(pub CountSource);

#[Object]
impl TotalCount {
    /// Number of items across all pages.
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<i32> {
        let svc = services(ctx)?;
        let n = match &self.0 {
            CountSource::Known(n) => *n,
            CountSource::Users(f) => svc.users().count(f).await?,
            CountSource::Keyed(kind, f) => svc.roles_groups().count(*kind, f).await?,
            CountSource::Links(link, right, id) => svc.roles_groups().count_links(*link, *right, *id).await?,
            CountSource::AuditLogs(f) => svc.audit_logs().count(f).await?,
            CountSource::FraudProtectionLogs(f) => svc.fraud_protection().count(f).await?,
            CountSource::Applications(search) => svc.applications().count(search.as_deref()).await?,
            CountSource::Resources(f) => svc.resources().count(f).await?,
            CountSource::Scopes(f) => svc.resources().count_scopes(f).await?,
            CountSource::WebhookDeliveries(f) => svc.webhooks().count(f).await?,
        };
        Ok(i32::try_from(n).unwrap_or(i32::MAX))
    }
}

/// Builds a connection from a page, wrapping each item with `wrap`.
pub fn to_conn<S, T: OutputType>(page: Page<S>, count: CountSource, wrap: impl Fn(S) -> T) -> Conn<T> {
    let mut conn = Connection::with_additional_fields(page.has_prev, page.has_next, TotalCount(count));
    conn.edges.extend(page.items.into_iter().map(|(cursor, item)| Edge::new(cursor, wrap(item))));
    conn
}

/// A connection over a list already in memory, sorted by its cursors' `(value, id)`. Its
/// cursors name the list by its GraphQL item type (`User.roles` gives `Role` cursors, in
/// memory, which `roles` or `User.groups` refuse).
pub fn list_conn<S, T: OutputType>(
    list: Vec<S>,
    page_args: &PageArgs,
    kind: SortKind,
    cursor: impl Fn(&S) -> Cursor,
    wrap: impl Fn(S) -> T,
) -> async_graphql::Result<Conn<T>> {
    let total = list.len() as u64;
    let page = paginate_in_memory(list, page_args, &in_memory_tag::<T>(), kind, cursor)?;
    Ok(to_conn(page, CountSource::Known(total), wrap))
}

/// The tag of the cursors of an in-memory list of `T` (see [`list_conn`]).
pub fn in_memory_tag<T: OutputType>() -> String {
    format!("{}.in_memory", T::type_name())
}

/// Connection arguments as resolvers receive them.
pub fn args(first: Option<i32>, after: Option<String>, last: Option<i32>, before: Option<String>) -> PageArgs {
    PageArgs { first, after, last, before }
}

/// Complexity of a connection whose items are fetched from the database page by page:
/// the page size times the cost of one item, so that nested lists of lists are bounded
/// by `admin_api.max_complexity` instead of running a query per item unchecked.
pub fn page_complexity(first: Option<i32>, last: Option<i32>, child: usize) -> usize {
    let size = first.or(last).unwrap_or(100).clamp(0, 100);
    usize::try_from(size).unwrap_or(100).saturating_mul(child).saturating_add(1)
}
