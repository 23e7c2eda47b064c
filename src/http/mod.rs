//! HTTP routes: the Admin API endpoint and its auth, GraphiQL, health checks, and the
//! middleware stack (request IDs, request logs, body limit, framing policy).

mod admin;
mod admin_rest;
pub mod client_ip;
mod graphiql;
pub mod handoff;
pub mod metrics;
mod subscriptions;
mod user_export;
mod user_import;

use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderName, HeaderValue, Request, StatusCode, header};
use axum::response::{IntoResponse, Json};
use axum::routing::{get, post};
use serde_json::json;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use crate::state::AppState;

/// Largest request body accepted.
pub const MAX_BODY: usize = 1024 * 1024;

/// All routes with their middleware.
pub fn router(state: AppState) -> Router {
    let request_id = HeaderName::from_static("x-request-id");
    let graphiql_enabled = state.services.config().admin_api.graphiql;
    // GET is a WebSocket for subscriptions, or GraphiQL when it is enabled.
    let mut admin = Router::new()
        .route("/_api/admin/graphql", get(subscriptions::get).post(admin::graphql))
        .route("/_api/admin/users/import", post(user_import::create))
        .route("/_api/admin/users/import/{id}", get(user_import::get))
        .route("/_api/admin/users/import/{id}/cancel", post(user_import::cancel));
    admin = admin.merge(user_export::routes());
    if graphiql_enabled {
        admin = admin
            .route("/graphiql", get(graphiql::page))
            .route("/_api/admin/graphiql", get(graphiql::page))
            .route("/_api/admin/graphiql/graphiql.js", get(graphiql::script))
            .route("/_api/admin/graphiql/graphiql.css", get(graphiql::style));
    }
    let proxies = state.services.config().trusted_proxy_nets();
    let proxy_header = state.services.config().trusted_proxy_header;
    let mut routes =
        admin.merge(crate::oidc::routes(state.clone())).route("/healthz", get(healthz)).route("/readyz", get(readyz));
    if state.services.config().metrics.bearer_token.is_some() {
        routes = routes.route("/metrics", get(metrics::guarded));
    }
    if state.services.telemetry().is_enabled() {
        routes = routes.route_layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track));
    }
    let mut router = routes.fallback(not_found).with_state(state);
    if !proxies.is_empty() {
        let proxies = client_ip::TrustedProxies(std::sync::Arc::new(proxies), proxy_header);
        router = router.layer(axum::middleware::from_fn_with_state(proxies, client_ip::resolve));
    }
    router
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
                    tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
                })
                .on_request(())
                .on_response(DefaultOnResponse::new().level(Level::INFO).latency_unit(tower_http::LatencyUnit::Micros)),
        )
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(axum::middleware::map_response(framing_policy))
}

/// No response may be framed or MIME-sniffed: adds `X-Frame-Options: DENY`,
/// `X-Content-Type-Options: nosniff`, and `frame-ancestors 'none'` to the
/// `Content-Security-Policy` (appended to a page's own policy, which keeps its other
/// directives, such as the form_post page's script hash), wherever a response lacks them.
async fn framing_policy(mut res: axum::response::Response) -> axum::response::Response {
    let h = res.headers_mut();
    h.entry(header::X_FRAME_OPTIONS).or_insert(HeaderValue::from_static("DENY"));
    h.entry(header::X_CONTENT_TYPE_OPTIONS).or_insert(HeaderValue::from_static("nosniff"));
    let csp = match h.get(header::CONTENT_SECURITY_POLICY).map(|v| v.to_str()) {
        None => Some(HeaderValue::from_static("frame-ancestors 'none'")),
        Some(Ok(policy))
            if !policy.split(';').any(|d| d.trim().to_ascii_lowercase().starts_with("frame-ancestors")) =>
        {
            HeaderValue::from_str(&format!("{}; frame-ancestors 'none'", policy.trim().trim_end_matches(';'))).ok()
        }
        Some(_) => None,
    };
    if let Some(csp) = csp {
        h.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    res
}

async fn healthz() -> &'static str {
    "ok"
}

async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let ping = tokio::time::timeout(Duration::from_secs(2), state.services.database_ready()).await;
    if matches!(ping, Ok(true)) {
        (StatusCode::OK, Json(json!({"status": "ready"})))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "database unreachable"})))
    }
}

async fn not_found() -> impl IntoResponse {
    (StatusCode::NOT_FOUND, Json(json!({"error": "not_found", "error_description": "no such endpoint"})))
}
