//! GraphiQL, served from assets embedded in the binary (no CDN; see `playground/graphiql`).

use axum::http::header;
use axum::response::{Html, IntoResponse};

const PAGE: &str = include_str!("../../playground/graphiql/index.html");
const SCRIPT: &str = include_str!("../../playground/graphiql/build/graphiql.js");
const STYLE: &str = include_str!("../../playground/graphiql/build/graphiql.css");

pub async fn page() -> impl IntoResponse {
    ([(header::CACHE_CONTROL, "no-cache")], Html(PAGE))
}

pub async fn script() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")],
        SCRIPT,
    )
}

pub async fn style() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], STYLE)
}
