//! Blocking events: the chain of `hook.blocking_handlers` of one event, run in config
//! order before the operation commits. A refusal, a timeout, a delivery error or an
//! invalid response fails the operation (the caller's transaction rolls back). Mutations
//! replace sub-objects and pass along the chain; they are validated once, by the caller,
//! when it applies them. No payload is built for an event without handlers
//! ([`Services::will_deliver`]).

use std::time::{Duration, Instant};

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, Set};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::config::HandlerTarget;
use crate::domain::reason;
use crate::hooks::blocking::{
    BotProtection, Constraints, HookResponse, UserMutations, apply_payload_mutation, parse_response,
};
use crate::hooks::webhook::CallError;
use crate::service::store::time::{micros, now};
use crate::service::{Actor, Error, HookFailure, HookReason, Result, Services};
use entity::{group, role, user, user_group, user_role};

/// What the chain decided, beyond "allowed".
#[derive(Debug, Clone, Default)]
pub(in crate::service) struct BlockingOutcome {
    /// The user mutations to apply (each present field replaces the user's).
    pub user: Option<UserMutations>,
    /// The token payload after the handlers' additions (JWT / ID-token events).
    pub token_payload: Option<Map<String, Value>>,
    /// The last `constraints` of the chain.
    pub constraints: Option<Constraints>,
    /// The last `bot_protection` of the chain.
    pub bot_protection: Option<BotProtection>,
    /// The last `rate_limits` of the chain.
    pub rate_limits: Option<Map<String, Value>>,
}

fn failed(event: &str, reason: &'static str, detail: impl Into<String>) -> Error {
    Error::Hook(Box::new(HookFailure::Failed { event_type: event.to_owned(), reason, detail: detail.into() }))
}

impl Services {
    /// Whether any handler listens to the blocking event `event_type`.
    pub(in crate::service) fn will_deliver(&self, event_type: &str) -> bool {
        self.config.hook.blocking_handlers.iter().any(|h| h.event == event_type)
    }

    /// Runs the handlers of `event_type` on `payload`. For `oidc.jwt.pre_create` and
    /// `oidc.id_token.pre_create` the payload carries the token at `jwt.payload` /
    /// `id_token.payload`, and the outcome's `token_payload` is the original with the
    /// claims the handlers added (removing or changing one fails with
    /// `InvalidJWTMutations`).
    pub(in crate::service) async fn run_blocking(
        &self,
        event_type: &'static str,
        user_id: Option<Uuid>,
        mut payload: Value,
        actor: &Actor,
    ) -> Result<BlockingOutcome> {
        let cfg = &self.config.hook;
        let per_call = Duration::from_secs(cfg.sync_hook_timeout_seconds);
        let deadline = Instant::now() + Duration::from_secs(cfg.sync_hook_total_timeout_seconds);
        let token_key = match event_type {
            "oidc.jwt.pre_create" => Some("jwt"),
            "oidc.id_token.pre_create" => Some("id_token"),
            _ => None,
        };
        let original_token =
            token_key.and_then(|k| payload.get(k)).and_then(|t| t.get("payload")).and_then(Value::as_object).cloned();
        let id = Uuid::now_v7();
        let mut out = BlockingOutcome::default();
        for handler in cfg.blocking_handlers.iter().filter(|h| h.event == event_type) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(failed(event_type, reason::HOOK_DELIVERY_TIMEOUT, "the chain's total time ran out"));
            }
            let envelope = json!({
                "id": id,
                "seq": 0,
                "type": event_type,
                "payload": payload,
                "context": {
                    "timestamp": now().unix_timestamp(),
                    "user_id": user_id,
                    "triggered_by": actor.triggered_by.as_str(),
                    "ip_address": actor.ip,
                    "user_agent": actor.user_agent,
                    "client_id": actor.client_id,
                    "preferred_languages": [],
                    "language": "en",
                },
            });
            let response = self.call_blocking(event_type, &handler.url, &envelope, per_call.min(left)).await?;
            if !response.is_allowed {
                return Err(Error::Hook(Box::new(HookFailure::Disallowed {
                    event_type: event_type.to_owned(),
                    reasons: vec![HookReason { title: response.title, reason: response.reason }],
                })));
            }
            if let Some(m) = response.mutations {
                if let Some(u) = m.user {
                    let acc = out.user.get_or_insert_with(UserMutations::default);
                    if !payload["user"].is_object() {
                        payload["user"] = json!({});
                    }
                    let user = &mut payload["user"];
                    if let Some(v) = u.standard_attributes {
                        user["standard_attributes"] = Value::Object(v.clone());
                        acc.standard_attributes = Some(v);
                    }
                    if let Some(v) = u.custom_attributes {
                        user["custom_attributes"] = Value::Object(v.clone());
                        acc.custom_attributes = Some(v);
                    }
                    if let Some(v) = u.roles {
                        user["roles"] = json!(v);
                        acc.roles = Some(v);
                    }
                    if let Some(v) = u.groups {
                        user["groups"] = json!(v);
                        acc.groups = Some(v);
                    }
                }
                let token = match token_key {
                    Some("jwt") => m.jwt,
                    Some(_) => m.id_token,
                    None => None,
                };
                if let (Some(key), Some(t)) = (token_key, token) {
                    payload[key]["payload"] = Value::Object(t.payload);
                }
            }
            if response.constraints.is_some() {
                out.constraints = response.constraints;
            }
            if response.bot_protection.is_some() {
                out.bot_protection = response.bot_protection;
            }
            if response.rate_limits.is_some() {
                out.rate_limits = response.rate_limits;
            }
        }
        if let (Some(key), Some(original)) = (token_key, original_token) {
            let last = payload[key]["payload"].as_object().cloned().unwrap_or_default();
            let merged = apply_payload_mutation(&original, last).map_err(|v| {
                Error::Hook(Box::new(HookFailure::InvalidJwtMutations { removed: v.removed, changed: v.changed }))
            })?;
            out.token_payload = Some(merged);
        }
        Ok(out)
    }

    /// One handler: an HTTP `POST` signed like a webhook, or a script.
    async fn call_blocking(
        &self,
        event_type: &str,
        url: &str,
        envelope: &Value,
        timeout: Duration,
    ) -> Result<HookResponse> {
        let body = serde_json::to_vec(envelope).map_err(|e| Error::caused("encoding a hook event", e))?;
        let answer = match HandlerTarget::parse(url) {
            Ok(HandlerTarget::Http(u)) => match self.hook_client.post(&u, &body, timeout).await {
                Ok(reply) if (200..300).contains(&reply.status) => reply.body,
                Ok(reply) => {
                    return Err(failed(event_type, reason::HOOK_DELIVERY_FAILED, format!("HTTP {}", reply.status)));
                }
                Err(CallError::Timeout) => {
                    return Err(failed(
                        event_type,
                        reason::HOOK_DELIVERY_TIMEOUT,
                        format!("no answer within {timeout:?}"),
                    ));
                }
                Err(CallError::Transport(e)) => return Err(failed(event_type, reason::HOOK_DELIVERY_FAILED, e)),
            },
            Ok(HandlerTarget::Script(name)) => self.script_answer(event_type, &name, envelope, timeout).await?,
            Err(e) => return Err(failed(event_type, reason::HOOK_DELIVERY_FAILED, e)),
        };
        parse_response(event_type, &answer).map_err(|e| failed(event_type, reason::HOOK_INVALID_RESPONSE, e))
    }

    /// A script handler's answer, as JSON bytes. The script's own deadline is
    /// `hook.sync_hook_timeout_seconds`; the chain's remaining time bounds it too.
    async fn script_answer(
        &self,
        event_type: &str,
        name: &str,
        envelope: &Value,
        timeout: Duration,
    ) -> Result<Vec<u8>> {
        use super::scripts::ScriptFailure;
        let run = self.run_script_handler(name, envelope);
        let out = match tokio::time::timeout(timeout, run).await {
            Err(_) | Ok(Err(ScriptFailure::Timeout)) => {
                return Err(failed(event_type, reason::HOOK_DELIVERY_TIMEOUT, format!("script {name} timed out")));
            }
            Ok(Err(ScriptFailure::BadOutput(e))) => {
                return Err(failed(event_type, reason::HOOK_INVALID_RESPONSE, format!("script {name}: {e}")));
            }
            Ok(Err(e)) => return Err(failed(event_type, reason::HOOK_DELIVERY_FAILED, format!("script {name}: {e}"))),
            Ok(Ok(v)) => v,
        };
        serde_json::to_vec(&out).map_err(|e| Error::caused("encoding a script's answer", e))
    }
}

/// Applies a chain's user mutations to `row` in the transaction: standard attributes
/// (validated, and `email` / `phone_number` / `preferred_username` must be the user's own
/// login IDs), custom attributes (validated against the config), and the direct roles
/// and groups by key (every key must exist). Returns the updated row.
pub(in crate::service) async fn apply_user_mutations(
    conn: &impl ConnectionTrait,
    services: &Services,
    row: user::Model,
    m: &UserMutations,
) -> Result<user::Model> {
    let bad = |what: String| Error::invalid(reason::HOOK_INVALID_RESPONSE, what);
    let mut am = row.clone().into_active_model();
    if let Some(std) = &m.standard_attributes {
        let std = crate::domain::attributes::validate_standard(&Value::Object(std.clone()))
            .map_err(|e| bad(format!("mutations.user.standard_attributes: {}", e.message)))?;
        am.standard_attributes = Set(crate::service::admin::users::merge_standard(conn, &row, std).await?);
    }
    if let Some(custom) = &m.custom_attributes {
        let custom = crate::domain::attributes::validate_custom(
            &services.config.custom_attributes,
            &Value::Object(custom.clone()),
        )
        .map_err(|e| bad(format!("mutations.user.custom_attributes: {}", e.message)))?;
        am.custom_attributes = Set(Value::Object(custom));
    }
    am.updated_at = Set(micros(now()));
    let row = am.update(conn).await?;
    let at = micros(now());
    if let Some(keys) = &m.roles {
        let ids = ids_by_key::<role::Entity>(conn, keys, "roles").await?;
        user_role::Entity::delete_many().filter(Expr::col(user_role::Column::UserId).eq(row.id)).exec(conn).await?;
        if !ids.is_empty() {
            let links = ids.into_iter().map(|role_id| user_role::ActiveModel {
                user_id: Set(row.id),
                role_id: Set(role_id),
                created_at: Set(at),
            });
            user_role::Entity::insert_many(links).exec(conn).await?;
        }
    }
    if let Some(keys) = &m.groups {
        let ids = ids_by_key::<group::Entity>(conn, keys, "groups").await?;
        user_group::Entity::delete_many().filter(Expr::col(user_group::Column::UserId).eq(row.id)).exec(conn).await?;
        if !ids.is_empty() {
            let links = ids.into_iter().map(|group_id| user_group::ActiveModel {
                user_id: Set(row.id),
                group_id: Set(group_id),
                created_at: Set(at),
            });
            user_group::Entity::insert_many(links).exec(conn).await?;
        }
    }
    crate::service::admin::user_rows::refresh_derived(conn, row).await
}

/// The IDs of the roles or groups with these keys; an unknown key fails.
async fn ids_by_key<E>(conn: &impl ConnectionTrait, keys: &[String], what: &str) -> Result<Vec<Uuid>>
where
    E: EntityTrait,
    E::Model: KeyAndId,
{
    let mut wanted: Vec<String> = keys.to_vec();
    wanted.sort();
    wanted.dedup();
    if wanted.len() > 100 {
        return Err(Error::invalid(reason::HOOK_INVALID_RESPONSE, format!("mutations.user.{what}: at most 100 keys")));
    }
    let rows =
        E::find().filter(Expr::col(sea_orm::sea_query::Alias::new("key")).is_in(wanted.clone())).all(conn).await?;
    if let Some(missing) = wanted.iter().find(|k| !rows.iter().any(|r| r.key() == k.as_str())) {
        return Err(Error::invalid(
            reason::HOOK_INVALID_RESPONSE,
            format!("mutations.user.{what}: no {} with key `{missing}`", &what[..what.len() - 1]),
        ));
    }
    Ok(rows.iter().map(KeyAndId::id).collect())
}

/// A row with a key and an ID (roles and groups).
trait KeyAndId {
    fn key(&self) -> &str;
    fn id(&self) -> Uuid;
}

impl KeyAndId for role::Model {
    fn key(&self) -> &str {
        &self.key
    }
    fn id(&self) -> Uuid {
        self.id
    }
}

impl KeyAndId for group::Model {
    fn key(&self) -> &str {
        &self.key
    }
    fn id(&self) -> Uuid {
        self.id
    }
}

impl Services {
    /// `user.pre_create` for a user being created in `conn` (its identities already
    /// inserted): refuses, or applies the handlers' user mutations. Nothing when no
    /// handler listens.
    pub(in crate::service) async fn pre_create_hook(
        &self,
        conn: &impl ConnectionTrait,
        row: user::Model,
        actor: &Actor,
    ) -> Result<user::Model> {
        self.user_hook(conn, "user.pre_create", row, actor, true).await
    }

    /// `user.profile.pre_update` for a user whose attributes `conn` has just changed.
    pub(in crate::service) async fn pre_update_hook(
        &self,
        conn: &impl ConnectionTrait,
        row: user::Model,
        actor: &Actor,
    ) -> Result<user::Model> {
        self.user_hook(conn, "user.profile.pre_update", row, actor, false).await
    }

    pub(in crate::service) async fn user_hook(
        &self,
        conn: &impl ConnectionTrait,
        event: &'static str,
        row: user::Model,
        actor: &Actor,
        with_identities: bool,
    ) -> Result<user::Model> {
        if !self.will_deliver(event) {
            return Ok(row);
        }
        let mut payload = json!({"user": super::user_model::model_of(conn, &row).await?});
        if with_identities {
            payload["identities"] = json!(super::user_model::api_identities(conn, row.id, &[]).await?);
        }
        let outcome = self.run_blocking(event, Some(row.id), payload, actor).await?;
        match &outcome.user {
            Some(m) => apply_user_mutations(conn, self, row, m).await,
            None => Ok(row),
        }
    }
}
