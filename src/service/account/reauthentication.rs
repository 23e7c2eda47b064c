//! Reauthentication: sensitive settings (change the password, add or remove an
//! authenticator app, new recovery codes, delete the account) need a browser session whose
//! last sign-in (`auth_time`) is at most `session.reauthentication_max_age_seconds` old.
//! An older session confirms it's the user with the password, or a code from an
//! authenticator app, which renews the session's `auth_time` and adds to its `amr`. The
//! `authentication.*` hooks see it as a flow of type `reauth`: `pre_initialize` before
//! the check, `pre_authenticated` after a right one (its `constraints.amr` may ask for
//! the authenticator app's code instead of the password).

use crate::domain::ids::TypedId;
use crate::domain::reason;
use crate::service::Account;
use crate::service::account::login::IdpSession;
use crate::service::account::sign_in_controls::SignInControls;
use crate::service::admin::user_rows::primary_password;
use crate::service::events::sign_in::{AuthStep, FlowType, SignInSoFar};
use crate::service::store::time::{micros, now};
use crate::service::unit_of_work::audit_row as audit;
use crate::service::{Actor, Audit, Error, Result};
use entity::session;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{EntityTrait, QueryFilter};
use serde_json::json;

impl Account<'_> {
    /// Whether a sensitive action on this session must first confirm it's the user: its
    /// last sign-in is older than `session.reauthentication_max_age_seconds`.
    pub fn needs_reauthentication(&self, sess: &IdpSession) -> bool {
        let max_age = self.config.session.reauthentication_max_age_seconds.saturating_mul(1_000_000);
        micros(now()) - sess.auth_time > max_age
    }

    /// Confirms it's the user of `sess`: `secret` is their password or, when they have an
    /// authenticator app, a code from it (six digits). A right one renews the session's
    /// `auth_time`, adds the method to its `amr` and writes `user.reauthenticated`; a wrong
    /// one is audited like a failed sign-in and counted in the failed-login limits (per IP
    /// address, and per user from that address). Returns the renewed session.
    pub async fn reauthenticate(&self, sess: &IdpSession, secret: &str, actor: &Actor) -> Result<IdpSession> {
        let user_id = sess.user_id;
        let mut ctl = SignInControls::default();
        let so_far = SignInSoFar::of_user(user_id.uuid(), FlowType::Reauth);
        self.authentication_hook(AuthStep::PreInitialize, so_far, actor, &mut ctl).await?;
        let rl = &self.config.rate_limits;
        let ip = crate::service::account::rate_limit::network_key(actor.ip.as_deref().unwrap_or("-"));
        let ip_bucket = format!("login:ip:{ip}");
        let user_bucket = format!("login:reauth:{ip}:{user_id}");
        let limits = [
            (ip_bucket.as_str(), rl.login_failures_per_ip_per_minute),
            (user_bucket.as_str(), rl.login_failures_per_account_per_minute),
        ];
        let Some(reservation) = self.reserve_attempt(&limits).await? else {
            self.record_blocked(actor, "login", &user_bucket).await?;
            return Err(Error::invalid(reason::RATE_LIMITED, "too many failed attempts; wait a minute and try again"));
        };
        let code = secret.trim();
        let looks_like_code = code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit());
        let by_totp = looks_like_code && !self.totp_authenticators(user_id).await?.is_empty();
        let ok = if by_totp {
            match self.verify_totp(user_id, code).await {
                Ok(_) => true,
                Err(Error::Invalid { .. }) => false,
                Err(e) => return Err(e),
            }
        } else {
            let pw = primary_password(&self.db.reader(), user_id.uuid()).await?;
            self.hasher.verify(secret.to_owned(), pw.and_then(|p| p.password_hash)).await?
        };
        if !ok {
            reservation.keep();
            let activity =
                if by_totp { "authentication.secondary.totp.failed" } else { "authentication.primary.password.failed" };
            let a = Audit { actor: actor.clone(), activity: activity.into() };
            let payload = json!({"user_id": user_id, "reauthentication": true});
            self.audit_batch.record(audit::row(&a, Some(user_id.uuid()), payload, now())).await?;
            let what = if by_totp { "code" } else { "password" };
            return Err(Error::invalid(reason::REAUTHENTICATION_FAILED, format!("the {what} is incorrect")));
        }
        self.release_attempt(reservation).await?;
        let added: &[&str] = if by_totp { &["otp", "x_secondary_totp"] } else { &["pwd"] };
        let proved: Vec<String> = added.iter().map(|m| (*m).to_owned()).collect();
        let asserted = [if by_totp { "secondary_totp" } else { "primary_password" }.to_owned()];
        self.authentication_hook(AuthStep::PreAuthenticated, so_far.authenticated(&asserted, &proved), actor, &mut ctl)
            .await?;
        if ctl.needs_more(&proved) {
            // The hooks ask for more than this confirmation proves: another way, if there is one.
            let msg = if !by_totp && !self.totp_authenticators(user_id).await?.is_empty() {
                "this action asks you to confirm with a code from your authenticator app instead"
            } else {
                "this action asks for a confirmation that this account cannot give; ask the administrator of this service"
            };
            return Err(Error::invalid(reason::REAUTHENTICATION_FAILED, msg));
        }
        let mut amr = sess.amr.clone();
        for m in added {
            if !amr.iter().any(|a| a == m) {
                amr.push((*m).to_owned());
            }
        }
        let t = micros(now());
        let session_id = sess.id;
        let renewed = amr.clone();
        self.write(async |tx| {
            let txn = tx.conn();
            session::Entity::update_many()
                .col_expr(session::Column::AuthTime, Expr::value(t))
                .col_expr(session::Column::Amr, Expr::value(json!(renewed)))
                .filter(Expr::col(session::Column::Id).eq(session_id))
                .exec(txn)
                .await?;
            let a = Audit { actor: actor.clone(), activity: "user.reauthenticated".into() };
            tx.record(&a, Some(user_id.uuid()), json!({"session_id": session_id, "amr": renewed})).await?;
            Ok::<_, Error>(())
        })
        .await?;
        Ok(IdpSession { id: sess.id, user_id, auth_time: t, amr, user: None })
    }
}
