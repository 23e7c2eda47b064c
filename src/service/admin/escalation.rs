//! No escalation through the Admin API's own grants: a caller never obtains, for itself or
//! for any client, more Admin API power than it holds.
//!
//! Granting Admin API scopes needs every scope granted; linking or unlinking the Admin API
//! resource, changing an application's Admin API scopes, and changing, deleting, or
//! creating or revoking secrets of an application that holds Admin API scopes need every
//! Admin API scope that application holds. The checks run inside the write transaction, so
//! they see the grants the write is about to change.

use crate::domain::reason;
use crate::domain::scope::AdminScope;
use crate::domain::text::quoted;
use crate::service::{Error, Result};
use entity::application;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend, EntityTrait, QuerySelect};
use uuid::Uuid;

/// The Admin API scopes an application holds (granted on the built-in resource).
pub(in crate::service) async fn admin_scopes_of(
    conn: &impl ConnectionTrait,
    application_id: Uuid,
) -> Result<Vec<String>> {
    let q = Query::select()
        .column(("resource_scopes", "scope"))
        .from("client_scopes")
        .inner_join("resource_scopes", Expr::col(("resource_scopes", "id")).equals(("client_scopes", "scope_id")))
        .inner_join("resources", Expr::col(("resources", "id")).equals(("resource_scopes", "resource_id")))
        .and_where(Expr::col(("client_scopes", "application_id")).eq(application_id))
        .and_where(Expr::col(("resources", "builtin")).eq(true))
        .to_owned();
    let rows = conn.query_all(&q).await?;
    rows.iter().map(|r| r.try_get::<String>("", "scope").map_err(Error::from)).collect()
}

/// Refuses unless `held` contains every scope of `needed`; `what` says what was attempted.
pub(in crate::service) fn ensure_held(held: &[AdminScope], needed: &[String], what: &str) -> Result<()> {
    let mut missing: Vec<&str> =
        needed.iter().filter(|s| !held.iter().any(|h| h.as_str() == s.as_str())).map(String::as_str).collect();
    missing.sort_unstable();
    missing.dedup();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::Forbidden {
        reason: reason::PRIVILEGE_ESCALATION,
        message: format!("{what} needs every Admin API scope involved; this token lacks `{}`", missing.join("`, `")),
    })
}

/// Refuses unless the caller holds every Admin API scope that `application_id` holds.
pub(in crate::service) async fn ensure_holds_all_of(
    conn: &impl ConnectionTrait,
    held: &[AdminScope],
    application_id: Uuid,
    client_id: &str,
) -> Result<()> {
    // On PostgreSQL, lock the application row first, so that a grant and a secret (or
    // settings) change on the same application run one after the other and each sees the
    // other's result. SQLite's write transactions are already serial.
    if conn.get_database_backend() == DbBackend::Postgres {
        application::Entity::find_by_id(application_id).lock_exclusive().one(conn).await?;
    }
    let theirs = admin_scopes_of(conn, application_id).await?;
    ensure_held(held, &theirs, &format!("changing {}, which holds Admin API scopes,", quoted(client_id)))
}
