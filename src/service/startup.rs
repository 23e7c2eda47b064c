//! Opening the service layer: database, migrations, master key, signing keys.

use std::sync::Arc;

use crate::config::Config;
use crate::crypto::jwt::KeyRing;
use crate::crypto::master_key::MasterKey;
use crate::crypto::password::PasswordHasher;
use crate::service::store::startup_lock::StartupLock;
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

impl Services {
    /// Connects to the database, applies migrations, loads the master key and the signing
    /// keys, and starts the batch writers.
    pub async fn start(config: Config) -> anyhow::Result<(Services, Startup)> {
        let db = Db::connect(
            config.database_url.expose(),
            config.database_max_connections,
            config.database_sqlite_cache_kib,
        )
        .await
        .map_err(|e| anyhow::anyhow!("cannot open the database: {e}"))?;
        // Several processes may start at once on one database: one at a time migrates and
        // writes what a first start writes (signing keys, the Admin API resource); the
        // others wait, then find it done.
        let lock = StartupLock::acquire(config.database_url.expose())
            .await
            .map_err(|e| anyhow::anyhow!("cannot lock the database for start-up: {e}"))?;
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
        let routing = Arc::new(crate::service::events::routing::EventRouting::new(&config.hook));
        let outbox_wake = Arc::new(tokio::sync::Notify::new());
        let (audit_committed, _) = tokio::sync::broadcast::channel(16);
        let telemetry = if config.metrics.enabled() {
            crate::telemetry::Telemetry::enabled()
        } else {
            crate::telemetry::Telemetry::disabled()
        };
        let audit_batch = crate::service::store::audit_batch::AuditBatcher::start(
            db.clone(),
            crate::service::store::audit_batch::Outbox {
                routing: routing.clone(),
                retry_hours: config.hook.delivery_retry_hours,
                wake: outbox_wake.clone(),
                committed: audit_committed.clone(),
                telemetry: telemetry.clone(),
            },
        );
        let mailer = Arc::new(crate::service::account::mail::Mailer::new(&config.smtp)?);
        let services = Services(Arc::new(crate::service::Shared {
            audit_batch,
            routing,
            outbox_wake,
            audit_committed,
            outcomes: crate::service::events::deliveries::start_outcome_writer(db.clone()),
            hook_client: crate::hooks::webhook::WebhookClient::new(
                config.hook.webhook_secret.as_ref().map(|s| s.expose().as_bytes()).unwrap_or_default(),
            ),
            scripts: Arc::new(crate::service::events::scripts::ScriptStore::new(&config.hook)),
            providers: Arc::default(),
            import_turn: Arc::default(),
            trigram_stats: Arc::default(),
            shared_workers: tokio::runtime::Handle::current(),
            origins: Arc::default(),
            app_cache: Arc::default(),
            generations: Arc::default(),
            refresh_batch: crate::service::store::refresh_batch::RefreshBatcher::start(db.clone()),
            mailer,
            sms: Arc::new(crate::service::account::sms::SmsSender::new(&config)?),
            messages: Arc::new(crate::service::account::messages::Messages::load(&config)?),
            http: crate::service::account::bot_protection::http_client()?,
            geoip: match &config.geoip_database_file {
                Some(path) => Some(Arc::new(crate::service::geoip::GeoIp::open(path)?)),
                None => None,
            },
            db,
            config: Arc::new(config),
            hasher,
            master_key: Arc::new(master_key),
            keys: Arc::new(KeyRing::default()),
            admin_tokens: Arc::default(),
            telemetry,
        }));
        // The change generations as of now, before the keys load and before anything is
        // cached: a change another process makes from here on moves one, and the next poll
        // drops what it touched. Read later, a change that came between a cache's first
        // fill and the first poll was taken as the starting point and never dropped.
        services
            .maintenance()
            .follow_changes()
            .await
            .map_err(|e| anyhow::anyhow!("cannot read the change generations: {}", e.describe()))?;
        let created_signing_key = services
            .signing_keys()
            .load()
            .await
            .map_err(|e| anyhow::anyhow!("cannot load signing keys: {}", e.describe()))?;
        services
            .resources()
            .ensure_admin_resource(crate::service::admin::signing_keys::ADMIN_SCOPE_DESCRIPTIONS)
            .await
            .map_err(|e| anyhow::anyhow!("cannot set up the Admin API resource: {}", e.describe()))?;
        lock.release().await.map_err(|e| anyhow::anyhow!("cannot release the start-up lock: {e}"))?;
        Ok((services, Startup { migrations, created_master_key, created_signing_key }))
    }
}

/// Applies the migrations to the database at `url` (the `migrate` command); returns how
/// many were applied.
pub async fn migrate(url: &str) -> anyhow::Result<usize> {
    let db = Db::connect(url, 1, Config::default().database_sqlite_cache_kib).await?;
    let lock = StartupLock::acquire(url).await?;
    let n = db.migrate().await?;
    lock.release().await?;
    Ok(n)
}
