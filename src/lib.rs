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
use axum::serve::ListenerExt;
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

/// Serves `router` on `listener` with `threads` threads, each running an event loop of its
/// own (a tokio current-thread runtime), until `shutdown` resolves; then every thread drains
/// its connections as [`serve`] does. The listener accepts on the calling runtime and hands
/// the connections to the threads in turn, and a connection stays on its thread.
///
/// On a machine whose cores also compute password hashes, a runtime whose workers steal
/// each other's tasks wakes a second worker for many of the events that one worker
/// handles, and moves connections between cores: a complete password sign-in cost the
/// request threads about a tenth more CPU that way (docs/benchmarks.md).
pub async fn serve_on_threads(
    mut listener: TcpListener,
    router: Router,
    threads: usize,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use futures::StreamExt;
    let local = listener.local_addr()?;
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut handoffs = Vec::new();
    let mut running = futures::stream::FuturesUnordered::new();
    for i in 0..threads.max(1) {
        let (handoff, handed) = tokio::sync::mpsc::unbounded_channel();
        handoffs.push(handoff);
        let router = router.clone();
        let mut stopping = stopping.clone();
        let (done, finished) = tokio::sync::oneshot::channel::<std::io::Result<()>>();
        std::thread::Builder::new().name(format!("http-{i}")).spawn(move || {
            let served = tokio::runtime::Builder::new_current_thread().enable_all().build().and_then(|rt| {
                rt.block_on(async move {
                    let stop = async move {
                        let _ = stopping.wait_for(|s| *s).await;
                    };
                    // `tap_io` changes nothing on the connection; axum gives the peer's
                    // address to `ConnectInfo<SocketAddr>` for a listener wrapped in it.
                    let listener = http::handoff::Handed::new(handed, local).tap_io(|_| {});
                    axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>())
                        .with_graceful_shutdown(stop)
                        .await
                })
            });
            let _ = done.send(served);
        })?;
        running.push(finished);
    }
    let accepting = async {
        for turn in (0..handoffs.len()).cycle() {
            let (stream, peer) = axum::serve::Listener::accept(&mut listener).await;
            match stream.into_std() {
                Ok(stream) => {
                    let _ = handoffs[turn].send((stream, peer));
                }
                Err(e) => tracing::warn!(error = %e, "could not hand a connection to an HTTP thread"),
            }
        }
    };
    let stopped_early = tokio::select! {
        () = shutdown => None,
        () = accepting => None,
        first = running.next() => first,
    };
    drop(listener);
    let _ = stop.send(true);
    let mut outcome = Ok(());
    for finished in stopped_early.into_iter().chain(running.collect::<Vec<_>>().await) {
        match finished {
            Ok(Ok(())) => {}
            Ok(Err(e)) => outcome = Err(e),
            Err(_) => outcome = Err(std::io::Error::other("an HTTP thread stopped unexpectedly")),
        }
    }
    outcome
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
