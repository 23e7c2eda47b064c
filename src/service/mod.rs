//! The business logic, and the only layer that touches sea-orm: everything that takes a
//! database handle, a connection, a transaction or an entity is private to this module.
//! Resolvers and HTTP handlers call one method on an area's handle
//! (`services.users().create(…)`) and map the result. See ARCHITECTURE.md.
//!
//! - `admin/`: what the Admin API manages (users, roles, applications, …);
//! - `oauth/`: the OAuth and OpenID Connect flows, one module per grant;
//! - `account/`: end users on their own account (login, signup, settings, reset);
//! - `store/`: database plumbing (connection, group commit, paging);
//! - `unit_of_work/`: the one write path, with the audit row;
//! - `maintenance.rs`: background clean-up.
//!
//! The compiler keeps the database inside this module. Outside it, neither the database
//! handle nor the storage plumbing is visible:
//!
//! ```compile_fail
//! fn peek(services: &authgraph::service::Services) {
//!     let _ = &services.db; // private to the service layer
//! }
//! ```
//!
//! ```compile_fail
//! use authgraph::service::store::db::Db; // the module is private to the service layer
//! ```

pub mod account;
pub mod admin;
mod error;
pub mod events;
mod gauges;
pub mod geoip;
mod handles;
pub mod import;
pub mod maintenance;
pub mod oauth;
pub mod startup;
pub(in crate::service) mod store;
pub mod unit_of_work;

use std::sync::Arc;

use crate::config::Config;
use crate::crypto::jwt::KeyRing;
use crate::crypto::master_key::MasterKey;
use crate::crypto::password::PasswordHasher;

pub(in crate::service) use error::conflict_on_unique;
pub use error::{Error, HookFailure, HookReason, Internal, Result};
pub use handles::{
    Account, Applications, AuditLogs, Authenticators, Authorizations, FraudProtection, HookScripts, Identities,
    Imports, Lookups, Maintenance, OAuth, Resources, RolesGroups, Sessions, SigningKeys, UserExports, Users, Webhooks,
};
pub(in crate::service) use store::db::Db;
pub use store::{paging, time};
pub use unit_of_work::{Actor, Audit, TriggeredBy};

/// Everything the service layer needs, shared by all requests. Cloning it is one
/// reference count (handlers clone the application state on every request).
#[derive(Clone)]
pub struct Services(Arc<Shared>);

impl std::ops::Deref for Services {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

/// What [`Services`] shares.
pub struct Shared {
    pub(in crate::service) db: Db,
    pub(in crate::service) config: Arc<Config>,
    pub(in crate::service) hasher: PasswordHasher,
    pub(in crate::service) master_key: Arc<MasterKey>,
    pub(in crate::service) keys: Arc<KeyRing>,
    /// Admin API tokens already verified by this process.
    pub(in crate::service) admin_tokens: Arc<admin::admin_tokens::AdminTokens>,
    pub(in crate::service) audit_batch: store::audit_batch::AuditBatcher,
    pub(in crate::service) origins: Arc<admin::app_cache::OriginCache>,
    pub(in crate::service) mailer: Arc<account::mail::Mailer>,
    pub(in crate::service) sms: Arc<account::sms::SmsSender>,
    pub(in crate::service) messages: Arc<account::messages::Messages>,
    pub(in crate::service) http: reqwest::Client,
    pub(in crate::service) refresh_batch: store::refresh_batch::RefreshBatcher,
    pub(in crate::service) app_cache: Arc<admin::app_cache::AppCache>,
    pub(in crate::service) generations: Arc<store::changes::Generations>,
    pub(in crate::service) geoip: Option<Arc<geoip::GeoIp>>,
    pub(in crate::service) routing: Arc<events::routing::EventRouting>,
    pub(in crate::service) outbox_wake: Arc<tokio::sync::Notify>,
    /// Signalled after every commit that wrote audit rows: live event streams wake on it.
    pub(in crate::service) audit_committed: tokio::sync::broadcast::Sender<()>,
    pub(in crate::service) outcomes: events::deliveries::OutcomeWriter,
    pub(in crate::service) hook_client: crate::hooks::webhook::WebhookClient,
    pub(in crate::service) scripts: Arc<events::scripts::ScriptStore>,
    /// Upstream providers' discovery answers and key sets.
    pub(in crate::service) providers: Arc<account::social::provider_cache::ProviderCache>,
    pub(in crate::service) telemetry: crate::telemetry::Telemetry,
    /// The turn of the import started last in this process: the next one waits for it,
    /// so a process's imports run in the order they were started.
    pub(in crate::service) import_turn: Arc<std::sync::Mutex<Option<tokio::sync::oneshot::Receiver<()>>>>,
    /// PostgreSQL: trigram frequencies of login IDs and names, for keyword searches.
    pub(in crate::service) trigram_stats: Arc<admin::trigram_stats::TrigramStats>,
    /// The runtime the process started on: its workers take each other's tasks.
    pub(in crate::service) shared_workers: tokio::runtime::Handle,
}

impl Services {
    /// The configuration the server runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The server's metrics (a no-op unless `metrics` is configured).
    pub fn telemetry(&self) -> &crate::telemetry::Telemetry {
        &self.telemetry
    }

    /// Runs `work` on the runtime the process started on, whose workers take each other's
    /// tasks, and waits for it; `None` if it panicked. An HTTP thread's event loop serves
    /// only its own connections: work that keeps a core busy (signing a token) waits there
    /// while another core may idle. The work keeps the caller's tracing span.
    pub async fn on_shared_workers<T: Send + 'static>(
        &self,
        work: impl std::future::Future<Output = T> + Send + 'static,
    ) -> Option<T> {
        use tracing::Instrument;
        self.shared_workers.spawn(work.in_current_span()).await.ok()
    }

    /// The signing and verification keys.
    pub fn keys(&self) -> &KeyRing {
        &self.keys
    }

    /// The country of `ip`, when a GeoIP database is configured and knows it.
    pub fn ip_country(&self, ip: &str) -> Option<geoip::IpCountry> {
        self.geoip.as_ref()?.country(ip)
    }

    /// Whether the database answers (the readiness check).
    pub async fn database_ready(&self) -> bool {
        self.db.ping().await
    }

    /// SQL statements run so far, apart from the change-generation poll (tests use it to
    /// catch N+1 queries).
    pub fn statement_count(&self) -> u64 {
        self.db.statement_count()
    }
}
