//! Per-request context: who is calling, from where, and the runtime scope check of `node`.

use crate::domain::reason;
use crate::graphql::error::code;
use async_graphql::{Context, ErrorExtensions};

use crate::domain::scope::AdminScope;
use crate::service::{Actor, Audit, Services, TriggeredBy};

/// The authenticated caller of the Admin API.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Token subject.
    pub subject: String,
    /// The Admin API scopes the token grants (any other scope in it grants nothing here).
    pub scopes: Vec<AdminScope>,
    /// OAuth client the token was issued to, if any.
    pub client_id: Option<String>,
}

/// Where the request came from.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
}

/// Fails with `FORBIDDEN` unless the caller has `scope`.
pub fn check_scope(ctx: &Context<'_>, scope: AdminScope) -> async_graphql::Result<()> {
    match ctx.data_opt::<Principal>() {
        Some(p) if p.scopes.contains(&scope) => Ok(()),
        Some(_) => Err(async_graphql::Error::new(format!("this operation requires the scope `{scope}`")).extend_with(
            |_, e| {
                e.set("code", code::FORBIDDEN);
                e.set("errorName", "Forbidden");
                e.set("reason", reason::INSUFFICIENT_SCOPE);
                e.set(
                    "info",
                    async_graphql::Value::from_json(serde_json::json!({"scope": scope.as_str()})).unwrap_or_default(),
                );
            },
        )),
        None => Err(async_graphql::Error::new("authentication required").extend_with(|_, e| {
            e.set("code", code::UNAUTHENTICATED);
            e.set("errorName", "Unauthenticated");
        })),
    }
}

/// The caller's scopes, which bound what it may grant (see `service::escalation`).
pub fn held<'a>(ctx: &Context<'a>) -> &'a [AdminScope] {
    ctx.data_opt::<Principal>().map(|p| p.scopes.as_slice()).unwrap_or_default()
}

/// The services.
pub fn services<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a Services> {
    ctx.data::<Services>()
}

/// The audit record of a mutation called `name` (snake_case) by this caller.
pub fn audit(ctx: &Context<'_>, name: &str) -> Audit {
    let principal = ctx.data_opt::<Principal>();
    let meta = ctx.data_opt::<RequestMeta>().cloned().unwrap_or_default();
    Audit::admin_mutation(
        Actor {
            subject: principal.map(|p| p.subject.clone()),
            ip: meta.ip,
            user_agent: meta.user_agent,
            client_id: principal.and_then(|p| p.client_id.clone()),
            triggered_by: TriggeredBy::AdminApi,
        },
        name,
    )
}
