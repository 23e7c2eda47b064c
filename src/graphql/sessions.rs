//! Sessions and consents: `User.sessions`, `createSession`, `revokeSession`,
//! `revokeAllSessions`, `User.authorizations`, `deleteAuthorization`.

use crate::domain::ids::{AuthorizationId, SessionId, UserId};
use crate::graphql::date_time::DateTime;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};

use super::context::{audit, services};
use super::node::{decode, encode};
use super::users::User;
use crate::service::admin::{authorizations as consents, sessions};

/// Session types.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SessionType {
    /// A browser session at this server (single sign-on).
    Idp,
    /// A refresh-token grant of an application.
    OfflineGrant,
}

/// A session: a browser session or an application's refresh-token grant.
#[derive(Clone)]
pub struct Session(pub sessions::Session);

/// A session: a browser session or an application's refresh-token grant.
#[Object(requires_scopes = "user:read")]
impl Session {
    /// The global ID of the session.
    pub async fn id(&self) -> ID {
        encode(self.0.id)
    }
    /// Session type.
    #[graphql(name = "type")]
    async fn session_type(&self) -> SessionType {
        if self.0.kind == "idp" { SessionType::Idp } else { SessionType::OfflineGrant }
    }
    /// The application of a refresh-token grant.
    #[graphql(name = "clientID")]
    async fn client_id(&self) -> Option<&str> {
        self.0.client_id.as_deref()
    }
    /// Authentication methods of the login (`pwd`, ...).
    async fn amr(&self) -> &[String] {
        &self.0.amr
    }
    /// When the session began.
    pub async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the session was last used.
    async fn last_accessed_at(&self) -> DateTime {
        DateTime(self.0.last_accessed_at)
    }
    /// IP address that created the session.
    #[graphql(name = "createdByIP")]
    async fn created_by_ip(&self) -> Option<&str> {
        self.0.created_by_ip.as_deref()
    }
    /// IP address of the last use.
    #[graphql(name = "lastAccessedByIP")]
    async fn last_accessed_by_ip(&self) -> Option<&str> {
        self.0.last_accessed_by_ip.as_deref()
    }
    /// User agent that created the session.
    async fn user_agent(&self) -> Option<&str> {
        self.0.user_agent.as_deref()
    }
    /// A name people recognise the session by: the device an app described in
    /// `x_device_info` (an iPhone's model name, an Android phone's maker and model), else
    /// the browser and system of the user agent ("Chrome 120.0.0.0, Mac OSX 10.15.7").
    async fn display_name(&self) -> String {
        self.0.display_name()
    }
    /// The name of the application of a refresh-token grant.
    async fn application_name(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        let Some(client_id) = self.0.client_id.as_deref() else { return Ok(None) };
        Ok(services(ctx)?.applications().cached(client_id).await?.map(|a| a.name))
    }
    /// The authentication context class: `http://schemas.openid.net/pape/policies/2007/06/multi-factor`
    /// when the sign-in used a second factor, else null.
    async fn acr(&self) -> Option<&str> {
        self.0.acr()
    }
    /// When the session was last changed (its last use).
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.last_accessed_at)
    }
    /// ISO 3166-1 alpha-2 code of the country of the last IP address, when a GeoIP
    /// database is configured (`geoip_database_file`) and knows the address; else null.
    #[graphql(name = "lastAccessedByIPCountryCode")]
    async fn last_accessed_by_ip_country_code(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<String>> {
        Ok(self.country(ctx)?.map(|c| c.code))
    }
    /// English name of the country of the last IP address, when a GeoIP database is
    /// configured and knows the address; else null.
    #[graphql(name = "lastAccessedByIPEnglishCountryName")]
    async fn last_accessed_by_ip_english_country_name(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<String>> {
        Ok(self.country(ctx)?.map(|c| c.english_name))
    }
}

impl Session {
    /// The country of the last IP address.
    fn country(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<crate::service::geoip::IpCountry>> {
        let ip = self.0.last_accessed_by_ip.as_deref().unwrap_or("");
        Ok(services(ctx)?.ip_country(ip))
    }
}

/// A user's consent to a third-party application (`third_party_app`) and its scopes.
#[derive(Clone)]
pub struct Authorization(pub consents::Authorization);

/// A user's consent to a third-party application and its scopes.
#[Object(requires_scopes = "user:read")]
impl Authorization {
    /// The global ID of the authorization.
    pub async fn id(&self) -> ID {
        encode(self.0.id)
    }
    /// The application the user consented to.
    #[graphql(name = "clientID")]
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }
    /// Scopes the user consented to.
    async fn scopes(&self) -> &[String] {
        &self.0.scopes
    }
    /// When the user first consented.
    pub async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the consent last changed.
    pub async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// Input of `deleteAuthorization`.
#[derive(InputObject)]
pub struct DeleteAuthorizationInput {
    /// The authorization.
    #[graphql(name = "authorizationID")]
    pub authorization_id: ID,
}

/// Result of `deleteAuthorization`.
#[derive(SimpleObject)]
pub struct DeleteAuthorizationPayload {
    /// The authorization's user.
    pub user: User,
}

/// Input of `createSession`.
#[derive(InputObject)]
pub struct CreateSessionInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
    /// The application the tokens are for.
    #[graphql(name = "clientID")]
    pub client_id: String,
}

/// Result of `createSession`: tokens for the user, as the token endpoint returns them.
#[derive(SimpleObject)]
pub struct CreateSessionPayload {
    /// An access token (RFC 9068 JWT with the user's claims).
    pub access_token: String,
    /// A refresh token for the `refresh_token` grant.
    pub refresh_token: String,
    /// `Bearer`.
    pub token_type: String,
    /// Access token lifetime in seconds.
    pub expires_in: i64,
}

/// Input of `revokeSession`.
#[derive(InputObject)]
pub struct RevokeSessionInput {
    /// The session.
    #[graphql(name = "sessionID")]
    pub session_id: ID,
}

/// Result of `revokeSession`.
#[derive(SimpleObject)]
pub struct RevokeSessionPayload {
    /// The session's user.
    pub user: User,
}

/// Input of `revokeAllSessions`.
#[derive(InputObject)]
pub struct RevokeAllSessionsInput {
    /// The user.
    #[graphql(name = "userID")]
    pub user_id: ID,
}

/// Result of `revokeAllSessions`.
#[derive(SimpleObject)]
pub struct RevokeAllSessionsPayload {
    /// The user.
    pub user: User,
}

/// Session mutations; each needs `user:write` and is audited.
#[derive(Default)]
pub struct SessionMutation;

#[Object]
impl SessionMutation {
    /// Starts a refresh-token grant for a user and an application and returns its first
    /// tokens, as if the user had logged in to it.
    #[graphql(requires_scopes = "user:write")]
    async fn create_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user and the application.")] input: CreateSessionInput,
    ) -> async_graphql::Result<CreateSessionPayload> {
        let user_id = decode::<UserId>(&input.user_id)?;
        let t = services(ctx)?.sessions().create(&audit(ctx, "create_session"), user_id, &input.client_id).await?;
        Ok(CreateSessionPayload {
            access_token: t.access_token,
            refresh_token: t.refresh_token,
            token_type: "Bearer".into(),
            expires_in: t.expires_in,
        })
    }

    /// Ends a session; its refresh tokens stop working at once.
    #[graphql(requires_scopes = "user:write")]
    async fn revoke_session(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The session.")] input: RevokeSessionInput,
    ) -> async_graphql::Result<RevokeSessionPayload> {
        let id = decode::<SessionId>(&input.session_id)?;
        let user = services(ctx)?.sessions().revoke(&audit(ctx, "revoke_session"), id).await?;
        Ok(RevokeSessionPayload { user: User(user) })
    }

    /// Withdraws a user's consent to a third-party application: it must ask again, and
    /// its refresh-token grants for the user end.
    #[graphql(requires_scopes = "user:write")]
    async fn delete_authorization(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The authorization.")] input: DeleteAuthorizationInput,
    ) -> async_graphql::Result<DeleteAuthorizationPayload> {
        let id = decode::<AuthorizationId>(&input.authorization_id)?;
        let user = services(ctx)?.authorizations().delete(&audit(ctx, "delete_authorization"), id).await?;
        Ok(DeleteAuthorizationPayload { user: User(user) })
    }

    /// Ends every session of a user.
    #[graphql(requires_scopes = "user:write")]
    async fn revoke_all_sessions(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The user.")] input: RevokeAllSessionsInput,
    ) -> async_graphql::Result<RevokeAllSessionsPayload> {
        let id = decode::<UserId>(&input.user_id)?;
        let user = services(ctx)?.sessions().revoke_all(&audit(ctx, "revoke_all_sessions"), id).await?;
        Ok(RevokeAllSessionsPayload { user: User(user) })
    }
}
