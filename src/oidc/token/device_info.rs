//! `x_device_info`: what Authgear's SDKs send about the device with a device-key grant, a
//! JSON object encoded as base64url.

use serde_json::Value;

use super::TokenRequest;
use crate::service::oauth::error::OAuthError;

/// The request's `x_device_info`, decoded; `None` when absent. Anything other than
/// base64url of a JSON object (of at most 8 KiB) is `invalid_request`.
pub(super) fn device_info(request: &TokenRequest<'_>) -> Result<Option<Value>, OAuthError> {
    let Some(raw) = request.form.one("x_device_info")? else { return Ok(None) };
    let bad = || OAuthError::InvalidRequest("x_device_info must be a JSON object encoded as base64url".into());
    if raw.len() > 11_000 {
        return Err(OAuthError::InvalidRequest("x_device_info must be at most 8 KiB".into()));
    }
    let bytes = crate::crypto::b64_decode(raw.trim_end_matches('=')).ok_or_else(bad)?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v @ Value::Object(_)) => Ok(Some(v)),
        _ => Err(bad()),
    }
}
