//! The one constructor of a `sessions` row: a browser's (IdP) session or a refresh grant.

use crate::service::Actor;
use entity::session;
use sea_orm::Set;
use serde_json::json;
use uuid::Uuid;

/// What differs between the sessions the server opens.
pub(in crate::service) struct NewSession<'a> {
    /// `idp` (a browser's session) or `offline_grant` (a refresh grant).
    pub kind: &'static str,
    /// Whose session it is.
    pub user_id: Uuid,
    /// The application of a refresh grant.
    pub client_id: Option<String>,
    /// The browser session a refresh grant came from (single sign-on, logout).
    pub idp_session_id: Option<Uuid>,
    /// Granted scopes.
    pub scopes: &'a [String],
    /// How the user authenticated (the `amr` claim).
    pub amr: &'a [String],
    /// When the user authenticated (micros).
    pub auth_time: i64,
    /// How long it lives from its start.
    pub lifetime_seconds: i64,
    /// SHA-256 of a browser session's cookie token.
    pub token_hash: Option<Vec<u8>>,
}

impl NewSession<'_> {
    /// Inserts the row under a new ID, started at `t` (micros) by `actor`, and returns it
    /// (known in full, so nothing is read back).
    pub(in crate::service) async fn insert(
        self,
        t: i64,
        actor: &Actor,
        conn: &impl sea_orm::ConnectionTrait,
    ) -> Result<session::Model, sea_orm::DbErr> {
        use sea_orm::TryIntoModel;
        let row = self.row(t, actor);
        let model = row.clone().try_into_model()?;
        conn.execute_raw(insert_statement(conn.get_database_backend(), row)).await?;
        Ok(model)
    }

    /// The row under a new ID, started at `t` (micros) by `actor`.
    pub(in crate::service) fn row(self, t: i64, actor: &Actor) -> session::ActiveModel {
        session::ActiveModel {
            id: Set(Uuid::now_v7()),
            user_id: Set(self.user_id),
            kind: Set(self.kind.into()),
            client_id: Set(self.client_id),
            idp_session_id: Set(self.idp_session_id),
            scopes: Set(json!(self.scopes)),
            amr: Set(json!(self.amr)),
            auth_time: Set(self.auth_time),
            created_at: Set(t),
            last_accessed_at: Set(t),
            created_by_ip: Set(actor.ip.clone()),
            last_accessed_by_ip: Set(actor.ip.clone()),
            user_agent: Set(actor.user_agent.clone()),
            expires_at: Set(t + self.lifetime_seconds.saturating_mul(1_000_000)),
            revoked_at: Set(None),
            token_hash: Set(self.token_hash),
            device_info: Set(None),
            identity_id: Set(None),
            refresh_generation: Set(0),
            refresh_rotated_at: Set(None),
        }
    }
}

/// The insert of a `sessions` row, its text built once per kind of database.
pub(in crate::service) fn insert_statement(
    backend: sea_orm::DbBackend,
    row: session::ActiveModel,
) -> sea_orm::Statement {
    static TEXT: crate::service::store::built_once::BuiltOnce = crate::service::store::built_once::BuiltOnce::new();
    TEXT.insert(backend, row)
}
