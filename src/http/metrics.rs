//! `GET /metrics` in the Prometheus text format, and the middleware that times every
//! request by its matched route. Served on a listener of its own (`metrics.listen`), or on
//! the main listener behind `Authorization: Bearer <metrics.bearer_token>`; otherwise the
//! main listener answers 404.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use subtle::ConstantTimeEq;

use crate::service::Services;
use crate::state::{AppState, bearer_token};

/// The Prometheus text format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Times a routed request; its `route` label is the route pattern, so that paths with IDs
/// do not make a series each.
pub(super) async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let telemetry = state.services.telemetry();
    if !telemetry.is_enabled() {
        return next.run(req).await;
    }
    let start = Instant::now();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let method = req.method().clone();
    let res = next.run(req).await;
    let route = route.as_deref().unwrap_or("unmatched");
    telemetry.http_request(method.as_str(), route, res.status().as_u16(), start.elapsed().as_secs_f64());
    res
}

/// `GET /metrics` on the main listener: only with the configured bearer token.
pub(super) async fn guarded(State(state): State<AppState>, headers: axum::http::HeaderMap) -> Response {
    let Some(expected) = state.services.config().metrics.bearer_token.as_ref() else {
        return super::not_found().await.into_response();
    };
    let given = bearer_token(&headers).unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(expected.expose().trim().as_bytes())) {
        let mut res = (StatusCode::UNAUTHORIZED, "a valid bearer token is required\n").into_response();
        res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return res;
    }
    render(&state.services).await
}

/// The router of the separate metrics listener: `GET /metrics` and nothing else.
pub fn listener_router(services: Services) -> Router {
    Router::new()
        .route("/metrics", get(|State(s): State<Services>| async move { render(&s).await }))
        .fallback(|| async { StatusCode::NOT_FOUND })
        .with_state(services)
}

async fn render(services: &Services) -> Response {
    match services.render_metrics().await {
        Some(text) => {
            ([(header::CONTENT_TYPE, CONTENT_TYPE), (header::CACHE_CONTROL, "no-store")], text).into_response()
        }
        None => super::not_found().await.into_response(),
    }
}
