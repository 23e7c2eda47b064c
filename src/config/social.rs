//! Social and enterprise login (Authgear's `identity.oauth.providers` and
//! `account_linking.oauth`): the upstream OAuth 2.0 / OpenID Connect providers a user may
//! sign in with, and what happens when a provider's email belongs to an existing account.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{ConfigError, Secret};

/// The kind of an upstream provider (Authgear's `type` names).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ProviderType {
    /// Any OpenID Connect provider, found by discovery from `issuer`.
    Oidc,
    /// Google (OpenID Connect).
    Google,
    /// GitHub (OAuth 2.0 and its REST API).
    Github,
    /// Sign in with Apple (OpenID Connect; an ES256 client secret; `form_post`).
    Apple,
    /// Facebook (OAuth 2.0 and the Graph API's `me`).
    Facebook,
    /// LinkedIn (OpenID Connect and its userinfo).
    Linkedin,
    /// Microsoft Entra ID (Azure AD v2.0, OpenID Connect with a tenant).
    Azureadv2,
}

impl ProviderType {
    /// The name in config and in the identity's `provider_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Google => "google",
            Self::Github => "github",
            Self::Apple => "apple",
            Self::Facebook => "facebook",
            Self::Linkedin => "linkedin",
            Self::Azureadv2 => "azureadv2",
        }
    }

    /// The name on the sign-in button.
    pub fn display_name(self) -> &'static str {
        match self {
            Self::Oidc => "OpenID Connect",
            Self::Google => "Google",
            Self::Github => "GitHub",
            Self::Apple => "Apple",
            Self::Facebook => "Facebook",
            Self::Linkedin => "LinkedIn",
            Self::Azureadv2 => "Microsoft",
        }
    }

    /// Whether the provider speaks OpenID Connect (an ID token checked against its JWKS).
    pub fn is_oidc(self) -> bool {
        !matches!(self, Self::Github | Self::Facebook)
    }
}

/// One configured provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthProviderConfig {
    /// The provider's name here: in the callback URL `/sso/oauth2/callback/<alias>`, in
    /// the identity (`provider_alias`) and in `getUserByOAuth`. `[A-Za-z0-9_-]`, unique.
    pub alias: String,
    /// The kind of provider.
    #[serde(rename = "type")]
    pub kind: ProviderType,
    /// The client ID registered at the provider (Apple: the Services ID).
    pub client_id: String,
    /// The client secret (Apple: the PEM of the team's `.p8` private key).
    #[serde(default)]
    pub client_secret: Option<Secret>,
    /// A file holding the client secret, read at start-up, when `client_secret` is unset.
    #[serde(default)]
    pub client_secret_file: Option<PathBuf>,
    /// Scopes to ask for; default per type (`openid profile email` for OpenID Connect).
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// The text of the button; default "Continue with <provider>".
    #[serde(default)]
    pub display_name: Option<String>,
    /// `oidc`: the issuer, where discovery is found. Presets: only to point them at a
    /// local fake in tests.
    #[serde(default)]
    pub issuer: Option<String>,
    /// `azureadv2`: the tenant (a tenant ID, `common`, `organizations` or `consumers`).
    #[serde(default)]
    pub tenant: Option<String>,
    /// `apple`: the team ID that signs the client secret.
    #[serde(default)]
    pub team_id: Option<String>,
    /// `apple`: the key ID of the `.p8` key.
    #[serde(default)]
    pub key_id: Option<String>,
    /// `github`, `facebook`: overrides, for tests against local fakes.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// `github`, `facebook`: overrides, for tests against local fakes.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// `github` (`https://api.github.com`), `facebook` (`https://graph.facebook.com/v19.0`):
    /// the API's base URL; override for tests against local fakes.
    #[serde(default)]
    pub api_base_url: Option<String>,
}

impl OAuthProviderConfig {
    /// The client secret, if configured.
    pub fn secret(&self) -> Option<&Secret> {
        self.client_secret.as_ref()
    }

    /// The scopes to ask for.
    pub fn scopes(&self) -> Vec<String> {
        if let Some(s) = &self.scopes {
            return s.clone();
        }
        let d: &[&str] = match self.kind {
            ProviderType::Github => &["read:user", "user:email"],
            ProviderType::Facebook => &["email", "public_profile"],
            ProviderType::Apple => &["openid", "name", "email"],
            _ => &["openid", "profile", "email"],
        };
        d.iter().map(|s| (*s).to_owned()).collect()
    }

    /// The button text.
    pub fn button(&self) -> String {
        self.display_name.clone().unwrap_or_else(|| format!("Continue with {}", self.kind.display_name()))
    }

    /// The OpenID Connect issuer (discovery is at `<issuer>/.well-known/openid-configuration`).
    pub fn oidc_issuer(&self) -> Option<String> {
        if let Some(i) = &self.issuer {
            return Some(i.trim_end_matches('/').to_owned());
        }
        Some(match self.kind {
            ProviderType::Google => "https://accounts.google.com".to_owned(),
            ProviderType::Apple => "https://appleid.apple.com".to_owned(),
            ProviderType::Linkedin => "https://www.linkedin.com/oauth".to_owned(),
            ProviderType::Azureadv2 => {
                format!("https://login.microsoftonline.com/{}/v2.0", self.tenant.as_deref().unwrap_or("common"))
            }
            _ => return None,
        })
    }
}

/// What a sign-in through a provider does when the provider's verified email is already
/// an existing account's login ID (Authgear's `account_linking.oauth[].action`).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum AccountLinking {
    /// Refuse, saying that an account with this email exists.
    #[default]
    Error,
    /// The user signs in to the existing account first; then the connection is added.
    LoginAndLink,
}

/// Social and enterprise login.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SocialLoginConfig {
    /// The providers; each gets a button on the login and signup pages.
    pub providers: Vec<OAuthProviderConfig>,
    /// When the provider's verified email is an existing account's login ID.
    pub account_linking: AccountLinking,
}

impl SocialLoginConfig {
    /// The provider named `alias`.
    pub fn provider(&self, alias: &str) -> Option<&OAuthProviderConfig> {
        self.providers.iter().find(|p| p.alias == alias)
    }

    /// Reads each `client_secret_file` into `client_secret`.
    pub fn read_secret_files(&mut self) -> Result<(), ConfigError> {
        for (i, p) in self.providers.iter_mut().enumerate() {
            if p.client_secret.is_none()
                && let Some(path) = &p.client_secret_file
            {
                let value = std::fs::read_to_string(path).map_err(|e| {
                    ConfigError(format!(
                        "`social_login.providers[{i}].client_secret_file`: cannot read {}: {e}",
                        path.display()
                    ))
                })?;
                p.client_secret = Some(Secret::new(value.trim().to_owned()));
            }
        }
        Ok(())
    }

    /// Checks each provider's required keys.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = std::collections::HashSet::new();
        for (i, p) in self.providers.iter().enumerate() {
            let key = |k: &str| format!("social_login.providers[{i}].{k}");
            let bad = |k: &str, msg: &str| Err(ConfigError(format!("`{}`: {msg}", key(k))));
            let alias_ok = !p.alias.is_empty()
                && p.alias.len() <= 64
                && p.alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !alias_ok {
                return bad("alias", "must be 1 to 64 characters of [A-Za-z0-9_-]");
            }
            if !seen.insert(p.alias.clone()) {
                return bad("alias", "is used by another provider");
            }
            if p.client_id.trim().is_empty() {
                return bad("client_id", "is required");
            }
            if p.client_secret.is_none() && p.client_secret_file.is_none() {
                return bad("client_secret", "is required (or client_secret_file)");
            }
            if p.kind == ProviderType::Oidc && p.issuer.is_none() {
                return bad("issuer", "is required for type `oidc`");
            }
            if p.kind == ProviderType::Apple && (p.team_id.is_none() || p.key_id.is_none()) {
                return bad("team_id", "`team_id` and `key_id` are required for type `apple`");
            }
            if p.kind == ProviderType::Azureadv2 && p.tenant.is_none() && p.issuer.is_none() {
                return bad("tenant", "is required for type `azureadv2`");
            }
            for (k, v) in [
                ("issuer", &p.issuer),
                ("authorization_endpoint", &p.authorization_endpoint),
                ("token_endpoint", &p.token_endpoint),
                ("api_base_url", &p.api_base_url),
            ] {
                if let Some(v) = v
                    && !url::Url::parse(v).is_ok_and(|u| u.scheme() == "https" || u.scheme() == "http")
                {
                    return bad(k, "must be an http(s) URL");
                }
            }
        }
        Ok(())
    }
}
