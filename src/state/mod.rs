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
