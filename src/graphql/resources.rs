//! API resources and their scopes (Authgear's names), and which applications may get
//! tokens for them.

use crate::graphql::date_time::DateTime;
use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, ID, InputObject, Object};

use super::connection::{Conn, CountSource, args, to_conn};
use super::context::{audit, held, services};
use super::loaders::{AppLoader, ClientIdsOf};
use super::node::encode;
use crate::service::admin::resources::ResourceFilter;
use crate::service::admin::resources::ScopeFilter;
use crate::service::admin::resources::ScopeOp;

/// An API resource: tokens for it carry its URI as `aud`.
#[derive(Clone)]
pub struct Resource(pub crate::service::admin::resources::Resource);

/// An API resource: tokens for it carry its URI as `aud`.
#[Object(requires_scopes = "resource:read", requires_scopes = "resource:write")]
impl Resource {
    /// The global ID of the resource.
    pub async fn id(&self) -> ID {
        encode(self.0.id)
    }
    /// The resource URI (RFC 8707 resource indicator).
    #[graphql(name = "resourceURI")]
    async fn resource_uri(&self) -> &str {
        &self.0.uri
    }
    /// Display name.
    async fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }
    /// Whether this is the built-in Admin API resource (its scopes are fixed).
    async fn is_builtin(&self) -> bool {
        self.0.builtin
    }
    /// Client IDs of the applications that may get tokens for this resource.
    #[graphql(name = "clientIDs")]
    async fn client_ids(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<String>> {
        Ok(ctx.data::<DataLoader<AppLoader>>()?.load_one(ClientIdsOf(self.0.id)).await?.unwrap_or_default())
    }
    /// Scopes of the resource, by name; with `clientID`, only those granted to that
    /// application.
    #[allow(clippy::too_many_arguments)]
    #[graphql(complexity = "super::connection::page_complexity(first, last, child_complexity)", tag = "db_count")]
    async fn scopes(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "clientID", desc = "Only scopes granted to this application.")] client_id: Option<String>,
        #[graphql(desc = "Prefix of the scope name.")] search_keyword: Option<String>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Scope>> {
        let svc = services(ctx)?;
        let client = match client_id {
            Some(c) => Some(svc.resources().application_id(&c).await?),
            None => None,
        };
        let f = ScopeFilter { resource_id: self.0.id, client_id: client, search: search_keyword };
        let page = svc.resources().list_scopes(&f, &args(first, after, last, before)).await?;
        Ok(to_conn(page, CountSource::Scopes(f), Scope))
    }
    /// When the resource was created.
    pub async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the resource was last changed.
    pub async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// A scope of a resource.
#[derive(Clone)]
pub struct Scope(pub crate::service::admin::resources::Scope);

/// A scope of a resource.
#[Object(requires_scopes = "resource:read", requires_scopes = "resource:write")]
impl Scope {
    /// The global ID of the scope.
    pub async fn id(&self) -> ID {
        encode(self.0.id)
    }
    /// The global ID of its resource.
    #[graphql(name = "resourceID")]
    async fn resource_id(&self) -> ID {
        encode(self.0.resource_id)
    }
    /// The scope token, e.g. `read:orders`.
    async fn scope(&self) -> &str {
        &self.0.scope
    }
    /// Description.
    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }
    /// When the scope was created.
    pub async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the scope was last changed.
    pub async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// Resource queries.
#[derive(Default)]
pub struct ResourceQuery;

#[Object]
impl ResourceQuery {
    /// Lists resources by URI; with `clientID`, those the application may get tokens
    /// for. The keyword matches a prefix of the URI or name. Needs `resource:read`.
    #[graphql(
        requires_scopes = "resource:read",
        complexity = "super::connection::page_complexity(first, last, child_complexity)",
        tag = "db_count"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn resources(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "clientID", desc = "Only resources linked to this application.")] client_id: Option<String>,
        #[graphql(desc = "Search keyword.")] search_keyword: Option<String>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100, default 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Resource>> {
        let svc = services(ctx)?;
        let client = match client_id {
            Some(c) => Some(svc.resources().application_id(&c).await?),
            None => None,
        };
        let f = ResourceFilter { client_id: client, search: search_keyword };
        let page = svc.resources().list(&f, &args(first, after, last, before)).await?;
        Ok(to_conn(page, CountSource::Resources(f), Resource))
    }
}

/// Input of `createResource`.
#[derive(InputObject)]
pub struct CreateResourceInput {
    /// An absolute URI without fragment, e.g. `https://api.example.com`.
    #[graphql(name = "resourceURI")]
    pub resource_uri: String,
    /// Display name.
    pub name: Option<String>,
}

/// Input of `updateResource`.
#[derive(InputObject)]
pub struct UpdateResourceInput {
    /// The resource.
    #[graphql(name = "resourceURI")]
    pub resource_uri: String,
    /// New display name; empty or null clears it.
    pub name: Option<String>,
}

/// Input of `deleteResource`.
#[derive(InputObject)]
pub struct DeleteResourceInput {
    /// The resource; its scopes and grants go too.
    #[graphql(name = "resourceURI")]
    pub resource_uri: String,
}

/// Input of `createScope`.
#[derive(InputObject)]
pub struct CreateScopeInput {
    /// The resource.
    #[graphql(name = "resourceURI")]
    pub resource_uri: String,
    /// The scope token (RFC 6749: printable ASCII without spaces, `"` or `\`).
    pub scope: String,
    /// Description.
    pub description: Option<String>,
}

/// Input of `updateScope`.
#[derive(InputObject)]
pub struct UpdateScopeInput {
    /// The resource.
    #[graphql(name = "resourceURI")]
    pub resource_uri: String,
    /// The scope.
    pub scope: String,
    /// New description; empty or null clears it.
    pub description: Option<String>,
}

/// Input of `deleteScope`.
#[derive(InputObject)]
pub struct DeleteScopeInput {
    /// The resource.
    #[graphql(name = "resourceURI")]
    pub resource_uri: String,
    /// The scope; its grants go too.
    pub scope: String,
}

/// Input of `addResourceToClientID`.
#[derive(InputObject)]
pub struct AddResourceToClientIDInput {
    /// The resource.
    #[graphql(name = "resourceURI")]
    pub resource_uri: String,
    /// The application.
    #[graphql(name = "clientID")]
    pub client_id: String,
}

/// Input of `removeResourceFromClientID`.
#[derive(InputObject)]
pub struct RemoveResourceFromClientIDInput {
    /// The resource.
    #[graphql(name = "resourceURI")]
    pub resource_uri: String,
    /// The application; it also loses the resource's scopes.
    #[graphql(name = "clientID")]
    pub client_id: String,
}

macro_rules! scopes_input {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(InputObject)]
        pub struct $name {
            /// The resource.
            #[graphql(name = "resourceURI")]
            pub resource_uri: String,
            /// The application; the resource must be linked to it.
            #[graphql(name = "clientID")]
            pub client_id: String,
            /// Scope tokens of the resource.
            pub scopes: Vec<String>,
        }
    };
}

scopes_input!(/// Input of `addScopesToClientID`.
    AddScopesToClientIDInput);
scopes_input!(/// Input of `removeScopesFromClientID`.
    RemoveScopesFromClientIDInput);
scopes_input!(/// Input of `replaceScopesOfClientID`.
    ReplaceScopesOfClientIDInput);

payload!(/// Result of `createResource`.
    CreateResourcePayload { /// The new resource.
        resource: Resource });
payload!(/// Result of `updateResource`.
    UpdateResourcePayload { /// The resource after the change.
        resource: Resource });
payload!(/// Result of `deleteResource`.
    DeleteResourcePayload { /// Always true.
        ok: bool });
payload!(/// Result of `createScope`.
    CreateScopePayload { /// The new scope.
        scope: Scope });
payload!(/// Result of `updateScope`.
    UpdateScopePayload { /// The scope after the change.
        scope: Scope });
payload!(/// Result of `deleteScope`.
    DeleteScopePayload { /// Always true.
        ok: bool });
payload!(/// Result of `addResourceToClientID`.
    AddResourceToClientIDPayload { /// The resource.
        resource: Resource });
payload!(/// Result of `removeResourceFromClientID`.
    RemoveResourceFromClientIDPayload { /// The resource.
        resource: Resource });
payload!(/// Result of `addScopesToClientID`.
    AddScopesToClientIDPayload { /// The application's scopes on the resource after the change.
        scopes: Vec<Scope> });
payload!(/// Result of `removeScopesFromClientID`.
    RemoveScopesFromClientIDPayload { /// The application's scopes on the resource after the change.
        scopes: Vec<Scope> });
payload!(/// Result of `replaceScopesOfClientID`.
    ReplaceScopesOfClientIDPayload { /// The application's scopes on the resource after the change.
        scopes: Vec<Scope> });

/// Resource mutations; each needs `resource:write` and is audited.
#[derive(Default)]
pub struct ResourceMutation;

#[Object]
impl ResourceMutation {
    /// Creates an API resource.
    #[graphql(requires_scopes = "resource:write")]
    async fn create_resource(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new resource.")] input: CreateResourceInput,
    ) -> async_graphql::Result<CreateResourcePayload> {
        let r =
            services(ctx)?.resources().create(&audit(ctx, "create_resource"), &input.resource_uri, input.name).await?;
        Ok(CreateResourcePayload { resource: Resource(r) })
    }

    /// Renames an API resource.
    #[graphql(requires_scopes = "resource:write")]
    async fn update_resource(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change.")] input: UpdateResourceInput,
    ) -> async_graphql::Result<UpdateResourcePayload> {
        let r =
            services(ctx)?.resources().update(&audit(ctx, "update_resource"), &input.resource_uri, input.name).await?;
        Ok(UpdateResourcePayload { resource: Resource(r) })
    }

    /// Deletes an API resource with its scopes and grants (never the built-in one).
    #[graphql(requires_scopes = "resource:write")]
    async fn delete_resource(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The resource to delete.")] input: DeleteResourceInput,
    ) -> async_graphql::Result<DeleteResourcePayload> {
        services(ctx)?.resources().delete(&audit(ctx, "delete_resource"), &input.resource_uri).await?;
        Ok(DeleteResourcePayload { ok: true })
    }

    /// Adds a scope to a resource.
    #[graphql(requires_scopes = "resource:write")]
    async fn create_scope(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new scope.")] input: CreateScopeInput,
    ) -> async_graphql::Result<CreateScopePayload> {
        let s = services(ctx)?
            .resources()
            .create_scope(&audit(ctx, "create_scope"), &input.resource_uri, &input.scope, input.description)
            .await?;
        Ok(CreateScopePayload { scope: Scope(s) })
    }

    /// Changes a scope's description.
    #[graphql(requires_scopes = "resource:write")]
    async fn update_scope(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change.")] input: UpdateScopeInput,
    ) -> async_graphql::Result<UpdateScopePayload> {
        let s = services(ctx)?
            .resources()
            .update_scope(&audit(ctx, "update_scope"), &input.resource_uri, &input.scope, input.description)
            .await?;
        Ok(UpdateScopePayload { scope: Scope(s) })
    }

    /// Deletes a scope and its grants.
    #[graphql(requires_scopes = "resource:write")]
    async fn delete_scope(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The scope to delete.")] input: DeleteScopeInput,
    ) -> async_graphql::Result<DeleteScopePayload> {
        services(ctx)?.resources().delete_scope(&audit(ctx, "delete_scope"), &input.resource_uri, &input.scope).await?;
        Ok(DeleteScopePayload { ok: true })
    }

    /// Lets an application get tokens for a resource.
    #[graphql(name = "addResourceToClientID", requires_scopes = "resource:write")]
    async fn add_resource_to_client_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Resource and application.")] input: AddResourceToClientIDInput,
    ) -> async_graphql::Result<AddResourceToClientIDPayload> {
        let r = services(ctx)?
            .resources()
            .link_resource(
                &audit(ctx, "add_resource_to_clientid"),
                held(ctx),
                &input.resource_uri,
                &input.client_id,
                true,
            )
            .await?;
        Ok(AddResourceToClientIDPayload { resource: Resource(r) })
    }

    /// Stops an application getting tokens for a resource (its scopes on it go too).
    #[graphql(name = "removeResourceFromClientID", requires_scopes = "resource:write")]
    async fn remove_resource_from_client_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Resource and application.")] input: RemoveResourceFromClientIDInput,
    ) -> async_graphql::Result<RemoveResourceFromClientIDPayload> {
        let r = services(ctx)?
            .resources()
            .link_resource(
                &audit(ctx, "remove_resource_from_clientid"),
                held(ctx),
                &input.resource_uri,
                &input.client_id,
                false,
            )
            .await?;
        Ok(RemoveResourceFromClientIDPayload { resource: Resource(r) })
    }

    /// Grants scopes of a resource to an application.
    #[graphql(name = "addScopesToClientID", requires_scopes = "resource:write")]
    async fn add_scopes_to_client_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Resource, application and scopes.")] input: AddScopesToClientIDInput,
    ) -> async_graphql::Result<AddScopesToClientIDPayload> {
        let s = services(ctx)?
            .resources()
            .change_client_scopes(
                &audit(ctx, "add_scopes_to_clientid"),
                held(ctx),
                &input.resource_uri,
                &input.client_id,
                &input.scopes,
                ScopeOp::Add,
            )
            .await?;
        Ok(AddScopesToClientIDPayload { scopes: s.into_iter().map(Scope).collect() })
    }

    /// Revokes scopes of a resource from an application.
    #[graphql(name = "removeScopesFromClientID", requires_scopes = "resource:write")]
    async fn remove_scopes_from_client_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Resource, application and scopes.")] input: RemoveScopesFromClientIDInput,
    ) -> async_graphql::Result<RemoveScopesFromClientIDPayload> {
        let s = services(ctx)?
            .resources()
            .change_client_scopes(
                &audit(ctx, "remove_scopes_from_clientid"),
                held(ctx),
                &input.resource_uri,
                &input.client_id,
                &input.scopes,
                ScopeOp::Remove,
            )
            .await?;
        Ok(RemoveScopesFromClientIDPayload { scopes: s.into_iter().map(Scope).collect() })
    }

    /// Sets exactly which scopes of a resource an application has.
    #[graphql(name = "replaceScopesOfClientID", requires_scopes = "resource:write")]
    async fn replace_scopes_of_client_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Resource, application and scopes.")] input: ReplaceScopesOfClientIDInput,
    ) -> async_graphql::Result<ReplaceScopesOfClientIDPayload> {
        let s = services(ctx)?
            .resources()
            .change_client_scopes(
                &audit(ctx, "replace_scopes_of_clientid"),
                held(ctx),
                &input.resource_uri,
                &input.client_id,
                &input.scopes,
                ScopeOp::Replace,
            )
            .await?;
        Ok(ReplaceScopesOfClientIDPayload { scopes: s.into_iter().map(Scope).collect() })
    }
}
