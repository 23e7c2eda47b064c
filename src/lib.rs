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
pub mod hooks;
pub mod http;
pub mod jobs;
pub mod oidc;
pub mod service;
pub mod state;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

use crate::config::Config;
use crate::service::Services;
pub use crate::service::startup::Startup;

/// Connects to the database, applies migrations, loads the master key and the signing
/// keys: everything the server and the CLI commands need.
pub async fn init_services(config: Config) -> anyhow::Result<(Services, Startup)> {
    Services::start(config).await
}

/// Starts the background work of a serving process (key refresh, clean-up).
pub fn start_background(services: &Services) {
    services.maintenance().spawn_change_watch();
    jobs::spawn_cleanup(services.clone());
    jobs::spawn_delivery(services.clone());
    jobs::spawn_lifecycle(services.clone());
}

/// Starts what metrics need when they are configured: the upkeep that folds recorded
/// latencies into histograms, and the separate `metrics.listen` listener. Returns the
/// address that listener is bound to.
pub async fn start_metrics(services: &Services) -> anyhow::Result<Option<SocketAddr>> {
    let telemetry = services.telemetry().clone();
    if !telemetry.is_enabled() {
        return Ok(None);
    }
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(5));
        loop {
            tick.tick().await;
            telemetry.run_upkeep();
        }
    });
    let Some(addr) = services.config().metrics.listen else { return Ok(None) };
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr} (`metrics.listen`): {e}"))?;
    let bound = listener.local_addr()?;
    let router = http::metrics::listener_router(services.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(Some(bound))
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
