//! CORS for the OAuth endpoints: an origin listed in any application's `allowedOrigins`
//! gets `Access-Control-Allow-Origin` (that origin, never `*`) with credentials allowed.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

fn allow(res: &mut Response, origin: &HeaderValue) {
    let h = res.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    h.insert(header::ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
}

/// Answers preflights and decorates responses for allowed origins.
pub async fn cors(State(state): State<AppState>, req: Request<Body>, next: Next) -> Response {
    let Some(origin) = req.headers().get(header::ORIGIN).cloned() else {
        return next.run(req).await;
    };
    let allowed = match origin.to_str() {
        Ok(o) => state.services.applications().origin_allowed(o).await.unwrap_or_else(|e| {
            tracing::error!(cause = %e.describe(), "loading allowed origins failed");
            false
        }),
        Err(_) => false,
    };
    let preflight =
        req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut res = if preflight {
        let mut res = StatusCode::NO_CONTENT.into_response();
        if allowed {
            let h = res.headers_mut();
            h.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static("GET, POST, OPTIONS"));
            h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, HeaderValue::from_static("Authorization, Content-Type"));
            h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
        res
    } else {
        next.run(req).await
    };
    if allowed {
        allow(&mut res, &origin);
    }
    res.headers_mut().append(header::VARY, HeaderValue::from_static("Origin"));
    res
}
