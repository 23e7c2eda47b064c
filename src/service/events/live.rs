//! The live event stream: audit rows (every event) as they commit, from any process on
//! the database. A stream polls the audit log every [`POLL`] and wakes at once when this
//! process commits audit rows (the unit of work and the audit batch signal
//! `Services::audit_committed`).
//!
//! Commit order is not creation order: a row created earlier (its `created_at` is taken
//! before its transaction commits, perhaps in another process) may become visible after a
//! later one. So each poll re-reads [`WINDOW_US`] back from the newest row seen and drops
//! the IDs already sent; a transaction that takes longer than the window to commit is the
//! one case a stream can miss.

use std::collections::HashMap;
use std::time::Duration;

use futures::Stream;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::Value;
use time::OffsetDateTime;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use crate::service::store::time::{micros, now, time_of};
use crate::service::{Result, Services};
use entity::audit_log;

/// How often a stream polls the audit log for rows other processes committed.
pub const POLL: Duration = Duration::from_millis(250);

/// How far back each poll re-reads, in microseconds.
pub const WINDOW_US: i64 = 5_000_000;

/// Most rows one poll reads.
const MAX_ROWS: u64 = 500;

/// Which events a stream sends.
#[derive(Debug, Clone, Default)]
pub struct LiveFilter {
    /// Only these event types (dotted form); empty: all.
    pub types: Vec<String>,
    /// Only events about this user.
    pub user_id: Option<Uuid>,
}

/// One event of a live stream.
#[derive(Debug, Clone)]
pub struct LiveEvent {
    /// The event's (and its audit row's) ID.
    pub id: Uuid,
    /// Position in this stream, from 1.
    pub seq: u64,
    /// Event type, e.g. `user.created`.
    pub event_type: String,
    /// The user the event is about.
    pub user_id: Option<Uuid>,
    /// When it happened.
    pub created_at: OffsetDateTime,
    /// The whole event: `type`, `payload` and `context`.
    pub data: Value,
}

struct State {
    services: Services,
    filter: LiveFilter,
    wake: tokio::sync::broadcast::Receiver<()>,
    /// IDs sent (or seen when the stream started), with their time, within the window.
    seen: HashMap<Uuid, i64>,
    /// Newest `created_at` seen.
    high: i64,
    seq: u64,
    ready: std::collections::VecDeque<LiveEvent>,
    primed: bool,
}

impl State {
    /// The rows of the window not seen yet, oldest first (read in keyset pages).
    async fn poll(&mut self) -> Result<Vec<audit_log::Model>> {
        let mut after: (i64, Option<Uuid>) = (self.high - WINDOW_US, None);
        let mut fresh = Vec::new();
        loop {
            let (t, id) = after;
            let mut q = audit_log::Entity::find();
            q = match id {
                None => q.filter(Expr::col(audit_log::Column::CreatedAt).gte(t)),
                Some(id) => q.filter(
                    Condition::any().add(Expr::col(audit_log::Column::CreatedAt).gt(t)).add(
                        Condition::all()
                            .add(Expr::col(audit_log::Column::CreatedAt).eq(t))
                            .add(Expr::col(audit_log::Column::Id).gt(id)),
                    ),
                ),
            };
            if !self.filter.types.is_empty() {
                q = q.filter(Expr::col(audit_log::Column::ActivityType).is_in(self.filter.types.clone()));
            }
            if let Some(u) = self.filter.user_id {
                q = q.filter(Expr::col(audit_log::Column::UserId).eq(u));
            }
            let rows = q
                .order_by_asc(audit_log::Column::CreatedAt)
                .order_by_asc(audit_log::Column::Id)
                .limit(MAX_ROWS)
                .all(&self.services.db.reader())
                .await?;
            let full = rows.len() as u64 >= MAX_ROWS;
            if let Some(last) = rows.last() {
                after = (last.created_at, Some(last.id));
            }
            fresh.extend(rows.into_iter().filter(|r| !self.seen.contains_key(&r.id)));
            if !full {
                break;
            }
        }
        for r in &fresh {
            self.seen.insert(r.id, r.created_at);
            self.high = std::cmp::max(self.high, r.created_at);
        }
        let floor = self.high - WINDOW_US;
        self.seen.retain(|_, t| *t >= floor);
        Ok(fresh)
    }

    /// Waits for a commit in this process or the next poll time.
    async fn wait(&mut self) {
        tokio::select! {
            r = self.wake.recv() => {
                if matches!(r, Err(RecvError::Closed)) {
                    tokio::time::sleep(POLL).await;
                }
            }
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

impl Services {
    /// A stream of the events that commit from now on, oldest first, matching `filter`.
    /// Events already in the log when the stream starts are not sent.
    pub fn live_events(&self, filter: LiveFilter) -> impl Stream<Item = LiveEvent> + Send + use<> {
        let state = State {
            services: self.clone(),
            filter,
            wake: self.audit_committed.subscribe(),
            seen: HashMap::new(),
            high: micros(now()),
            seq: 0,
            ready: Default::default(),
            primed: false,
        };
        futures::stream::unfold(state, |mut s| async move {
            loop {
                if let Some(e) = s.ready.pop_front() {
                    return Some((e, s));
                }
                if s.primed {
                    s.wait().await;
                }
                match s.poll().await {
                    Ok(rows) if !s.primed => {
                        // What the log held when the stream started is history, not news.
                        s.primed = true;
                        drop(rows);
                    }
                    Ok(rows) => {
                        for r in rows {
                            s.seq += 1;
                            s.ready.push_back(LiveEvent {
                                id: r.id,
                                seq: s.seq,
                                event_type: r.activity_type,
                                user_id: r.user_id,
                                created_at: time_of(r.created_at),
                                data: r.data,
                            });
                        }
                    }
                    Err(e) => {
                        tracing::warn!(cause = %e.describe(), "live event stream: polling the audit log failed");
                        s.primed = true;
                    }
                }
            }
        })
    }
}
