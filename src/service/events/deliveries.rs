//! Webhook deliveries: what the delivery worker claims and records, and what the Admin
//! API lists and redelivers.
//!
//! A claim takes due `pending` rows whose handler has no earlier pending delivery for the
//! same user (so one user's events arrive in order), marks them held until a lease ends,
//! and counts the attempt. On PostgreSQL the claim skips rows another process is claiming
//! (`FOR UPDATE SKIP LOCKED`), and a held row is not due again until its lease ends, so
//! two processes never send one delivery at the same time. Outcomes are written by a
//! group-commit writer: one transaction for many deliveries.

use std::sync::Arc;
use std::time::Duration;

use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait, LockBehavior, LockType, Order, Query};
use sea_orm::{ConnectionTrait, DatabaseBackend, EntityTrait, PaginatorTrait, QueryFilter};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::ids::{TypedId, UserId};
use crate::service::store::group_commit::{BatchError, GroupCommit};
use crate::service::store::paging::{Cursor, Keyset, Page, PageArgs, SortKind};
use crate::service::store::time::{micros, now, time_of};
use crate::service::{Audit, Db, Error, Result, Webhooks};
use entity::webhook_delivery;

/// A delivery the worker holds and must send.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The delivery.
    pub id: Uuid,
    /// Where it goes.
    pub handler_url: String,
    /// The event's JSON envelope, exactly as it is signed and sent.
    pub body: Vec<u8>,
    /// The event's ID (for logs).
    pub event_id: Uuid,
    /// The event's type (for logs).
    pub event_type: String,
}

/// What became of one attempt.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The handler answered 2xx.
    Delivered {
        /// Its status.
        status: u16,
    },
    /// A non-2xx answer, a timeout or a transport error.
    Failed {
        /// The status, when there was an answer.
        status: Option<u16>,
        /// What went wrong.
        error: String,
    },
}

/// A delivery as the Admin API lists it.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    /// ID.
    pub id: Uuid,
    /// The event's ID (also its audit log entry's).
    pub event_id: Uuid,
    /// The event's `seq`.
    pub event_seq: i64,
    /// The event's type.
    pub event_type: String,
    /// The user the event is about.
    pub user_id: Option<UserId>,
    /// The handler's URL.
    pub handler_url: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i32,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<OffsetDateTime>,
    /// The last answer's HTTP status.
    pub last_status: Option<i32>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When the delivery was queued.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
    /// When it was delivered.
    pub delivered_at: Option<OffsetDateTime>,
}

impl From<webhook_delivery::Model> for WebhookDelivery {
    fn from(m: webhook_delivery::Model) -> Self {
        Self {
            id: m.id,
            event_id: m.event_id,
            event_seq: m.event_seq,
            event_type: m.event_type,
            user_id: m.user_id.map(UserId::from),
            handler_url: m.handler_url,
            next_attempt_at: (m.status == "pending").then(|| time_of(m.next_attempt_at)),
            status: m.status,
            attempts: m.attempts,
            last_status: m.last_status,
            last_error: m.last_error,
            created_at: time_of(m.created_at),
            updated_at: time_of(m.updated_at),
            delivered_at: m.delivered_at.map(time_of),
        }
    }
}

/// Filters of the delivery log.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    /// Statuses (`pending`, `delivered`, `failed`); empty means all.
    pub statuses: Vec<String>,
    /// Event types; empty means all.
    pub event_types: Vec<String>,
    /// The user the events are about.
    pub user_id: Option<UserId>,
    /// One event's deliveries.
    pub event_id: Option<Uuid>,
    /// One handler's deliveries.
    pub handler_url: Option<String>,
    /// Queued at or after.
    pub range_from: Option<OffsetDateTime>,
    /// Queued before.
    pub range_to: Option<OffsetDateTime>,
}

/// The writer of outcomes (group commit).
pub(in crate::service) type OutcomeWriter = GroupCommit<(Uuid, Outcome), ()>;

/// Starts the outcome writer.
pub(in crate::service) fn start_outcome_writer(db: Db) -> OutcomeWriter {
    GroupCommit::start(db, 512, write_outcomes)
}

/// The delay before attempt `attempts + 1`: 5 s doubling per attempt up to an hour, with
/// ±25 % jitter so that many failed deliveries do not return at one instant.
fn backoff(attempts: i32) -> i64 {
    let base_s = Ord::min(5i64.saturating_mul(1i64 << attempts.clamp(1, 20).saturating_sub(1)), 3_600);
    let mut r = [0u8; 2];
    let _ = aws_lc_rs::rand::fill(&mut r);
    let jitter = i64::from(u16::from_le_bytes(r)) * 500 / 65_535; // 0..=500 per mille
    base_s * 1_000_000 * (750 + jitter) / 1_000
}

async fn write_outcomes(db: Db, jobs: Vec<(Uuid, Outcome)>) -> std::result::Result<Vec<()>, BatchError> {
    let n = jobs.len();
    let at = micros(now());
    let txn = db.transaction().await.map_err(BatchError::new)?;
    let ids: Vec<Uuid> = jobs.iter().map(|(id, _)| *id).collect();
    let rows = webhook_delivery::Entity::find()
        .filter(Expr::col(webhook_delivery::Column::Id).is_in(ids))
        .all(&txn)
        .await
        .map_err(BatchError::new)?;
    let by_id: std::collections::HashMap<Uuid, &webhook_delivery::Model> = rows.iter().map(|r| (r.id, r)).collect();
    let mut delivered = Vec::new();
    for (id, outcome) in &jobs {
        let Some(row) = by_id.get(id) else { continue };
        match outcome {
            Outcome::Delivered { status } => delivered.push((*id, *status)),
            Outcome::Failed { status, error } => {
                let mut upd = Query::update();
                upd.table("webhook_deliveries")
                    .value("locked_until", Option::<i64>::None)
                    .value("last_status", status.map(i32::from))
                    .value("last_error", error.clone())
                    .value("updated_at", at)
                    .and_where(Expr::col("id").eq(*id));
                let next = at.saturating_add(backoff(row.attempts));
                if next > row.retry_until {
                    upd.value("status", "failed");
                } else {
                    upd.value("next_attempt_at", next);
                }
                txn.execute(&upd).await.map_err(BatchError::new)?;
            }
        }
    }
    // One statement per status code (nearly always one: 200).
    let mut codes: Vec<u16> = delivered.iter().map(|(_, s)| *s).collect();
    codes.sort_unstable();
    codes.dedup();
    for code in codes {
        let ids: Vec<Uuid> = delivered.iter().filter(|(_, s)| *s == code).map(|(id, _)| *id).collect();
        let upd = Query::update()
            .table("webhook_deliveries")
            .value("status", "delivered")
            .value("locked_until", Option::<i64>::None)
            .value("last_status", i32::from(code))
            .value("last_error", Option::<String>::None)
            .value("delivered_at", at)
            .value("updated_at", at)
            .and_where(Expr::col("id").is_in(ids))
            .to_owned();
        txn.execute(&upd).await.map_err(BatchError::new)?;
    }
    db.commit(txn).await.map_err(BatchError::new)?;
    Ok(vec![(); n])
}

impl Webhooks<'_> {
    /// Whether any non-blocking handler is configured (else the worker has nothing to do).
    pub fn has_handlers(&self) -> bool {
        !self.routing.is_empty()
    }

    /// Woken when a change commits events to the outbox.
    pub fn wake_signal(&self) -> Arc<tokio::sync::Notify> {
        self.outbox_wake.clone()
    }

    /// The lease of a claim: the delivery's timeout and a margin.
    fn lease(&self) -> i64 {
        let s = i64::try_from(self.config.hook.delivery_timeout_seconds).unwrap_or(10) + 5;
        s * 1_000_000
    }

    /// Releases every held delivery. Only for SQLite, where one process serves the
    /// database: what a previous run held when it stopped is due again at once.
    pub async fn release_after_restart(&self) -> Result<u64> {
        if self.db.reader().get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(0);
        }
        self.write_unaudited(async |tx| {
            let upd = Query::update()
                .table("webhook_deliveries")
                .value("locked_until", Option::<i64>::None)
                .and_where(Expr::col("status").eq("pending"))
                .and_where(Expr::col("locked_until").is_not_null())
                .to_owned();
            Ok::<_, Error>(tx.conn().execute(&upd).await?.rows_affected())
        })
        .await
    }

    /// Claims up to `limit` due deliveries, oldest event first, at most one per handler
    /// and user, and builds their bodies.
    ///
    /// An idle worker first asks, read-only, whether anything is due: on SQLite a claim is a
    /// write transaction that would take the one writer every poll.
    pub async fn claim(&self, limit: u64) -> Result<Vec<Claimed>> {
        let at = micros(now());
        let due = Query::select()
            .expr(Expr::val(1))
            .from("webhook_deliveries")
            .and_where(Expr::col("status").eq("pending"))
            .and_where(Expr::col("next_attempt_at").lte(at))
            .cond_where(Condition::any().add(Expr::col("locked_until").is_null()).add(Expr::col("locked_until").lt(at)))
            .limit(1)
            .to_owned();
        if self.db.reader().query_one(&due).await?.is_none() {
            return Ok(Vec::new());
        }
        let lease = self.lease();
        let postgres = self.db.reader().get_database_backend() == DatabaseBackend::Postgres;
        self.write_unaudited(async |tx| {
            let at = micros(now());
            let earlier = Query::select()
                .expr(Expr::val(1))
                .from_as("webhook_deliveries", "p")
                .and_where(Expr::col(("p", "handler_url")).equals(("d", "handler_url")))
                .and_where(Expr::col(("p", "order_key")).equals(("d", "order_key")))
                .and_where(Expr::col(("p", "status")).eq("pending"))
                .and_where(Expr::col(("p", "event_seq")).lt(Expr::col(("d", "event_seq"))))
                .to_owned();
            let mut q = Query::select();
            // Aliased and read by name: both tables have an `id`.
            q.expr_as(Expr::col(("d", "id")), "delivery_id")
                .columns([("d", "handler_url"), ("d", "event_seq")])
                .expr_as(Expr::col(("e", "id")), "event_id")
                .columns([("e", "event_type"), ("e", "data")])
                .from_as("webhook_deliveries", "d")
                .join_as(
                    sea_orm::sea_query::JoinType::InnerJoin,
                    "hook_events",
                    "e",
                    Expr::col(("e", "seq")).equals(("d", "event_seq")),
                )
                .and_where(Expr::col(("d", "status")).eq("pending"))
                .and_where(Expr::col(("d", "next_attempt_at")).lte(at))
                .cond_where(
                    Condition::any()
                        .add(Expr::col(("d", "locked_until")).is_null())
                        .add(Expr::col(("d", "locked_until")).lt(at)),
                )
                .and_where(Expr::exists(earlier).not())
                .order_by(("d", "event_seq"), Order::Asc)
                .limit(limit);
            if postgres {
                q.lock_with_tables_behavior(LockType::Update, [Alias::new("d")], LockBehavior::SkipLocked);
            }
            let rows = tx.conn().query_all(&q).await?;
            let mut out = Vec::with_capacity(rows.len());
            for row in rows {
                let id: Uuid = row.try_get("", "delivery_id")?;
                let handler_url: String = row.try_get("", "handler_url")?;
                let seq: i64 = row.try_get("", "event_seq")?;
                let event_id: Uuid = row.try_get("", "event_id")?;
                let event_type: String = row.try_get("", "event_type")?;
                let data: Value = row.try_get("", "data")?;
                let body = serde_json::to_vec(&envelope(event_id, seq, &event_type, &data))
                    .map_err(|e| Error::caused("encoding an event", e))?;
                out.push(Claimed { id, handler_url, body, event_id, event_type });
            }
            if !out.is_empty() {
                let ids: Vec<Uuid> = out.iter().map(|c| c.id).collect();
                let upd = Query::update()
                    .table("webhook_deliveries")
                    .value("locked_until", at.saturating_add(lease))
                    .value("attempts", Expr::col("attempts").add(1))
                    .value("updated_at", at)
                    .and_where(Expr::col("id").is_in(ids))
                    .to_owned();
                tx.conn().execute(&upd).await?;
            }
            Ok::<_, Error>(out)
        })
        .await
    }

    /// Records the outcome of an attempt (waits until it is committed).
    pub async fn finish(&self, id: Uuid, outcome: Outcome) -> Result<()> {
        self.outcomes.submit((id, outcome)).await
    }

    fn condition(f: &DeliveryFilter) -> Result<Condition> {
        crate::domain::text::check_list("statuses", f.statuses.len())?;
        crate::domain::text::check_list("eventTypes", f.event_types.len())?;
        let mut cond = Condition::all();
        if !f.statuses.is_empty() {
            cond = cond.add(Expr::col(webhook_delivery::Column::Status).is_in(f.statuses.clone()));
        }
        if !f.event_types.is_empty() {
            cond = cond.add(Expr::col(webhook_delivery::Column::EventType).is_in(f.event_types.clone()));
        }
        if let Some(u) = f.user_id {
            cond = cond.add(Expr::col(webhook_delivery::Column::UserId).eq(u.uuid()));
        }
        if let Some(e) = f.event_id {
            cond = cond.add(Expr::col(webhook_delivery::Column::EventId).eq(e));
        }
        if let Some(h) = &f.handler_url {
            cond = cond.add(Expr::col(webhook_delivery::Column::HandlerUrl).eq(h.clone()));
        }
        if let Some(from) = f.range_from {
            cond = cond.add(Expr::col(webhook_delivery::Column::CreatedAt).gte(micros(from)));
        }
        if let Some(to) = f.range_to {
            cond = cond.add(Expr::col(webhook_delivery::Column::CreatedAt).lt(micros(to)));
        }
        Ok(cond)
    }

    /// The delivery log, newest first.
    pub async fn list(&self, f: &DeliveryFilter, args: &PageArgs) -> Result<Page<WebhookDelivery>> {
        let plan = args.plan()?;
        let ks = Keyset {
            table: "webhook_deliveries",
            column: "created_at",
            desc: true,
            nullable: false,
            kind: SortKind::Time,
        };
        let q = ks.apply(webhook_delivery::Entity::find().filter(Self::condition(f)?), &plan)?;
        let rows: Vec<WebhookDelivery> =
            q.all(&self.db.reader()).await?.into_iter().map(WebhookDelivery::from).collect();
        Ok(ks.finish(&plan, rows, |r| Cursor::time(Some(r.created_at), r.id)))
    }

    /// How many deliveries match `f`.
    pub async fn count(&self, f: &DeliveryFilter) -> Result<u64> {
        Ok(webhook_delivery::Entity::find().filter(Self::condition(f)?).count(&self.db.reader()).await?)
    }

    /// The event a delivery sends, as its envelope (without `seq` changes: it is the body
    /// the handler receives).
    pub async fn event_body(&self, event_id: Uuid) -> Result<Option<Value>> {
        let Some(e) = entity::hook_event::Entity::find()
            .filter(Expr::col(entity::hook_event::Column::Id).eq(event_id))
            .one(&self.db.reader())
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(envelope(e.id, e.seq, &e.event_type, &e.data)))
    }

    /// Sends an event again to every handler it went to, whatever became of it: its
    /// deliveries are pending again, due now, with a fresh retry window. Returns them.
    pub async fn redeliver_event(&self, audit: &Audit, event_id: Uuid) -> Result<u64> {
        let cond = Condition::all().add(Expr::col("event_id").eq(event_id));
        let n = self.requeue(audit, cond, json!({"event_id": event_id})).await?;
        if n == 0 {
            return Err(Error::not_found(
                crate::domain::reason::WEBHOOK_EVENT_NOT_FOUND,
                "no webhook delivery of this event",
            ));
        }
        Ok(n)
    }

    /// Sends again every delivery that failed for good and was queued in `[from, to)`.
    pub async fn redeliver_failed(
        &self,
        audit: &Audit,
        from: Option<OffsetDateTime>,
        to: Option<OffsetDateTime>,
    ) -> Result<u64> {
        let mut cond = Condition::all().add(Expr::col("status").eq("failed"));
        if let Some(from) = from {
            cond = cond.add(Expr::col("created_at").gte(micros(from)));
        }
        if let Some(to) = to {
            cond = cond.add(Expr::col("created_at").lt(micros(to)));
        }
        let range = json!({"range_from": from.map(micros), "range_to": to.map(micros)});
        self.requeue(audit, cond, range).await
    }

    async fn requeue(&self, audit: &Audit, cond: Condition, what: Value) -> Result<u64> {
        let retry = i64::try_from(self.config.hook.delivery_retry_hours).unwrap_or(72) * 3_600_000_000;
        let n = self
            .write(async |tx| {
                let at = micros(now());
                let upd = Query::update()
                    .table("webhook_deliveries")
                    .value("status", "pending")
                    .value("attempts", 0)
                    .value("next_attempt_at", at)
                    .value("retry_until", at.saturating_add(retry))
                    .value("locked_until", Option::<i64>::None)
                    .value("updated_at", at)
                    .cond_where(cond)
                    .to_owned();
                let n = tx.conn().execute(&upd).await?.rows_affected();
                let mut payload = what;
                payload["deliveries"] = json!(n);
                tx.record(audit, None, payload).await?;
                Ok::<_, Error>(n)
            })
            .await?;
        self.outbox_wake.notify_one();
        Ok(n)
    }
}

/// How long the worker sleeps when nothing is due, at most (it wakes at once when a
/// change in this process queues an event).
pub const IDLE_POLL: Duration = Duration::from_millis(500);

/// The body a handler receives: Authgear's envelope of a stored event.
fn envelope(id: Uuid, seq: i64, event_type: &str, data: &Value) -> Value {
    json!({
        "id": id,
        "seq": seq,
        "type": event_type,
        "payload": data.get("payload").cloned().unwrap_or(Value::Null),
        "context": data.get("context").cloned().unwrap_or(Value::Null),
    })
}
