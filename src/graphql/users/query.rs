//! User queries: the users list and lookups.

use super::*;
use crate::domain::ids::TypedId;
use async_graphql::{Context, Enum, Object};

use crate::graphql::connection::{CountSource, args, to_conn};
use crate::graphql::context::services;
use crate::graphql::node::decode_any;
use crate::graphql::plain::{Ahead, Built};
use crate::graphql::prefetch::Prefetched;
use crate::service::admin::user_search::UserFilter;
use crate::service::admin::user_search::UserSort;

/// Sort keys of the users list.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum UserSortBy {
    /// Creation time.
    CreatedAt,
    /// Last login time; users who never logged in come last.
    LastLoginAt,
}

/// Sort direction.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SortDirection {
    /// Oldest first.
    Asc,
    /// Newest first (default).
    Desc,
}

/// User queries.
#[derive(Default)]
pub struct UserQuery;

#[Object]
impl UserQuery {
    /// Lists users. The keyword matches a user ID or a login ID exactly, any part of an
    /// email, username, phone number or name (three or more characters) or their beginning
    /// (one or two), case-insensitively. Role and group filters
    /// require every key listed (roles count directly or through groups). Needs `user:read`.
    #[graphql(
        requires_scopes = "user:read",
        complexity = "crate::graphql::connection::page_complexity(first, last, child_complexity)",
        tag = "db_count"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(
            desc = "Search keyword, case-insensitive: a user ID or an identity's login ID matches exactly; with three or more characters, any part of a login ID (email, phone number, username) or name matches; with one or two, their beginning."
        )]
        search_keyword: Option<String>,
        #[graphql(desc = "Sort key (default CREATED_AT).")] sort_by: Option<UserSortBy>,
        #[graphql(desc = "Sort direction (default DESC).")] sort_direction: Option<SortDirection>,
        #[graphql(desc = "Only users with all these effective roles.")] role_keys: Option<Vec<String>>,
        #[graphql(desc = "Only users in all these groups.")] group_keys: Option<Vec<String>>,
        #[graphql(desc = "Only disabled (true) or enabled (false) users.")] is_disabled: Option<bool>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100, default 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Built<User>> {
        let keyword = search_keyword.map(|k| match decode_any(k.trim()) {
            Some((t, id)) if t == "User" => id.to_string(),
            _ => k,
        });
        let filter = UserFilter {
            keyword,
            role_keys: role_keys.unwrap_or_default(),
            group_keys: group_keys.unwrap_or_default(),
            is_disabled,
            sort: match sort_by {
                Some(UserSortBy::LastLoginAt) => UserSort::LastLoginAt,
                _ => UserSort::CreatedAt,
            },
            ascending: sort_direction == Some(SortDirection::Asc),
            ..Default::default()
        };
        let page = services(ctx)?.users().list(&filter, &args(first, after, last, before)).await?;
        let ids: Vec<uuid::Uuid> = page.items.iter().map(|(_, u)| u.id.uuid()).collect();
        crate::graphql::prefetch::users_keyed(ctx, &ids).await?;
        let conn = to_conn(page, CountSource::Users(Box::new(filter)), User);
        let built = Prefetched::with(ctx, |keyed| Built::new(conn, &ctx.item.node, &Ahead { keyed }));
        services(ctx)?.telemetry().admin_page(matches!(built, Built::Value(_)));
        Ok(built)
    }

    /// The user who owns a login ID, or null. Needs `user:read`.
    #[graphql(name = "getUserByLoginID", requires_scopes = "user:read")]
    async fn get_user_by_login_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "loginIDKey", desc = "`email`, `phone` or `username`.")] login_id_key: String,
        #[graphql(name = "loginIDValue", desc = "The login ID; normalised before the lookup.")] login_id_value: String,
    ) -> async_graphql::Result<Option<User>> {
        Ok(services(ctx)?.users().by_login_id(&login_id_key, &login_id_value).await?.map(User))
    }

    /// The user who signed in with (or connected) this account at an OAuth provider, or
    /// null. Needs `user:read`.
    #[graphql(name = "getUserByOAuth", requires_scopes = "user:read")]
    async fn get_user_by_oauth(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "oauthProviderAlias", desc = "The provider's alias in `social_login.providers`.")]
        oauth_provider_alias: String,
        #[graphql(name = "oauthProviderUserID", desc = "The user's subject at the provider (GitHub: the numeric ID).")]
        oauth_provider_user_id: String,
    ) -> async_graphql::Result<Option<User>> {
        Ok(services(ctx)?.users().by_oauth(&oauth_provider_alias, &oauth_provider_user_id).await?.map(User))
    }

    /// Users whose `email`, `phone_number` or `preferred_username` equals the value
    /// (normalised first). Reads the primary store, so it sees writes at once. Needs `user:read`.
    #[graphql(requires_scopes = "user:read")]
    async fn get_users_by_standard_attribute(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "`email`, `phone_number` or `preferred_username`.")] attribute_name: String,
        #[graphql(desc = "The value to match.")] attribute_value: String,
    ) -> async_graphql::Result<Vec<User>> {
        Ok(services(ctx)?
            .users()
            .by_standard_attribute(&attribute_name, &attribute_value)
            .await?
            .into_iter()
            .map(User)
            .collect())
    }
}
