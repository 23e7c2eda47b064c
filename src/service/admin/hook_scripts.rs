//! Hook scripts managed through the Admin API: create, update, delete, list, get. A script
//! is saved only if it compiles (TypeScript or JavaScript by its name) and has a default
//! export; the refusal names the line and column. Each change bumps the `hook_scripts`
//! change generation, so every process drops its cached copy within a second.

use std::sync::Arc;

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, Set};
use serde_json::json;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::config::is_script_name;
use crate::domain::reason;
use crate::domain::text::quoted;
use crate::hooks::script;
use crate::service::store::changes::{self, Area};
use crate::service::store::time::{micros, now, time_of};
use crate::service::{Audit, Error, HookScripts, Result, conflict_on_unique};
use entity::hook_script;

/// Most bytes of a script's source.
pub const MAX_SOURCE_BYTES: usize = 100 * 1024;

/// A hook script.
#[derive(Debug, Clone)]
pub struct HookScript {
    /// The name handler URLs give (`claims.ts` in `authgeardeno:///deno/claims.ts`).
    pub name: String,
    /// The TypeScript or JavaScript source.
    pub source: Arc<str>,
    /// When it was created.
    pub created_at: OffsetDateTime,
    /// Last change.
    pub updated_at: OffsetDateTime,
}

impl From<hook_script::Model> for HookScript {
    fn from(m: hook_script::Model) -> Self {
        Self {
            name: m.name,
            source: m.source.into(),
            created_at: time_of(m.created_at),
            updated_at: time_of(m.updated_at),
        }
    }
}

fn check_name(name: &str) -> Result<()> {
    if is_script_name(name) {
        Ok(())
    } else {
        Err(Error::invalid(
            reason::INVALID_SCRIPT_NAME,
            "a script name is at most 128 letters, digits and dots, ending in `.ts` or `.js` (e.g. `claims.ts`)",
        ))
    }
}

/// Refuses a source that is too large, holds NUL, or does not compile.
fn check_source(name: &str, source: &str) -> Result<()> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(Error::invalid(
            reason::INVALID_SCRIPT,
            format!("a script may have at most {MAX_SOURCE_BYTES} bytes; this one has {}", source.len()),
        ));
    }
    if source.contains('\0') {
        return Err(Error::invalid(reason::INVALID_CHARACTER, "a script may not contain the NUL character"));
    }
    script::check(name, source).map_err(|e| {
        Error::invalid(
            reason::INVALID_SCRIPT,
            format!("{} does not compile: line {}, column {}: {}", quoted(name), e.line, e.column, e.message),
        )
    })
}

async fn script_row(conn: &impl ConnectionTrait, name: &str) -> Result<hook_script::Model> {
    hook_script::Entity::find().filter(Expr::col(hook_script::Column::Name).eq(name)).one(conn).await?.ok_or_else(
        || Error::not_found(reason::HOOK_SCRIPT_NOT_FOUND, format!("no hook script is named {}", quoted(name))),
    )
}

impl HookScripts<'_> {
    /// Saves a new script.
    pub async fn create(&self, audit: &Audit, name: &str, source: &str) -> Result<HookScript> {
        check_name(name)?;
        check_source(name, source)?;
        let t = micros(now());
        let row = self
            .write(async |tx| {
                let txn = tx.conn();
                let row = hook_script::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    name: Set(name.to_owned()),
                    source: Set(source.to_owned()),
                    created_at: Set(t),
                    updated_at: Set(t),
                }
                .insert(txn)
                .await
                .map_err(|e| {
                    conflict_on_unique(
                        e,
                        reason::DUPLICATED_HOOK_SCRIPT,
                        format!("a hook script {} exists", quoted(name)),
                    )
                })?;
                changes::bump(txn, Area::HookScripts).await?;
                tx.record(audit, None, json!({"script_name": name, "source_bytes": source.len()})).await?;
                Ok::<_, Error>(row)
            })
            .await?;
        self.scripts.forget();
        Ok(row.into())
    }

    /// Replaces a script's source.
    pub async fn update(&self, audit: &Audit, name: &str, source: &str) -> Result<HookScript> {
        check_name(name)?;
        check_source(name, source)?;
        let row = self
            .write(async |tx| {
                let txn = tx.conn();
                let mut am = script_row(txn, name).await?.into_active_model();
                am.source = Set(source.to_owned());
                am.updated_at = Set(micros(now()));
                let row = am.update(txn).await?;
                changes::bump(txn, Area::HookScripts).await?;
                tx.record(audit, None, json!({"script_name": name, "source_bytes": source.len()})).await?;
                Ok::<_, Error>(row)
            })
            .await?;
        self.scripts.forget();
        Ok(row.into())
    }

    /// Deletes a script. Handlers that name it fall back to a file of that name in
    /// `hook.scripts_dir`, if there is one.
    pub async fn delete(&self, audit: &Audit, name: &str) -> Result<()> {
        check_name(name)?;
        self.write(async |tx| {
            let txn = tx.conn();
            let row = script_row(txn, name).await?;
            hook_script::Entity::delete_by_id(row.id).exec(txn).await?;
            changes::bump(txn, Area::HookScripts).await?;
            tx.record(audit, None, json!({"script_name": name})).await?;
            Ok::<_, Error>(())
        })
        .await?;
        self.scripts.forget();
        Ok(())
    }

    /// Every script the Admin API holds, by name.
    pub async fn list(&self) -> Result<Vec<HookScript>> {
        let rows = hook_script::Entity::find().order_by_asc(hook_script::Column::Name).all(&self.db.reader()).await?;
        Ok(rows.into_iter().map(HookScript::from).collect())
    }

    /// The script named `name`, if the Admin API holds one.
    pub async fn get(&self, name: &str) -> Result<Option<HookScript>> {
        if !is_script_name(name) {
            return Ok(None);
        }
        let row = hook_script::Entity::find()
            .filter(Expr::col(hook_script::Column::Name).eq(name))
            .one(&self.db.reader())
            .await?;
        Ok(row.map(HookScript::from))
    }
}
