//! Passkeys (WebAuthn discoverable credentials, with `webauthn-rs`): registration in
//! settings and sign-in without a login ID. The relying party ID is the host of
//! `public_url` and the only accepted origin is its origin; a `public_url` whose host is an
//! IP address has no valid RP ID, so passkeys are then off.
//!
//! A ceremony's state (the challenge) is sealed into the page (nothing is written when it
//! starts), lives five minutes, and is used once: its random ID goes into
//! `consumed_challenges` in the transaction that finishes it. A passkey is a `passkey`
//! identity (unique key: the credential ID, base64url; `details` keeps the display name and
//! the `webauthn-rs` credential with its signature counter) paired with a primary `passkey`
//! authenticator (`passkey_credential_id`). A passkey sign-in skips the second factor and
//! its `amr` is `["x_passkey"]`.

use crate::crypto::{b64, random_bytes, sha256};
use crate::domain::ids::{IdentityId, TypedId, UserId};
use crate::domain::reason;
use crate::service::account::login::{IdpSession, LoginError};
use crate::service::account::promotion::{anonymous_row, finish_promotion};
use crate::service::admin::identities::{Identity, PASSKEY, insert_keyed, keyed_identity};
use crate::service::admin::user_rows::{refresh_derived, user_row};
use crate::service::admin::users::User;
use crate::service::store::time::{micros, now};
use crate::service::unit_of_work::audit_row as audit;
use crate::service::{Account, Actor, Audit, Error, Result, conflict_on_unique};
use entity::{authenticator, identity};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use uuid::Uuid;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, Passkey, PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url,
    Webauthn, WebauthnBuilder, WebauthnError,
};

/// How long a ceremony (its challenge) is good for, in seconds.
pub const CEREMONY_LIFETIME_SECS: i64 = 5 * 60;
/// What a registration state is sealed for.
const REGISTRATION: &str = "passkey_registration";
/// What a sign-in state is sealed for.
const AUTHENTICATION: &str = "passkey_authentication";
/// What a signup's registration state is sealed for (its user does not exist yet).
const SIGNUP: &str = "passkey_signup";
/// The audit type of a refused passkey sign-in (Authgear's naming).
pub const FAILED: &str = "authentication.primary.passkey.failed";
/// The audit type of a passkey added by its user.
pub const ADDED: &str = "identity.passkey.added";
/// The audit type of a passkey removed by its user.
pub const REMOVED: &str = "identity.passkey.removed";
/// The longest display name kept, in characters.
const MAX_NAME_CHARS: usize = 100;

/// A started ceremony, for the page: the options for `navigator.credentials` (JSON, with
/// binary fields in base64url) and the sealed state to post back with the credential.
#[derive(Debug, Clone)]
pub struct PasskeyCeremony {
    /// `publicKey` options as JSON text.
    pub options: String,
    /// The sealed state.
    pub state: String,
}

/// A ceremony's sealed state: a random ID (used once), for whom, when, and `webauthn-rs`'s state.
#[derive(Serialize, Deserialize)]
struct Sealed<T> {
    id: String,
    user: Option<Uuid>,
    iat: i64,
    state: T,
}

/// The `webauthn-rs` relying party of `public_url`, or `None` when its host is not a domain
/// name (an IP address is not a valid RP ID).
pub fn relying_party(public_url: &str, name: &str) -> Option<Webauthn> {
    let url = Url::parse(public_url).ok()?;
    let rp_id = url.domain()?.to_owned();
    let origin = Url::parse(&url.origin().ascii_serialization()).ok()?;
    WebauthnBuilder::new(&rp_id, &origin)
        .ok()?
        .rp_name(name)
        .timeout(std::time::Duration::from_secs(CEREMONY_LIFETIME_SECS.unsigned_abs()))
        .build()
        .ok()
}

fn refused(msg: &str) -> LoginError {
    LoginError::PasskeyRefused(msg.to_owned())
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::invalid(reason::PASSKEY_REJECTED, msg)
}

/// The `publicKey` member of a serialised challenge response, without its null members
/// (a browser refuses `null` where the WebAuthn dictionaries expect a list or a string).
fn public_key(v: impl Serialize) -> Result<Value> {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.retain(|_, x| !Value::is_null(x));
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(v).map_err(Error::internal)?;
    let mut pk = v.get_mut("publicKey").map(Value::take).unwrap_or(Value::Null);
    strip(&mut pk);
    Ok(pk)
}

fn digest(purpose: &str, id: &str) -> Vec<u8> {
    sha256(format!("{purpose}:{id}")).to_vec()
}

/// Whether the ceremony `id` was used already (a read before the checks, for a clear
/// answer to a replay; [`consume`] in the write is what guarantees a single use).
async fn used(conn: &impl ConnectionTrait, purpose: &str, id: &str) -> Result<bool> {
    Ok(entity::consumed_challenge::Entity::find_by_id(digest(purpose, id)).one(conn).await?.is_some())
}

/// Records the ceremony `id` as used in `conn`'s transaction; `false` if it was used before.
async fn consume(conn: &impl ConnectionTrait, purpose: &str, id: &str, iat: i64) -> Result<bool> {
    let stmt = Query::insert()
        .into_table("consumed_challenges")
        .columns(["digest", "purpose", "expires_at"])
        .values([
            digest(purpose, id).into(),
            purpose.into(),
            iat.saturating_add(CEREMONY_LIFETIME_SECS).saturating_mul(1_000_000).into(),
        ])
        .map_err(Error::internal)?
        .on_conflict(OnConflict::column("digest").do_nothing().to_owned())
        .to_owned();
    Ok(conn.execute(&stmt).await?.rows_affected() == 1)
}

/// The user's passkey identities, oldest first.
async fn passkey_rows(conn: &impl ConnectionTrait, user_id: Uuid) -> Result<Vec<identity::Model>> {
    Ok(identity::Entity::find()
        .filter(Expr::col(identity::Column::UserId).eq(user_id))
        .filter(Expr::col(identity::Column::Kind).eq(PASSKEY))
        .order_by_asc(identity::Column::Id)
        .all(conn)
        .await?)
}

/// Deletes the passkey authenticator paired with the passkey identity `credential_id`;
/// returns it, if there was one.
pub(in crate::service) async fn delete_paired_authenticator(
    conn: &impl ConnectionTrait,
    user_id: Uuid,
    credential_id: &str,
) -> Result<Option<authenticator::Model>> {
    let row = authenticator::Entity::find()
        .filter(Expr::col(authenticator::Column::UserId).eq(user_id))
        .filter(Expr::col(authenticator::Column::Kind).eq(PASSKEY))
        .filter(Expr::col(authenticator::Column::PasskeyCredentialId).eq(credential_id))
        .one(conn)
        .await?;
    if let Some(r) = &row {
        authenticator::Entity::delete_by_id(r.id).exec(conn).await?;
    }
    Ok(row)
}

/// A verified new passkey: its credential ID (base64url), display name and what the
/// identity keeps in `details`.
struct NewPasskey {
    credential_id: String,
    name: String,
    details: Value,
}

impl NewPasskey {
    /// Checks the browser's new credential against the registration state.
    fn verified(
        wa: &Webauthn,
        cred: &RegisterPublicKeyCredential,
        state: &PasskeyRegistration,
        display_name: &str,
    ) -> Result<Self> {
        let passkey = wa
            .finish_passkey_registration(cred, state)
            .map_err(|e| invalid(format!("the passkey was not accepted ({e})")))?;
        let credential_id = b64(passkey.cred_id());
        let name: String = display_name.trim().chars().take(MAX_NAME_CHARS).collect();
        let name = if name.is_empty() { "Passkey".to_owned() } else { name };
        let details = json!({
            "credential_id": credential_id,
            "display_name": name,
            "credential": serde_json::to_value(&passkey).map_err(Error::internal)?,
        });
        Ok(Self { credential_id, name, details })
    }
}

/// Inserts a passkey identity and its paired primary passkey authenticator.
async fn insert_passkey(conn: &impl ConnectionTrait, user_id: Uuid, new: &NewPasskey, t: i64) -> Result<Identity> {
    let ident = insert_keyed(conn, PASSKEY, user_id, &new.credential_id, new.details.clone(), t)
        .await
        .map_err(|e| conflict_on_unique(e, reason::DUPLICATED_IDENTITY, "this passkey is already registered"))?;
    authenticator::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        kind: Set(PASSKEY.into()),
        factor: Set("primary".into()),
        is_default: Set(false),
        password_hash: Set(None),
        expire_after: Set(None),
        oob_target: Set(None),
        display_name: Set(Some(new.name.clone())),
        totp_secret: Set(None),
        totp_last_step: Set(None),
        passkey_credential_id: Set(Some(new.credential_id.clone())),
        created_at: Set(t),
        updated_at: Set(t),
    }
    .insert(conn)
    .await?;
    Ok(Identity::from(ident))
}

impl Account<'_> {
    fn webauthn(&self) -> Option<Webauthn> {
        relying_party(&self.config.public_url(), &self.config.ui.app_name)
    }

    /// Whether passkeys are on (the host of `public_url` is a domain name).
    pub fn passkeys_enabled(&self) -> bool {
        self.webauthn().is_some()
    }

    fn open<T: serde::de::DeserializeOwned>(&self, purpose: &str, state: &str) -> Option<Sealed<T>> {
        let s: Sealed<T> = self.unseal(purpose, state)?;
        (0..=CEREMONY_LIFETIME_SECS).contains(&(now().unix_timestamp() - s.iat)).then_some(s)
    }

    /// The user's passkeys, oldest first.
    pub async fn passkeys(&self, user_id: UserId) -> Result<Vec<Identity>> {
        Ok(passkey_rows(&self.db.reader(), user_id.uuid()).await?.into_iter().map(Identity::from).collect())
    }

    /// Starts registering a passkey for a signed-in user; `None` when passkeys are off. The
    /// user's passkeys are excluded, so an authenticator that holds one says so.
    pub async fn begin_passkey_registration(&self, user: &User) -> Result<Option<PasskeyCeremony>> {
        let Some(wa) = self.webauthn() else { return Ok(None) };
        let exclude = passkey_rows(&self.db.reader(), user.id.uuid())
            .await?
            .iter()
            .filter_map(|r| crate::crypto::b64_decode(&r.unique_key))
            .collect();
        let name = user.end_user_account_id().unwrap_or_else(|| user.id.to_string());
        let (ccr, reg) =
            wa.start_passkey_registration(user.id.uuid(), &name, &name, Some(exclude)).map_err(Error::internal)?;
        let mut options = public_key(&ccr)?;
        // A passkey signs in without a login ID: the credential must be discoverable.
        if let Some(sel) = options.get_mut("authenticatorSelection").and_then(Value::as_object_mut) {
            sel.insert("residentKey".into(), json!("required"));
            sel.insert("requireResidentKey".into(), json!(true));
        }
        let sealed = Sealed {
            id: b64(random_bytes::<16>()),
            user: Some(user.id.uuid()),
            iat: now().unix_timestamp(),
            state: reg,
        };
        Ok(Some(PasskeyCeremony { options: options.to_string(), state: self.seal(REGISTRATION, &sealed) }))
    }

    /// Finishes a registration started by [`Self::begin_passkey_registration`] with the
    /// credential the browser created (JSON): adds the passkey identity and its authenticator.
    pub async fn finish_passkey_registration(
        &self,
        user_id: UserId,
        state: &str,
        credential: &str,
        display_name: &str,
        actor: &Actor,
    ) -> Result<Identity> {
        let wa = self.webauthn().ok_or_else(|| invalid("passkeys are not available on this server"))?;
        let sealed = self
            .open::<PasskeyRegistration>(REGISTRATION, state)
            .filter(|s| s.user == Some(user_id.uuid()))
            .ok_or_else(|| invalid("the passkey request has expired; try again"))?;
        if used(&self.db.reader(), REGISTRATION, &sealed.id).await? {
            return Err(invalid("this passkey request was already used; try again"));
        }
        let cred: RegisterPublicKeyCredential = serde_json::from_str(credential)
            .map_err(|_| invalid("the browser sent no passkey, or one that cannot be read; try again"))?;
        let new = NewPasskey::verified(&wa, &cred, &sealed.state, display_name)?;
        let t = micros(now());
        let audit = Audit { actor: actor.clone(), activity: ADDED.into() };
        self.write(async |tx| {
            let txn = tx.conn();
            if !consume(txn, REGISTRATION, &sealed.id, sealed.iat).await? {
                return Err(invalid("this passkey request was already used; try again"));
            }
            let row = user_row(txn, user_id.uuid()).await?;
            let ident = insert_passkey(txn, user_id.uuid(), &new, t).await?;
            let row = refresh_derived(txn, row).await?;
            tx.record(&audit, Some(row.id), json!({"identity": ident.claims(), "identity_id": ident.id})).await?;
            Ok(ident)
        })
        .await
    }

    /// Starts a passkey sign-in (any discoverable credential of this relying party);
    /// `None` when passkeys are off.
    pub fn begin_passkey_login(&self) -> Result<Option<PasskeyCeremony>> {
        let Some(wa) = self.webauthn() else { return Ok(None) };
        let (rcr, auth) = wa.start_discoverable_authentication().map_err(Error::internal)?;
        let options = public_key(&rcr)?;
        let sealed = Sealed { id: b64(random_bytes::<16>()), user: None, iat: now().unix_timestamp(), state: auth };
        Ok(Some(PasskeyCeremony { options: options.to_string(), state: self.seal(AUTHENTICATION, &sealed) }))
    }

    async fn passkey_failed(&self, actor: &Actor, user: Option<Uuid>, credential_id: &str, why: &str) -> Result<()> {
        let a = Audit { actor: actor.clone(), activity: FAILED.into() };
        let body = json!({"credential_id": credential_id, "reason": why});
        self.audit_batch.record(audit::row(&a, user, body, now())).await?;
        Ok(())
    }

    /// Signs in with a passkey: the sealed state of [`Self::begin_passkey_login`] and the
    /// assertion the browser returned (JSON). The credential names the user; no second
    /// factor is asked. The stored credential (its counter) is updated; a counter that went
    /// backwards is refused and audited.
    pub async fn login_with_passkey(
        &self,
        state: &str,
        credential: &str,
        actor: &Actor,
        replaces: Option<crate::domain::ids::SessionId>,
    ) -> Result<(User, IdpSession, String), LoginError> {
        use crate::service::events::sign_in::{AuthStep, Identification, SignInSoFar};
        let Some(wa) = self.webauthn() else { return Err(refused("Passkeys are not available on this server.")) };
        let mut ctl = crate::service::account::sign_in_controls::SignInControls::default();
        self.authentication_hook(AuthStep::PreInitialize, SignInSoFar::default(), actor, &mut ctl).await?;
        let Some(sealed) = self.open::<DiscoverableAuthentication>(AUTHENTICATION, state) else {
            return Err(refused("This passkey sign-in has expired. Try again."));
        };
        let Ok(cred) = serde_json::from_str::<PublicKeyCredential>(credential) else {
            return Err(refused("The browser sent no passkey, or one that cannot be read. Try again."));
        };
        let credential_id = b64(&cred.raw_id);
        if used(&self.db.reader(), AUTHENTICATION, &sealed.id).await? {
            self.passkey_failed(actor, None, &credential_id, "challenge already used").await?;
            return Err(refused("This passkey sign-in was already used. Try again."));
        }
        let Some(row) = keyed_identity(&self.db.reader(), PASSKEY, &credential_id).await? else {
            self.passkey_failed(actor, None, &credential_id, "unknown credential").await?;
            return Err(refused(
                "This passkey is not registered here (it may have been removed). Sign in another way.",
            ));
        };
        let user_id = row.user_id;
        let keys = [credential_id.clone()];
        let identified = SignInSoFar::identified(user_id, Identification::Passkey, &keys);
        self.authentication_hook(AuthStep::PostIdentified, identified, actor, &mut ctl).await?;
        let stored = row.details.as_ref().and_then(|d| d.get("credential")).cloned().unwrap_or(Value::Null);
        let mut passkey: Passkey = serde_json::from_value(stored).map_err(Error::internal)?;
        let result = match wa.finish_discoverable_authentication_v2(&cred, sealed.state, &passkey) {
            Ok(r) => r,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                self.passkey_failed(actor, Some(user_id), &credential_id, "signature counter went backwards").await?;
                return Err(refused(
                    "This passkey's signature counter went backwards, which happens when a passkey was copied. \
                     It is refused; sign in another way and remove it.",
                ));
            }
            Err(e) => {
                self.passkey_failed(actor, Some(user_id), &credential_id, &e.to_string()).await?;
                return Err(refused("The passkey could not be verified. Try again."));
            }
        };
        let Some(user) = self.users().get(user_id.into()).await? else { return Err(LoginError::Invalid) };
        self.check_may_sign_in(&user)?;
        let amr = ["x_passkey".to_owned()];
        let asserted = ["primary_passkey".to_owned()];
        let so_far = identified.authenticated(&asserted, &amr);
        self.authentication_hook(AuthStep::PreAuthenticated, so_far, actor, &mut ctl).await?;
        if ctl.needs_more(&amr) {
            // A hook's `constraints.amr` asks for a second factor, which the passkey
            // sign-in has no step for: refused rather than skipped.
            return Err(refused(
                "This sign-in needs a second step that a passkey sign-in cannot give. Sign in with your password.",
            ));
        }
        passkey.update_credential(&result);
        let mut details = row.details.clone().unwrap_or_else(|| json!({}));
        details["credential"] = serde_json::to_value(&passkey).map_err(Error::internal)?;
        let t = now();
        // The ceremony is used once, and the credential is updated only if no other sign-in
        // with it changed it meanwhile (two assertions checked against the same counter).
        let conflict = self
            .write_unaudited(async |tx| {
                let txn = tx.conn();
                if !consume(txn, AUTHENTICATION, &sealed.id, sealed.iat).await? {
                    return Ok(Some("challenge already used"));
                }
                let updated = identity::Entity::update_many()
                    .col_expr(identity::Column::Details, Expr::value(details.clone()))
                    .col_expr(identity::Column::UpdatedAt, Expr::value(micros(t)))
                    .filter(Expr::col(identity::Column::Id).eq(row.id))
                    .filter(Expr::col(identity::Column::UpdatedAt).eq(row.updated_at))
                    .exec(txn)
                    .await?;
                if updated.rows_affected == 0 {
                    return Err(Error::conflict(reason::PASSKEY_REJECTED, "concurrent sign-in with this passkey"));
                }
                Ok::<_, Error>(None)
            })
            .await;
        let why = match conflict {
            Ok(None) => None,
            Ok(Some(why)) => Some(why),
            Err(Error::Conflict { .. }) => Some("concurrent sign-in with the same passkey"),
            Err(e) => return Err(e.into()),
        };
        if let Some(why) = why {
            self.passkey_failed(actor, Some(user_id), &credential_id, why).await?;
            return Err(refused("This passkey sign-in was already used. Try again."));
        }
        self.clear_lockout(user.id, actor).await?;
        let (sess, token) = self.start_idp_session(&user, actor, replaces, t, &["x_passkey"]).await?;
        Ok((user, sess, token))
    }

    /// Starts a signup with a passkey instead of a password; `None` when passkeys are off.
    /// The new user's ID is chosen now (it is the credential's user handle); the page's
    /// script names the credential after the login ID typed. With `promote` (the anonymous
    /// user a promotion request adds to), the user handle is that user's ID.
    pub fn begin_passkey_signup(&self, promote: Option<UserId>) -> Result<Option<PasskeyCeremony>> {
        let Some(wa) = self.webauthn() else { return Ok(None) };
        let user = promote.map_or_else(Uuid::now_v7, |u| u.uuid());
        let (ccr, reg) =
            wa.start_passkey_registration(user, "new account", "new account", None).map_err(Error::internal)?;
        let mut options = public_key(&ccr)?;
        if let Some(sel) = options.get_mut("authenticatorSelection").and_then(Value::as_object_mut) {
            sel.insert("residentKey".into(), json!("required"));
            sel.insert("requireResidentKey".into(), json!(true));
        }
        let sealed =
            Sealed { id: b64(random_bytes::<16>()), user: Some(user), iat: now().unix_timestamp(), state: reg };
        Ok(Some(PasskeyCeremony { options: options.to_string(), state: self.seal(SIGNUP, &sealed) }))
    }

    /// Signup with a passkey: a new user with the login ID `login_id` and the passkey the
    /// browser created (no password), in one transaction (`user.created`), then signed in
    /// with `amr` `["x_passkey"]`. With `promote`, the login ID and the passkey (identity
    /// and authenticator) go to that anonymous user instead, who stops being anonymous
    /// (`user.anonymous.promoted`); the ceremony must have been started for that user.
    pub async fn signup_with_passkey(
        &self,
        login_id: &str,
        state: &str,
        credential: &str,
        actor: &Actor,
        replaces: Option<crate::domain::ids::SessionId>,
        promote: Option<UserId>,
    ) -> Result<(User, IdpSession, String)> {
        let wa = self.webauthn().ok_or_else(|| invalid("passkeys are not available on this server"))?;
        let text = login_id.trim();
        let kind = self.signup_login_id_kind(text)?;
        let login = crate::domain::login_id::LoginId::parse(&self.config.login_id, kind.as_str(), text)?;
        let Some((sealed, user_id)) =
            self.open::<PasskeyRegistration>(SIGNUP, state).and_then(|s| s.user.map(|u| (s, u)))
        else {
            return Err(invalid("the passkey request has expired; try again"));
        };
        if used(&self.db.reader(), SIGNUP, &sealed.id).await? {
            return Err(invalid("this passkey request was already used; try again"));
        }
        if promote.is_some_and(|p| p.uuid() != user_id) {
            return Err(invalid("this passkey was created for another sign-up; try again"));
        }
        let cred: RegisterPublicKeyCredential = serde_json::from_str(credential)
            .map_err(|_| invalid("the browser sent no passkey, or one that cannot be read; try again"))?;
        let new = NewPasskey::verified(&wa, &cred, &sealed.state, "")?;
        let how = crate::service::events::sign_in::Identification::of_login_id(text);
        let amr = ["x_passkey".to_owned()];
        let ctl = self.new_account_hooks(promote, how, "primary_passkey", &amr, actor).await?;
        if ctl.needs_more(&amr) {
            // As at sign-in: a passkey has no second step to add.
            return Err(invalid(
                "this sign-up needs a second step that a passkey cannot give; sign up with a password",
            ));
        }
        self.check_signup_rate(actor).await?;
        let at = now();
        let t = micros(at);
        let audit = Audit { actor: actor.clone(), activity: "user.created".into() };
        self.write(async |tx| {
            let txn = tx.conn();
            if !consume(txn, SIGNUP, &sealed.id, sealed.iat).await? {
                return Err(invalid("this passkey request was already used; try again"));
            }
            let user = if promote.is_some() {
                let row = anonymous_row(tx, user_id).await?;
                crate::service::admin::identities::insert_login_id(txn, kind.as_str(), user_id.into(), &login, at)
                    .await?;
                insert_passkey(txn, user_id, &new, t).await?;
                finish_promotion(tx, row, PASSKEY, actor, at).await?
            } else {
                let mut row = crate::service::admin::user_rows::new_user_row(t, false);
                row.id = Set(user_id);
                let row = row.insert(txn).await?;
                crate::service::admin::identities::insert_login_id(txn, kind.as_str(), user_id.into(), &login, at)
                    .await?;
                let ident = insert_passkey(txn, user_id, &new, t).await?;
                let row = refresh_derived(txn, row).await?;
                let row = self.pre_create_hook(txn, row, actor).await?;
                let body = json!({
                    "user": crate::service::admin::user_rows::snapshot(&row),
                    "identity": ident.claims(), "identity_id": ident.id,
                });
                tx.record(&audit, Some(row.id), body).await?;
                User::from(row)
            };
            // The session in the same transaction: nothing can change the account between
            // its creation and its first session.
            let (sess, token, _) = self.open_idp_session(tx, &user, actor, replaces, at, &["x_passkey"]).await?;
            Ok::<_, Error>((user, sess, token))
        })
        .await
    }

    /// Removes one of the user's passkeys (the identity and its authenticator); the last
    /// identity of a user cannot be removed.
    pub async fn delete_own_passkey(&self, user_id: UserId, identity_id: IdentityId, actor: &Actor) -> Result<()> {
        let owned = passkey_rows(&self.db.reader(), user_id.uuid()).await?.iter().any(|r| r.id == identity_id.uuid());
        if !owned {
            return Err(Error::not_found(reason::IDENTITY_NOT_FOUND, "this passkey has already been removed"));
        }
        let audit = Audit { actor: actor.clone(), activity: REMOVED.into() };
        self.identities().delete(&audit, identity_id).await.map(|_| ())
    }
}
