//! What the device-key grants (anonymous and biometric) share: the refresh-token grant
//! they open for a signed-in user, and the tokens they answer with.

use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::ids::TypedId;
use crate::service::admin::applications::Application;
use crate::service::admin::users::User;
use crate::service::oauth::claims::IdTokenFor;
use crate::service::oauth::error::OAuthError;
use crate::service::oauth::refresh_token::first_refresh_token;
use crate::service::store::session_end::{end_sessions, of_user};
use crate::service::store::session_row::NewSession;
use crate::service::unit_of_work::Tx;
use crate::service::{Actor, Audit, OAuth};
use entity::{session, user};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter};

/// What the device-key grants (anonymous and biometric) answer with.
#[derive(Debug, Clone)]
pub struct DeviceGrantTokens {
    /// RFC 9068 access token.
    pub access_token: String,
    /// The refresh token of the new grant.
    pub refresh_token: String,
    /// The ID token, when `openid` was granted (for an anonymous user its
    /// `…/user/is_anonymous` claim is true).
    pub id_token: Option<String>,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
    /// The granted scopes, space-separated.
    pub scope: String,
}

/// The sign-in a device-key grant makes.
pub(in crate::service) struct DeviceSignIn<'a> {
    pub app: &'a Application,
    pub scopes: &'a [String],
    pub amr: &'a [String],
    /// `anonymous` or `biometric`, for the audit row.
    pub identity_type: &'a str,
    /// The request's `x_device_info`, kept on the grant.
    pub device_info: Option<Value>,
    /// The biometric identity that signed in: kept on the grant, and the earlier grants
    /// of the same identity end (as in Authgear: one live grant per device key).
    pub replaces_grants_of: Option<Uuid>,
    /// The time of the sign-in.
    pub at: OffsetDateTime,
}

impl DeviceSignIn<'_> {
    /// Opens `user`'s refresh-token grant in `tx` (ending the grants it replaces), records
    /// the sign-in as the user's last and audits `user.authenticated`; returns the grant's
    /// ID (its first refresh token is [`first_refresh_token`] of it).
    pub(in crate::service) async fn open_grant(&self, tx: &Tx, user: &User, actor: &Actor) -> Result<Uuid, OAuthError> {
        let txn = tx.conn();
        let tm = crate::service::store::time::micros(self.at);
        let mut grant = NewSession {
            kind: "offline_grant",
            user_id: user.id.uuid(),
            client_id: Some(self.app.client_id.clone()),
            idp_session_id: None,
            scopes: self.scopes,
            amr: self.amr,
            auth_time: tm,
            lifetime_seconds: self.app.refresh_token_lifetime,
            token_hash: None,
        }
        .row(tm, actor);
        grant.device_info = sea_orm::Set(self.device_info.clone());
        if let Some(identity) = self.replaces_grants_of {
            grant.identity_id = sea_orm::Set(Some(identity));
            let earlier = of_user(user.id.uuid()).add(Expr::col(session::Column::IdentityId).eq(identity));
            end_sessions(txn, earlier, tm).await?;
        }
        let grant = grant.insert(txn).await?;
        user::Entity::update_many()
            .col_expr(user::Column::LastLoginAt, Expr::value(tm))
            .filter(Expr::col(user::Column::Id).eq(user.id.uuid()))
            .exec(txn)
            .await?;
        let audit = Audit { actor: actor.clone(), activity: "user.authenticated".into() };
        let snap = crate::service::admin::user_rows::snapshot(
            &crate::service::admin::user_rows::user_row(txn, user.id.uuid()).await?,
        );
        let session = crate::service::events::user_model::session_model(&grant);
        let payload = json!({"user": snap, "session": session, "session_id": grant.id, "amr": self.amr, "identity_type": self.identity_type});
        tx.record_at(&audit, Some(user.id.uuid()), payload, self.at).await?;
        Ok(grant.id)
    }
}

impl OAuth<'_> {
    /// Signs the access token (and the ID token when `openid` was granted) of a grant
    /// that [`DeviceSignIn::open_grant`] opened.
    pub(in crate::service) async fn device_grant_tokens(
        &self,
        s: &DeviceSignIn<'_>,
        user: &User,
        sid: Uuid,
    ) -> Result<DeviceGrantTokens, OAuthError> {
        let tm = crate::service::store::time::micros(s.at);
        let authgear = self.authgear_claims(user).await?;
        let jti = Uuid::now_v7().to_string();
        let access = self.sign_access_token(user, s.app, sid, tm, s.amr, s.scopes, &authgear, &jti).await?;
        let id_token = if s.scopes.iter().any(|x| x == "openid") {
            let to = IdTokenFor { user, app: s.app, sid, auth_time: tm, nonce: None };
            Some(self.sign_id_token(&to, s.amr, &access, s.scopes, authgear).await?)
        } else {
            None
        };
        Ok(DeviceGrantTokens {
            access_token: access,
            refresh_token: first_refresh_token(&self.master_key, sid),
            id_token,
            expires_in: s.app.access_token_lifetime,
            scope: s.scopes.join(" "),
        })
    }
}
