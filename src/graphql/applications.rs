//! Applications (OAuth clients) and their secrets.

use crate::domain::ids::ApplicationSecretId;
use crate::domain::reason;
use crate::graphql::date_time::DateTime;
use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};

use super::connection::{Conn, CountSource, args, to_conn};
use super::context::{audit, held, services};
use super::error::bad_input;
use super::node::{decode, encode};
use crate::domain::oauth::AppType;
use crate::service::admin::applications::AppSettings;

/// Application types.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum ApplicationType {
    /// Single-page app in a browser: a public client that must use PKCE.
    Spa,
    /// Mobile or desktop app: a public client that must use PKCE.
    Native,
    /// Server-side web app of this project: a confidential client.
    TraditionalWebapp,
    /// Confidential client with a secret.
    Confidential,
    /// Machine to machine: client credentials only, no users.
    #[graphql(name = "M2M")]
    M2m,
    /// Another party's app: confidential, and users are asked for consent.
    ThirdPartyApp,
}

impl From<ApplicationType> for AppType {
    fn from(t: ApplicationType) -> Self {
        match t {
            ApplicationType::Spa => Self::Spa,
            ApplicationType::Native => Self::Native,
            ApplicationType::TraditionalWebapp => Self::TraditionalWebapp,
            ApplicationType::Confidential => Self::Confidential,
            ApplicationType::M2m => Self::M2m,
            ApplicationType::ThirdPartyApp => Self::ThirdPartyApp,
        }
    }
}

impl From<AppType> for ApplicationType {
    fn from(t: AppType) -> Self {
        match t {
            AppType::Spa => Self::Spa,
            AppType::Native => Self::Native,
            AppType::TraditionalWebapp => Self::TraditionalWebapp,
            AppType::Confidential => Self::Confidential,
            AppType::M2m => Self::M2m,
            AppType::ThirdPartyApp => Self::ThirdPartyApp,
        }
    }
}

/// JWS algorithms for access tokens.
#[derive(Enum, Copy, Clone, Eq, PartialEq)]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (the default; every verifier supports it).
    #[graphql(name = "RS256")]
    Rs256,
    /// ECDSA P-256 with SHA-256: small, fast to sign.
    #[graphql(name = "ES256")]
    Es256,
    /// Ed25519.
    #[graphql(name = "EdDSA")]
    EdDsa,
}

impl SigningAlgorithm {
    /// JWS name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Es256 => "ES256",
            Self::EdDsa => "EdDSA",
        }
    }
    /// From the JWS name.
    pub fn parse(s: &str) -> Self {
        match s {
            "ES256" => Self::Es256,
            "EdDSA" => Self::EdDsa,
            _ => Self::Rs256,
        }
    }
}

/// A client secret as it can be shown: never the secret itself.
#[derive(SimpleObject, Clone)]
#[graphql(requires_scopes = "application:read", requires_scopes = "application:write")]
pub struct ApplicationSecret {
    /// The global ID of the secret (pass it to `revokeApplicationSecret`).
    pub id: ID,
    /// The last four characters of the secret.
    pub hint: String,
    /// When the secret was created.
    pub created_at: DateTime,
    /// When the secret was revoked; null while it is active.
    pub revoked_at: Option<DateTime>,
}

/// An application: an OAuth client that gets tokens from this server.
#[derive(Clone)]
pub struct Application(pub crate::service::admin::applications::Application);

/// An application: an OAuth client that gets tokens from this server.
#[Object(requires_scopes = "application:read", requires_scopes = "application:write")]
impl Application {
    /// The global ID of the application.
    pub async fn id(&self) -> ID {
        encode(self.0.id)
    }
    /// The OAuth `client_id`.
    #[graphql(name = "clientID")]
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }
    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Application type.
    #[graphql(name = "type")]
    async fn app_type(&self) -> ApplicationType {
        self.0.kind.into()
    }
    /// Redirect URIs; an authorization request must use one of them exactly.
    #[graphql(name = "redirectURIs")]
    async fn redirect_uris(&self) -> &[String] {
        &self.0.redirect_uris
    }
    /// Where the app may send users after logout.
    #[graphql(name = "postLogoutRedirectURIs")]
    async fn post_logout_redirect_uris(&self) -> &[String] {
        &self.0.post_logout_redirect_uris
    }
    /// OAuth grant types the app may use.
    async fn grant_types(&self) -> &[String] {
        &self.0.grant_types
    }
    /// Web origins allowed to call the token and userinfo endpoints (CORS).
    async fn allowed_origins(&self) -> &[String] {
        &self.0.allowed_origins
    }
    /// Access token lifetime in seconds.
    async fn access_token_lifetime_seconds(&self) -> i64 {
        self.0.access_token_lifetime
    }
    /// Refresh token lifetime in seconds.
    async fn refresh_token_lifetime_seconds(&self) -> i64 {
        self.0.refresh_token_lifetime
    }
    /// A refresh token unused for this many seconds expires.
    async fn refresh_token_idle_timeout_seconds(&self) -> i64 {
        self.0.refresh_token_idle_timeout
    }
    /// Whether each refresh returns a new refresh token (and the old one stops working).
    async fn refresh_token_rotation_enabled(&self) -> bool {
        self.0.refresh_token_rotation
    }
    /// Algorithm of the app's access tokens.
    async fn access_token_signing_algorithm(&self) -> SigningAlgorithm {
        SigningAlgorithm::parse(&self.0.access_token_alg)
    }
    /// Algorithm of the app's ID tokens (OpenID Connect's `id_token_signed_response_alg`).
    /// RS256 unless the app asks for another: every OpenID Connect library verifies RS256,
    /// and ES256 or EdDSA tokens cost the server a fraction of an RS256 signature.
    #[graphql(name = "idTokenSigningAlgorithm")]
    async fn id_token_signing_algorithm(&self) -> SigningAlgorithm {
        SigningAlgorithm::parse(&self.0.id_token_alg)
    }
    /// Whether the app may introspect (RFC 7662) tokens issued to other clients, as a
    /// resource server does; otherwise introspecting another client's token answers
    /// `{"active": false}`.
    async fn can_introspect_all_tokens(&self) -> bool {
        self.0.can_introspect_all_tokens
    }
    /// The app's client secrets, newest first (hints only).
    async fn secrets(&self) -> Vec<ApplicationSecret> {
        self.0
            .secrets
            .iter()
            .map(|s| ApplicationSecret {
                id: encode(s.id),
                hint: s.hint.clone(),
                created_at: DateTime(s.created_at),
                revoked_at: s.revoked_at.map(DateTime),
            })
            .collect()
    }
    /// When the application was created.
    pub async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    /// When the application was last changed.
    pub async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
}

/// Application queries.
#[derive(Default)]
pub struct ApplicationQuery;

#[Object]
impl ApplicationQuery {
    /// Lists applications, newest first. The keyword matches a prefix of the name
    /// (case-insensitive) or of the client ID. Needs `application:read`.
    #[graphql(
        requires_scopes = "application:read",
        complexity = "super::connection::page_complexity(first, last, child_complexity)",
        tag = "db_count"
    )]
    async fn applications(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "Search keyword.")] search_keyword: Option<String>,
        #[graphql(desc = "Items after this cursor.")] after: Option<String>,
        #[graphql(desc = "Items before this cursor.")] before: Option<String>,
        #[graphql(desc = "At most this many items from the start (≤ 100, default 100).")] first: Option<i32>,
        #[graphql(desc = "At most this many items from the end (≤ 100).")] last: Option<i32>,
    ) -> async_graphql::Result<Conn<Application>> {
        let svc = services(ctx)?;
        let page = svc.applications().list(search_keyword.as_deref(), &args(first, after, last, before)).await?;
        Ok(to_conn(page, CountSource::Applications(search_keyword), Application))
    }

    /// The application with this client ID, or null. Needs `application:read`.
    #[graphql(name = "getApplicationByClientID", requires_scopes = "application:read")]
    async fn get_application_by_client_id(
        &self,
        ctx: &Context<'_>,
        #[graphql(name = "clientID", desc = "The OAuth client ID.")] client_id: String,
    ) -> async_graphql::Result<Option<Application>> {
        Ok(services(ctx)?.applications().get(&client_id).await?.map(Application))
    }
}

/// Input of `createApplication`.
#[derive(InputObject)]
pub struct CreateApplicationInput {
    /// Display name.
    pub name: String,
    /// Application type.
    #[graphql(name = "type")]
    pub app_type: ApplicationType,
    /// Redirect URIs: absolute, no fragment; http only on loopback.
    #[graphql(name = "redirectURIs")]
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs.
    #[graphql(name = "postLogoutRedirectURIs")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grant types (default: `authorization_code` and `refresh_token`, or
    /// `client_credentials` for m2m).
    pub grant_types: Option<Vec<String>>,
    /// CORS origins such as `https://app.example.com`.
    pub allowed_origins: Option<Vec<String>>,
    /// Access token lifetime in seconds (60 to 86,400; default 1,800).
    pub access_token_lifetime_seconds: Option<i64>,
    /// Refresh token lifetime in seconds (default 364 days).
    pub refresh_token_lifetime_seconds: Option<i64>,
    /// Refresh token idle timeout in seconds (default 30 days).
    pub refresh_token_idle_timeout_seconds: Option<i64>,
    /// Rotate refresh tokens on use (default true).
    pub refresh_token_rotation_enabled: Option<bool>,
    /// Access token algorithm (default RS256).
    pub access_token_signing_algorithm: Option<SigningAlgorithm>,
    /// ID token algorithm (default RS256; the relying party's library must accept the one
    /// chosen).
    #[graphql(name = "idTokenSigningAlgorithm")]
    pub id_token_signing_algorithm: Option<SigningAlgorithm>,
    /// Let the app introspect tokens issued to other clients (default false; only for
    /// apps with a secret).
    pub can_introspect_all_tokens: Option<bool>,
}

/// Result of `createApplication`.
#[derive(SimpleObject)]
pub struct CreateApplicationPayload {
    /// The new application.
    pub application: Application,
    /// The first client secret of a confidential or m2m application. It is shown only
    /// here: store it now.
    pub client_secret: Option<String>,
}

/// Input of `updateApplication`: null fields keep their value.
#[derive(InputObject)]
pub struct UpdateApplicationInput {
    /// The application.
    #[graphql(name = "clientID")]
    pub client_id: String,
    /// Display name.
    pub name: Option<String>,
    /// Redirect URIs (replaces the list).
    #[graphql(name = "redirectURIs")]
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs (replaces the list).
    #[graphql(name = "postLogoutRedirectURIs")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grant types (replaces the list).
    pub grant_types: Option<Vec<String>>,
    /// CORS origins (replaces the list).
    pub allowed_origins: Option<Vec<String>>,
    /// Access token lifetime in seconds.
    pub access_token_lifetime_seconds: Option<i64>,
    /// Refresh token lifetime in seconds.
    pub refresh_token_lifetime_seconds: Option<i64>,
    /// Refresh token idle timeout in seconds.
    pub refresh_token_idle_timeout_seconds: Option<i64>,
    /// Rotate refresh tokens on use.
    pub refresh_token_rotation_enabled: Option<bool>,
    /// Access token algorithm.
    pub access_token_signing_algorithm: Option<SigningAlgorithm>,
    /// ID token algorithm.
    #[graphql(name = "idTokenSigningAlgorithm")]
    pub id_token_signing_algorithm: Option<SigningAlgorithm>,
    /// Let the app introspect tokens issued to other clients (only for apps with a secret).
    pub can_introspect_all_tokens: Option<bool>,
}

/// Result of `updateApplication`.
#[derive(SimpleObject)]
pub struct UpdateApplicationPayload {
    /// The application after the change.
    pub application: Application,
}

/// Input of `deleteApplication`.
#[derive(InputObject)]
pub struct DeleteApplicationInput {
    /// The application.
    #[graphql(name = "clientID")]
    pub client_id: String,
}

/// Result of `deleteApplication`.
#[derive(SimpleObject)]
pub struct DeleteApplicationPayload {
    /// Always true.
    pub ok: bool,
}

/// Input of `createApplicationSecret`.
#[derive(InputObject)]
pub struct CreateApplicationSecretInput {
    /// The application.
    #[graphql(name = "clientID")]
    pub client_id: String,
}

/// Result of `createApplicationSecret`.
#[derive(SimpleObject)]
pub struct CreateApplicationSecretPayload {
    /// The application after the change.
    pub application: Application,
    /// The new secret, shown only here.
    pub client_secret: String,
}

/// Input of `revokeApplicationSecret`.
#[derive(InputObject)]
pub struct RevokeApplicationSecretInput {
    /// The application.
    #[graphql(name = "clientID")]
    pub client_id: String,
    /// The secret (its `id` in `Application.secrets`).
    #[graphql(name = "secretID")]
    pub secret_id: ID,
}

/// Result of `revokeApplicationSecret`.
#[derive(SimpleObject)]
pub struct RevokeApplicationSecretPayload {
    /// The application after the change.
    pub application: Application,
}

macro_rules! settings {
    ($input:expr, $name:expr) => {
        AppSettings {
            name: $name,
            redirect_uris: $input.redirect_uris,
            post_logout_redirect_uris: $input.post_logout_redirect_uris,
            grant_types: $input.grant_types,
            allowed_origins: $input.allowed_origins,
            access_token_lifetime: $input.access_token_lifetime_seconds,
            refresh_token_lifetime: $input.refresh_token_lifetime_seconds,
            refresh_token_idle_timeout: $input.refresh_token_idle_timeout_seconds,
            refresh_token_rotation: $input.refresh_token_rotation_enabled,
            access_token_alg: $input.access_token_signing_algorithm.map(|a| a.as_str().to_owned()),
            id_token_alg: $input.id_token_signing_algorithm.map(|a| a.as_str().to_owned()),
            can_introspect_all_tokens: $input.can_introspect_all_tokens,
        }
    };
}

/// Application mutations; each needs `application:write` and is audited.
#[derive(Default)]
pub struct ApplicationMutation;

#[Object]
impl ApplicationMutation {
    /// Creates an application; a confidential or m2m one gets its first secret.
    #[graphql(requires_scopes = "application:write")]
    async fn create_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The new application.")] input: CreateApplicationInput,
    ) -> async_graphql::Result<CreateApplicationPayload> {
        let kind = input.app_type.into();
        let name = Some(input.name.clone());
        let (app, secret) = services(ctx)?
            .applications()
            .create(&audit(ctx, "create_application"), kind, settings!(input, name))
            .await?;
        Ok(CreateApplicationPayload { application: Application(app), client_secret: secret })
    }

    /// Changes an application's settings.
    #[graphql(requires_scopes = "application:write")]
    async fn update_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "What to change.")] input: UpdateApplicationInput,
    ) -> async_graphql::Result<UpdateApplicationPayload> {
        let client_id = input.client_id.clone();
        let name = input.name.clone();
        let app = services(ctx)?
            .applications()
            .update(&audit(ctx, "update_application"), held(ctx), &client_id, settings!(input, name))
            .await?;
        Ok(UpdateApplicationPayload { application: Application(app) })
    }

    /// Deletes an application, its secrets and its grants.
    #[graphql(requires_scopes = "application:write")]
    async fn delete_application(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The application to delete.")] input: DeleteApplicationInput,
    ) -> async_graphql::Result<DeleteApplicationPayload> {
        services(ctx)?.applications().delete(&audit(ctx, "delete_application"), held(ctx), &input.client_id).await?;
        Ok(DeleteApplicationPayload { ok: true })
    }

    /// Adds a client secret. Two may be active at a time, so a secret rotates without
    /// downtime: create the new one, deploy it, then revoke the old one.
    #[graphql(requires_scopes = "application:write")]
    async fn create_application_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The application.")] input: CreateApplicationSecretInput,
    ) -> async_graphql::Result<CreateApplicationSecretPayload> {
        let (app, secret) = services(ctx)?
            .applications()
            .create_secret(&audit(ctx, "create_application_secret"), held(ctx), &input.client_id)
            .await?;
        Ok(CreateApplicationSecretPayload { application: Application(app), client_secret: secret })
    }

    /// Revokes a client secret; it stops working at once.
    #[graphql(requires_scopes = "application:write")]
    async fn revoke_application_secret(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The application and the secret.")] input: RevokeApplicationSecretInput,
    ) -> async_graphql::Result<RevokeApplicationSecretPayload> {
        let secret_id = decode::<ApplicationSecretId>(&input.secret_id)?;
        if input.client_id.is_empty() {
            return Err(bad_input(reason::INVALID_CLIENT_ID, "clientID is required"));
        }
        let app = services(ctx)?
            .applications()
            .revoke_secret(&audit(ctx, "revoke_application_secret"), held(ctx), &input.client_id, secret_id)
            .await?;
        Ok(RevokeApplicationSecretPayload { application: Application(app) })
    }
}
