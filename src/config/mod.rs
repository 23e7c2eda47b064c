//! Typed configuration: defaults < `authgraph.toml` < `AUTHGRAPH_*` environment variables
//! (nested keys with `__`, e.g. `AUTHGRAPH_PASSWORD_POLICY__MIN_LENGTH=12`). Secrets can
//! also come from a file named by `AUTHGRAPH_<KEY>_FILE` (`AUTHGRAPH_DATABASE_URL_FILE`,
//! `AUTHGRAPH_MASTER_KEY_FILE`). Unknown keys and invalid values fail at start-up with a
//! message that names the key.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};

mod anonymous;
mod biometric;
mod bot_protection;
mod claims;
mod fraud_protection;
mod hook;
mod lifecycle;
mod lockout;
mod login;
mod messaging;
mod metrics;
mod password_import;
mod social;
mod user_export;
pub use crate::domain::attributes::{CustomAttribute, CustomAttributeType};
pub use crate::domain::login_id::{LoginIdConfig, LoginIdType};
pub use crate::domain::password::PasswordPolicy;
pub use anonymous::AnonymousConfig;
pub use biometric::BiometricConfig;
pub use bot_protection::{
    BotFlow, BotMode, BotProtectionConfig, BotProvider, BotRequirements, RECAPTCHA_SCRIPT_URL, RECAPTCHA_VERIFY_URL,
    TURNSTILE_SCRIPT_URL, TURNSTILE_VERIFY_URL,
};
pub use claims::{ClaimSource, CustomClaim, TokenKind};
pub use fraud_protection::{
    AlwaysAllow, AlwaysAllowIp, AlwaysAllowPhone, FraudProtectionAction, FraudProtectionConfig,
    FraudProtectionDecisionConfig, FraudProtectionSms, FraudProtectionWarning, FraudProtectionWarningType,
    PhoneCountryBudget, UnverifiedOtpBudget,
};
pub use hook::{
    BLOCKING_EVENTS, BlockingHandler, HandlerTarget, HookConfig, NonBlockingHandler, SCRIPT_URL_PREFIX, is_script_name,
};
pub use lifecycle::{AccountAnonymizationConfig, AccountDeletionConfig, LifecycleJobConfig};
pub use lockout::{LockoutConfig, LockoutMethod, LockoutMethodConfig, LockoutType};
pub use login::{
    MfaConfig, MfaGracePeriodConfig, MfaMode, RateLimitConfig, SessionConfig, SmtpConfig, SmtpTls, UiConfig,
};
pub use messaging::{
    EmailOtpMode, MessagingLimits, OobChannelConfig, OobEmailConfig, OobOtpConfig, SmsConfig, SmsProvider,
    SmsWebhookConfig, TWILIO_API, TwilioConfig,
};
pub use metrics::MetricsConfig;
pub use password_import::{FirebaseScryptConfig, PasswordImportConfig};
pub use social::{AccountLinking, OAuthProviderConfig, ProviderType, SocialLoginConfig};
pub use user_export::UserExportConfig;

/// Environment variables with the `AUTHGRAPH_` prefix that are not configuration keys.
const NON_CONFIG_ENV: &[&str] = &[
    "config",
    "test_database_url",
    "database_url_file",
    "master_key_file_content",
    "bot_protection.secret_key_file",
    "hook.webhook_secret_file",
];

/// A secret string: never printed by `Debug`.
#[derive(Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// The audit log.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Days an audit row (an event) is kept; older rows are deleted by the periodic
    /// clean-up. Authgear keeps 180.
    pub retention_days: u32,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self { retention_days: 180 }
    }
}

/// The whole server configuration.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the HTTP server listens on.
    pub listen: SocketAddr,
    /// Threads that serve HTTP connections, each with an event loop of its own; 0 (the
    /// default) means one per CPU that the process may run on.
    pub http_threads: u32,
    /// Public base URL of the server; it is the OIDC issuer. Default `http://<listen>`.
    pub public_url: Option<String>,
    /// `sqlite://path` (created if missing) or `postgres://...`.
    pub database_url: Secret,
    /// Maximum connections in the database pool.
    pub database_max_connections: u32,
    /// SQLite only: the page cache of each connection, in KiB (the pool's connections
    /// and the writer's each hold one; the operating system caches the file besides).
    pub database_sqlite_cache_kib: u32,
    /// Base64url (no padding) of 32 random bytes; encrypts signing keys at rest.
    pub master_key: Option<Secret>,
    /// File that holds the master key when `master_key` is not set; created (0600) if missing.
    pub master_key_file: PathBuf,
    /// Logging.
    pub log: LogConfig,
    /// Admin API.
    pub admin_api: AdminApiConfig,
    /// Password policy.
    pub password_policy: PasswordPolicy,
    /// Login ID types and normalisation.
    pub login_id: LoginIdConfig,
    /// Declared custom attributes (`customAttributes` of a user).
    pub custom_attributes: Vec<CustomAttribute>,
    /// OAuth settings.
    pub oauth: OAuthConfig,
    /// Browser sessions.
    pub session: SessionConfig,
    /// The Auth UI.
    pub ui: UiConfig,
    /// Outgoing email.
    pub smtp: SmtpConfig,
    /// Limits on failed password attempts, sign-ups and account lookups.
    pub rate_limits: RateLimitConfig,
    /// Anonymous users for apps (the anonymous-request grant); off by default.
    pub anonymous: AnonymousConfig,
    /// Biometric sign-in for apps (the biometric-request grant); off by default.
    pub biometric: BiometricConfig,
    /// A MaxMind DB file (GeoLite2 or GeoIP2 Country or City) for the country of a
    /// session's IP address in the Admin API; none by default.
    pub geoip_database_file: Option<PathBuf>,
    /// Multi-factor authentication at sign-in.
    pub mfa: MfaConfig,
    /// One-time codes and login links by email and SMS.
    pub oob_otp: OobOtpConfig,
    /// Outgoing SMS.
    pub sms: SmsConfig,
    /// Limits on messages sent and on wrong codes.
    pub messaging: MessagingLimits,
    /// A Turnstile or reCAPTCHA challenge on the signup, sign-in, send-code and
    /// forgot-password forms.
    pub bot_protection: BotProtectionConfig,
    /// Account lockout after failed sign-in attempts (Authgear's `authentication.lockout`);
    /// off unless `max_attempts` is set.
    pub authentication_lockout: LockoutConfig,
    /// SMS fraud protection (Authgear's `fraud_protection`): warnings about SMS pumping
    /// before each SMS with a code, and the decision to send or block it.
    pub fraud_protection: FraudProtectionConfig,
    /// Proxies (CIDRs such as `10.0.0.0/8` or single addresses) whose `Forwarded` /
    /// `X-Forwarded-For` headers name the client. Empty: the peer is the client.
    pub trusted_proxies: Vec<String>,
    /// The one header the trusted proxies write the client into: `x-forwarded-for`
    /// (default) or `forwarded`. The other is ignored, since a client can send it through.
    pub trusted_proxy_header: ProxyHeader,
    /// Social and enterprise login: upstream OAuth 2.0 / OpenID Connect providers and
    /// account linking.
    pub social_login: SocialLoginConfig,
    /// Event hooks: webhooks, blocking handlers and scripts (Authgear's `hook`).
    pub hook: HookConfig,
    /// The audit log: how long its rows are kept.
    pub audit: AuditConfig,
    /// Extra token claims from attributes, roles and groups (no code needed).
    pub custom_claims: Vec<CustomClaim>,
    /// Password hashes imported from other systems: project-wide parameters such as
    /// Firebase's signer key.
    pub password_import: PasswordImportConfig,
    /// Scheduled deletion: the grace period.
    pub account_deletion: AccountDeletionConfig,
    /// Scheduled anonymization: the grace period.
    pub account_anonymization: AccountAnonymizationConfig,
    /// The background job that runs due deletions and anonymizations.
    pub lifecycle_job: LifecycleJobConfig,
    /// User exports: link lifetime, retention, batch size.
    pub user_export: UserExportConfig,
    /// `GET /metrics`: a separate listener and/or a bearer token on the main one.
    pub metrics: MetricsConfig,
}

/// Where trusted proxies record the client's address.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Default)]
pub enum ProxyHeader {
    /// `X-Forwarded-For: client, proxy1, ...`.
    #[default]
    #[serde(rename = "x-forwarded-for")]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    #[serde(rename = "forwarded")]
    Forwarded,
}

/// OAuth settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OAuthConfig {
    /// A refresh token presented again within this many seconds of its rotation is a
    /// client's concurrent retry; after that it is reuse, and the whole grant is revoked.
    pub refresh_token_reuse_grace_seconds: i64,
    /// A rotated signing key is published in the JWKS this many seconds before it signs,
    /// so that every process (and every verifier that refetches the JWKS) has it first.
    pub key_publish_seconds: i64,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        Self { refresh_token_reuse_grace_seconds: 10, key_publish_seconds: 5 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            http_threads: 0,
            public_url: None,
            database_url: Secret::new("sqlite://authgraph.db"),
            database_max_connections: 8,
            database_sqlite_cache_kib: 2048,
            master_key: None,
            master_key_file: PathBuf::from("authgraph.master.key"),
            log: LogConfig::default(),
            admin_api: AdminApiConfig::default(),
            password_policy: PasswordPolicy::default(),
            login_id: LoginIdConfig::default(),
            custom_attributes: Vec::new(),
            oauth: OAuthConfig::default(),
            session: SessionConfig::default(),
            ui: UiConfig::default(),
            smtp: SmtpConfig::default(),
            rate_limits: RateLimitConfig::default(),
            anonymous: AnonymousConfig::default(),
            biometric: BiometricConfig::default(),
            geoip_database_file: None,
            mfa: MfaConfig::default(),
            oob_otp: OobOtpConfig::default(),
            sms: SmsConfig::default(),
            messaging: MessagingLimits::default(),
            bot_protection: BotProtectionConfig::default(),
            authentication_lockout: LockoutConfig::default(),
            fraud_protection: FraudProtectionConfig::default(),
            trusted_proxies: Vec::new(),
            trusted_proxy_header: ProxyHeader::default(),
            social_login: SocialLoginConfig::default(),
            hook: HookConfig::default(),
            audit: AuditConfig::default(),
            custom_claims: Vec::new(),
            password_import: PasswordImportConfig::default(),
            account_deletion: AccountDeletionConfig::default(),
            account_anonymization: AccountAnonymizationConfig::default(),
            lifecycle_job: LifecycleJobConfig::default(),
            user_export: UserExportConfig::default(),
            metrics: MetricsConfig::default(),
        }
    }
}

/// Log output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `pretty` or `json`.
    pub format: LogFormat,
    /// A tracing filter such as `info` or `authgraph=debug,info`; `RUST_LOG` overrides it.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self { format: LogFormat::Pretty, level: "info".into() }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Admin API settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminApiConfig {
    /// Audience of Admin API tokens. Default `<public_url>/_api/admin`.
    pub resource_uri: Option<String>,
    /// Maximum query depth.
    pub max_depth: usize,
    /// Maximum query complexity.
    pub max_complexity: usize,
    /// Serve GraphiQL on `GET /_api/admin/graphql` and `/graphiql`.
    pub graphiql: bool,
    /// A search keyword matching more users than this is "broad": the users list then
    /// walks users in sort order testing each, instead of sorting every match.
    pub search_broad_threshold: u64,
    /// How many users a broad search walks before it falls back to sorting the matches (on
    /// PostgreSQL a substring keyword walks four times as many rows of login IDs and names,
    /// which cost about a quarter as much each).
    pub search_walk_window: u64,
}

impl Default for AdminApiConfig {
    fn default() -> Self {
        Self {
            resource_uri: None,
            max_depth: 16,
            max_complexity: 100_000,
            graphiql: true,
            search_broad_threshold: 2_000,
            search_walk_window: 5_000,
        }
    }
}

/// A configuration error that names the key at fault.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Loads defaults, then `file` (if it exists, or fails if it was named explicitly),
    /// then `AUTHGRAPH_*` environment variables.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError(format!("config file {} does not exist", path.display())));
                }
                fig = fig.merge(Toml::file(path));
            }
            None => {
                if Path::new("authgraph.toml").exists() {
                    fig = fig.merge(Toml::file("authgraph.toml"));
                }
            }
        }
        fig = fig.merge(
            Env::prefixed("AUTHGRAPH_")
                .split("__")
                .filter(|k| !NON_CONFIG_ENV.contains(&k.as_str().to_ascii_lowercase().as_str())),
        );
        if let Ok(path) = std::env::var("AUTHGRAPH_DATABASE_URL_FILE") {
            let value = std::fs::read_to_string(&path)
                .map_err(|e| ConfigError(format!("AUTHGRAPH_DATABASE_URL_FILE: cannot read {path}: {e}")))?;
            fig = fig.merge(Serialized::default("database_url", value.trim()));
        }
        if let Ok(path) = std::env::var("AUTHGRAPH_BOT_PROTECTION__SECRET_KEY_FILE") {
            let value = std::fs::read_to_string(&path).map_err(|e| {
                ConfigError(format!("AUTHGRAPH_BOT_PROTECTION__SECRET_KEY_FILE: cannot read {path}: {e}"))
            })?;
            fig = fig.merge(Serialized::default("bot_protection.secret_key", value.trim()));
        }
        if let Ok(path) = std::env::var("AUTHGRAPH_HOOK__WEBHOOK_SECRET_FILE") {
            fig = fig.merge(Serialized::default("hook.webhook_secret_file", path));
        }
        let mut config: Config = fig.extract().map_err(|e| {
            let msgs: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
            ConfigError(msgs.join("; "))
        })?;
        config.social_login.read_secret_files()?;
        config.hook.read_secret_files()?;
        config.password_import.read_secret_files()?;
        config.metrics.read_secret_files()?;
        let explicit_grace = fig
            .find_metadata("account_deletion.grace_period_days")
            .is_some_and(|m| m.name != std::any::type_name::<Config>());
        config.resolve_aliases(explicit_grace)?;
        config.validate()?;
        // `RUST_LOG` replaces `log.level`: a typo there must not silence the server.
        if let Ok(filter) = std::env::var("RUST_LOG") {
            check_log_filter("RUST_LOG", &filter)?;
        }
        Ok(config)
    }

    /// Applies the old names of settings: `ui.deletion_grace_days` is
    /// `account_deletion.grace_period_days` (`explicit_grace`: the new key was set too;
    /// then the two must agree).
    pub fn resolve_aliases(&mut self, explicit_grace: bool) -> Result<(), ConfigError> {
        if let Some(days) = self.ui.deletion_grace_days {
            if explicit_grace && days != self.account_deletion.grace_period_days {
                return Err(ConfigError(
                    "`ui.deletion_grace_days` is the old name of `account_deletion.grace_period_days`; set only the new one"
                        .into(),
                ));
            }
            self.account_deletion.grace_period_days = days;
        }
        Ok(())
    }

    /// Checks values that serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: &str| Err(ConfigError(format!("`{key}`: {msg}")));
        if let Some(url) = &self.public_url {
            match url::Url::parse(url) {
                Ok(u) if (u.scheme() == "http" || u.scheme() == "https") && u.query().is_none() => {}
                _ => return bad("public_url", "must be an absolute http(s) URL without query"),
            }
        }
        let db = self.database_url.expose();
        if !(db.starts_with("sqlite:") || db.starts_with("postgres://") || db.starts_with("postgresql://")) {
            return bad("database_url", "must start with sqlite:, postgres:// or postgresql://");
        }
        check_log_filter("log.level", &self.log.level)?;
        self.check_ranges()?;
        self.bot_protection.validate()?;
        self.authentication_lockout.validate()?;
        self.fraud_protection.validate()?;
        self.metrics.validate()?;
        self.social_login.validate()?;
        self.hook.validate()?;
        self.password_import.validate()?;
        self.user_export.validate()?;
        claims::validate(&self.custom_claims, &self.custom_attributes)?;
        if !(1..=3650).contains(&self.audit.retention_days) {
            return bad("audit.retention_days", "must be between 1 and 3650");
        }
        if let Some(uri) = &self.admin_api.resource_uri
            && url::Url::parse(uri).is_err()
        {
            return bad("admin_api.resource_uri", "must be an absolute URI");
        }
        let p = &self.password_policy;
        if p.min_length == 0 || p.min_length > p.max_length || p.max_length > 4096 {
            return bad("password_policy.min_length", "must be between 1 and password_policy.max_length (≤ 4096)");
        }
        if self.login_id.types.is_empty() {
            return bad("login_id.types", "enable at least one of email, phone, username");
        }
        if self.login_id.username_max_length == 0 || self.login_id.username_max_length > 255 {
            return bad("login_id.username_max_length", "must be between 1 and 255");
        }
        if self.smtp.host.is_some() && self.smtp.from.parse::<lettre::message::Mailbox>().is_err() {
            return bad("smtp.from", "must be an email address, optionally with a name: `Name <a@example.com>`");
        }
        self.check_messaging()?;
        if !(0..=3600).contains(&self.oauth.key_publish_seconds) {
            return bad("oauth.key_publish_seconds", "must be between 0 and 3600");
        }
        for (i, proxy) in self.trusted_proxies.iter().enumerate() {
            if parse_cidr(proxy).is_none() {
                return bad(&format!("trusted_proxies[{i}]"), "must be an IP address or a CIDR such as `10.0.0.0/8`");
            }
        }
        let mut seen = std::collections::HashSet::new();
        for (i, attr) in self.custom_attributes.iter().enumerate() {
            let key = format!("custom_attributes[{i}]");
            let name = attr.name();
            let valid_name = attr.pointer.starts_with('/')
                && !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid_name {
                return bad(&format!("{key}.pointer"), "must be `/name` with name of [A-Za-z0-9_]");
            }
            if crate::domain::attributes::is_standard_attribute(name) {
                return bad(&format!("{key}.pointer"), "must not be a standard attribute name");
            }
            if !seen.insert(name.to_owned()) {
                return bad(&format!("{key}.pointer"), "is declared twice");
            }
            match attr.kind {
                CustomAttributeType::Enum => {
                    let ok = !attr.values.is_empty()
                        && attr.values.iter().all(|v| v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
                    if !ok {
                        return bad(&format!("{key}.enum"), "needs values matching ^[a-zA-Z0-9_]*$");
                    }
                }
                CustomAttributeType::Number | CustomAttributeType::Integer => {
                    for (bound, v) in [("minimum", attr.minimum), ("maximum", attr.maximum)] {
                        if v.is_some_and(|v| !v.is_finite()) {
                            return bad(&format!("{key}.{bound}"), "must be a finite number");
                        }
                    }
                    if let (Some(min), Some(max)) = (attr.minimum, attr.maximum)
                        && min > max
                    {
                        return bad(&format!("{key}.minimum"), "must not exceed maximum");
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// One-time codes and the SMS provider.
    fn check_messaging(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, msg: &str| Err(ConfigError(format!("`{key}`: {msg}")));
        let o = &self.oob_otp;
        within("oob_otp.code_lifetime_seconds", o.code_lifetime_seconds, 30, 86_400)?;
        within("oob_otp.link_lifetime_seconds", o.link_lifetime_seconds, 60, 86_400)?;
        within("oob_otp.max_failed_attempts", o.max_failed_attempts, 1, 100)?;
        within("oob_otp.resend_cooldown_seconds", o.resend_cooldown_seconds, 0, 3_600)?;
        within("oob_otp.code_digits", o.code_digits, 4, 12)?;
        let m = &self.messaging;
        for (key, v) in [
            ("messaging.sms_per_ip_per_minute", m.sms_per_ip_per_minute),
            ("messaging.sms_per_target_per_hour", m.sms_per_target_per_hour),
            ("messaging.email_per_ip_per_minute", m.email_per_ip_per_minute),
            ("messaging.email_per_target_per_day", m.email_per_target_per_day),
            ("messaging.code_failures_per_ip_per_minute", m.code_failures_per_ip_per_minute),
        ] {
            within(key, v, 0, 1_000_000)?;
        }
        let types = &self.login_id.types;
        if o.email.channel.primary && !types.contains(&LoginIdType::Email) {
            return bad("oob_otp.email.primary", "needs `email` in login_id.types");
        }
        if o.sms.primary && !types.contains(&LoginIdType::Phone) {
            return bad("oob_otp.sms.primary", "needs `phone` in login_id.types");
        }
        let http_url = |u: &str| url::Url::parse(u).is_ok_and(|u| u.scheme() == "http" || u.scheme() == "https");
        match self.sms.provider {
            SmsProvider::Log => {}
            SmsProvider::Webhook => {
                if !self.sms.webhook.url.as_deref().is_some_and(http_url) {
                    return bad("sms.webhook.url", "must be an http(s) URL when sms.provider is `webhook`");
                }
                if self.sms.webhook.secret.as_ref().is_none_or(|s| s.expose().len() < 16) {
                    return bad("sms.webhook.secret", "must be at least 16 characters when sms.provider is `webhook`");
                }
            }
            SmsProvider::Twilio => {
                let t = &self.sms.twilio;
                if !http_url(&t.base_url) {
                    return bad("sms.twilio.base_url", "must be an http(s) URL");
                }
                if t.account_sid.is_empty() || t.auth_token.is_none() {
                    return bad("sms.twilio", "needs account_sid and auth_token when sms.provider is `twilio`");
                }
                if t.from.is_none() == t.messaging_service_sid.is_none() {
                    return bad("sms.twilio", "needs exactly one of `from` and `messaging_service_sid`");
                }
            }
        }
        Ok(())
    }

    /// The number of HTTP threads to run: `http_threads`, or one per CPU this process may
    /// run on (its affinity mask, so `taskset -c 0` gives one).
    pub fn http_thread_count(&self) -> usize {
        match self.http_threads {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            n => n as usize,
        }
    }

    /// Range checks of every numeric setting; the error names the key and the range.
    fn check_ranges(&self) -> Result<(), ConfigError> {
        const YEAR: i64 = 366 * 86_400;
        const RATE: i64 = 1_000_000;
        let a = &self.admin_api;
        let r = &self.rate_limits;
        within("database_max_connections", self.database_max_connections, 1, 1_000)?;
        within("http_threads", self.http_threads, 0, 1_024)?;
        within("database_sqlite_cache_kib", self.database_sqlite_cache_kib, 64, 4_194_304)?;
        within("admin_api.max_depth", a.max_depth, 1, 1_000)?;
        within("admin_api.max_complexity", a.max_complexity, 1, 100_000_000)?;
        within("admin_api.search_broad_threshold", a.search_broad_threshold, 1, 100_000_000)?;
        within("admin_api.search_walk_window", a.search_walk_window, 1, 100_000_000)?;
        within("password_policy.max_length", self.password_policy.max_length, 1, 4_096)?;
        let pp = &self.password_policy;
        within("password_policy.minimum_guessable_level", pp.minimum_guessable_level, 0, 4)?;
        let max_history = crate::domain::password::MAX_PASSWORD_HISTORY;
        within("password_policy.history_size", pp.history_size, 0, max_history)?;
        within("password_policy.history_days", pp.history_days, 0, 3_660)?;
        within(
            "password_policy.expiry.force_change.duration_since_last_update_seconds",
            pp.expiry.force_change.duration_since_last_update_seconds,
            1,
            10 * YEAR,
        )?;
        within("session.reauthentication_max_age_seconds", self.session.reauthentication_max_age_seconds, 1, YEAR)?;
        within("oauth.refresh_token_reuse_grace_seconds", self.oauth.refresh_token_reuse_grace_seconds, 0, 300)?;
        within("session.lifetime_seconds", self.session.lifetime_seconds, 60, 10 * YEAR)?;
        within("session.idle_timeout_seconds", self.session.idle_timeout_seconds, 60, 10 * YEAR)?;
        if let Some(days) = self.ui.deletion_grace_days {
            within("ui.deletion_grace_days", days, 1, 180)?;
        }
        within("account_deletion.grace_period_days", self.account_deletion.grace_period_days, 1, 180)?;
        within("account_anonymization.grace_period_days", self.account_anonymization.grace_period_days, 1, 180)?;
        within("lifecycle_job.interval_seconds", self.lifecycle_job.interval_seconds, 1, 86_400)?;
        within("lifecycle_job.batch_size", self.lifecycle_job.batch_size, 1, 10_000)?;
        within("mfa.device_token_lifetime_seconds", self.mfa.device_token_lifetime_seconds, 60, 10 * YEAR)?;
        within("smtp.port", self.smtp.port, 1, u16::MAX)?;
        within("rate_limits.login_failures_per_ip_per_minute", r.login_failures_per_ip_per_minute, 0, RATE)?;
        within("rate_limits.login_failures_per_account_per_minute", r.login_failures_per_account_per_minute, 0, RATE)?;
        within(
            "rate_limits.password_check_failures_per_user_per_minute",
            r.password_check_failures_per_user_per_minute,
            0,
            RATE,
        )?;
        within("rate_limits.signups_per_ip_per_minute", r.signups_per_ip_per_minute, 0, RATE)?;
        within("rate_limits.anonymous_signups_per_ip_per_minute", r.anonymous_signups_per_ip_per_minute, 0, RATE)?;
        within("rate_limits.account_enumeration_per_ip_per_minute", r.account_enumeration_per_ip_per_minute, 0, RATE)?;
        Ok(())
    }

    /// The trusted proxies, parsed (`validate` has checked each).
    pub fn trusted_proxy_nets(&self) -> Vec<ipnet::IpNet> {
        self.trusted_proxies.iter().filter_map(|p| parse_cidr(p)).collect()
    }

    /// The public base URL without a trailing slash.
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// The Admin API resource URI (audience of admin tokens).
    pub fn admin_resource_uri(&self) -> String {
        self.admin_api.resource_uri.clone().unwrap_or_else(|| format!("{}/_api/admin", self.public_url()))
    }
}

/// Refuses `value` for `key` unless `min <= value <= max`.
fn within<T: PartialOrd + fmt::Display>(key: &str, value: T, min: T, max: T) -> Result<(), ConfigError> {
    if value < min || value > max {
        return Err(ConfigError(format!("`{key}`: must be between {min} and {max}, not {value}")));
    }
    Ok(())
}

/// Checks a tracing filter (`log.level` or `RUST_LOG`): every comma-separated directive
/// is a level (`trace`, `debug`, `info`, `warn`, `error`, `off`) or `target=level`.
/// `tracing` itself reads a lone word such as `inf` or `warning` as a target name, which
/// turns every other log line off: the server would run and log nothing.
pub fn check_log_filter(key: &str, filter: &str) -> Result<(), ConfigError> {
    let bad = |why: String| {
        Err(ConfigError(format!(
            "`{key}`: {why}; use a level (trace, debug, info, warn, error, off) or target=level directives such as `info,authgraph=debug`"
        )))
    };
    let level = |s: &str| s.trim().parse::<tracing_subscriber::filter::LevelFilter>().is_ok();
    if filter.trim().is_empty() {
        return bad("is empty".into());
    }
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let ok = match directive.rsplit_once('=') {
            Some((target, lvl)) => !target.trim().is_empty() && level(lvl),
            None => level(directive),
        };
        if !ok {
            return bad(format!("`{directive}` is neither a level nor target=level"));
        }
    }
    if tracing_subscriber::EnvFilter::try_new(filter).is_err() {
        return bad(format!("`{filter}` is not a tracing filter"));
    }
    Ok(())
}

/// Parses `10.0.0.0/8`, `::1/128` or a single address (a /32 or /128 network).
pub fn parse_cidr(value: &str) -> Option<ipnet::IpNet> {
    let value = value.trim();
    value.parse::<ipnet::IpNet>().ok().or_else(|| value.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
}
