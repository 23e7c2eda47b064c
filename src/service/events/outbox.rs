//! Writing an event to the outbox, in the transaction of the change it reports: the
//! event row (with its `seq`) and one delivery per subscribed handler. The audit row of
//! the same event is written beside it by the caller; the event's `id` is the audit
//! row's.

use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, Set};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::routing::EventRouting;
use super::user_model::api_user;
use crate::service::Result;
use crate::service::store::time::micros;
use entity::{audit_log, hook_event, webhook_delivery};

/// Microseconds in an hour.
const HOUR: i64 = 3_600_000_000;

/// Writes `event` (an audit row about to commit) to the outbox when a handler subscribes
/// to its type. Returns whether it did. The payload's `user` becomes the full API user
/// model as the transaction sees it (the audit row keeps its smaller snapshot).
pub(in crate::service) async fn enqueue(
    conn: &impl ConnectionTrait,
    routing: &EventRouting,
    retry_hours: u64,
    event: &audit_log::Model,
) -> Result<bool> {
    let urls = routing.handlers_for(&event.activity_type);
    if urls.is_empty() {
        return Ok(false);
    }
    let mut data = match &event.data {
        Value::Object(m) => m.clone(),
        _ => Map::new(),
    };
    data.remove("type");
    let user_id = data
        .get("payload")
        .and_then(|p| p.get("user"))
        .and_then(|u| u.get("id"))
        .and_then(Value::as_str)
        .and_then(|s| Uuid::parse_str(s).ok())
        .or(event.user_id);
    if let Some(uid) = user_id
        && let Some(Value::Object(payload)) = data.get_mut("payload")
        && let Some(model) = api_user(conn, uid).await?
    {
        payload.insert("user".into(), model);
    }
    let row = hook_event::ActiveModel {
        id: Set(event.id),
        event_type: Set(event.activity_type.clone()),
        user_id: Set(event.user_id),
        data: Set(Value::Object(data)),
        created_at: Set(event.created_at),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    let now = micros(crate::service::store::time::now());
    let order_key = event.user_id.unwrap_or(event.id).to_string();
    let retry = i64::try_from(retry_hours).unwrap_or(72).saturating_mul(HOUR);
    let deliveries: Vec<webhook_delivery::ActiveModel> = urls
        .into_iter()
        .map(|url| webhook_delivery::ActiveModel {
            id: Set(Uuid::now_v7()),
            event_seq: Set(row.seq),
            event_id: Set(event.id),
            event_type: Set(event.activity_type.clone()),
            user_id: Set(event.user_id),
            order_key: Set(order_key.clone()),
            handler_url: Set(url.to_owned()),
            status: Set("pending".into()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            retry_until: Set(now.saturating_add(retry)),
            locked_until: Set(None),
            last_status: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            delivered_at: Set(None),
        })
        .collect();
    webhook_delivery::Entity::insert_many(deliveries).exec(conn).await?;
    Ok(true)
}
