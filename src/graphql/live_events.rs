//! The live event stream: `subscription { events(types, userID) { … } }` over
//! `graphql-transport-ws` (see `http/subscriptions.rs`). Needs `audit-log:read`.

use crate::graphql::date_time::DateTime;
use async_graphql::{Context, ID, Object, Subscription};
use futures::Stream;

use super::context::{check_scope, services};
use super::node::{decode, encode};
use super::scalars::AuditLogData;
use crate::domain::ids::{AuditLogId, UserId};
use crate::domain::scope::AdminScope;
use crate::domain::text::check_list;
use crate::service::events::live::{LiveEvent, LiveFilter};

/// An event as the live stream sends it: the audit row of the event, the moment it
/// commits.
pub struct Event(LiveEvent);

/// An event of the live stream.
#[Object(requires_scopes = "audit-log:read")]
impl Event {
    /// The global ID of the event's audit log entry (`node(id)` finds it).
    async fn id(&self) -> ID {
        encode(AuditLogId::from(self.0.id))
    }
    /// Position of the event in this stream, from 1.
    async fn seq(&self) -> u64 {
        self.0.seq
    }
    /// Event type, e.g. `user.created` (the dotted form).
    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// Global ID of the user the event is about, if any.
    #[graphql(name = "userID")]
    async fn user_id(&self) -> Option<ID> {
        self.0.user_id.map(|u| encode(UserId::from(u)))
    }
    /// When it happened.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// The whole event: `type`, `payload` and `context`.
    async fn data(&self) -> AuditLogData {
        AuditLogData(self.0.data.clone())
    }
}

/// Root subscription.
#[derive(Default)]
pub struct Subscription;

/// Live streams, over WebSocket (`graphql-transport-ws`) on the Admin API endpoint.
#[Subscription]
impl Subscription {
    /// Events as they commit, from every process on the database, oldest first (within
    /// about a quarter of a second; at once for changes made by the process serving the
    /// stream). Events that happened before the subscription started are not sent: read
    /// them with `auditLogs`. Needs `audit-log:read`.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only these event types, dotted (`user.created`, `user.authenticated`); default all.")]
        types: Option<Vec<String>>,
        #[graphql(name = "userID", desc = "Only events about this user.")] user_id: Option<ID>,
    ) -> async_graphql::Result<impl Stream<Item = Event> + use<>> {
        check_scope(ctx, AdminScope::AuditLogRead)?;
        let types = types.unwrap_or_default();
        check_list("types", types.len()).map_err(crate::service::Error::from)?;
        for t in &types {
            crate::domain::text::check_text("types", t).map_err(crate::service::Error::from)?;
        }
        let user_id = user_id.as_ref().map(decode::<UserId>).transpose()?.map(Into::into);
        let stream = services(ctx)?.live_events(LiveFilter { types, user_id });
        Ok(futures::StreamExt::map(stream, Event))
    }
}
