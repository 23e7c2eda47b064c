//! Hook scripts: JavaScript/TypeScript handlers that run inside the server. A handler URL
//! `authgeardeno:///deno/<name>` runs the script `<name>` kept here (or the file of that
//! name in `hook.scripts_dir`).

use crate::graphql::date_time::DateTime;
use async_graphql::{Context, InputObject, Object, SimpleObject};

use super::context::{audit, services};
use super::scalars::HookValue;
use crate::service::admin::hook_scripts::HookScript as Script;

/// A hook script kept by the Admin API.
pub struct HookScript(pub Script);

/// A hook script kept by the Admin API: a handler URL `authgeardeno:///deno/<name>` runs it.
#[Object(requires_scopes = "hook:read", requires_scopes = "hook:write")]
impl HookScript {
    /// The script's name, as a handler URL gives it: `claims.ts` in
    /// `authgeardeno:///deno/claims.ts`.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// The TypeScript (`.ts`) or JavaScript (`.js`) source.
    async fn source(&self) -> &str {
        &self.0.source
    }
    /// When it was created.
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// Last change.
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// Hook script queries.
#[derive(Default)]
pub struct HookScriptQuery;

#[Object]
impl HookScriptQuery {
    /// Every hook script the Admin API keeps, by name (files of `hook.scripts_dir` are not
    /// listed). Needs `hook:read`.
    #[graphql(requires_scopes = "hook:read", requires_scopes = "hook:write")]
    async fn hook_scripts(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<HookScript>> {
        Ok(services(ctx)?.hook_scripts().list().await?.into_iter().map(HookScript).collect())
    }

    /// The hook script of this name, or null. Needs `hook:read`.
    #[graphql(requires_scopes = "hook:read", requires_scopes = "hook:write")]
    async fn hook_script(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The script's name, e.g. `claims.ts`.")] name: String,
    ) -> async_graphql::Result<Option<HookScript>> {
        Ok(services(ctx)?.hook_scripts().get(&name).await?.map(HookScript))
    }
}

/// Input of `createHookScript` and `updateHookScript`.
#[derive(InputObject)]
pub struct HookScriptInput {
    /// The script's name: letters, digits and dots ending in `.ts` (TypeScript) or `.js`
    /// (JavaScript), at most 128 characters.
    pub name: String,
    /// The source, at most 100 KiB. It must compile and `export default` a function that
    /// takes the event and returns the hook response (or a promise of it).
    pub source: String,
}

/// Input of `deleteHookScript`.
#[derive(InputObject)]
pub struct DeleteHookScriptInput {
    /// The script's name.
    pub name: String,
}

/// Input of `testHookScript`.
#[derive(InputObject)]
pub struct TestHookScriptInput {
    /// The script's name (an Admin API script, or a file of `hook.scripts_dir`).
    pub name: String,
    /// The event the script receives, e.g. `{"type": "user.pre_create", "payload": {…}}`.
    pub event: HookValue,
}

payload!(/// Result of `createHookScript`.
    CreateHookScriptPayload { /// The new script.
        hook_script: HookScript });
payload!(/// Result of `updateHookScript`.
    UpdateHookScriptPayload { /// The script after the change.
        hook_script: HookScript });
payload!(/// Result of `deleteHookScript`.
    DeleteHookScriptPayload { /// Always true.
        ok: bool });

/// What one trial run of a script gave.
#[derive(SimpleObject)]
pub struct TestHookScriptPayload {
    /// The script's result (`undefined` is null), when it finished.
    pub output: Option<HookValue>,
    /// Why it gave no result: it threw, timed out, ran out of memory, fetched a host not
    /// in `hook.script_allowed_hosts`, or returned something that is not JSON.
    pub error: Option<String>,
    /// What kind of failure `error` is: `TIMEOUT`, `OUT_OF_MEMORY`, `THROWN`,
    /// `NOT_A_FUNCTION`, `BAD_OUTPUT`, `SYNTAX`, `FETCH_REFUSED` or `UNAVAILABLE`.
    pub error_kind: Option<String>,
    /// How long the run took, in milliseconds.
    pub duration_ms: f64,
}

/// Hook script mutations.
#[derive(Default)]
pub struct HookScriptMutation;

#[Object]
impl HookScriptMutation {
    /// Saves a new hook script. A script that does not compile is refused with
    /// `BAD_USER_INPUT` naming the line and column. Needs `hook:write`.
    #[graphql(requires_scopes = "hook:write")]
    async fn create_hook_script(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The name and source.")] input: HookScriptInput,
    ) -> async_graphql::Result<CreateHookScriptPayload> {
        let s =
            services(ctx)?.hook_scripts().create(&audit(ctx, "create_hook_script"), &input.name, &input.source).await?;
        Ok(CreateHookScriptPayload { hook_script: HookScript(s) })
    }

    /// Replaces the source of a hook script; every process runs the new source within a
    /// second. Needs `hook:write`.
    #[graphql(requires_scopes = "hook:write")]
    async fn update_hook_script(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The name and new source.")] input: HookScriptInput,
    ) -> async_graphql::Result<UpdateHookScriptPayload> {
        let s =
            services(ctx)?.hook_scripts().update(&audit(ctx, "update_hook_script"), &input.name, &input.source).await?;
        Ok(UpdateHookScriptPayload { hook_script: HookScript(s) })
    }

    /// Deletes a hook script (handlers naming it then use a file of that name in
    /// `hook.scripts_dir`, if any). Needs `hook:write`.
    #[graphql(requires_scopes = "hook:write")]
    async fn delete_hook_script(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Which script.")] input: DeleteHookScriptInput,
    ) -> async_graphql::Result<DeleteHookScriptPayload> {
        services(ctx)?.hook_scripts().delete(&audit(ctx, "delete_hook_script"), &input.name).await?;
        Ok(DeleteHookScriptPayload { ok: true })
    }

    /// Runs a script on the given event, as a hook would, and reports its result or its
    /// failure: a dashboard's "try it". Changes nothing itself (the script may `fetch`).
    /// Needs `hook:write`.
    #[graphql(requires_scopes = "hook:write")]
    async fn test_hook_script(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The script and the event.")] input: TestHookScriptInput,
    ) -> async_graphql::Result<TestHookScriptPayload> {
        let trial = services(ctx)?.try_script(&input.name, &input.event.0).await?;
        Ok(TestHookScriptPayload {
            output: trial.output.map(HookValue),
            error_kind: trial.error.as_ref().map(|e| e.kind().to_owned()),
            error: trial.error.map(|e| e.to_string()),
            duration_ms: trial.duration.as_secs_f64() * 1000.0,
        })
    }
}
