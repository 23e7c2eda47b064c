//! Ending sessions: one statement that every logout, revocation, reset and disable uses,
//! with the conditions that say which sessions end.

use crate::service::Result;
use entity::session;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// Ends, at `t` (UTC micros), the live sessions that match `which`; returns how many.
pub(in crate::service) async fn end_sessions(conn: &impl ConnectionTrait, which: Condition, t: i64) -> Result<u64> {
    Ok(session::Entity::update_many()
        .col_expr(session::Column::RevokedAt, Expr::value(t))
        .filter(which)
        .filter(Expr::col(session::Column::RevokedAt).is_null())
        .exec(conn)
        .await?
        .rows_affected)
}

/// One session.
pub(in crate::service) fn session(id: Uuid) -> Condition {
    Condition::all().add(Expr::col(session::Column::Id).eq(id))
}

/// A session and the refresh grants that came from it (a browser session's apps).
pub(in crate::service) fn session_and_grants(id: Uuid) -> Condition {
    Condition::any().add(Expr::col(session::Column::Id).eq(id)).add(Expr::col(session::Column::IdpSessionId).eq(id))
}

/// Every session of a user.
pub(in crate::service) fn of_user(user_id: Uuid) -> Condition {
    Condition::all().add(Expr::col(session::Column::UserId).eq(user_id))
}
