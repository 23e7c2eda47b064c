//! The Admin API schema. Each area has its own query and mutation object, merged here.

/// A mutation payload with one field: `payload!(/// doc Name { /// field doc field: Type })`.
/// Without a field doc, the field is described as the object after the change.
macro_rules! payload {
    ($(#[$doc:meta])* $name:ident { $(#[$fdoc:meta])+ $field:ident : $ty:ty }) => {
        $(#[$doc])*
        #[derive(async_graphql::SimpleObject)]
        pub struct $name {
            $(#[$fdoc])+
            pub $field: $ty,
        }
    };
    ($(#[$doc:meta])* $name:ident { $field:ident : $ty:ty }) => {
        payload!($(#[$doc])* $name { /// The object after the change.
            $field: $ty });
    };
}

pub mod applications;
pub mod audit;
pub mod authenticators;
pub mod connection;
pub mod context;
pub mod cost;
pub mod date_time;
pub mod error;
pub mod fraud_protection;
pub mod hook_scripts;
pub mod identities;
pub mod live_events;
pub mod loaders;
pub mod lockout;
pub mod node;
pub mod otp;
pub mod plain;
pub mod prefetch;
pub mod resources;
pub mod roles_groups;
pub mod scalars;
pub mod scopes;
pub mod sessions;
pub mod signing_keys;
pub mod text_check;
pub mod user_export;
pub mod user_import;
pub mod users;
pub mod webhooks;

use async_graphql::{MergedObject, SDLExportOptions, Schema};

use crate::config::AdminApiConfig;
use crate::service::Services;

/// Root query.
#[derive(MergedObject, Default)]
pub struct Query(
    node::NodeQuery,
    users::UserQuery,
    roles_groups::RoleGroupQuery,
    audit::AuditQuery,
    fraud_protection::FraudProtectionQuery,
    applications::ApplicationQuery,
    resources::ResourceQuery,
    signing_keys::SigningKeyQuery,
    webhooks::WebhookQuery,
    hook_scripts::HookScriptQuery,
    user_import::UserImportQuery,
    user_export::UserExportQuery,
);

/// Root mutation.
#[derive(MergedObject, Default)]
pub struct Mutation(
    users::UserMutation,
    identities::IdentityMutation,
    authenticators::AuthenticatorMutation,
    otp::OtpMutation,
    roles_groups::RoleGroupMutation,
    applications::ApplicationMutation,
    resources::ResourceMutation,
    signing_keys::SigningKeyMutation,
    sessions::SessionMutation,
    lockout::LockoutMutation,
    webhooks::WebhookMutation,
    hook_scripts::HookScriptMutation,
    user_import::UserImportMutation,
    user_export::UserExportMutation,
);

/// The Admin API schema type.
pub type AdminSchema = Schema<Query, Mutation, live_events::Subscription>;

/// Builds the schema with depth and complexity limits and the request checks; resolvers
/// reach `services` through the schema data. Fails if a field declares a scope that is
/// not an Admin API scope.
pub fn build_schema(cfg: &AdminApiConfig, services: Option<Services>) -> Result<AdminSchema, scopes::UnknownScope> {
    let mut builder = schema_builder(cfg).data(planner(cfg)?);
    if let Some(services) = services {
        builder = builder.data(services);
    }
    Ok(builder.finish())
}

/// The schema's types and limits, without its data.
fn schema_builder(cfg: &AdminApiConfig) -> async_graphql::SchemaBuilder<Query, Mutation, live_events::Subscription> {
    Schema::build(Query::default(), Mutation::default(), live_events::Subscription)
        .register_output_type::<node::Entity>()
        .limit_depth(cfg.max_depth)
        .limit_complexity(cfg.max_complexity)
}

/// The types of `Query` and `Mutation`, registered the way the schema registers them.
fn registry() -> async_graphql::registry::Registry {
    use async_graphql::OutputType;
    let mut registry = async_graphql::registry::Registry::default();
    Query::create_type_info(&mut registry);
    Mutation::create_type_info(&mut registry);
    <live_events::Subscription as async_graphql::SubscriptionType>::create_type_info(&mut registry);
    // `#[Subscription]` fields cannot declare `requires_scopes`: the plan gets it here
    // (the resolver checks it too).
    if let Some(async_graphql::registry::MetaType::Object { fields, .. }) = registry.types.get_mut("Subscription")
        && let Some(events) = fields.get_mut("events")
    {
        events.requires_scopes = vec!["audit-log:read".to_owned()];
    }
    node::Entity::create_type_info(&mut registry);
    registry
}

/// The request checks, over the same types the schema registers.
fn planner(cfg: &AdminApiConfig) -> Result<scopes::Planner, scopes::UnknownScope> {
    scopes::Planner::new(registry(), cfg.max_complexity)
}

/// Root fields that declare no scope (see [`scopes::unscoped_root_fields`]).
pub fn unscoped_root_fields() -> Vec<String> {
    scopes::unscoped_root_fields(&registry())
}

/// The schema in SDL, sorted, as committed in `schema.graphql`.
pub fn sdl() -> String {
    schema_builder(&AdminApiConfig::default())
        .finish()
        .sdl_with_options(SDLExportOptions::new().sorted_fields().sorted_arguments().sorted_enum_items())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_declared_scope_is_an_admin_api_scope() {
        if let Err(e) = planner(&AdminApiConfig::default()) {
            panic!("{e}");
        }
    }

    #[test]
    fn a_declared_scope_that_is_no_admin_api_scope_is_refused() {
        #[derive(Default)]
        struct Query;
        #[async_graphql::Object]
        impl Query {
            #[graphql(requires_scopes = "user:read", requires_scopes = "user:write role:raed")]
            async fn x(&self) -> i32 {
                0
            }
        }
        use async_graphql::OutputType;
        let mut registry = async_graphql::registry::Registry::default();
        Query::create_type_info(&mut registry);
        match scopes::Planner::new(registry, 100) {
            Ok(_) => panic!("the planner accepted `role:raed`"),
            Err(e) => {
                assert_eq!(e.to_string(), "`Query.x` requires the scope `role:raed`, which is not an Admin API scope")
            }
        }
    }
}
