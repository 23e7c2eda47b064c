//! The anonymous-request grant (`urn:authgear:params:oauth:grant-type:anonymous-request`,
//! Authgear's `handleAnonymousRequest`): an app proves a device key pair with a JWT over a
//! challenge from `POST /oauth2/challenge`. The first use of a key ID creates an anonymous
//! user with an `anonymous` identity holding the public key; later uses verify the JWT
//! against that stored key and sign the same user in again. Either way the answer is a
//! refresh-token grant with an access token, a refresh token and an ID token.
//!
//! Unlike Authgear, the first JWT's signature is verified too (against the key in its own
//! header, which the SDKs always sign with).

use serde_json::json;

use crate::crypto::challenge::Purpose;
use crate::crypto::device_jwt::{ANONYMOUS_REQUEST_TYP, DeviceClaims, DeviceJwt, DeviceJwtError};
use crate::domain::ids::UserId;
use crate::service::account::rate_limit::PerIp;
use crate::service::admin::applications::Application;
use crate::service::admin::identities::{ANONYMOUS, anonymous_by_key_id, insert_anonymous};
use crate::service::admin::user_rows::{new_user_row, snapshot};
use crate::service::admin::users::User;
use crate::service::oauth::authorize::FULL_ACCESS;
use crate::service::oauth::challenge::consume_challenge;
use crate::service::oauth::device_grant::{DeviceGrantTokens, DeviceSignIn};
use crate::service::oauth::error::OAuthError;
use crate::service::store::time::{micros, now};
use crate::service::unit_of_work::audit_row;
use crate::service::{Actor, Audit, Error, OAuth};
use sea_orm::ActiveModelTrait;

/// The grant's `grant_type`.
pub const GRANT_TYPE: &str = "urn:authgear:params:oauth:grant-type:anonymous-request";

/// Who the grant signs in: a known key's user, or a new one for a new key.
enum Signer {
    Known(Box<User>),
    New { jwk: serde_json::Value },
}

fn invalid(e: DeviceJwtError) -> OAuthError {
    OAuthError::InvalidGrant(e.0)
}

impl OAuth<'_> {
    /// The anonymous-request grant for `app` with the device's `jwt`. Refused with
    /// `unauthorized_client` when `anonymous.enabled` is off or the application type may
    /// not have anonymous users, and with `invalid_grant` for a JWT or challenge that does
    /// not pass. A wrong signature for a known key is audited as
    /// `authentication.identity.anonymous.failed`. A new user counts against
    /// `rate_limits.anonymous_signups_per_ip_per_minute` and is audited as `user.created`;
    /// every success writes `user.authenticated`.
    #[tracing::instrument(skip_all, fields(client_id = %app.client_id))]
    pub async fn anonymous_request(
        &self,
        app: &Application,
        jwt: &str,
        device_info: Option<serde_json::Value>,
        actor: &Actor,
    ) -> Result<DeviceGrantTokens, OAuthError> {
        if !self.config.anonymous.enabled {
            return Err(OAuthError::UnauthorizedClient(
                "anonymous users are disabled (AnonymousUserDisallowed)".into(),
            ));
        }
        if !app.kind.allows_anonymous_users() {
            return Err(OAuthError::UnauthorizedClient(format!(
                "anonymous users are not supported by a {} application; use a SPA, native or traditional web application",
                app.kind.as_str()
            )));
        }
        let parsed = DeviceJwt::parse(jwt, ANONYMOUS_REQUEST_TYP).map_err(invalid)?;
        let t = now();
        let (signer, claims) = self.verify_device_jwt(&parsed, jwt, t.unix_timestamp(), actor).await?;
        if claims.action.as_deref().is_some_and(|a| a != "auth") {
            return Err(OAuthError::InvalidGrant(
                "the token endpoint takes action `auth`; a promotion goes through the authorization endpoint".into(),
            ));
        }
        let challenge = self.open_challenge(&claims.challenge, Purpose::AnonymousRequest)?;
        if matches!(signer, Signer::New { .. }) {
            let ip = actor.ip.as_deref().unwrap_or("-");
            if !self.account().allow_per_ip(PerIp::AnonymousSignup, ip, actor).await? {
                return Err(OAuthError::TooManyRequests(
                    "too many new anonymous users from this address; try again in a minute".into(),
                ));
            }
        }

        let scopes: Vec<String> = ["openid", "offline_access", FULL_ACCESS].map(str::to_owned).to_vec();
        let tm = micros(t);
        let sign_in = DeviceSignIn {
            app,
            scopes: &scopes,
            amr: &[],
            identity_type: ANONYMOUS,
            device_info,
            replaces_grants_of: None,
            at: t,
        };
        let (user, sid) = self
            .write(async |tx| {
                let txn = tx.conn();
                consume_challenge(txn, &claims.challenge, &challenge).await?;
                let user = match &signer {
                    Signer::Known(u) => User::clone(u),
                    Signer::New { jwk } => {
                        let row = new_user_row(tm, true).insert(txn).await?;
                        insert_anonymous(txn, row.id, &parsed.key_id, jwk, tm).await.map_err(|e| {
                            match crate::service::store::direct_statements::sql_err(&e) {
                                // A concurrent first use of the same key won.
                                Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                                    OAuthError::InvalidGrant("this key was registered by a concurrent request".into())
                                }
                                _ => OAuthError::from(Error::from(e)),
                            }
                        })?;
                        let row = self.pre_create_hook(txn, row, actor).await?;
                        let audit = Audit { actor: actor.clone(), activity: "user.created".into() };
                        let payload = json!({"user": snapshot(&row), "identity_type": ANONYMOUS});
                        tx.record_at(&audit, Some(row.id), payload, t).await?;
                        User::from(row)
                    }
                };
                let sid = sign_in.open_grant(tx, &user, actor).await?;
                Ok::<_, OAuthError>((user, sid))
            })
            .await?;
        self.device_grant_tokens(&sign_in, &user, sid).await
    }

    /// Verifies the JWT: against the stored key when its key ID is known (a failure is
    /// audited), else against the key in its header, which a new key must carry.
    async fn verify_device_jwt(
        &self,
        parsed: &DeviceJwt,
        jwt: &str,
        now_s: i64,
        actor: &Actor,
    ) -> Result<(Signer, DeviceClaims), OAuthError> {
        let Some(ident) = anonymous_by_key_id(&self.db.reader(), &parsed.key_id).await? else {
            let jwk = parsed.jwk.clone().ok_or_else(|| {
                OAuthError::InvalidGrant("the key ID is unknown; the JWT header must carry the public key (jwk)".into())
            })?;
            let claims = parsed.verify(jwt, &jwk, now_s).map_err(invalid)?;
            return Ok((Signer::New { jwk }, claims));
        };
        let Some(stored) = ident.details.as_ref().and_then(|d| d.get("jwk")).filter(|k| !k.is_null()) else {
            return Err(OAuthError::InvalidGrant("this anonymous user has no device key".into()));
        };
        let claims = match parsed.verify(jwt, stored, now_s) {
            Ok(c) => c,
            Err(e) => {
                let audit = Audit { actor: actor.clone(), activity: "authentication.identity.anonymous.failed".into() };
                let payload = json!({"user_id": ident.user_id, "identity_type": ANONYMOUS, "key_id": parsed.key_id});
                self.audit_batch.record(audit_row::row(&audit, Some(ident.user_id), payload, now())).await?;
                return Err(invalid(e));
            }
        };
        let user = match self.users().get(UserId::from(ident.user_id)).await? {
            Some(u) if !u.is_disabled_at(now()) && !u.is_deactivated => u,
            _ => return Err(OAuthError::InvalidGrant("the user is disabled or deleted".into())),
        };
        Ok((Signer::Known(Box::new(user)), claims))
    }
}
