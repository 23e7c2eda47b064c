//! Remembered devices on the settings page: the list, and forgetting one or all.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde_json::Value;

use super::CsrfForm;
use super::settings::{SignedIn, browser_label, fmt_time, outcome, render};
use crate::domain::ids::UserId;
use crate::state::AppState;

/// The user's remembered devices as the settings template lists them.
pub(super) async fn listed(state: &AppState, user_id: UserId) -> Result<Vec<Value>, crate::service::Error> {
    Ok(state
        .services
        .account()
        .remembered_devices(user_id)
        .await?
        .iter()
        .map(|d| {
            serde_json::json!({
                "id": d.id.to_string(),
                "label": browser_label(d.user_agent.as_deref()),
                "created_at": fmt_time(d.created_at),
                "expires_at": fmt_time(d.expires_at),
                "ip": d.ip,
            })
        })
        .collect())
}

/// `POST /settings/devices/revoke`: forgets one remembered device.
pub async fn forget_device(State(state): State<AppState>, me: SignedIn, CsrfForm(f): CsrfForm) -> Response {
    let Some(id) = f.get("device_id").and_then(|s| uuid::Uuid::parse_str(s).ok()) else {
        let msg = "Choose a device to forget.";
        return render(&state, me.jar, &me.sess, StatusCode::BAD_REQUEST, None, Some(msg)).await;
    };
    let result = state.services.account().forget_devices(me.sess.user_id, Some(id), &me.actor).await;
    outcome(&state, me, result.map(|_| "/settings?done=device")).await
}

/// `POST /settings/devices/revoke_all`: forgets every remembered device of the user, and
/// this browser's device cookie.
pub async fn forget_all_devices(State(state): State<AppState>, me: SignedIn, CsrfForm(_): CsrfForm) -> Response {
    match state.services.account().forget_devices(me.sess.user_id, None, &me.actor).await {
        Ok(_) => (me.jar.add(state.ui.clear_device()), Redirect::to("/settings?done=devices")).into_response(),
        Err(e) => outcome(&state, me, Err(e)).await,
    }
}
