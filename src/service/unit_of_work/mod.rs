//! The unit of work: the one write path. [`Services::write`] opens the write transaction,
//! runs the change, checks that the change recorded its audit row in that transaction,
//! and commits; any error rolls everything back. Nothing else in the service layer begins
//! or commits a transaction, apart from the group-commit batch writers, which write rows
//! (audit rows, refresh rotations) that many requests submitted.
//!
//! An audit row is recorded with [`Tx::record`]. Every audit row is an event; when a
//! handler subscribes to its type, `record` writes it to the outbox too (the event and its
//! deliveries), and after the commit the delivery worker is woken.

pub(in crate::service) mod audit_row;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use sea_orm::ConnectionTrait;

use crate::service::store::connections::TxConn;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::service::store::time::now;
use crate::service::{Error, Result, Services};

/// Who performs a change, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct Actor {
    /// Token subject (admin name, client ID) or end-user ID.
    pub subject: Option<String>,
    /// Client IP address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// OAuth client ID, if the token came from one.
    pub client_id: Option<String>,
    /// What started the change (the event context's `triggered_by`).
    pub triggered_by: TriggeredBy,
}

/// What started a change, as Authgear's event context names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TriggeredBy {
    /// An end user (Auth UI, OAuth flows).
    #[default]
    User,
    /// An Admin API call.
    AdminApi,
    /// The server itself (scheduled jobs, clean-up).
    System,
}

impl TriggeredBy {
    /// Authgear's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::AdminApi => "admin_api",
            Self::System => "system",
        }
    }
}

/// The audit record a write must produce: who did it and what activity it is.
#[derive(Debug, Clone)]
pub struct Audit {
    /// Who acted.
    pub actor: Actor,
    /// Activity type, e.g. `admin_api.mutation.create_user.executed`.
    pub activity: String,
}

impl Audit {
    /// The audit record of an Admin API mutation named `mutation` (snake_case).
    pub fn admin_mutation(actor: Actor, mutation: &str) -> Self {
        Self { actor, activity: format!("admin_api.mutation.{mutation}.executed") }
    }
}

/// The open transaction of a unit of work.
pub(in crate::service) struct Tx {
    txn: TxConn,
    recorded: AtomicUsize,
    routing: Arc<crate::service::events::routing::EventRouting>,
    retry_hours: u64,
    queued_events: AtomicBool,
}

impl Tx {
    /// The transaction, for the change's reads and writes.
    pub(in crate::service) fn conn(&self) -> &TxConn {
        &self.txn
    }

    /// Records an audit row in this transaction: it commits with the change or not at all.
    pub(in crate::service) async fn record(&self, audit: &Audit, user_id: Option<Uuid>, payload: Value) -> Result<()> {
        self.record_at(audit, user_id, payload, now()).await
    }

    /// Records the non-blocking event `event_type` that a change of `audit`'s kind also
    /// causes (an Admin API `createUser` is `admin_api.mutation.create_user.executed` and
    /// `user.created`), by the same actor. Nothing when `audit` already is that event.
    pub(in crate::service) async fn event(
        &self,
        audit: &Audit,
        event_type: &str,
        user_id: Option<Uuid>,
        payload: Value,
    ) -> Result<()> {
        if audit.activity == event_type {
            return Ok(());
        }
        let also = Audit { actor: audit.actor.clone(), activity: event_type.to_owned() };
        self.record(&also, user_id, payload).await
    }

    /// [`Tx::record`] with an explicit time (the time the change itself carries).
    pub(in crate::service) async fn record_at(
        &self,
        audit: &Audit,
        user_id: Option<Uuid>,
        payload: Value,
        at: OffsetDateTime,
    ) -> Result<()> {
        let entry = audit_row::row(audit, user_id, payload, at);
        let routed = (!self.routing.is_empty()).then(|| entry.clone());
        self.txn.execute_raw(audit_row::insert_statement(self.txn.get_database_backend(), entry)).await?;
        self.recorded.fetch_add(1, Ordering::Relaxed);
        if let Some(entry) = routed
            && crate::service::events::outbox::enqueue(&self.txn, &self.routing, self.retry_hours, &entry).await?
        {
            self.queued_events.store(true, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Whether a unit of work must record an audit row.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Audited {
    Required,
    NotRecorded,
}

impl Services {
    /// Runs `change` as one unit of work: in one write transaction (on SQLite `BEGIN
    /// IMMEDIATE`), committed only when `change` succeeds and has recorded at least one
    /// audit row with [`Tx::record`]. A change that returns an error, or records nothing,
    /// leaves no trace.
    pub(in crate::service) async fn write<T, E: From<Error>>(
        &self,
        change: impl AsyncFnOnce(&Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(Audited::Required, change).await
    }

    /// A unit of work the audit log does not record: bookkeeping such as clean-up, consents
    /// and counters. Everything a person or client changes goes through [`Services::write`].
    pub(in crate::service) async fn write_unaudited<T, E: From<Error>>(
        &self,
        change: impl AsyncFnOnce(&Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        self.run(Audited::NotRecorded, change).await
    }

    async fn run<T, E: From<Error>>(
        &self,
        audited: Audited,
        change: impl AsyncFnOnce(&Tx) -> Result<T, E>,
    ) -> Result<T, E> {
        let txn = self.db.transaction().await.map_err(|e| Error::caused("beginning a write", e))?;
        let tx = Tx {
            txn,
            recorded: AtomicUsize::new(0),
            routing: self.routing.clone(),
            retry_hours: self.config.hook.delivery_retry_hours,
            queued_events: AtomicBool::new(false),
        };
        let value = change(&tx).await?;
        if audited == Audited::Required && tx.recorded.load(Ordering::Relaxed) == 0 {
            return Err(Error::internal("a unit of work recorded no audit row").into());
        }
        let queued = tx.queued_events.load(Ordering::Relaxed);
        self.db.commit(tx.txn).await.map_err(|e| Error::caused("committing a write", e))?;
        if tx.recorded.load(Ordering::Relaxed) > 0 {
            // No stream listening is not an error.
            let _ = self.audit_committed.send(());
        }
        if queued {
            self.outbox_wake.notify_one();
        }
        Ok(value)
    }
}
