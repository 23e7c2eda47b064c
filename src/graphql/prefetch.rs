//! Nested lists read together with the page that holds them.
//!
//! A page of users that selects each user's roles or groups would otherwise load them
//! through the request's DataLoader: a spawned task, a batch timer on async-graphql's own
//! timer thread, and a wake-up of the request when the batch is in. The `users` resolver
//! looks ahead at its selection instead and reads those lists right after the page; each
//! user's field then takes its list from here. A field finds nothing here (another query,
//! a second alias of the same field) and falls back to the DataLoader.

use std::collections::HashMap;
use std::sync::Mutex;

use async_graphql::Context;
use uuid::Uuid;

use crate::graphql::context::services;
use crate::graphql::loaders::KeyedOf;
use crate::service::admin::lookups::Owner;
use crate::service::admin::roles_groups::Keyed;

/// The lists read ahead in one request, each taken once.
#[derive(Default)]
pub struct Prefetched(Mutex<HashMap<KeyedOf, Vec<Keyed>>>);

impl Prefetched {
    /// The list read ahead for `key`, if any; it is handed out once.
    pub fn take(ctx: &Context<'_>, key: KeyedOf) -> Option<Vec<Keyed>> {
        let this = ctx.data_opt::<Prefetched>()?;
        this.0.lock().ok()?.remove(&key)
    }

    /// Runs `f` with the lists read ahead so far (none if this request keeps none), without
    /// handing them out.
    pub fn with<R>(ctx: &Context<'_>, f: impl FnOnce(Option<&HashMap<KeyedOf, Vec<Keyed>>>) -> R) -> R {
        let this = ctx.data_opt::<Prefetched>();
        let map = this.and_then(|p| p.0.lock().ok());
        f(map.as_deref())
    }

    /// Reads the lists of each of `owners` of every one of `ids` (an empty one for an owner
    /// with none), together.
    async fn read(&self, ctx: &Context<'_>, owners: &[Owner], ids: &[Uuid]) -> async_graphql::Result<()> {
        let found = services(ctx)?.lookups().keyed_by_owners(owners, ids).await?;
        let Ok(mut map) = self.0.lock() else { return Ok(()) };
        for (owner, mut lists) in owners.iter().zip(found) {
            for id in ids {
                map.insert(KeyedOf(*owner, *id), lists.remove(id).unwrap_or_default());
            }
        }
        Ok(())
    }
}

/// For a page of users (`ids`) resolved by the current field, reads the roles and the
/// groups of all of them if the field's selection asks for them in `edges { node }` or
/// `nodes`.
pub async fn users_keyed(ctx: &Context<'_>, ids: &[Uuid]) -> async_graphql::Result<()> {
    let Some(this) = ctx.data_opt::<Prefetched>() else { return Ok(()) };
    if ids.is_empty() {
        return Ok(());
    }
    let look = ctx.look_ahead();
    let nodes = [look.field("edges").field("node"), look.field("nodes")];
    let asked: Vec<Owner> = [("roles", Owner::UserRoles), ("groups", Owner::UserGroups)]
        .into_iter()
        .filter(|(field, _)| nodes.iter().any(|n| n.field(field).exists()))
        .map(|(_, owner)| owner)
        .collect();
    if !asked.is_empty() {
        this.read(ctx, &asked, ids).await?;
    }
    Ok(())
}
