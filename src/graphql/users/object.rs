//! The `User` object and its nested fields.

use crate::domain::ids::TypedId;
use crate::graphql::date_time::DateTime;
use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use futures::FutureExt;
use futures::future::BoxFuture;
use time::OffsetDateTime;

use crate::graphql::authenticators::{Authenticator, AuthenticatorKind, AuthenticatorType};
use crate::graphql::connection::{Conn, args, in_memory_tag, list_conn};
use crate::graphql::identities::Identity;
use crate::graphql::loaders::{
    AccountLockoutOf, AppLoader, AuthenticatorsOf, AuthorizationsOf, EffectiveRolesOf, IdentitiesOf, KeyedOf,
    LoadError, SessionsOf, VerifiedClaimsOf,
};
use crate::graphql::lockout::AccountLockout;
use crate::graphql::node::encode;
use crate::graphql::plain::{self, Ahead, Plain};
use crate::graphql::roles_groups::{Group, Role, group_plain, role_plain};
use crate::graphql::scalars::json_value;
use crate::graphql::scalars::{UserCustomAttributes, UserStandardAttributes, Web3Claims};
use crate::graphql::sessions::{Authorization, Session};
use crate::service::admin::authenticators::Factor;
use crate::service::admin::lookups::Owner;
use crate::service::admin::roles_groups::Keyed;
use crate::service::paging::Cursor;
use crate::service::paging::MAX_PAGE_SIZE;
use crate::service::paging::PageCursor;
use crate::service::paging::SortKind;
use async_graphql::parser::types::{Field, SelectionSet};
use async_graphql::{Positioned, Value};

/// An end user.
#[derive(Clone)]
pub struct User(pub crate::service::admin::users::User);

pub(super) fn loader<'a>(ctx: &Context<'a>) -> async_graphql::Result<&'a DataLoader<AppLoader>> {
    ctx.data::<DataLoader<AppLoader>>()
}

/// `key`'s value from the request's DataLoader (the type's default when it has none), as a
/// boxed future. A DataLoader future is large, and async-graphql boxes and copies the
/// future of every field it resolves at the size of the object's largest field: unboxed,
/// `id` of each user would carry the size of `identities`.
pub(super) fn load<'a, K, V>(ctx: &Context<'a>, key: K) -> BoxFuture<'a, async_graphql::Result<V>>
where
    AppLoader: Loader<K, Value = V, Error = LoadError>,
    K: Send + Sync + std::hash::Hash + Eq + Clone + 'static,
    V: Default + Send + Sync + Clone + 'static,
{
    let loader = loader(ctx);
    async move { Ok(loader?.load_one(key).await?.unwrap_or_default()) }.boxed()
}

pub(super) fn key_cursor(k: &crate::service::admin::roles_groups::Keyed) -> Cursor {
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

impl User {
    /// The user's authenticators of type `kind` and `factor`, oldest first, from the
    /// request's batched look-up of authenticators (no query of its own).
    async fn authenticators_of(
        &self,
        ctx: &Context<'_>,
        kind: &str,
        factor: Factor,
    ) -> async_graphql::Result<Vec<Authenticator>> {
        let list = load(ctx, AuthenticatorsOf(self.0.id)).await?;
        Ok(list.into_iter().filter(|a| a.is(kind, factor)).map(Authenticator).collect())
    }
}

/// A user's roles or groups: read ahead with the page if the page did, else batched.
async fn keyed_of(
    ctx: &Context<'_>,
    key: KeyedOf,
) -> async_graphql::Result<Vec<crate::service::admin::roles_groups::Keyed>> {
    if let Some(list) = crate::graphql::prefetch::Prefetched::take(ctx, key) {
        return Ok(list);
    }
    load(ctx, key).await
}

impl User {
    /// Whether the user is disabled now (`isDisabled`).
    fn disabled_now(&self) -> bool {
        self.0.is_disabled_at(OffsetDateTime::now_utc()) || self.0.is_deactivated
    }

    /// `roles` or `groups` without arguments, from the lists read with the page. A list
    /// that fits in one page is that page, read in place (its cursors encoded only if
    /// selected); a longer one is paged as the field's resolver pages it.
    fn linked_plain<T: Plain>(
        &self,
        field: &Field,
        ahead: &Ahead<'_>,
        owner: Owner,
        wrap: impl Fn(Keyed) -> T,
        node: fn(&Keyed, &Field) -> Option<Value>,
    ) -> Option<Value> {
        let list = ahead.keyed?.get(&KeyedOf(owner, self.0.id.uuid()))?;
        if u64::try_from(list.len()).map_or(true, |n| n > MAX_PAGE_SIZE) {
            let conn = list_conn(list.clone(), &args(None, None, None, None), SortKind::Key, key_cursor, wrap).ok()?;
            return plain::page(&conn, field, ahead);
        }
        let parts = plain::Parts {
            edges: list.as_slice(),
            has_prev: false,
            has_next: false,
            count: u64::try_from(list.len()).ok(),
            cursor: |k: &Keyed| PageCursor::new(in_memory_tag::<T>().into(), key_cursor(k)).encode(),
            node: |k: &Keyed, set: &Positioned<SelectionSet>| plain::object(set, T::type_name, |f| node(k, f)),
        };
        plain::parts_of::<T, _, _, _>(parts, field)
    }
}

/// The fields of a user that need nothing but the user (and the page's roles and
/// groups), for pages built without the executor (`plain`). Each one returns what its
/// resolver below returns.
impl Plain for User {
    fn plain(&self, field: &Field, ahead: &Ahead<'_>) -> Option<Value> {
        let u = &self.0;
        Some(match field.name.node.as_str() {
            "id" => Value::String(encode(u.id).0),
            "rawID" => Value::String(u.id.to_string()),
            "createdAt" => plain::time(u.created_at),
            "updatedAt" => plain::time(u.updated_at),
            "lastLoginAt" => plain::opt_time(u.last_login_at),
            "standardAttributes" => json_value(&u.standard_attributes),
            "customAttributes" => json_value(&u.custom_attributes),
            "formattedName" => {
                plain::opt_str(crate::domain::attributes::formatted_name(&u.standard_attributes).as_deref())
            }
            "endUserAccountID" => plain::opt_str(u.end_user_account_id().as_deref()),
            "isAnonymous" => Value::Boolean(u.is_anonymous),
            "isDisabled" => Value::Boolean(self.disabled_now()),
            "disableReason" => plain::opt_str(u.disable_reason.as_deref()),
            "isDeactivated" => Value::Boolean(u.is_deactivated),
            "isAnonymized" => Value::Boolean(u.is_anonymized),
            "deleteAt" => plain::opt_time(u.delete_at),
            "deleteReason" => plain::opt_str(u.delete_reason.as_deref()),
            "anonymizeAt" => plain::opt_time(u.anonymize_at),
            "temporarilyDisabledFrom" => plain::opt_time(u.temporarily_disabled_from),
            "temporarilyDisabledUntil" => plain::opt_time(u.temporarily_disabled_until),
            "accountValidFrom" => plain::opt_time(u.account_valid_from),
            "accountValidUntil" => plain::opt_time(u.account_valid_until),
            "roles" => self.linked_plain(field, ahead, Owner::UserRoles, Role, role_plain)?,
            "groups" => self.linked_plain(field, ahead, Owner::UserGroups, Group, group_plain)?,
            _ => return None,
        })
    }
}

/// The default one of a list of authenticators, else the oldest.
fn first_of(mut list: Vec<Authenticator>) -> Option<Authenticator> {
    let i = list.iter().position(|a| a.0.is_default).unwrap_or(0);
    (i < list.len()).then(|| list.swap_remove(i))
}

/// An end user: profile, account status, identities, authenticators, roles and groups.
#[Object(requires_scopes = "user:read")]
impl User {
    /// The global ID of the user.
    pub async fn id(&self) -> ID {
        encode(self.0.id)
    }
    /// The raw UUID of the user, as in the `sub` claim of tokens.
    #[graphql(name = "rawID")]
    async fn raw_id(&self) -> String {
        self.0.id.to_string()
    }
    /// When the user was created.
    pub async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the user was last changed.
    pub async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
    /// When the user last logged in; null if never.
    async fn last_login_at(&self) -> Option<DateTime> {
        self.0.last_login_at.map(DateTime)
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
        let claims = load(ctx, VerifiedClaimsOf(self.0.id)).await?;
        Ok(claims.into_iter().map(|c| Claim { name: c.name, value: c.value }).collect())
    }
    /// Whether the user is anonymous.
    async fn is_anonymous(&self) -> bool {
        self.0.is_anonymous
    }
    /// Whether the user is disabled now: indefinitely (also while a deletion or an
    /// anonymization is scheduled, and once anonymized), inside a temporary window,
    /// outside the account valid period, or deactivated by the user. A disabled user
    /// cannot log in or refresh tokens.
    async fn is_disabled(&self) -> bool {
        self.disabled_now()
    }
    /// Reason given when the user was disabled; shown to the user.
    async fn disable_reason(&self) -> Option<String> {
        self.0.disable_reason.clone()
    }
    /// Whether the user deactivated their own account: they asked for its deletion on the
    /// settings page (see `deleteAt`). Signing in again reactivates it.
    async fn is_deactivated(&self) -> bool {
        self.0.is_deactivated
    }
    /// Whether the user was anonymized.
    async fn is_anonymized(&self) -> bool {
        self.0.is_anonymized
    }
    /// When the user is scheduled to be deleted; null if not scheduled.
    async fn delete_at(&self) -> Option<DateTime> {
        self.0.delete_at.map(DateTime)
    }
    /// The reason given with `scheduleAccountDeletion`; null if none, or no deletion is
    /// scheduled.
    async fn delete_reason(&self) -> Option<String> {
        self.0.delete_reason.clone()
    }
    /// When the user is scheduled to be anonymized; null if not scheduled.
    async fn anonymize_at(&self) -> Option<DateTime> {
        self.0.anonymize_at.map(DateTime)
    }
    /// Start of a temporary disable window.
    async fn temporarily_disabled_from(&self) -> Option<DateTime> {
        self.0.temporarily_disabled_from.map(DateTime)
    }
    /// End of a temporary disable window.
    async fn temporarily_disabled_until(&self) -> Option<DateTime> {
        self.0.temporarily_disabled_until.map(DateTime)
    }
    /// Before this time the account is disabled.
    async fn account_valid_from(&self) -> Option<DateTime> {
        self.0.account_valid_from.map(DateTime)
    }
    /// From this time on the account is disabled.
    async fn account_valid_until(&self) -> Option<DateTime> {
        self.0.account_valid_until.map(DateTime)
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
        let mut list = load(ctx, IdentitiesOf(self.0.id)).await?;
        if let Some(t) = identity_type {
            list.retain(|i| i.kind == t.as_str());
        }
        list_conn(list, &args(first, after, last, before), SortKind::Id, |i| Cursor::id(i.id.uuid()), Identity)
    }
    /// The user's login IDs (email, phone, username), oldest first.
    #[graphql(name = "loginIDs")]
    async fn login_ids(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Identity>> {
        let list = load(ctx, IdentitiesOf(self.0.id)).await?;
        Ok(list.into_iter().filter(|i| i.kind == "login_id").map(Identity).collect())
    }
    /// The user's social and enterprise login connections (identities of type `OAUTH`),
    /// oldest first.
    async fn oauth_connections(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Identity>> {
        identities_of_kind(ctx, &self.0, IdentityType::Oauth).await
    }
    /// The user's passkeys (identities of type `PASSKEY`), oldest first.
    async fn passkeys(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Identity>> {
        identities_of_kind(ctx, &self.0, IdentityType::Passkey).await
    }
    /// The devices set up for biometric sign-in (identities of type `BIOMETRIC`), oldest
    /// first.
    async fn biometric_registrations(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Identity>> {
        identities_of_kind(ctx, &self.0, IdentityType::Biometric).await
    }
    /// Sign-in with Ethereum accounts. Deprecated, as in Authgear, which no longer offers
    /// it and always returns an empty object (`{"accounts": []}`); so does this server.
    async fn web3(&self) -> Web3Claims {
        Web3Claims(serde_json::json!({"accounts": []}))
    }
    /// The user's authenticators (passwords, email and SMS codes, TOTP), oldest first.
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
        let mut list = load(ctx, AuthenticatorsOf(self.0.id)).await?;
        list.retain(|a| {
            authenticator_type.is_none_or(|t| t.as_str() == a.kind)
                && authenticator_kind.is_none_or(|k| k.as_str() == a.factor)
        });
        list_conn(list, &args(first, after, last, before), SortKind::Id, |a| Cursor::id(a.id.uuid()), Authenticator)
    }
    /// The user's primary password; null if none.
    async fn primary_password(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Authenticator>> {
        Ok(first_of(self.authenticators_of(ctx, "password", Factor::Primary).await?))
    }
    /// The user's secondary password (a second factor); null if none.
    async fn secondary_password(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Authenticator>> {
        Ok(first_of(self.authenticators_of(ctx, "password", Factor::Secondary).await?))
    }
    /// The user's primary email code authenticator (the default one if there are
    /// several); null if none.
    #[graphql(name = "primaryOOBOTPEmailAuthenticator")]
    async fn primary_oob_otp_email_authenticator(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Authenticator>> {
        Ok(first_of(self.authenticators_of(ctx, "oob_otp_email", Factor::Primary).await?))
    }
    /// The user's primary SMS code authenticator (the default one if there are several);
    /// null if none.
    #[graphql(name = "primaryOOBOTPSMSAuthenticator")]
    async fn primary_oob_otp_sms_authenticator(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Authenticator>> {
        Ok(first_of(self.authenticators_of(ctx, "oob_otp_sms", Factor::Primary).await?))
    }
    /// The user's secondary email code authenticators, oldest first.
    #[graphql(name = "secondaryOOBOTPEmailAuthenticators")]
    async fn secondary_oob_otp_email_authenticators(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<Authenticator>> {
        self.authenticators_of(ctx, "oob_otp_email", Factor::Secondary).await
    }
    /// The user's secondary SMS code authenticators, oldest first.
    #[graphql(name = "secondaryOOBOTPSMSAuthenticators")]
    async fn secondary_oob_otp_sms_authenticators(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<Authenticator>> {
        self.authenticators_of(ctx, "oob_otp_sms", Factor::Secondary).await
    }
    /// The user's TOTP authenticators (always secondary), oldest first.
    #[graphql(name = "secondaryTOTPAuthenticators")]
    async fn secondary_totp_authenticators(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Authenticator>> {
        self.authenticators_of(ctx, "totp", Factor::Secondary).await
    }
    /// Until then the user may sign in without a second factor even where MFA is
    /// required (`setMFAGracePeriod`); null if no grace period is set.
    async fn mfa_grace_period_end_at(&self) -> Option<DateTime> {
        self.0.mfa_grace_period_end_at.map(DateTime)
    }
    /// The account lockout: whether too many failed sign-in attempts lock the user (or
    /// some addresses) out, and until when.
    async fn account_lockout(&self, ctx: &Context<'_>) -> async_graphql::Result<AccountLockout> {
        let lockout = load(ctx, AccountLockoutOf(self.0.id)).await?;
        Ok(AccountLockout(lockout))
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
        let list = load(ctx, SessionsOf(self.0.id)).await?;
        list_conn(list, &args(first, after, last, before), SortKind::Id, |s| Cursor::id(s.id.uuid()), Session)
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
        let list = load(ctx, AuthorizationsOf(self.0.id)).await?;
        list_conn(list, &args(first, after, last, before), SortKind::Id, |a| Cursor::id(a.id.uuid()), Authorization)
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
        let list = keyed_of(ctx, KeyedOf(Owner::UserRoles, self.0.id.uuid())).await?;
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
        let list = keyed_of(ctx, KeyedOf(Owner::UserGroups, self.0.id.uuid())).await?;
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
        let list = load(ctx, EffectiveRolesOf(self.0.id)).await?;
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

/// The user's identities of one type, oldest first.
async fn identities_of_kind(
    ctx: &Context<'_>,
    user: &crate::service::admin::users::User,
    kind: IdentityType,
) -> async_graphql::Result<Vec<Identity>> {
    let list = load(ctx, IdentitiesOf(user.id)).await?;
    Ok(list.into_iter().filter(|i| i.kind == kind.as_str()).map(Identity).collect())
}
