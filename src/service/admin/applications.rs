//! Applications (OAuth clients) and their secrets.

use crate::crypto::jwt::ALGORITHMS;
use crate::crypto::{b64, ct_eq, hex, random_bytes, sha256};
use crate::domain::ids::{ApplicationId, ApplicationSecretId, TypedId};
use crate::domain::oauth::{AppType, validate_origin, validate_redirect_uri};
use crate::domain::reason;
use crate::domain::scope::AdminScope;
use crate::domain::text::quoted;
use crate::domain::text::{check_list, check_text};
use crate::service::Applications;
use crate::service::admin::app_cache::ClientEntry;
use crate::service::admin::escalation;
use crate::service::store::changes;
use crate::service::store::changes::Area;
use crate::service::store::paging::{Cursor, Keyset, Page, PageArgs, SortKind};
use crate::service::store::session_end::end_sessions;
use crate::service::store::time::{micros, now, strings, time_of};
use crate::service::{Audit, Error, Result, conflict_on_unique};
use entity::{application, authorization, authorization_code, client_secret, session};
use sea_orm::sea_query::{Condition, Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ConnectionTrait, EntityTrait, FromQueryResult, IdenStatic, IntoActiveModel, Iterable,
    PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde_json::{Value, json};
use time::OffsetDateTime;
use uuid::Uuid;

/// At most this many active secrets per application (so a secret rotates without downtime).
pub const MAX_ACTIVE_SECRETS: usize = 2;

/// Settings of an application; on update `None` keeps a value.
#[derive(Debug, Clone, Default)]
pub struct AppSettings {
    /// Display name.
    pub name: Option<String>,
    /// Redirect URIs.
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grant types.
    pub grant_types: Option<Vec<String>>,
    /// CORS origins.
    pub allowed_origins: Option<Vec<String>>,
    /// Access token lifetime (seconds).
    pub access_token_lifetime: Option<i64>,
    /// Refresh token lifetime (seconds).
    pub refresh_token_lifetime: Option<i64>,
    /// Refresh token idle timeout (seconds).
    pub refresh_token_idle_timeout: Option<i64>,
    /// Rotate refresh tokens.
    pub refresh_token_rotation: Option<bool>,
    /// `RS256`, `ES256` or `EdDSA`.
    pub access_token_alg: Option<String>,
    /// The ID tokens' algorithm: `RS256`, `ES256` or `EdDSA`.
    pub id_token_alg: Option<String>,
    /// May introspect other clients' tokens (confidential clients only).
    pub can_introspect_all_tokens: Option<bool>,
}

fn to_app(m: application::Model, secrets: Vec<SecretInfo>) -> Application {
    Application {
        id: m.id.into(),
        kind: AppType::parse(&m.kind).unwrap_or(AppType::Confidential),
        client_id: m.client_id,
        name: m.name,
        redirect_uris: strings(&m.redirect_uris),
        post_logout_redirect_uris: strings(&m.post_logout_redirect_uris),
        grant_types: strings(&m.grant_types),
        allowed_origins: strings(&m.allowed_origins),
        access_token_lifetime: m.access_token_lifetime,
        refresh_token_lifetime: m.refresh_token_lifetime,
        refresh_token_idle_timeout: m.refresh_token_idle_timeout,
        refresh_token_rotation: m.refresh_token_rotation,
        access_token_alg: m.access_token_alg,
        id_token_alg: m.id_token_alg,
        can_introspect_all_tokens: m.can_introspect_all_tokens,
        secrets,
        created_at: time_of(m.created_at),
        updated_at: time_of(m.updated_at),
    }
}

fn to_secret(m: client_secret::Model) -> SecretInfo {
    SecretInfo {
        id: m.id.into(),
        hint: m.hint,
        created_at: time_of(m.created_at),
        revoked_at: m.revoked_at.map(time_of),
    }
}

/// Checks settings against the application type; fills defaults on create.
fn validate(kind: AppType, s: &AppSettings) -> Result<()> {
    if let Some(name) = &s.name {
        check_text("name", name)?;
        if name.trim().is_empty() || name.chars().count() > 200 {
            return Err(Error::invalid(reason::INVALID_APPLICATION, "name must have 1 to 200 characters"));
        }
    }
    for (field, list) in [("redirectURIs", &s.redirect_uris), ("postLogoutRedirectURIs", &s.post_logout_redirect_uris)]
    {
        if let Some(list) = list {
            check_list(field, list.len())?;
            for uri in list {
                validate_redirect_uri(field, uri)?;
            }
            if kind == AppType::M2m && !list.is_empty() {
                return Err(Error::invalid(reason::INVALID_APPLICATION, format!("an m2m application has no {field}")));
            }
        }
    }
    if let Some(origins) = &s.allowed_origins {
        check_list("allowedOrigins", origins.len())?;
        for o in origins {
            validate_origin(o)?;
        }
    }
    if let Some(grants) = &s.grant_types
        && let Some(bad) = grants.iter().find(|g| !kind.allowed_grants().contains(&g.as_str()))
    {
        return Err(Error::invalid(
            reason::INVALID_GRANT_TYPE,
            format!("a {} application cannot use the grant {}", kind.as_str(), quoted(bad)),
        ));
    }
    let within = |v: Option<i64>, min: i64, max: i64, field: &str| match v {
        Some(v) if v < min || v > max => {
            Err(Error::invalid(reason::INVALID_LIFETIME, format!("{field} must be between {min} and {max} seconds")))
        }
        _ => Ok(()),
    };
    within(s.access_token_lifetime, 60, 86_400, "accessTokenLifetimeSeconds")?;
    within(s.refresh_token_lifetime, 300, 366 * 86_400, "refreshTokenLifetimeSeconds")?;
    within(s.refresh_token_idle_timeout, 300, 366 * 86_400, "refreshTokenIdleTimeoutSeconds")?;
    for (field, alg) in
        [("accessTokenSigningAlgorithm", &s.access_token_alg), ("idTokenSigningAlgorithm", &s.id_token_alg)]
    {
        if let Some(alg) = alg
            && !ALGORITHMS.contains(&alg.as_str())
        {
            return Err(Error::invalid(reason::INVALID_ALGORITHM, format!("{field} must be RS256, ES256 or EdDSA")));
        }
    }
    if s.can_introspect_all_tokens == Some(true) && !kind.has_secret() {
        return Err(Error::invalid(
            reason::INVALID_APPLICATION,
            format!("a {} application is a public client and cannot introspect tokens", kind.as_str()),
        ));
    }
    Ok(())
}

fn new_secret() -> (String, Vec<u8>, String) {
    let secret = b64(random_bytes::<32>());
    let hash = sha256(secret.as_bytes()).to_vec();
    let hint = secret[secret.len() - 4..].to_owned();
    (secret, hash, hint)
}

async fn insert_secret(conn: &impl ConnectionTrait, app_id: Uuid) -> Result<String> {
    let (secret, hash, hint) = new_secret();
    client_secret::ActiveModel {
        id: Set(Uuid::now_v7()),
        application_id: Set(app_id),
        secret_hash: Set(hash),
        hint: Set(hint),
        created_at: Set(micros(now())),
        revoked_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(secret)
}

/// Loads an application row by client ID or fails with `ApplicationNotFound`.
pub(in crate::service) async fn app_row(conn: &impl ConnectionTrait, client_id: &str) -> Result<application::Model> {
    application::Entity::find()
        .filter(Expr::col(application::Column::ClientId).eq(client_id))
        .one(conn)
        .await?
        .ok_or_else(|| {
            Error::not_found(
                reason::APPLICATION_NOT_FOUND,
                format!("no application has client ID {}", quoted(client_id)),
            )
        })
}

fn app_json(a: &application::Model) -> Value {
    json!({"client_id": a.client_id, "name": a.name, "type": a.kind, "redirect_uris": a.redirect_uris, "grant_types": a.grant_types, "can_introspect_all_tokens": a.can_introspect_all_tokens, "access_token_alg": a.access_token_alg, "id_token_alg": a.id_token_alg})
}

impl Applications<'_> {
    async fn with_secrets(
        &self,
        conn: &impl ConnectionTrait,
        rows: Vec<application::Model>,
    ) -> Result<Vec<Application>> {
        let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
        let secrets = client_secret::Entity::find()
            .filter(Expr::col(client_secret::Column::ApplicationId).is_in(ids))
            .order_by_desc(client_secret::Column::CreatedAt)
            .all(conn)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let mine = secrets.iter().filter(|s| s.application_id == r.id).cloned().map(to_secret).collect();
                to_app(r, mine)
            })
            .collect())
    }

    async fn one_app(&self, conn: &impl ConnectionTrait, row: application::Model) -> Result<Application> {
        let mut apps = self.with_secrets(conn, vec![row]).await?;
        apps.pop().ok_or_else(|| Error::internal("application vanished"))
    }

    /// Creates an application; returns it and, for types with secrets, its first secret
    /// (shown this once).
    pub async fn create(
        &self,
        audit: &Audit,
        kind: AppType,
        settings: AppSettings,
    ) -> Result<(Application, Option<String>)> {
        if settings.name.is_none() {
            return Err(Error::invalid(reason::INVALID_APPLICATION, "name is required"));
        }
        validate(kind, &settings)?;
        let t = micros(now());
        let value = self
            .write(async |tx| {
                let txn = tx.conn();
                let row = application::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    client_id: Set(hex(random_bytes::<8>())),
                    name: Set(settings.name.unwrap_or_default().trim().to_owned()),
                    kind: Set(kind.as_str().to_owned()),
                    redirect_uris: Set(json!(settings.redirect_uris.unwrap_or_default())),
                    post_logout_redirect_uris: Set(json!(settings.post_logout_redirect_uris.unwrap_or_default())),
                    grant_types: Set(json!(settings.grant_types.unwrap_or_else(|| kind.default_grants()))),
                    allowed_origins: Set(json!(settings.allowed_origins.unwrap_or_default())),
                    access_token_lifetime: Set(settings.access_token_lifetime.unwrap_or(1_800)),
                    refresh_token_lifetime: Set(settings.refresh_token_lifetime.unwrap_or(364 * 86_400)),
                    refresh_token_idle_timeout: Set(settings.refresh_token_idle_timeout.unwrap_or(30 * 86_400)),
                    refresh_token_rotation: Set(settings.refresh_token_rotation.unwrap_or(true)),
                    access_token_alg: Set(settings.access_token_alg.unwrap_or_else(|| "RS256".into())),
                    id_token_alg: Set(settings.id_token_alg.unwrap_or_else(|| "RS256".into())),
                    can_introspect_all_tokens: Set(settings.can_introspect_all_tokens.unwrap_or(false)),
                    created_at: Set(t),
                    updated_at: Set(t),
                }
                .insert(txn)
                .await
                .map_err(|e| conflict_on_unique(e, reason::DUPLICATED_CLIENT_ID, "client ID collision; try again"))?;
                let secret = if kind.has_secret() { Some(insert_secret(txn, row.id).await?) } else { None };
                tx.record(audit, None, json!({"application": app_json(&row)})).await?;
                let app = self.one_app(txn, row).await?;
                changes::bump(txn, Area::Applications).await?;
                Ok::<_, crate::service::Error>((app, secret))
            })
            .await?;
        self.forget().await;
        Ok(value)
    }

    /// Changes an application's settings.
    /// An application that holds Admin API scopes can only be changed by a caller that
    /// holds all of them (`held`), here and in the secret and delete operations.
    pub async fn update(
        &self,
        audit: &Audit,
        held: &[AdminScope],
        client_id: &str,
        s: AppSettings,
    ) -> Result<Application> {
        let value = self
            .write(async |tx| {
                let txn = tx.conn();
                let row = app_row(txn, client_id).await?;
                escalation::ensure_holds_all_of(txn, held, row.id, client_id).await?;
                let kind = AppType::parse(&row.kind).unwrap_or(AppType::Confidential);
                validate(kind, &s)?;
                let mut am = row.into_active_model();
                if let Some(v) = s.name {
                    am.name = Set(v.trim().to_owned());
                }
                if let Some(v) = s.redirect_uris {
                    am.redirect_uris = Set(json!(v));
                }
                if let Some(v) = s.post_logout_redirect_uris {
                    am.post_logout_redirect_uris = Set(json!(v));
                }
                if let Some(v) = s.grant_types {
                    am.grant_types = Set(json!(v));
                }
                if let Some(v) = s.allowed_origins {
                    am.allowed_origins = Set(json!(v));
                }
                if let Some(v) = s.access_token_lifetime {
                    am.access_token_lifetime = Set(v);
                }
                if let Some(v) = s.refresh_token_lifetime {
                    am.refresh_token_lifetime = Set(v);
                }
                if let Some(v) = s.refresh_token_idle_timeout {
                    am.refresh_token_idle_timeout = Set(v);
                }
                if let Some(v) = s.refresh_token_rotation {
                    am.refresh_token_rotation = Set(v);
                }
                if let Some(v) = s.access_token_alg {
                    am.access_token_alg = Set(v);
                }
                if let Some(v) = s.id_token_alg {
                    am.id_token_alg = Set(v);
                }
                if let Some(v) = s.can_introspect_all_tokens {
                    am.can_introspect_all_tokens = Set(v);
                }
                am.updated_at = Set(micros(now()));
                let row = am.update(txn).await?;
                tx.record(audit, None, json!({"application": app_json(&row)})).await?;
                let app = self.one_app(txn, row).await?;
                changes::bump(txn, Area::Applications).await?;
                Ok::<_, crate::service::Error>(app)
            })
            .await?;
        self.forget().await;
        Ok(value)
    }

    /// Deletes an application with its secrets and grants.
    pub async fn delete(&self, audit: &Audit, held: &[AdminScope], client_id: &str) -> Result<()> {
        self.write(async |tx| {
            let txn = tx.conn();
            let row = app_row(txn, client_id).await?;
            escalation::ensure_holds_all_of(txn, held, row.id, client_id).await?;
            // Its grants end with it: refresh tokens stop at once, and access tokens are
            // refused wherever they are checked (the client no longer exists).
            let grants = Condition::all().add(Expr::col(session::Column::ClientId).eq(client_id));
            end_sessions(txn, grants, micros(now())).await?;
            // Its users' consents and unused codes go too: they name a client that is gone.
            authorization::Entity::delete_many()
                .filter(Expr::col(authorization::Column::ClientId).eq(client_id))
                .exec(txn)
                .await?;
            authorization_code::Entity::delete_many()
                .filter(Expr::col(authorization_code::Column::ClientId).eq(client_id))
                .exec(txn)
                .await?;
            application::Entity::delete_by_id(row.id).exec(txn).await?;
            tx.record(audit, None, json!({"application": app_json(&row)})).await?;
            changes::bump(txn, Area::Applications).await?;
            Ok::<_, crate::service::Error>(())
        })
        .await?;
        self.forget().await;
        Ok(())
    }

    /// Adds a secret (at most two are active at a time); returns it, shown this once.
    pub async fn create_secret(
        &self,
        audit: &Audit,
        held: &[AdminScope],
        client_id: &str,
    ) -> Result<(Application, String)> {
        let out = self
            .write(async |tx| {
                let txn = tx.conn();
                let row = app_row(txn, client_id).await?;
                escalation::ensure_holds_all_of(txn, held, row.id, client_id).await?;
                let kind = AppType::parse(&row.kind).unwrap_or(AppType::Confidential);
                if !kind.has_secret() {
                    return Err(Error::invalid(
                        reason::APPLICATION_HAS_NO_SECRETS,
                        format!("a {} application is a public client and has no secrets", kind.as_str()),
                    ));
                }
                let active = client_secret::Entity::find()
                    .filter(Expr::col(client_secret::Column::ApplicationId).eq(row.id))
                    .filter(Expr::col(client_secret::Column::RevokedAt).is_null())
                    .count(txn)
                    .await?;
                if active >= MAX_ACTIVE_SECRETS as u64 {
                    return Err(Error::conflict(
                        reason::TOO_MANY_SECRETS,
                        format!("an application has at most {MAX_ACTIVE_SECRETS} active secrets: revoke one first"),
                    ));
                }
                let secret = insert_secret(txn, row.id).await?;
                tx.record(audit, None, json!({"application": app_json(&row)})).await?;
                let app = self.one_app(txn, row).await?;
                changes::bump(txn, Area::Applications).await?;
                Ok((app, secret))
            })
            .await;
        self.forget().await;
        out
    }

    /// Revokes a secret; it stops authenticating at once.
    pub async fn revoke_secret(
        &self,
        audit: &Audit,
        held: &[AdminScope],
        client_id: &str,
        secret_id: ApplicationSecretId,
    ) -> Result<Application> {
        let out = self
            .write(async |tx| {
                let txn = tx.conn();
                let row = app_row(txn, client_id).await?;
                escalation::ensure_holds_all_of(txn, held, row.id, client_id).await?;
                let secret = client_secret::Entity::find_by_id(secret_id.uuid())
                    .one(txn)
                    .await?
                    .filter(|s| s.application_id == row.id)
                    .ok_or_else(|| {
                        Error::not_found(
                            reason::SECRET_NOT_FOUND,
                            format!("application {} has no secret {secret_id}", quoted(client_id)),
                        )
                    })?;
                if secret.revoked_at.is_none() {
                    let mut am = secret.into_active_model();
                    am.revoked_at = Set(Some(micros(now())));
                    am.update(txn).await?;
                }
                tx.record(audit, None, json!({"application": app_json(&row), "secret_id": secret_id})).await?;
                let app = self.one_app(txn, row).await?;
                changes::bump(txn, Area::Applications).await?;
                Ok(app)
            })
            .await;
        self.forget().await;
        out
    }

    /// Lists applications by name (case-insensitive prefix of name or client ID).
    pub async fn list(&self, search: Option<&str>, args: &PageArgs) -> Result<Page<Application>> {
        let plan = args.plan()?;
        let ks =
            Keyset { table: "applications", column: "created_at", desc: true, nullable: false, kind: SortKind::Time };
        let q = ks.apply(application::Entity::find().filter(search_condition(search)?), &plan)?;
        let rows = q.all(&self.db.reader()).await?;
        let apps = self.with_secrets(&self.db.reader(), rows).await?;
        Ok(ks.finish(&plan, apps, |a| Cursor::time(Some(a.created_at), a.id.uuid())))
    }

    /// Counts applications matching `search`.
    pub async fn count(&self, search: Option<&str>) -> Result<u64> {
        Ok(application::Entity::find().filter(search_condition(search)?).count(&self.db.reader()).await?)
    }

    /// Loads applications by ID.
    pub async fn by_ids(&self, ids: &[ApplicationId]) -> Result<Vec<Application>> {
        let rows = application::Entity::find()
            .filter(Expr::col(application::Column::Id).is_in(ids.to_vec()))
            .all(&self.db.reader())
            .await?;
        self.with_secrets(&self.db.reader(), rows).await
    }

    /// Loads one application by client ID.
    pub async fn get(&self, client_id: &str) -> Result<Option<Application>> {
        match application::Entity::find()
            .filter(Expr::col(application::Column::ClientId).eq(client_id))
            .one(&self.db.reader())
            .await?
        {
            Some(row) => Ok(Some(self.one_app(&self.db.reader(), row).await?)),
            None => Ok(None),
        }
    }

    /// Checks a client secret in constant time against every active secret of the
    /// application; returns the application if one matches. The application and its
    /// secrets' digests come from the application cache: the token endpoint reads nothing
    /// from the database.
    pub async fn authenticate_client(&self, client_id: &str, secret: &str) -> Result<Option<Application>> {
        let Some(entry) = self.cached_client(client_id).await? else {
            return Ok(None);
        };
        let digest = sha256(secret.as_bytes());
        let mut ok = false;
        for d in &entry.digests {
            ok |= ct_eq(d, &digest);
        }
        Ok(ok.then(|| entry.app.clone()))
    }

    /// The application `client_id` with the digests of its active secrets, from the
    /// database (one round trip).
    pub(in crate::service) async fn load_client(&self, client_id: &str) -> Result<Option<ClientEntry>> {
        let mut q = Query::select();
        q.from("applications")
            .columns(application::Column::iter().map(|c| ("applications", c.as_str())))
            .left_join(
                "client_secrets",
                Condition::all()
                    .add(Expr::col(("client_secrets", "application_id")).equals(("applications", "id")))
                    .add(Expr::col(("client_secrets", "revoked_at")).is_null()),
            )
            .and_where(Expr::col(("applications", "client_id")).eq(client_id));
        for c in client_secret::Column::iter() {
            q.expr_as(Expr::col(("client_secrets", c.as_str())), format!("s_{}", c.as_str()));
        }
        let rows = self.db.reader().query_all(&q).await?;
        let Some(first) = rows.first() else {
            return Ok(None);
        };
        let app = application::Model::from_query_result(first, "")?;
        let mut digests = Vec::new();
        let mut secrets = Vec::new();
        for row in &rows {
            if let Ok(s) = client_secret::Model::from_query_result(row, "s_") {
                digests.push(s.secret_hash.clone());
                secrets.push(to_secret(s));
            }
        }
        Ok(Some(ClientEntry { app: to_app(app, secrets), digests }))
    }
}

fn search_condition(search: Option<&str>) -> Result<Condition> {
    let mut cond = Condition::all();
    if let Some(kw) = search.map(str::trim).filter(|s| !s.is_empty()) {
        check_text("searchKeyword", kw)?;
        let pattern = format!("{}%", crate::service::admin::roles_groups::like_escape(&kw.to_lowercase()));
        cond = cond.add(
            Condition::any()
                .add(
                    Expr::expr(Func::lower(Expr::col(("applications", "name"))))
                        .like(LikeExpr::new(pattern.clone()).escape('\\')),
                )
                .add(Expr::col(("applications", "client_id")).like(LikeExpr::new(pattern).escape('\\'))),
        );
    }
    Ok(cond)
}

/// An application (OAuth client). Secrets appear only as hints.
#[derive(Debug, Clone)]
pub struct Application {
    /// ID.
    pub id: ApplicationId,
    /// OAuth `client_id`.
    pub client_id: String,
    /// Display name.
    pub name: String,
    /// Application type.
    pub kind: crate::domain::oauth::AppType,
    /// Allowed redirect URIs (exact match).
    pub redirect_uris: Vec<String>,
    /// Allowed post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Allowed grant types.
    pub grant_types: Vec<String>,
    /// Allowed CORS origins.
    pub allowed_origins: Vec<String>,
    /// Access token lifetime in seconds.
    pub access_token_lifetime: i64,
    /// Refresh token lifetime in seconds.
    pub refresh_token_lifetime: i64,
    /// Refresh token idle timeout in seconds.
    pub refresh_token_idle_timeout: i64,
    /// Rotate refresh tokens on use.
    pub refresh_token_rotation: bool,
    /// Access token signing algorithm.
    pub access_token_alg: String,
    /// ID token signing algorithm.
    pub id_token_alg: String,
    /// May introspect tokens issued to other clients; otherwise only its own.
    pub can_introspect_all_tokens: bool,
    /// Secrets, newest first (hints only).
    pub secrets: Vec<SecretInfo>,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

/// What can be shown of a client secret.
#[derive(Debug, Clone)]
pub struct SecretInfo {
    /// ID.
    pub id: ApplicationSecretId,
    /// Last four characters.
    pub hint: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// Revocation time; revoked secrets no longer authenticate.
    pub revoked_at: Option<OffsetDateTime>,
}
