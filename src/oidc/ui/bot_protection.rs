//! The bot-protection check of a form: reads the provider's token field and has the
//! service verify it. Each form handler calls [`check`] first, before anything
//! expensive, and shows its form again (status 400, with what was typed except the
//! password) with the message on a refusal.
//!
//! A new form with a challenge (such as the colleague's send-code page) calls [`check`]
//! with its flow and lists its template in
//! [`BOT_PAGES`](crate::state::bot_widget::BOT_PAGES).

use crate::config::BotFlow;
use crate::service::Actor;
use crate::state::AppState;

use super::Fields;

/// Verifies the form's token when `flow` asks for the challenge; `Err` holds the
/// message for the form (a missing or failed check, or a provider that cannot answer).
pub async fn check(state: &AppState, flow: BotFlow, fields: &Fields, actor: &Actor) -> Result<(), &'static str> {
    let account = state.services.account();
    let Some(field) = account.bot_protection_field(flow) else { return Ok(()) };
    account.verify_bot_protection(flow, fields.get(field).map(String::as_str), actor).await.map_err(|r| r.message())
}
