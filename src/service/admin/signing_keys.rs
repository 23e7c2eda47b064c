//! Signing keys in the database (private parts encrypted with the master key) and the
//! tokens this server mints for its own Admin API.

use crate::crypto::jwt::{ALGORITHMS, KeyRing, SigningKey};
use crate::domain::ids::SigningKeyId;
use crate::domain::reason;
use crate::service::Result;
use crate::service::SigningKeys;
use crate::service::store::time::{micros, now, time_of};
use entity::signing_key;
use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::domain::scope::AdminScope;

/// Every scope of the Admin API (see [`AdminScope`]).
pub const ADMIN_SCOPES: &[&str] = &AdminScope::NAMES;

/// Every scope of the Admin API with its description, as the built-in resource lists them.
pub const ADMIN_SCOPE_DESCRIPTIONS: &[(&str, &str)] = &AdminScope::DESCRIBED;

/// Claims of an access token for the Admin API (RFC 9068 shape).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer: the public URL.
    pub iss: String,
    /// Subject: who the token stands for.
    pub sub: String,
    /// Audience: the resource URI.
    pub aud: String,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: String,
    /// Issued at (seconds).
    pub iat: i64,
    /// Expiry (seconds).
    pub exp: i64,
    /// Token ID.
    pub jti: String,
    /// OAuth client that obtained the token, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

impl SigningKeys<'_> {
    /// Loads signing keys into memory, creating an active key for each algorithm that has
    /// none (RS256, ES256, EdDSA). Returns whether a key was created.
    pub async fn load(&self) -> Result<bool> {
        let t = now();
        let live = || {
            signing_key::Entity::find()
                .filter(
                    Condition::any()
                        .add(Expr::col(signing_key::Column::RetireAt).is_null())
                        .add(Expr::col(signing_key::Column::RetireAt).gt(micros(t))),
                )
                .order_by_desc(signing_key::Column::CreatedAt)
        };
        let mut rows = live().all(&self.db.reader()).await?;
        let mut missing = Vec::new();
        for alg in ALGORITHMS {
            if !rows.iter().any(|r| r.active && r.alg == *alg) {
                missing.push(self.new_key_row(alg, t)?.0);
            }
        }
        let created = !missing.is_empty();
        if created {
            // The first start (or a new algorithm): the keys and the generation that tells
            // other processes about them are written together.
            self.write_unaudited(async |tx| {
                for row in missing {
                    row.insert(tx.conn()).await?;
                }
                crate::service::store::changes::bump(tx.conn(), crate::service::store::changes::Area::SigningKeys).await
            })
            .await?;
            rows = live().all(&self.db.reader()).await?;
        }
        // A key signs only once it has been published for `key_publish_seconds`, so every
        // process has it in its JWKS first; until then the key it replaces keeps signing.
        let now_us = micros(t);
        let delay_us = self.config.oauth.key_publish_seconds.saturating_mul(1_000_000);
        let published_before = now_us.saturating_sub(delay_us);
        let mut next_change = i64::MAX;
        let mut later = |at: i64| {
            if at > now_us {
                next_change = std::cmp::min(next_change, at);
            }
        };
        let mut signers: Vec<(String, Uuid)> = Vec::new();
        for alg in ALGORITHMS {
            // Newest first: keys that sign now or signed until moments ago.
            let candidates: Vec<&signing_key::Model> = rows
                .iter()
                .filter(|r| r.alg == *alg)
                .filter(|r| r.active || r.deactivated_at.is_some_and(|d| d > published_before))
                .collect();
            let signer = candidates.iter().find(|r| r.created_at <= published_before).or_else(|| candidates.last());
            if let Some(signer) = signer {
                signers.push(((*alg).to_owned(), signer.id));
                // A newer key waiting for its publish delay takes over when it ends.
                for r in candidates.iter().filter(|r| r.created_at > signer.created_at) {
                    later(r.created_at.saturating_add(delay_us));
                }
            }
        }
        for r in &rows {
            if let Some(at) = r.retire_at {
                later(at);
            }
        }
        let mut keys = Vec::new();
        let mut active: Vec<Arc<SigningKey>> = Vec::new();
        for row in rows {
            let der = self.master_key.decrypt(&row.private_key)?;
            let mut key = SigningKey::from_pkcs8(&row.alg, &der)?;
            key.retire_at = row.retire_at.map(|t| time_of(t).unix_timestamp());
            let key = Arc::new(key);
            if signers.iter().any(|(alg, id)| *alg == row.alg && *id == row.id) {
                active.push(key.clone());
            }
            keys.push(key);
        }
        self.generations.set_next_key_change(next_change);
        self.keys.install(&active, &keys)?;
        Ok(created)
    }

    /// Mints an Admin API access token for `subject` with `scopes`, valid for `ttl`.
    pub fn mint_admin_token(&self, subject: &str, scopes: &[String], ttl: Duration) -> Result<String> {
        let key =
            self.keys.active("RS256").ok_or_else(|| crate::service::Error::internal("no active RS256 signing key"))?;
        let iat = now().unix_timestamp();
        let claims = AccessClaims {
            iss: self.config.public_url(),
            sub: subject.to_owned(),
            aud: self.config.admin_resource_uri(),
            scope: scopes.join(" "),
            iat,
            exp: iat + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            jti: Uuid::now_v7().to_string(),
            client_id: None,
        };
        Ok(key.sign("at+jwt", &claims)?)
    }

    /// Verifies an Admin API access token; on an unknown key it reloads keys once, so that
    /// a key rotated by another process is picked up.
    pub async fn verify_admin_token(&self, token: &str) -> std::result::Result<AccessClaims, String> {
        let issuer = self.config.public_url();
        let audience = self.config.admin_resource_uri();
        let at = now().unix_timestamp();
        // Read before any lookup of the revocations (see `Generations::revocations`).
        let revocations = self.generations.revocations();
        let mut checked = None;
        let claims = match self.admin_tokens.get(token) {
            // Verified before, with the same issuer and audience: its key must still
            // verify and its lifetime must not have ended.
            Some((kid, claims, not_revoked_at))
                if self.keys.verifies_now(&kid) && at < claims.exp.saturating_add(KeyRing::LEEWAY) =>
            {
                checked = not_revoked_at;
                claims
            }
            _ => {
                self.learn_kid(token).await;
                let claims: AccessClaims =
                    self.keys.verify(token, &issuer, Some(&audience)).map_err(|e| e.to_string())?;
                if let Ok(Some(kid)) = jsonwebtoken::decode_header(token).map(|h| h.kid) {
                    self.admin_tokens.put(token, &kid, &claims);
                }
                claims
            }
        };
        match self.applications().client_deleted(claims.client_id.as_deref()).await {
            Ok(false) => {}
            Ok(true) => return Err("the application this token was issued to was deleted".into()),
            Err(e) => {
                tracing::error!(cause = %e.describe(), "client check failed");
                return Err("token could not be checked; try again".into());
            }
        }
        if revocations.is_some() && checked == revocations {
            return Ok(claims);
        }
        match self.oauth().is_revoked(&claims.jti).await {
            Ok(false) => {
                if let Some(g) = revocations {
                    self.admin_tokens.not_revoked(token, g);
                }
                Ok(claims)
            }
            Ok(true) => Err("token was revoked".into()),
            Err(e) => {
                tracing::error!(cause = %e.describe(), "revocation check failed");
                Err("token could not be checked; try again".into())
            }
        }
    }

    /// Every verification path calls this first: a token signed with a key this process
    /// has not loaded yet (rotated by another process a moment ago) makes it reload its
    /// keys, at most once a second.
    pub async fn learn_kid(&self, token: &str) {
        if let Ok(header) = jsonwebtoken::decode_header(token)
            && let Some(kid) = header.kid
            && !self.keys.knows(&kid)
            && self.keys.may_reload(now().unix_timestamp())
            && let Err(e) = self.load().await
        {
            tracing::warn!(cause = %e.describe(), "reloading signing keys for an unknown kid failed");
        }
    }

    /// Makes a new key active for `alg`. It is published in every process's JWKS at once
    /// and signs from `oauth.key_publish_seconds` later; the old key signs until then and
    /// keeps verifying until every token it signed has expired (the longest token lifetime,
    /// plus a minute of clock skew), then it is retired and leaves the JWKS.
    pub async fn rotate(&self, audit: &crate::service::Audit, alg: &str) -> Result<SigningKeyInfo> {
        if !ALGORITHMS.contains(&alg) {
            return Err(crate::service::Error::invalid(
                reason::INVALID_ALGORITHM,
                "the algorithm must be RS256, ES256 or EdDSA",
            ));
        }
        let longest_app: i64 = entity::application::Entity::find()
            .select_only()
            .expr(sea_orm::sea_query::Func::max(Expr::col(entity::application::Column::AccessTokenLifetime)))
            .into_tuple::<Option<i64>>()
            .one(&self.db.reader())
            .await?
            .flatten()
            .unwrap_or(0);
        let longest = std::cmp::max(longest_app, i64::try_from(MAX_ADMIN_TOKEN_TTL.as_secs()).unwrap_or(86_400))
            + 60
            + self.config.oauth.key_publish_seconds;
        let t = now();
        let (new_row, key) = self.new_key_row(alg, t)?;
        let value = self
            .write(async |tx| {
                let txn = tx.conn();
                let old = signing_key::Entity::find()
                    .filter(Expr::col(signing_key::Column::Active).eq(true))
                    .filter(Expr::col(signing_key::Column::Alg).eq(alg))
                    .all(txn)
                    .await?;
                for row in old {
                    let mut am: signing_key::ActiveModel = row.into();
                    am.active = Set(false);
                    am.deactivated_at = Set(Some(micros(t)));
                    am.retire_at = Set(Some(micros(t + time::Duration::seconds(longest))));
                    am.update(txn).await?;
                }
                let row = new_row.insert(txn).await?;
                tx.record(audit, None, serde_json::json!({"kid": key.kid, "alg": alg})).await?;
                crate::service::store::changes::bump(txn, crate::service::store::changes::Area::SigningKeys).await?;
                Ok::<_, crate::service::Error>(info(row, key.jwk))
            })
            .await?;
        self.load().await?;
        Ok(value)
    }

    /// A new key of `alg` as a row (private part encrypted with the master key), active
    /// from `t`, with the key itself.
    fn new_key_row(&self, alg: &str, t: OffsetDateTime) -> Result<(signing_key::ActiveModel, SigningKey)> {
        let (key, der) = SigningKey::generate(alg)?;
        let row = signing_key::ActiveModel {
            id: Set(Uuid::now_v7()),
            kid: Set(key.kid.clone()),
            alg: Set(key.alg.to_owned()),
            private_key: Set(self.master_key.encrypt(&der)),
            created_at: Set(micros(t)),
            active: Set(true),
            deactivated_at: Set(None),
            retire_at: Set(None),
        };
        Ok((row, key))
    }

    /// Every key that still verifies (active and rotated-out), newest first.
    pub async fn list(&self) -> Result<Vec<SigningKeyInfo>> {
        let t = micros(now());
        let rows = signing_key::Entity::find()
            .filter(
                Condition::any()
                    .add(Expr::col(signing_key::Column::RetireAt).is_null())
                    .add(Expr::col(signing_key::Column::RetireAt).gt(t)),
            )
            .order_by_desc(signing_key::Column::CreatedAt)
            .all(&self.db.reader())
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            // Loaded keys already have their JWK; only a key another process created since
            // the last reload is decrypted here.
            let jwk = match self.keys.jwk(&row.kid) {
                Some(jwk) => jwk,
                None => SigningKey::from_pkcs8(&row.alg, &self.master_key.decrypt(&row.private_key)?)?.jwk,
            };
            out.push(info(row, jwk));
        }
        Ok(out)
    }
}

/// Longest lifetime of a token minted by `authgraph admin-token`.
pub const MAX_ADMIN_TOKEN_TTL: Duration = Duration::from_secs(86_400);

/// A signing key as the Admin API shows it: public parts and dates only.
#[derive(Debug, Clone)]
pub struct SigningKeyInfo {
    /// ID.
    pub id: SigningKeyId,
    /// Key ID (RFC 7638 thumbprint).
    pub kid: String,
    /// Algorithm.
    pub alg: String,
    /// Signs new tokens.
    pub active: bool,
    /// Public JWK.
    pub jwk: serde_json::Value,
    /// Creation time.
    pub created_at: time::OffsetDateTime,
    /// When it stopped signing.
    pub deactivated_at: Option<time::OffsetDateTime>,
    /// When it stops verifying.
    pub retire_at: Option<time::OffsetDateTime>,
}

fn info(row: signing_key::Model, jwk: serde_json::Value) -> SigningKeyInfo {
    SigningKeyInfo {
        id: row.id.into(),
        kid: row.kid,
        alg: row.alg,
        active: row.active,
        jwk,
        created_at: time_of(row.created_at),
        deactivated_at: row.deactivated_at.map(time_of),
        retire_at: row.retire_at.map(time_of),
    }
}
