//! Events: the non-blocking events that reach webhooks and scripts through the outbox,
//! and the blocking events whose handlers may refuse or change an operation.
//!
//! - `blocking.rs`: the chain of blocking handlers and the user mutations they return;
//! - `sign_in.rs`: the `authentication.*` events of a sign-in and their payloads;
//! - `catalogue.rs`: which events go to hooks (Authgear's `ForHook`);
//! - `routing.rs`: which handlers subscribe to an event type (from config);
//! - `outbox.rs`: the event and its deliveries, written in the change's transaction;
//! - `user_model.rs`: the user as event payloads show it (Authgear's API model);
//! - `scripts.rs`: script handlers: their sources (Admin API or `hook.scripts_dir`) and
//!   running them;
//! - `deliveries.rs`: the delivery worker's claims and outcomes, and the Admin API's log
//!   and redelivery;
//! - `live.rs`: the live event stream (audit rows as they commit) of the Admin API's
//!   `events` subscription.

pub(in crate::service) mod blocking;
pub mod catalogue;
pub mod deliveries;
pub mod live;
pub(in crate::service) mod outbox;
pub mod routing;
pub mod scripts;
pub(in crate::service) mod sign_in;
pub(in crate::service) mod user_model;
