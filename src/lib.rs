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
