//! authgraph: an identity server with a GraphQL Admin API and an OpenID Connect provider.
//!
//! Layers, top to bottom: `http` (routes, auth, GraphiQL) and `oidc` (OAuth endpoints,
//! Auth UI) handle requests with the shared `state`; `graphql` parses and authorises
//! Admin API requests; all of them call `service`, which owns the business logic and is
//! the only layer that touches sea-orm; `config`, `domain` and `crypto` are building
//! blocks. `tests/layers.rs` holds the table of allowed imports and fails on any other.

pub mod config;
pub mod crypto;
pub mod domain;
pub mod graphql;
pub mod http;
pub mod jobs;
pub mod oidc;
pub mod service;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::crypto::jwt::KeyRing;
use crate::crypto::master_key::MasterKey;
use crate::crypto::password::PasswordHasher;
use crate::service::{Db, Services};

/// What start-up did, so the CLI can tell the operator.
#[derive(Debug, Clone, Default)]
pub struct Startup {
    /// Migrations applied.
    pub migrations: usize,
    /// A new master key file was written.
    pub created_master_key: bool,
    /// A first signing key was generated.
    pub created_signing_key: bool,
}

/// Connects to the database, applies migrations, loads the master key and the signing
/// keys: everything the server and the CLI commands need.
pub async fn init_services(config: Config) -> anyhow::Result<(Services, Startup)> {
    let db = Db::connect(config.database_url.expose(), config.database_max_connections)
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
    let migrations = db.migrate().await.map_err(|e| anyhow::anyhow!("migration failed: {e}"))?;
    let (master_key, created_master_key) = match &config.master_key {
        Some(text) => (MasterKey::parse(text.expose()).map_err(|e| anyhow::anyhow!("`master_key`: {e}"))?, false),
        None => {
            let path = &config.master_key_file;
            match MasterKey::load(path).map_err(|e| anyhow::anyhow!("{e}"))? {
                Some(key) => (key, false),
                // A new key could not decrypt what the old one encrypted: say so, and
                // leave no new file behind that would hide the loss.
                None if db
                    .holds_encrypted_keys()
                    .await
                    .map_err(|e| anyhow::anyhow!("cannot read signing keys: {e}"))? =>
                {
                    anyhow::bail!(
                        "the master key file {} is missing, but the database holds signing keys encrypted with \
                         a master key; restore the file (setting `master_key_file`, or AUTHGRAPH_MASTER_KEY_FILE), \
                         or give the key as `master_key`. No new key was written.",
                        path.display()
                    )
                }
                None => MasterKey::create(path).map_err(|e| anyhow::anyhow!("{e}"))?,
            }
        }
    };
    let cores = std::thread::available_parallelism().map(usize::from).unwrap_or(2);
    let hasher = PasswordHasher::new(cores);
    let audit_batch = service::audit_batch::AuditBatcher::start(db.clone());
    let mailer = Arc::new(service::mail::Mailer::new(&config.smtp)?);
    let services = Services {
        audit_batch,
        origins: Arc::default(),
        app_cache: Arc::default(),
        generations: Arc::default(),
        refresh_batch: service::refresh_batch::RefreshBatcher::start(db.clone()),
        mailer,
        db,
        config: Arc::new(config),
        hasher,
        master_key: Arc::new(master_key),
        keys: Arc::new(KeyRing::default()),
    };
    let created_signing_key = services
        .load_signing_keys()
        .await
        .map_err(|e| anyhow::anyhow!("cannot load signing keys: {}", e.describe()))?;
    // Several processes may start at once on one database: the loser of the race to
    // create the built-in resource finds it on the second try.
    if services.ensure_admin_resource(service::keys::ADMIN_SCOPE_DESCRIPTIONS).await.is_err() {
        services
            .ensure_admin_resource(service::keys::ADMIN_SCOPE_DESCRIPTIONS)
            .await
            .map_err(|e| anyhow::anyhow!("cannot set up the Admin API resource: {}", e.describe()))?;
    }
    Ok((services, Startup { migrations, created_master_key, created_signing_key }))
}

/// Starts the background work of a serving process (key refresh, clean-up).
pub fn start_background(services: &Services) {
    services.spawn_change_watch();
    jobs::spawn_cleanup(services.clone());
}

/// Builds the HTTP application: the one constructor that `main` and the tests share.
/// Fails when the Auth UI templates cannot be loaded.
pub fn build_router(services: Services) -> anyhow::Result<Router> {
    let schema = graphql::build_schema(&services.config().admin_api, Some(services.clone()))?;
    let ui = Arc::new(state::Ui::load(services.config(), &oidc::ui::BUILTIN)?);
    Ok(http::router(state::AppState { services, schema, ui }))
}

/// Serves `router` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await
}
