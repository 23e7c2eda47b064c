//! One-time codes sent by email or SMS, and login links: issuing (one live code per
//! purpose and target, a resend cooldown, the messaging limits) and checking (a code is
//! revoked after too many wrong tries and works once, also under concurrent requests).
//!
//! A code is stored as a keyed hash (HMAC-SHA256 under a key derived from the master
//! key, bound to its purpose and target); a link's token, 256 random bits, as SHA-256.
//! Every state change is one conditional statement, so two requests or two processes
//! never both win.

use crate::crypto::{b64, ct_eq, random_bytes, random_digits, sha256};
use crate::service::Account;
use crate::service::store::time::{micros, now};
use crate::service::{Actor, Error, Result};
use entity::otp_code;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict, Query};
use sea_orm::{ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

/// What a code is for: the codes of one target for different purposes do not replace
/// each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtpPurpose {
    /// Signing in (first or second factor).
    Login,
    /// Verifying an email address or phone number.
    Verification,
}

impl OtpPurpose {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Verification => "verification",
        }
    }
}

/// How a code travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// Email.
    Email,
    /// Text message.
    Sms,
}

impl Channel {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }
}

/// A code just issued: the code and, for a login link, the link's token.
#[derive(Debug)]
pub(in crate::service) struct Issued {
    pub code: String,
    pub link_token: Option<String>,
}

/// Why no new code was issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotSent {
    /// One was sent to this target less than the cooldown ago; it still works. The
    /// seconds to wait before another.
    Cooldown(i64),
    /// The per-address or per-target messaging limit is reached.
    RateLimited,
}

/// The result of checking a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// Right, and now used up.
    Accepted,
    /// Wrong; the tries left before the code is revoked (0: it was just revoked).
    Wrong(i32),
    /// No live code: never sent, expired, used, or revoked after too many wrong tries.
    Expired,
}

impl Account<'_> {
    /// The code row of `purpose` for `target`, if any (one per pair).
    async fn code_row(&self, purpose: OtpPurpose, target: &str) -> Result<Option<otp_code::Model>> {
        Ok(otp_code::Entity::find()
            .filter(Expr::col(otp_code::Column::Purpose).eq(purpose.as_str()))
            .filter(Expr::col(otp_code::Column::Target).eq(target))
            .one(&self.db.reader())
            .await?)
    }

    fn code_hash(&self, purpose: OtpPurpose, target: &str, code: &str) -> String {
        self.mac_b64(&format!("otp-code:{}", purpose.as_str()), format!("{target}\0{code}").as_bytes())
    }

    /// Issues a code for `purpose` and `target`, replacing the live one, unless one was
    /// sent within the cooldown (one atomic upsert decides, across processes) or a
    /// messaging limit is reached. `link` also makes a login-link token.
    pub(in crate::service) async fn issue_code(
        &self,
        purpose: OtpPurpose,
        channel: Channel,
        target: &str,
        link: bool,
        actor: &Actor,
    ) -> Result<std::result::Result<Issued, NotSent>> {
        let cfg = &self.config.oob_otp;
        let t = micros(now());
        // The cooldown first: a refused resend must not spend the messaging budget.
        let existing = self.code_row(purpose, target).await?;
        let cooldown = cfg.resend_cooldown_seconds * 1_000_000;
        if let Some(row) = &existing
            && t - row.created_at < cooldown
        {
            return Ok(Err(NotSent::Cooldown((row.created_at + cooldown - t + 999_999) / 1_000_000)));
        }
        if !self.allow_message(channel, target, actor).await? {
            return Ok(Err(NotSent::RateLimited));
        }
        let issued = self.new_code(link);
        if !upsert_code(self, &self.db.writer().await?, purpose, channel, target, &issued, Some(cooldown)).await? {
            // Another request sent one a moment ago.
            return Ok(Err(NotSent::Cooldown(std::cmp::max(cfg.resend_cooldown_seconds, 1))));
        }
        Ok(Ok(issued))
    }

    /// A fresh code (and link token).
    fn new_code(&self, link: bool) -> Issued {
        Issued {
            code: random_digits(self.config.oob_otp.code_digits),
            link_token: link.then(|| b64(random_bytes::<32>())),
        }
    }

    /// `generateOOBOTPCode`: a code for `target` (an email address or phone number) that
    /// replaces the live one, without sending it and without cooldown or messaging limits;
    /// audited in the same transaction. Returns the code.
    pub async fn generate_code(
        &self,
        audit: &crate::service::Audit,
        target: &str,
        purpose: OtpPurpose,
    ) -> Result<String> {
        let text = target.trim();
        let (channel, target) = if text.starts_with('+') {
            (Channel::Sms, crate::domain::login_id::normalize_phone(text)?)
        } else {
            let key = crate::domain::login_id::LoginId::lookup_key(&self.config.login_id, "email", text)?;
            (Channel::Email, key)
        };
        let issued = self.new_code(false);
        self.write(async |tx| {
            upsert_code(self, tx.conn(), purpose, channel, &target, &issued, None).await?;
            tx.record(audit, None, serde_json::json!({"target": target, "purpose": purpose.as_str()})).await?;
            Ok::<_, Error>(())
        })
        .await?;
        Ok(issued.code)
    }

    /// Checks a code for `purpose` and `target`. A right code is used up at once; a wrong
    /// one counts, and the last allowed wrong try revokes the code.
    pub(in crate::service) async fn check_code(
        &self,
        purpose: OtpPurpose,
        target: &str,
        code: &str,
    ) -> Result<CodeCheck> {
        let t = micros(now());
        let max = self.config.oob_otp.max_failed_attempts;
        let code: String = code.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
        let hash = self.code_hash(purpose, target, &code);
        let live = |q: sea_orm::UpdateMany<otp_code::Entity>| {
            q.filter(Expr::col(otp_code::Column::Purpose).eq(purpose.as_str()))
                .filter(Expr::col(otp_code::Column::Target).eq(target))
                .filter(Expr::col(otp_code::Column::ConsumedAt).is_null())
                .filter(Expr::col(otp_code::Column::FailedAttempts).lt(max))
                .filter(Expr::col(otp_code::Column::ExpiresAt).gt(t))
        };
        // The right code while it is live is used up in one statement. The database
        // compares keyed digests (HMAC of target and code), which tell a timing observer
        // nothing about the code.
        let used = live(otp_code::Entity::update_many().col_expr(otp_code::Column::ConsumedAt, Expr::value(t)))
            .filter(Expr::col(otp_code::Column::CodeHash).eq(hash.as_str()))
            .exec(&self.db.writer().await?)
            .await?;
        if used.rows_affected == 1 {
            // Bookkeeping for the fraud protection: a failure must not fail the sign-in.
            if let Err(e) = self.sms_code_verified(purpose, target).await {
                tracing::error!(cause = %e.describe(), "a used SMS code could not be marked verified");
            }
            return Ok(CodeCheck::Accepted);
        }
        // Not used up: no live code, the right one already used, or a wrong one.
        let Some(row) = self.code_row(purpose, target).await? else {
            return Ok(CodeCheck::Expired);
        };
        let right = ct_eq(hash.as_bytes(), row.code_hash.as_bytes());
        if right || row.consumed_at.is_some() || row.expires_at <= t || row.failed_attempts >= max {
            return Ok(CodeCheck::Expired);
        }
        let counted = live(
            otp_code::Entity::update_many()
                .col_expr(otp_code::Column::FailedAttempts, Expr::col(otp_code::Column::FailedAttempts).add(1)),
        )
        .filter(Expr::col(otp_code::Column::Id).eq(row.id))
        .exec(&self.db.writer().await?)
        .await?;
        if counted.rows_affected == 0 {
            return Ok(CodeCheck::Expired);
        }
        Ok(CodeCheck::Wrong(std::cmp::max(max - row.failed_attempts - 1, 0)))
    }

    /// Approves the sign-in a login link belongs to (the page that asked for it then
    /// continues). Returns the target, or `None` for an unknown, used or expired link.
    pub(in crate::service) async fn approve_link(&self, token: &str) -> Result<Option<String>> {
        let t = micros(now());
        let hash = sha256(token.as_bytes()).to_vec();
        let Some(row) = otp_code::Entity::find()
            .filter(Expr::col(otp_code::Column::LinkHash).eq(hash))
            .one(&self.db.reader())
            .await?
        else {
            return Ok(None);
        };
        let approved = otp_code::Entity::update_many()
            .col_expr(otp_code::Column::ApprovedAt, Expr::value(t))
            .filter(Expr::col(otp_code::Column::Id).eq(row.id))
            .filter(Expr::col(otp_code::Column::ApprovedAt).is_null())
            .filter(Expr::col(otp_code::Column::ConsumedAt).is_null())
            .filter(Expr::col(otp_code::Column::ExpiresAt).gt(t))
            .exec(&self.db.writer().await?)
            .await?;
        Ok((approved.rows_affected == 1).then_some(row.target))
    }

    /// Whether a login link's target is still live (for the confirmation page).
    pub(in crate::service) async fn link_target(&self, token: &str) -> Result<Option<String>> {
        let t = micros(now());
        let row = otp_code::Entity::find()
            .filter(Expr::col(otp_code::Column::LinkHash).eq(sha256(token.as_bytes()).to_vec()))
            .one(&self.db.reader())
            .await?;
        Ok(row.filter(|r| r.consumed_at.is_none() && r.approved_at.is_none() && r.expires_at > t).map(|r| r.target))
    }

    /// For the page waiting on a login link: uses the approved link up and returns
    /// `Accepted`; `Wrong(_)` while it is not approved yet; `Expired` when it is gone.
    pub(in crate::service) async fn take_approved_link(&self, purpose: OtpPurpose, target: &str) -> Result<CodeCheck> {
        let t = micros(now());
        let Some(row) = self.code_row(purpose, target).await? else {
            return Ok(CodeCheck::Expired);
        };
        if row.link_hash.is_none() || row.consumed_at.is_some() || row.expires_at <= t {
            return Ok(CodeCheck::Expired);
        }
        if row.approved_at.is_none() {
            return Ok(CodeCheck::Wrong(1));
        }
        let used = otp_code::Entity::update_many()
            .col_expr(otp_code::Column::ConsumedAt, Expr::value(t))
            .filter(Expr::col(otp_code::Column::Id).eq(row.id))
            .filter(Expr::col(otp_code::Column::ConsumedAt).is_null())
            .filter(Expr::col(otp_code::Column::ApprovedAt).is_not_null())
            .exec(&self.db.writer().await?)
            .await?;
        Ok(if used.rows_affected == 1 { CodeCheck::Accepted } else { CodeCheck::Expired })
    }
}

/// The columns of `otp_codes`, in the order `upsert_code` gives their values.
const COLUMNS: [&str; 11] = [
    "id",
    "purpose",
    "target",
    "channel",
    "code_hash",
    "link_hash",
    "failed_attempts",
    "created_at",
    "expires_at",
    "approved_at",
    "consumed_at",
];

/// Writes `issued` as the live code of `purpose` and `target`. With `cooldown` (micros),
/// only if the live one is older than that; returns whether it was written.
async fn upsert_code(
    account: &Account<'_>,
    conn: &impl ConnectionTrait,
    purpose: OtpPurpose,
    channel: Channel,
    target: &str,
    issued: &Issued,
    cooldown: Option<i64>,
) -> Result<bool> {
    let cfg = &account.config.oob_otp;
    let t = micros(now());
    let link = issued.link_token.is_some();
    let lifetime = if link { cfg.link_lifetime_seconds } else { cfg.code_lifetime_seconds };
    let code_hash = account.code_hash(purpose, target, &issued.code);
    let link_hash = issued.link_token.as_ref().map(|l| sha256(l.as_bytes()).to_vec());
    let mut on_conflict = OnConflict::columns(["purpose", "target"]);
    // A new code replaces everything of the old one but its key (purpose, target).
    on_conflict.update_columns(COLUMNS.iter().copied().filter(|c| !matches!(*c, "purpose" | "target")));
    if let Some(cooldown) = cooldown {
        on_conflict.action_and_where(Expr::col(("otp_codes", "created_at")).lte(t - cooldown));
    }
    let stmt = Query::insert()
        .into_table("otp_codes")
        .columns(COLUMNS)
        .values([
            Uuid::now_v7().into(),
            purpose.as_str().into(),
            target.into(),
            channel.as_str().into(),
            code_hash.into(),
            link_hash.into(),
            0i32.into(),
            t.into(),
            (t + lifetime * 1_000_000).into(),
            Option::<i64>::None.into(),
            Option::<i64>::None.into(),
        ])
        .map_err(Error::internal)?
        .on_conflict(on_conflict)
        .returning_col("id")
        .to_owned();
    Ok(conn.query_one(&stmt).await?.is_some())
}

/// Deletes codes that ended more than a day ago.
pub(in crate::service) async fn forget_old_codes(conn: &impl ConnectionTrait, t: i64) -> Result<u64> {
    Ok(otp_code::Entity::delete_many()
        .filter(Expr::col(otp_code::Column::ExpiresAt).lt(t - 86_400 * 1_000_000))
        .exec(conn)
        .await?
        .rows_affected)
}
