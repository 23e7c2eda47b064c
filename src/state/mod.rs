//! The shared application state: what every HTTP handler (Admin API, OIDC endpoints,
//! Auth UI pages) is given. It sits below `http` and `oidc`, which both use it, and
//! above `graphql` and `service`, whose handles it holds.

pub mod bot_widget;
pub mod ui;

use std::net::SocketAddr;

use crate::graphql::AdminSchema;
use crate::service::Services;

pub use ui::{SharedUi, Ui};

/// Shared state of the HTTP handlers.
#[derive(Clone)]
pub struct AppState {
    /// The services.
    pub services: Services,
    /// The Admin API schema.
    pub schema: AdminSchema,
    /// The Auth UI's templates.
    pub ui: SharedUi,
}

/// The peer address type the server is run with.
pub type Peer = axum::extract::ConnectInfo<SocketAddr>;

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case), if
/// the request has one; `None` for no header or another scheme.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let v = headers.get(axum::http::header::AUTHORIZATION)?.to_str().ok()?;
    (v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ")).then(|| v[7..].trim())
}
