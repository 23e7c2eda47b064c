//! Webhook deliveries: the log of what went to each non-blocking handler, and redelivery.

use crate::graphql::date_time::DateTime;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};

use super::connection::{Conn, CountSource, args, to_conn};
use super::context::{audit, services};
use super::node::{decode, encode};
use super::scalars::EventEnvelope;
use crate::domain::ids::{AuditLogId, UserId, WebhookDeliveryId};
use crate::service::events::deliveries::{DeliveryFilter, WebhookDelivery as Delivery};

/// Where a delivery stands.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
pub enum WebhookDeliveryStatus {
    /// Not delivered yet: due, in flight, or waiting for a retry.
    Pending,
    /// The handler answered 2xx.
    Delivered,
    /// Every attempt failed until the retry window (`hook.delivery_retry_hours`) closed.
    Failed,
}

impl WebhookDeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Self {
        match s {
            "delivered" => Self::Delivered,
            "failed" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// One event sent (or to be sent) to one non-blocking handler.
pub struct WebhookDelivery(pub Delivery);

/// One event sent (or to be sent) to one non-blocking handler: its status, attempts and
/// last outcome. Needs `hook:read`.
#[Object(requires_scopes = "hook:read")]
impl WebhookDelivery {
    /// The global ID of the delivery.
    async fn id(&self) -> ID {
        encode(WebhookDeliveryId::from(self.0.id))
    }
    /// The event's ID: the global ID of its audit log entry, and the `id` of the envelope.
    #[graphql(name = "eventID")]
    async fn event_id(&self) -> ID {
        encode(AuditLogId::from(self.0.event_id))
    }
    /// The event's `seq`: increasing in commit order.
    async fn seq(&self) -> String {
        self.0.event_seq.to_string()
    }
    /// The event type, e.g. `user.created`.
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// The global ID of the user the event is about.
    #[graphql(name = "userID")]
    async fn user_id(&self) -> Option<ID> {
        self.0.user_id.map(encode)
    }
    /// The handler's URL.
    #[graphql(name = "handlerURL")]
    async fn handler_url(&self) -> &str {
        &self.0.handler_url
    }
    /// Where the delivery stands.
    async fn status(&self) -> WebhookDeliveryStatus {
        WebhookDeliveryStatus::parse(&self.0.status)
    }
    /// Attempts so far.
    async fn attempts(&self) -> i32 {
        self.0.attempts
    }
    /// When the next attempt is due (pending deliveries only).
    async fn next_attempt_at(&self) -> Option<DateTime> {
        self.0.next_attempt_at.map(DateTime)
    }
    /// The HTTP status of the last answer.
    async fn last_status_code(&self) -> Option<i32> {
        self.0.last_status
    }
    /// What went wrong last: `HTTP 503`, `timed out`, `connection failed: …`.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }
    /// When the delivery was queued (the event's commit).
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
    /// When the handler accepted it.
    async fn delivered_at(&self) -> Option<DateTime> {
        self.0.delivered_at.map(DateTime)
    }
    /// The body the handler receives (before signing), or null once the event is gone.
    async fn event(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<EventEnvelope>> {
        Ok(services(ctx)?.webhooks().event_body(self.0.event_id).await?.map(EventEnvelope))
    }
}

/// Webhook queries.
#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// The webhook delivery log, newest first. `rangeFrom` is inclusive and `rangeTo`
    /// exclusive (by the time the event was queued). Needs `hook:read`.
    #[graphql(
        requires_scopes = "hook:read",
        complexity = "super::connection::page_complexity(first, last, child_complexity)",
        tag = "db_count"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only deliveries in these states (default: all).")] statuses: Option<
            Vec<WebhookDeliveryStatus>,
        >,
        #[graphql(desc = "Only these event types, e.g. `user.created` (default: all).")] event_types: Option<
            Vec<String>,
        >,
        #[graphql(name = "userID", desc = "Only events about this user.")] user_id: Option<ID>,
        #[graphql(name = "eventID", desc = "Only the deliveries of this event.")] event_id: Option<ID>,
        #[graphql(name = "handlerURL", desc = "Only deliveries to this handler.")] handler_url: Option<String>,
        #[graphql(desc = "Deliveries queued at or after this time.")] range_from: Option<DateTime>,
        #[graphql(desc = "Deliveries queued before this time.")] range_to: Option<DateTime>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100, default 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<WebhookDelivery>> {
        let filter = DeliveryFilter {
            statuses: statuses.unwrap_or_default().into_iter().map(|s| s.as_str().to_owned()).collect(),
            event_types: event_types.unwrap_or_default(),
            user_id: user_id.as_ref().map(decode::<UserId>).transpose()?,
            event_id: event_id.as_ref().map(decode::<AuditLogId>).transpose()?.map(|e| e.into()),
            handler_url,
            range_from: range_from.map(|d| d.0),
            range_to: range_to.map(|d| d.0),
        };
        let page = services(ctx)?.webhooks().list(&filter, &args(first, after, last, before)).await?;
        Ok(to_conn(page, CountSource::WebhookDeliveries(Box::new(filter)), WebhookDelivery))
    }
}

/// Input of `redeliverWebhookEvent`.
#[derive(InputObject)]
pub struct RedeliverWebhookEventInput {
    /// The event's ID (`eventID` of a delivery, the global ID of its audit log entry).
    #[graphql(name = "eventID")]
    pub event_id: ID,
}

/// Input of `redeliverFailedWebhookDeliveries`.
#[derive(InputObject)]
pub struct RedeliverFailedWebhookDeliveriesInput {
    /// Deliveries queued at or after this time (default: all).
    pub range_from: Option<DateTime>,
    /// Deliveries queued before this time (default: now).
    pub range_to: Option<DateTime>,
}

/// Result of a redelivery.
#[derive(SimpleObject)]
pub struct RedeliverWebhookPayload {
    /// How many deliveries are pending again.
    pub count: i32,
}

/// Webhook mutations.
#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Sends an event again to every handler it went to, whatever became of it before; the
    /// deliveries are due at once with a fresh retry window. Needs `hook:write`.
    #[graphql(requires_scopes = "hook:write")]
    async fn redeliver_webhook_event(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which event.")] input: RedeliverWebhookEventInput,
    ) -> async_graphql::Result<RedeliverWebhookPayload> {
        let id: AuditLogId = decode(&input.event_id)?;
        let n = services(ctx)?.webhooks().redeliver_event(&audit(ctx, "redeliver_webhook_event"), id.into()).await?;
        Ok(RedeliverWebhookPayload { count: i32::try_from(n).unwrap_or(i32::MAX) })
    }

    /// Sends again every delivery that failed for good (its retry window closed) and was
    /// queued in `[rangeFrom, rangeTo)`. Needs `hook:write`.
    #[graphql(requires_scopes = "hook:write")]
    async fn redeliver_failed_webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which failed deliveries.")] input: RedeliverFailedWebhookDeliveriesInput,
    ) -> async_graphql::Result<RedeliverWebhookPayload> {
        let n = services(ctx)?
            .webhooks()
            .redeliver_failed(
                &audit(ctx, "redeliver_failed_webhook_deliveries"),
                input.range_from.map(|d| d.0),
                input.range_to.map(|d| d.0),
            )
            .await?;
        Ok(RedeliverWebhookPayload { count: i32::try_from(n).unwrap_or(i32::MAX) })
    }
}
