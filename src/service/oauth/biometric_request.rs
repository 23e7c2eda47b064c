//! The biometric-request grant (`urn:authgear:params:oauth:grant-type:biometric-request`,
//! Authgear's `handleBiometricRequest`): an app keeps a key pair behind the phone's
//! biometrics. `action: setup`, sent with the signed-in user's access token, adds a
//! `biometric` identity holding the public key and the device's description;
//! `action: authenticate` signs that user in with a JWT the key signed, and answers like
//! the anonymous grant: a refresh-token grant with access, refresh and ID tokens, `amr`
//! `["x_biometric"]`. Both JWTs carry a challenge from `POST /oauth2/challenge` (purpose
//! `biometric_request`), used once.

use serde_json::{Value, json};

use crate::crypto::challenge::Purpose;
use crate::crypto::device_jwt::{BIOMETRIC_REQUEST_TYP, DeviceJwt, DeviceJwtError};
use crate::domain::ids::{TypedId, UserId};
use crate::domain::text::quoted;
use crate::service::admin::applications::Application;
use crate::service::admin::identities::{BIOMETRIC, insert_keyed, keyed_identity};
use crate::service::oauth::authorize::FULL_ACCESS;
use crate::service::oauth::challenge::consume_challenge;
use crate::service::oauth::claims::BearerError;
use crate::service::oauth::device_grant::{DeviceGrantTokens, DeviceSignIn};
use crate::service::oauth::error::OAuthError;
use crate::service::store::time::{micros, now};
use crate::service::unit_of_work::audit_row;
use crate::service::{Actor, Audit, Error, OAuth};

/// The grant's `grant_type`.
pub const GRANT_TYPE: &str = "urn:authgear:params:oauth:grant-type:biometric-request";

/// The `amr` of a biometric sign-in, as Authgear's.
const AMR_BIOMETRIC: &str = "x_biometric";

fn invalid(e: DeviceJwtError) -> OAuthError {
    OAuthError::InvalidGrant(e.0)
}

impl OAuth<'_> {
    /// Whether `app` may use the biometric grant: `biometric.enabled` is on
    /// (`invalid_request` otherwise, as Authgear) and the application gets the full-access
    /// scope (`unauthorized_client` otherwise).
    fn biometric_allowed(&self, app: &Application) -> Result<(), OAuthError> {
        if !self.config.biometric.enabled {
            return Err(OAuthError::InvalidRequest("biometric authentication is disabled".into()));
        }
        if !app.kind.has_full_access() {
            return Err(OAuthError::UnauthorizedClient("this client may not use biometric authentication".into()));
        }
        Ok(())
    }

    /// `action: setup`: the user of `access_token` adds the key in the JWT's header as a
    /// `biometric` identity, with the payload's `device_info`. Audited as
    /// `identity.biometric.enabled`. An anonymous user cannot (Authgear's
    /// `AnonymousUserAddIdentity`); a key already set up is `invalid_grant`.
    #[tracing::instrument(skip_all, fields(client_id = %app.client_id))]
    pub async fn biometric_setup(
        &self,
        app: &Application,
        jwt: &str,
        access_token: Option<&str>,
        actor: &Actor,
    ) -> Result<(), OAuthError> {
        self.biometric_allowed(app)?;
        let not_signed_in = || OAuthError::NotSignedIn("biometric setup requires authenticated user".into());
        let token = access_token.ok_or_else(not_signed_in)?;
        let user = match self.bearer_user(token).await {
            Ok((user, _)) => user,
            Err(BearerError::Server(e)) => return Err(e.into()),
            Err(_) => return Err(not_signed_in()),
        };
        if user.is_anonymous {
            return Err(OAuthError::UnauthorizedClient(
                "an anonymous user cannot set up biometric sign-in; promote the user first (AnonymousUserAddIdentity)"
                    .into(),
            ));
        }
        let parsed = DeviceJwt::parse(jwt, BIOMETRIC_REQUEST_TYP).map_err(invalid)?;
        let jwk = parsed
            .jwk
            .clone()
            .ok_or_else(|| OAuthError::InvalidGrant("the JWT header must carry the public key (jwk)".into()))?;
        let t = now();
        let claims = parsed.verify(jwt, &jwk, t.unix_timestamp()).map_err(invalid)?;
        let challenge = self.open_challenge(&claims.challenge, Purpose::BiometricRequest)?;
        let device_info = claims.device_info.clone().unwrap_or_else(|| json!({}));
        let details = json!({"key_id": parsed.key_id, "jwk": jwk, "device_info": device_info});
        let tm = micros(t);
        self.write(async |tx| {
            let txn = tx.conn();
            consume_challenge(txn, &claims.challenge, &challenge).await?;
            let ident = insert_keyed(txn, BIOMETRIC, user.id.uuid(), &parsed.key_id, details.clone(), tm)
                .await
                .map_err(|e| match crate::service::store::direct_statements::sql_err(&e) {
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                        OAuthError::InvalidGrant("this key is already set up for biometric sign-in".into())
                    }
                    _ => OAuthError::from(Error::from(e)),
                })?;
            let identity = crate::service::admin::identities::Identity::from(ident);
            let audit = Audit { actor: actor.clone(), activity: "identity.biometric.enabled".into() };
            let payload = json!({"user_id": user.id, "identity": {"id": identity.id, "type": BIOMETRIC, "claims": identity.claims()}});
            tx.record_at(&audit, Some(user.id.uuid()), payload, t).await?;
            Ok::<_, OAuthError>(())
        })
        .await
    }

    /// `action: authenticate`: signs in the user whose `biometric` identity holds the key
    /// that signed the JWT (found by its `kid`), for `scope` (default `openid
    /// offline_access` and full access; `offline_access` and full access are required, as
    /// in Authgear). A wrong signature is audited as
    /// `authentication.identity.biometric.failed`; every success writes
    /// `user.authenticated`. `device_info` (the request's `x_device_info`) is kept on the
    /// new grant.
    #[tracing::instrument(skip_all, fields(client_id = %app.client_id))]
    pub async fn biometric_authenticate(
        &self,
        app: &Application,
        jwt: &str,
        scope: Option<&str>,
        device_info: Option<Value>,
        actor: &Actor,
    ) -> Result<DeviceGrantTokens, OAuthError> {
        self.biometric_allowed(app)?;
        let scopes: Vec<String> = match scope.map(str::split_ascii_whitespace) {
            Some(list) => list.map(str::to_owned).collect(),
            None => ["openid", "offline_access", FULL_ACCESS].map(str::to_owned).to_vec(),
        };
        if let Some(s) = scopes
            .iter()
            .find(|s| !crate::service::oauth::authorize::USER_SCOPES.contains(&s.as_str()) && *s != FULL_ACCESS)
        {
            return Err(OAuthError::InvalidScope(format!("the scope {} is not supported", quoted(s))));
        }
        if !["offline_access", FULL_ACCESS].iter().all(|r| scopes.iter().any(|s| s == r)) {
            return Err(OAuthError::InvalidScope("offline_access and full-access must be requested".into()));
        }
        let parsed = DeviceJwt::parse(jwt, BIOMETRIC_REQUEST_TYP).map_err(invalid)?;
        let t = now();
        let Some(ident) = keyed_identity(&self.db.reader(), BIOMETRIC, &parsed.key_id).await? else {
            return Err(OAuthError::InvalidGrant(
                "no biometric sign-in is set up for this key (InvalidCredentials)".into(),
            ));
        };
        let stored = ident
            .details
            .as_ref()
            .and_then(|d| d.get("jwk"))
            .ok_or_else(|| Error::internal("a biometric identity without its key"))?;
        let claims = match parsed.verify(jwt, stored, t.unix_timestamp()) {
            Ok(c) => c,
            Err(e) => {
                let audit = Audit { actor: actor.clone(), activity: "authentication.identity.biometric.failed".into() };
                let payload = json!({"user_id": ident.user_id, "identity_type": BIOMETRIC, "key_id": parsed.key_id});
                self.audit_batch.record(audit_row::row(&audit, Some(ident.user_id), payload, now())).await?;
                return Err(invalid(e));
            }
        };
        if claims.action.as_deref() != Some("authenticate") {
            return Err(OAuthError::InvalidRequest("the JWT's action must be `authenticate`".into()));
        }
        let challenge = self.open_challenge(&claims.challenge, Purpose::BiometricRequest)?;
        let user = match self.users().get(UserId::from(ident.user_id)).await? {
            Some(u) if !u.is_disabled_at(now()) && !u.is_deactivated => u,
            _ => return Err(OAuthError::InvalidGrant("the user is disabled or deleted".into())),
        };
        let amr = vec![AMR_BIOMETRIC.to_owned()];
        let sign_in = DeviceSignIn {
            app,
            scopes: &scopes,
            amr: &amr,
            identity_type: BIOMETRIC,
            device_info,
            replaces_grants_of: Some(ident.id),
            at: t,
        };
        let sid = self
            .write(async |tx| {
                consume_challenge(tx.conn(), &claims.challenge, &challenge).await?;
                sign_in.open_grant(tx, &user, actor).await
            })
            .await?;
        self.device_grant_tokens(&sign_in, &user, sid).await
    }
}
