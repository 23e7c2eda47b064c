//! The `User` type, user queries and user mutations.

use async_graphql::dataloader::DataLoader;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use time::OffsetDateTime;

use super::connection::{Conn, CountSource, args, list_conn, to_conn};
use super::context::{audit, services};
use super::error::bad_input;
use super::identities::{Authenticator, AuthenticatorKind, AuthenticatorType, Identity};
use super::loaders::{
    AppLoader, AuthenticatorsOf, AuthorizationsOf, EffectiveRolesOf, IdentitiesOf, KeyedOf, SessionsOf,
    VerifiedClaimsOf,
};
use super::node::{decode_any, decode_id, encode_id};
use super::roles_groups::{Group, Role};
use super::scalars::{UserCustomAttributes, UserStandardAttributes};
use super::sessions::{Authorization, Session};
use crate::service::loaders::Owner;
use crate::service::paging::{Cursor, SortKind};
use crate::service::types;
use crate::service::user_search::{UserFilter, UserSort};
use crate::service::users::{NewUser, ValidPeriod};

/// An end user.
#[derive(Clone)]
pub struct User(pub types::User);

fn refuse_send_password(send: Option<bool>) -> async_graphql::Result<()> {
    if send == Some(true) {
        return Err(bad_input(
            "SendPasswordUnsupported",
            "sendPassword is not supported yet: set the password and tell the user yourself",
        ));
    }
    Ok(())
}

fn loader<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a DataLoader<AppLoader>> {
    ctx.data::<DataLoader<AppLoader>>()
}

fn key_cursor(k: &types::Keyed) -> Cursor {
    Cursor::key(&k.key, k.id)
}

/// A claim the user has verified.
#[derive(SimpleObject, Clone)]
pub struct Claim {
    /// Claim name: `email` or `phone_number`.
    pub name: String,
    /// Verified value.
    pub value: String,
}

/// An end user: profile, account status, identities, authenticators, roles and groups.
#[Object(requires_scopes = "user:read")]
impl User {
    /// The global ID of the user.
    pub async fn id(&self) -> ID {
        encode_id("User", self.0.id)
    }
    /// The raw UUID of the user, as in the `sub` claim of tokens.
    #[graphql(name = "rawID")]
    async fn raw_id(&self) -> String {
        self.0.id.to_string()
    }
    /// When the user was created.
    pub async fn created_at(&self) -> OffsetDateTime {
        self.0.created_at
    }
    /// When the user was last changed.
    pub async fn updated_at(&self) -> OffsetDateTime {
        self.0.updated_at
    }
    /// When the user last logged in; null if never.
    async fn last_login_at(&self) -> Option<OffsetDateTime> {
        self.0.last_login_at
    }
    /// Standard attributes with OIDC claim names. `email`, `phone_number` and
    /// `preferred_username` follow the user's login IDs; `*_verified` follow verified claims.
    async fn standard_attributes(&self) -> UserStandardAttributes {
        UserStandardAttributes(self.0.standard_attributes.clone())
    }
    /// Custom attributes declared in the server config.
    async fn custom_attributes(&self) -> UserCustomAttributes {
        UserCustomAttributes(self.0.custom_attributes.clone())
    }
    /// Display name: `name`, else given, middle and family names joined.
    async fn formatted_name(&self) -> Option<String> {
        crate::domain::attributes::formatted_name(&self.0.standard_attributes)
    }
    /// A display ID for the user: their email, username or phone number.
    #[graphql(name = "endUserAccountID")]
    async fn end_user_account_id(&self) -> Option<String> {
        self.0.end_user_account_id()
    }
    /// Claims the user has verified.
    async fn verified_claims(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Claim>> {
        let claims = loader(ctx)?.load_one(VerifiedClaimsOf(self.0.id)).await?.unwrap_or_default();
        Ok(claims.into_iter().map(|c| Claim { name: c.name, value: c.value }).collect())
    }
    /// Whether the user is anonymous.
    async fn is_anonymous(&self) -> bool {
        self.0.is_anonymous
    }
    /// Whether the user is disabled now: indefinitely, inside a temporary window, or
    /// outside the account valid period. A disabled user cannot log in or refresh tokens.
    async fn is_disabled(&self) -> bool {
        self.0.is_disabled_at(OffsetDateTime::now_utc())
    }
    /// Reason given when the user was disabled; shown to the user.
    async fn disable_reason(&self) -> Option<String> {
        self.0.disable_reason.clone()
    }
    /// Whether the user deactivated their own account.
    async fn is_deactivated(&self) -> bool {
        self.0.is_deactivated
    }
    /// Whether the user was anonymized.
    async fn is_anonymized(&self) -> bool {
        self.0.is_anonymized
    }
    /// When the user is scheduled to be deleted.
    async fn delete_at(&self) -> Option<OffsetDateTime> {
        self.0.delete_at
    }
    /// When the user is scheduled to be anonymized.
    async fn anonymize_at(&self) -> Option<OffsetDateTime> {
        self.0.anonymize_at
    }
    /// Start of a temporary disable window.
    async fn temporarily_disabled_from(&self) -> Option<OffsetDateTime> {
        self.0.temporarily_disabled_from
    }
    /// End of a temporary disable window.
    async fn temporarily_disabled_until(&self) -> Option<OffsetDateTime> {
        self.0.temporarily_disabled_until
    }
    /// Before this time the account is disabled.
    async fn account_valid_from(&self) -> Option<OffsetDateTime> {
        self.0.account_valid_from
    }
    /// From this time on the account is disabled.
    async fn account_valid_until(&self) -> Option<OffsetDateTime> {
        self.0.account_valid_until
    }
    /// The user's identities, oldest first.
    #[allow(clippy::too_many_arguments)]
    async fn identities(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only identities of this type.")] identity_type: Option<IdentityType>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Identity>> {
        let mut list = loader(ctx)?.load_one(IdentitiesOf(self.0.id)).await?.unwrap_or_default();
        if let Some(t) = identity_type {
            list.retain(|i| i.kind == t.as_str());
        }
        list_conn(list, &args(first, after, last, before), SortKind::Id, |i| Cursor::id(i.id), Identity)
    }
    /// The user's login IDs (email, phone, username), oldest first.
    #[graphql(name = "loginIDs")]
    async fn login_ids(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Identity>> {
        let list = loader(ctx)?.load_one(IdentitiesOf(self.0.id)).await?.unwrap_or_default();
        Ok(list.into_iter().filter(|i| i.kind == "login_id").map(Identity).collect())
    }
    /// The user's authenticators (passwords, ...), oldest first.
    #[allow(clippy::too_many_arguments)]
    async fn authenticators(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Only authenticators of this type.")] authenticator_type: Option<AuthenticatorType>,
        #[graphql(desc = "Only primary or only secondary authenticators.")] authenticator_kind: Option<
            AuthenticatorKind,
        >,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Authenticator>> {
        let mut list = loader(ctx)?.load_one(AuthenticatorsOf(self.0.id)).await?.unwrap_or_default();
        list.retain(|a| {
            authenticator_type.is_none_or(|t| t.as_str() == a.kind)
                && authenticator_kind.is_none_or(|k| k.as_str() == a.factor)
        });
        list_conn(list, &args(first, after, last, before), SortKind::Id, |a| Cursor::id(a.id), Authenticator)
    }
    /// The user's live sessions (browser sessions and refresh-token grants), oldest first.
    async fn sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Session>> {
        let list = loader(ctx)?.load_one(SessionsOf(self.0.id)).await?.unwrap_or_default();
        list_conn(list, &args(first, after, last, before), SortKind::Id, |s| Cursor::id(s.id), Session)
    }
    /// The user's consents to third-party applications, oldest first.
    async fn authorizations(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Authorization>> {
        let list = loader(ctx)?.load_one(AuthorizationsOf(self.0.id)).await?.unwrap_or_default();
        list_conn(list, &args(first, after, last, before), SortKind::Id, |a| Cursor::id(a.id), Authorization)
    }
    /// Roles assigned to the user directly, by key. Needs `role:read`.
    #[graphql(requires_scopes = "role:read")]
    async fn roles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Role>> {
        let list = loader(ctx)?.load_one(KeyedOf(Owner::UserRoles, self.0.id)).await?.unwrap_or_default();
        list_conn(list, &args(first, after, last, before), SortKind::Key, key_cursor, Role)
    }
    /// Groups the user is in, by key. Needs `group:read`.
    #[graphql(requires_scopes = "group:read")]
    async fn groups(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Group>> {
        let list = loader(ctx)?.load_one(KeyedOf(Owner::UserGroups, self.0.id)).await?.unwrap_or_default();
        list_conn(list, &args(first, after, last, before), SortKind::Key, key_cursor, Group)
    }
    /// Effective roles: direct roles and roles of the user's groups, by key. These are
    /// the roles in tokens. Needs `role:read`.
    #[graphql(requires_scopes = "role:read")]
    async fn effective_roles(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Role>> {
        let list = loader(ctx)?.load_one(EffectiveRolesOf(self.0.id)).await?.unwrap_or_default();
        list_conn(list, &args(first, after, last, before), SortKind::Key, key_cursor, Role)
    }
}

/// Identity types.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum IdentityType {
    /// Email, phone or username.
    LoginId,
    /// Social or enterprise login.
    Oauth,
    /// Anonymous user key.
    Anonymous,
    /// Passkey.
    Passkey,
    /// Biometric key.
    Biometric,
    /// Sign in with Ethereum.
    Siwe,
    /// LDAP.
    Ldap,
}

impl IdentityType {
    /// Database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LoginId => "login_id",
            Self::Oauth => "oauth",
            Self::Anonymous => "anonymous",
            Self::Passkey => "passkey",
            Self::Biometric => "biometric",
            Self::Siwe => "siwe",
            Self::Ldap => "ldap",
        }
    }
    /// From the database spelling.
    pub fn parse(s: &str) -> Self {
        match s {
            "oauth" => Self::Oauth,
            "anonymous" => Self::Anonymous,
            "passkey" => Self::Passkey,
            "biometric" => Self::Biometric,
            "siwe" => Self::Siwe,
            "ldap" => Self::Ldap,
            _ => Self::LoginId,
        }
    }
}

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
    /// Lists users. The keyword matches a user ID or a login ID exactly, or a prefix of an
    /// email, username, phone number or name, case-insensitively. Role and group filters
    /// require every key listed (roles count directly or through groups). Needs `user:read`.
    #[graphql(
        requires_scopes = "user:read",
        complexity = "super::connection::page_complexity(first, last, child_complexity)",
        tag = "db_count"
    )]
    #[allow(clippy::too_many_arguments)]
    async fn users(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Search keyword.")] search_keyword: Option<String>,
        #[graphql(desc = "Sort key (default CREATED_AT).")] sort_by: Option<UserSortBy>,
        #[graphql(desc = "Sort direction (default DESC).")] sort_direction: Option<SortDirection>,
        #[graphql(desc = "Only users with all these effective roles.")] role_keys: Option<Vec<String>>,
        #[graphql(desc = "Only users in all these groups.")] group_keys: Option<Vec<String>>,
        #[graphql(desc = "Only disabled (true) or enabled (false) users.")] is_disabled: Option<bool>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100, default 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<User>> {
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
        let page = services(ctx)?.list_users(&filter, &args(first, after, last, before)).await?;
        Ok(to_conn(page, CountSource::Users(Box::new(filter)), User))
    }

    /// The user who owns a login ID, or null. Needs `user:read`.
    #[graphql(name = "getUserByLoginID", requires_scopes = "user:read")]
    async fn get_user_by_login_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "loginIDKey", desc = "`email`, `phone` or `username`.")] login_id_key: String,
        #[graphql(name = "loginIDValue", desc = "The login ID; normalised before the lookup.")] login_id_value: String,
    ) -> async_graphql::Result<Option<User>> {
        Ok(services(ctx)?.user_by_login_id(&login_id_key, &login_id_value).await?.map(User))
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
            .users_by_standard_attribute(&attribute_name, &attribute_value)
            .await?
            .into_iter()
            .map(User)
            .collect())
    }
}

/// A login ID.
#[derive(InputObject)]
pub struct IdentityDefinitionLoginID {
    /// `email`, `phone` or `username`.
    pub key: String,
    /// The login ID.
    pub value: String,
}

/// How a new identity is defined.
#[derive(InputObject)]
pub struct IdentityDefinition {
    /// A login ID.
    #[graphql(name = "loginID")]
    pub login_id: IdentityDefinitionLoginID,
}

/// Input of `createUser`.
#[derive(InputObject)]
pub struct CreateUserInput {
    /// The user's first identity.
    pub definition: IdentityDefinition,
    /// Initial password, checked against the password policy. Omit it (null) for a user
    /// without a password; an empty string generates a random one that nobody knows
    /// (the user resets it).
    pub password: Option<String>,
    /// Send the password to the user. Not supported yet: messaging arrives with the Auth
    /// UI, so `true` is refused.
    pub send_password: Option<bool>,
    /// Make the user change the password at the first login.
    pub set_password_expired: Option<bool>,
    /// Start of the account valid period.
    pub account_valid_from: Option<OffsetDateTime>,
    /// End of the account valid period.
    pub account_valid_until: Option<OffsetDateTime>,
}

/// Result of `createUser`.
#[derive(SimpleObject)]
pub struct CreateUserPayload {
    /// The new user.
    pub user: User,
}

/// Input of `updateUser`.
#[derive(InputObject)]
pub struct UpdateUserInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// New standard attributes; replaces the whole object. Omit to keep.
    pub standard_attributes: Option<UserStandardAttributes>,
    /// New custom attributes; replaces the whole object. Omit to keep.
    pub custom_attributes: Option<UserCustomAttributes>,
}

/// A mutation result carrying the user.
#[derive(SimpleObject)]
pub struct UpdateUserPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `deleteUser`.
#[derive(InputObject)]
pub struct DeleteUserInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// Why, kept in the audit log.
    pub reason: Option<String>,
}

/// Result of `deleteUser`.
#[derive(SimpleObject)]
pub struct DeleteUserPayload {
    /// ID of the deleted user.
    #[graphql(name = "deletedUserID")]
    pub deleted_user_id: ID,
}

/// Input of `setDisabledStatus`.
#[derive(InputObject)]
pub struct SetDisabledStatusInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// Disable (true) or re-enable (false).
    pub is_disabled: bool,
    /// Reason shown to the user at login.
    pub reason: Option<String>,
    /// With `temporarilyDisabledUntil`: disable only inside this window.
    pub temporarily_disabled_from: Option<OffsetDateTime>,
    /// With `temporarilyDisabledFrom`: end of the window.
    pub temporarily_disabled_until: Option<OffsetDateTime>,
}

/// Result of `setDisabledStatus`.
#[derive(SimpleObject)]
pub struct SetDisabledStatusPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `setAccountValidFrom`.
#[derive(InputObject)]
pub struct SetAccountValidFromInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// Start of the valid period; null clears it.
    pub account_valid_from: Option<OffsetDateTime>,
}

/// Input of `setAccountValidUntil`.
#[derive(InputObject)]
pub struct SetAccountValidUntilInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// End of the valid period; null clears it.
    pub account_valid_until: Option<OffsetDateTime>,
}

/// Input of `setAccountValidPeriod`.
#[derive(InputObject)]
pub struct SetAccountValidPeriodInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// Start of the valid period; null clears it.
    pub account_valid_from: Option<OffsetDateTime>,
    /// End of the valid period; null clears it.
    pub account_valid_until: Option<OffsetDateTime>,
}

/// Result of `setAccountValidFrom`.
#[derive(SimpleObject)]
pub struct SetAccountValidFromPayload {
    /// The user after the change.
    pub user: User,
}

/// Result of `setAccountValidUntil`.
#[derive(SimpleObject)]
pub struct SetAccountValidUntilPayload {
    /// The user after the change.
    pub user: User,
}

/// Result of `setAccountValidPeriod`.
#[derive(SimpleObject)]
pub struct SetAccountValidPeriodPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `resetPassword`.
#[derive(InputObject)]
pub struct ResetPasswordInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// The new password, checked against the password policy; null or empty generates a
    /// random one that nobody knows.
    pub password: Option<String>,
    /// Send the password to the user. Not supported yet: `true` is refused.
    pub send_password: Option<bool>,
    /// Make the user change the password at the next login.
    pub set_password_expired: Option<bool>,
}

/// Result of `resetPassword`.
#[derive(SimpleObject)]
pub struct ResetPasswordPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `setPasswordExpired`.
#[derive(InputObject)]
pub struct SetPasswordExpiredInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// Expired: the user must change the password at the next login.
    pub expired: bool,
}

/// Result of `setPasswordExpired`.
#[derive(SimpleObject)]
pub struct SetPasswordExpiredPayload {
    /// The user after the change.
    pub user: User,
}

/// Input of `setVerifiedStatus`.
#[derive(InputObject)]
pub struct SetVerifiedStatusInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// `email` or `phone_number`.
    pub claim_name: String,
    /// The value to mark.
    pub claim_value: String,
    /// Verified or not.
    pub is_verified: bool,
}

/// Result of `setVerifiedStatus`.
#[derive(SimpleObject)]
pub struct SetVerifiedStatusPayload {
    /// The user after the change.
    pub user: User,
}

/// User mutations. Each needs `user:write` and writes one audit log entry in the same
/// transaction as the change.
#[derive(Default)]
pub struct UserMutation;

#[Object]
impl UserMutation {
    /// Creates a user with one login ID and an optional password.
    #[graphql(requires_scopes = "user:write")]
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new user.")] input: CreateUserInput,
    ) -> async_graphql::Result<CreateUserPayload> {
        refuse_send_password(input.send_password)?;
        let new = NewUser {
            login_id_key: input.definition.login_id.key,
            login_id_value: input.definition.login_id.value,
            password: input.password,
            set_password_expired: input.set_password_expired.unwrap_or(false),
            account_valid_from: input.account_valid_from,
            account_valid_until: input.account_valid_until,
        };
        let user = services(ctx)?.create_user(&audit(ctx, "create_user"), new).await?;
        Ok(CreateUserPayload { user: User(user) })
    }

    /// Replaces a user's standard and/or custom attributes.
    #[graphql(requires_scopes = "user:write")]
    async fn update_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change.")] input: UpdateUserInput,
    ) -> async_graphql::Result<UpdateUserPayload> {
        let id = decode_id("User", &input.user_id)?;
        let user = services(ctx)?
            .update_user(
                &audit(ctx, "update_user"),
                id,
                input.standard_attributes.map(|s| s.0),
                input.custom_attributes.map(|c| c.0),
            )
            .await?;
        Ok(UpdateUserPayload { user: User(user) })
    }

    /// Deletes a user with their identities, authenticators and role and group links.
    #[graphql(requires_scopes = "user:write")]
    async fn delete_user(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user to delete.")] input: DeleteUserInput,
    ) -> async_graphql::Result<DeleteUserPayload> {
        let id = decode_id("User", &input.user_id)?;
        services(ctx)?.delete_user(&audit(ctx, "delete_user"), id, input.reason).await?;
        Ok(DeleteUserPayload { deleted_user_id: encode_id("User", id) })
    }

    /// Disables a user (indefinitely, or inside a window) or re-enables them.
    #[graphql(requires_scopes = "user:write")]
    async fn set_disabled_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new status.")] input: SetDisabledStatusInput,
    ) -> async_graphql::Result<SetDisabledStatusPayload> {
        let id = decode_id("User", &input.user_id)?;
        let user = services(ctx)?
            .set_disabled_status(
                &audit(ctx, "set_disabled_status"),
                id,
                input.is_disabled,
                input.reason,
                (input.temporarily_disabled_from, input.temporarily_disabled_until),
            )
            .await?;
        Ok(SetDisabledStatusPayload { user: User(user) })
    }

    /// Sets or clears the start of the account valid period.
    #[graphql(requires_scopes = "user:write")]
    async fn set_account_valid_from(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new bound.")] input: SetAccountValidFromInput,
    ) -> async_graphql::Result<SetAccountValidFromPayload> {
        let id = decode_id("User", &input.user_id)?;
        let p = ValidPeriod { from: Some(input.account_valid_from), until: None };
        let user = services(ctx)?.set_account_valid_period(&audit(ctx, "set_account_valid_from"), id, p).await?;
        Ok(SetAccountValidFromPayload { user: User(user) })
    }

    /// Sets or clears the end of the account valid period.
    #[graphql(requires_scopes = "user:write")]
    async fn set_account_valid_until(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new bound.")] input: SetAccountValidUntilInput,
    ) -> async_graphql::Result<SetAccountValidUntilPayload> {
        let id = decode_id("User", &input.user_id)?;
        let p = ValidPeriod { from: None, until: Some(input.account_valid_until) };
        let user = services(ctx)?.set_account_valid_period(&audit(ctx, "set_account_valid_until"), id, p).await?;
        Ok(SetAccountValidUntilPayload { user: User(user) })
    }

    /// Sets or clears both bounds of the account valid period.
    #[graphql(requires_scopes = "user:write")]
    async fn set_account_valid_period(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new bounds.")] input: SetAccountValidPeriodInput,
    ) -> async_graphql::Result<SetAccountValidPeriodPayload> {
        let id = decode_id("User", &input.user_id)?;
        let p = ValidPeriod { from: Some(input.account_valid_from), until: Some(input.account_valid_until) };
        let user = services(ctx)?.set_account_valid_period(&audit(ctx, "set_account_valid_period"), id, p).await?;
        Ok(SetAccountValidPeriodPayload { user: User(user) })
    }

    /// Sets a new password for a user (creating their password authenticator if needed).
    #[graphql(requires_scopes = "user:write")]
    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new password.")] input: ResetPasswordInput,
    ) -> async_graphql::Result<ResetPasswordPayload> {
        let id = decode_id("User", &input.user_id)?;
        refuse_send_password(input.send_password)?;
        let user = services(ctx)?
            .reset_password(
                &audit(ctx, "reset_password"),
                id,
                input.password.unwrap_or_default(),
                input.set_password_expired.unwrap_or(false),
            )
            .await?;
        Ok(ResetPasswordPayload { user: User(user) })
    }

    /// Marks a user's password as expired (or not).
    #[graphql(requires_scopes = "user:write")]
    async fn set_password_expired(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new state.")] input: SetPasswordExpiredInput,
    ) -> async_graphql::Result<SetPasswordExpiredPayload> {
        let id = decode_id("User", &input.user_id)?;
        let user = services(ctx)?.set_password_expired(&audit(ctx, "set_password_expired"), id, input.expired).await?;
        Ok(SetPasswordExpiredPayload { user: User(user) })
    }

    /// Marks an email or phone number as verified or unverified for a user.
    #[graphql(requires_scopes = "user:write")]
    async fn set_verified_status(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The claim and its new state.")] input: SetVerifiedStatusInput,
    ) -> async_graphql::Result<SetVerifiedStatusPayload> {
        let id = decode_id("User", &input.user_id)?;
        let user = services(ctx)?
            .set_verified_status(
                &audit(ctx, "set_verified_status"),
                id,
                &input.claim_name,
                &input.claim_value,
                input.is_verified,
            )
            .await?;
        Ok(SetVerifiedStatusPayload { user: User(user) })
    }
}
