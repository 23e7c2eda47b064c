//! Event hooks below the service layer: the HTTP transport of webhooks and blocking
//! handlers (signed requests), the contract of a blocking handler's response, and the
//! script engine that runs JavaScript/TypeScript handlers inside the server. Nothing here
//! touches the database: the service layer decides what to send and records the outcome.

pub mod blocking;
pub mod script;
pub mod signature;
pub mod webhook;
