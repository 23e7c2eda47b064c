//! The `authorization_code` grant: one-time codes bound to the client, the redirect URI
//! and the PKCE verifier; a replayed code revokes what its first use issued.

use crate::crypto::{b64, ct_eq, sha256};
use crate::domain::ids::{SessionId, TypedId};
use crate::service::OAuth;
use crate::service::admin::applications::Application;
use crate::service::admin::users::User;
use crate::service::oauth::claims::{IdTokenFor, authgear_claims_with};
use crate::service::oauth::error::OAuthError;
use crate::service::oauth::refresh_token::first_refresh_token;
use crate::service::store::built_once::BuiltOnce;
use crate::service::store::direct_rows::code_user_roles_of;
use crate::service::store::grant_row::{add_role_keys, role_keys_of};
use crate::service::store::session_end;
use crate::service::store::session_end::end_sessions;
use crate::service::store::session_row::{NewSession, insert_statement};
use crate::service::store::time::{micros, now, strings};
use crate::service::{Actor, Audit, Error, Result};
use entity::{authorization_code, revoked_token, session, user};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, JoinType, QueryFilter, QuerySelect,
    QueryTrait, RelationDef, Set, Statement,
};
use serde_json::json;
use uuid::Uuid;

/// What a code is exchanged for.
#[derive(Debug, Clone)]
pub struct CodeTokens {
    /// RFC 9068 access token.
    pub access_token: String,
    /// The ID token.
    pub id_token: String,
    /// A refresh token, when `offline_access` was granted.
    pub refresh_token: Option<String>,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
    /// Granted scopes, space-separated.
    pub scope: String,
}

impl OAuth<'_> {
    /// Whether a session (browser session or refresh-token grant) is still live.
    pub async fn session_live(&self, id: SessionId) -> Result<bool> {
        // The row itself, not `SELECT EXISTS(…)`: SQLite's answer to that is an integer,
        // which the direct reader does not know to read as a boolean.
        let live = live_session(id.uuid(), micros(now())).limit(1).to_owned();
        Ok(self.db.reader().query_one(&live).await?.is_some())
    }

    /// Exchanges a code: checks client, redirect URI, PKCE verifier and expiry, marks the
    /// code used, and issues an access token, an ID token and (with `offline_access`) a
    /// refresh token.
    pub async fn exchange_code(
        &self,
        app: &Application,
        code: &str,
        redirect_uri: Option<&str>,
        verifier: Option<&str>,
        actor: &Actor,
    ) -> std::result::Result<CodeTokens, OAuthError> {
        let invalid = |why: &str| OAuthError::InvalidGrant(why.to_owned());
        let digest = sha256(code.as_bytes()).to_vec();
        let reader = self.db.reader();
        let backend = reader.get_database_backend();
        let select = code_select(backend, digest);
        let found = match self.db.read_typed(select, code_user_roles_of) {
            Ok(rows) => rows?.pop(),
            Err(stmt) => match reader.query_one_raw(stmt).await? {
                Some(found) => Some((
                    authorization_code::Model::from_query_result(&found, "A_").map_err(Error::from)?,
                    user::Model::from_query_result_optional(&found, "B_").map_err(Error::from)?,
                    role_keys_of(&found).map_err(Error::from)?,
                )),
                None => None,
            },
        };
        let Some((row, user_row, roles)) = found else {
            return Err(invalid("unknown authorization code"));
        };
        if row.client_id != app.client_id {
            return Err(invalid("this code was issued to another client"));
        }
        let t = micros(now());
        if row.used_at.is_some() {
            self.revoke_code_grant(&row, actor).await?;
            return Err(invalid("this code was already used; the tokens it gave are revoked"));
        }
        if row.expires_at <= t {
            return Err(invalid("the code expired"));
        }
        if redirect_uri != Some(row.redirect_uri.as_str()) {
            return Err(invalid("redirect_uri does not match the authorization request"));
        }
        match (&row.code_challenge, verifier) {
            (Some(challenge), Some(v)) => {
                let ok_format = (43..=128).contains(&v.len())
                    && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
                if !ok_format || !ct_eq(b64(sha256(v.as_bytes())).as_bytes(), challenge.as_bytes()) {
                    return Err(invalid("code_verifier does not match the code_challenge"));
                }
            }
            (Some(_), None) => return Err(OAuthError::InvalidRequest("code_verifier is required".into())),
            (None, Some(_)) => return Err(invalid("code_verifier given but the request had no code_challenge")),
            (None, None) => {}
        }
        let user = match user_row.map(User::from) {
            Some(u) if !u.is_disabled_at(now()) && !u.is_deactivated => u,
            _ => return Err(invalid("the user is disabled or deleted")),
        };
        let scopes = strings(&row.scopes);
        let amr = strings(&row.amr);
        let authgear = authgear_claims_with(&user, roles);
        let jti = Uuid::now_v7().to_string();
        let offline = scopes.iter().any(|s| s == "offline_access");

        // The claim also checks that the browser session the code came from is live (the
        // user did not log out since).
        let session_live = live_session(row.idp_session_id, t);
        let claim = || {
            authorization_code::Entity::update_many()
                .col_expr(authorization_code::Column::UsedAt, Expr::value(t))
                .col_expr(authorization_code::Column::IssuedJti, Expr::value(jti.clone()))
                .filter(Expr::col(authorization_code::Column::Id).eq(row.id))
                .filter(Expr::col(authorization_code::Column::UsedAt).is_null())
                .filter(Expr::exists(session_live.clone()))
        };
        // Claiming the code and creating the grant are one unaudited unit of work: the
        // audit log records the login, not each code exchange. Without a refresh token the
        // claim is the only write, atomic as one statement.
        let claimed = if !offline {
            // Built once: only the values change.
            static TEXT: BuiltOnce = BuiltOnce::new();
            let writer = self.db.writer().await?;
            let backend = writer.get_database_backend();
            let values =
                vec![t.into(), jti.clone().into(), row.id.into(), 1.into(), row.idp_session_id.into(), t.into()];
            let claimed = writer.execute_raw(TEXT.statement(backend, values, || claim().build(backend))).await?;
            (claimed.rows_affected() == 1).then_some((row.idp_session_id, None))
        } else {
            // The grant's ID is the code's `issued_session_id` from the claim on.
            let grant_id = Uuid::now_v7();
            self.write_unaudited(async |tx| {
                let txn = tx.conn();
                let claimed = claim()
                    .col_expr(authorization_code::Column::IssuedSessionId, Expr::value(grant_id))
                    .exec(txn)
                    .await?;
                if claimed.rows_affected == 0 {
                    // A concurrent exchange of the same code won: nothing to write.
                    return Ok::<_, OAuthError>(None);
                }
                let mut grant = NewSession {
                    kind: "offline_grant",
                    user_id: user.id.uuid(),
                    client_id: Some(app.client_id.clone()),
                    idp_session_id: Some(row.idp_session_id),
                    scopes: &scopes,
                    amr: &amr,
                    auth_time: row.auth_time,
                    lifetime_seconds: app.refresh_token_lifetime,
                    token_hash: None,
                }
                .row(t, actor);
                grant.id = Set(grant_id);
                txn.execute_raw(insert_statement(txn.get_database_backend(), grant)).await?;
                Ok(Some((grant_id, Some(first_refresh_token(&self.master_key, grant_id)))))
            })
            .await?
        };
        let Some((sid, refresh)) = claimed else {
            // Not claimed: a concurrent exchange of the same code won (a replay), or the
            // session ended.
            let Some(row) = authorization_code::Entity::find_by_id(row.id).one(&self.db.reader()).await? else {
                return Err(invalid("unknown authorization code"));
            };
            if row.used_at.is_none() {
                return Err(invalid("the user logged out"));
            }
            self.revoke_code_grant(&row, actor).await?;
            return Err(invalid("this code was already used; the tokens it gave are revoked"));
        };

        let access = self.sign_access_token(&user, app, sid, row.auth_time, &amr, &scopes, &authgear, &jti).await?;
        let id_token = self
            .sign_id_token(
                &IdTokenFor {
                    user: &user,
                    app,
                    sid: row.idp_session_id,
                    auth_time: row.auth_time,
                    nonce: row.nonce.as_deref(),
                },
                &amr,
                &access,
                &scopes,
                authgear,
            )
            .await?;
        Ok(CodeTokens {
            access_token: access,
            id_token,
            refresh_token: refresh,
            expires_in: app.access_token_lifetime,
            scope: scopes.join(" "),
        })
    }

    /// A code came back a second time: whoever holds it may be an attacker, so the grant
    /// and the access token that the first exchange issued are revoked.
    async fn revoke_code_grant(&self, row: &authorization_code::Model, actor: &Actor) -> Result<()> {
        let t = micros(now());
        self.write(async |tx| -> Result<()> {
            let txn = tx.conn();
            if let Some(sid) = row.issued_session_id {
                end_sessions(txn, session_end::session(sid), t).await?;
            }
            if let Some(jti) = &row.issued_jti {
                let exists = revoked_token::Entity::find_by_id(jti.clone()).one(txn).await?.is_some();
                if !exists {
                    revoked_token::ActiveModel {
                        jti: Set(jti.clone()),
                        client_id: Set(row.client_id.clone()),
                        expires_at: Set(t + 86_400 * 1_000_000),
                        revoked_at: Set(t),
                    }
                    .insert(txn)
                    .await?;
                    crate::service::store::changes::bump(txn, crate::service::store::changes::Area::RevokedTokens)
                        .await?;
                }
            }
            let audit = Audit { actor: actor.clone(), activity: "user.session.terminated".into() };
            let payload = json!({"session_id": row.issued_session_id, "reason": "authorization_code_reuse"});
            tx.record(&audit, Some(row.user_id), payload).await?;
            Ok(())
        })
        .await?;
        self.generations.revoked_here();
        Ok(())
    }
}

/// `SELECT 1` of session `id` if it is live at `t` (not revoked, not expired).
fn live_session(id: Uuid, t: i64) -> SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(session::Entity)
        .and_where(Expr::col((session::Entity, session::Column::Id)).eq(id))
        .and_where(Expr::col((session::Entity, session::Column::RevokedAt)).is_null())
        .and_where(Expr::col((session::Entity, session::Column::ExpiresAt)).gt(t))
        .to_owned()
}

/// The code exchange's select: the code by its digest (the one value), with its user and
/// the user's role keys, in one statement. Its text is built once per kind of database,
/// not per exchange: only the value changes.
fn code_select(backend: DbBackend, digest: Vec<u8>) -> Statement {
    static TEXT: BuiltOnce = BuiltOnce::new();
    TEXT.statement(backend, vec![digest.clone().into()], || {
        let to_user: RelationDef = authorization_code::Entity::belongs_to(user::Entity)
            .from(authorization_code::Column::UserId)
            .to(user::Column::Id)
            .into();
        let mut select = authorization_code::Entity::find()
            .filter(Expr::col((authorization_code::Entity, authorization_code::Column::CodeHash)).eq(digest.clone()))
            .join(JoinType::LeftJoin, to_user)
            .select_also(user::Entity);
        add_role_keys(QuerySelect::query(&mut select), backend);
        select.build(backend)
    })
}
