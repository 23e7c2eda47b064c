//! The OAuth 2 / OpenID Connect endpoints: discovery, JWKS, authorization, token,
//! challenges for device-signed grants, userinfo, introspection, revocation and logout,
//! the web SDK's anonymous user API (`/api/anonymous_user/…`), and the Auth UI pages. Handlers parse the request, call one service function
//! and map the result; errors follow RFC 6749 §5.2.

mod anonymous_web;
pub mod authorize;
mod challenge;
mod client_auth;
mod cors;
mod discovery;
mod errors;
mod introspect;
mod revoke;
mod token;
pub mod ui;
mod userinfo;

use axum::Router;
use axum::routing::{get, post};

use crate::domain::text::has_forbidden_char;
use crate::state::AppState;

/// Longest value of an authorization or logout request parameter. Such values travel on
/// in redirects (`state` comes back to the client, the whole request rides in the sealed
/// flow of the login page), and a longer one would make a `Location` that no browser or
/// proxy accepts.
pub const MAX_ECHOED_PARAM: usize = 8 * 1024;

/// A parameter whose name or value holds [`FORBIDDEN_CHAR`] (NUL): the request is refused
/// before anything runs.
#[derive(Debug)]
pub struct ForbiddenChar {
    /// The parameter's name, if it is fit to show (short, without NUL).
    name: Option<String>,
}

impl ForbiddenChar {
    /// What is wrong, for an `error_description` or an error page.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("the parameter `{name}` contains a forbidden character (NUL, U+0000)"),
            None => "a parameter name contains a forbidden character (NUL, U+0000)".to_owned(),
        }
    }

    /// Refuses `name=value` if either holds NUL.
    pub fn check(name: &str, value: &str) -> Result<(), Self> {
        if has_forbidden_char(name) {
            return Err(Self { name: None });
        }
        if has_forbidden_char(value) {
            let shown = if name.chars().count() <= 64 { Some(name.to_owned()) } else { None };
            return Err(Self { name: shown });
        }
        Ok(())
    }
}

/// Parses `application/x-www-form-urlencoded` parameters (a query string or a form body):
/// the one reader of OAuth and Auth UI parameters. Invalid UTF-8 in a percent-escape
/// becomes U+FFFD; a parameter holding NUL is refused.
pub fn parse_params(raw: &[u8]) -> Result<Vec<(String, String)>, ForbiddenChar> {
    url::form_urlencoded::parse(raw)
        .map(|(k, v)| {
            ForbiddenChar::check(&k, &v)?;
            Ok((k.into_owned(), v.into_owned()))
        })
        .collect()
}

/// The parameters of a request that may come as a query (GET) or a form body (POST).
fn request_params(
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    body: &[u8],
) -> Result<Vec<(String, String)>, ForbiddenChar> {
    let raw: &[u8] = if method == axum::http::Method::POST { body } else { uri.query().unwrap_or("").as_bytes() };
    parse_params(raw)
}

/// The OAuth and OIDC routes, with CORS for the applications' allowed origins.
pub fn routes(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery::metadata))
        .route("/.well-known/oauth-authorization-server", get(discovery::metadata))
        .route("/oauth2/jwks", get(discovery::jwks))
        .route("/oauth2/token", post(token::token))
        .route("/oauth2/challenge", post(challenge::challenge))
        .route("/oauth2/introspect", post(introspect::introspect))
        .route("/oauth2/revoke", post(revoke::revoke))
        .route("/oauth2/userinfo", get(userinfo::userinfo).post(userinfo::userinfo))
        .route("/api/anonymous_user/signup", post(anonymous_web::signup))
        .route("/api/anonymous_user/promotion_code", post(anonymous_web::promotion_code))
        .layer(axum::middleware::from_fn_with_state(state, cors::cors))
        .route("/oauth2/authorize", get(authorize::authorize).post(authorize::authorize))
        .route("/oauth2/authorize/resume", get(authorize::resume))
        .route("/oauth2/end_session", get(ui::account::end_session).post(ui::account::end_session))
        .route("/logout", post(ui::account::logout))
        .route("/login", get(ui::login::login_form).post(ui::login::login_submit))
        .route("/login/totp", post(ui::login::login_totp_submit))
        .route("/login/passkey", post(ui::passkey::login))
        .route("/login/change_password", post(ui::login::login_change_password_submit))
        .route("/login/recovery_code", post(ui::login::login_recovery_code_submit))
        .route("/login/code", post(ui::code::send))
        .route("/login/code/resend", post(ui::code::resend))
        .route("/login/code/verify", post(ui::code::verify))
        .route("/login/mfa/send", post(ui::code::send_second_factor))
        .route("/login/mfa/enrol", post(ui::mfa::enrol_submit))
        .route("/login/link", get(ui::code::link_form).post(ui::code::link_approve))
        .route("/login/link/wait", get(ui::code::wait))
        .route("/signup", get(ui::login::signup_form).post(ui::login::signup_submit))
        .route("/signup/passkey", post(ui::passkey::signup))
        .route("/select_account", get(ui::flow::select_form).post(ui::flow::select_submit))
        .route("/consent", get(ui::flow::consent_form).post(ui::flow::consent_submit))
        .route("/forgot_password", get(ui::reset::forgot_form).post(ui::reset::forgot_submit))
        .route("/reset_password", get(ui::reset::reset_form).post(ui::reset::reset_submit))
        .route("/settings", get(ui::settings::page))
        .route("/settings/profile", post(ui::settings::save_profile))
        .route("/settings/password", post(ui::settings::change_password))
        .route("/settings/reauthenticate", post(ui::settings::reauthenticate))
        .route("/settings/sessions/revoke", post(ui::settings::revoke_session))
        .route("/settings/delete", post(ui::settings::request_deletion))
        .route("/settings/totp", get(ui::settings::totp_page).post(ui::settings::add_totp))
        .route("/settings/totp/remove", post(ui::settings::remove_totp))
        .route("/settings/passkeys", post(ui::passkey::add))
        .route("/settings/passkeys/remove", post(ui::passkey::remove))
        .route("/settings/recovery_codes", post(ui::settings::regenerate_recovery_codes))
        .route("/settings/devices/revoke", post(ui::devices::forget_device))
        .route("/settings/devices/revoke_all", post(ui::devices::forget_all_devices))
        .route("/settings/verify", post(ui::settings::start_verification))
        .route("/settings/mfa/oob", post(ui::settings::add_second_factor_address))
        .route("/settings/mfa/oob/remove", post(ui::settings::remove_second_factor_address))
        .route("/settings/verify/confirm", post(ui::settings::confirm_verification))
        .route("/sso/oauth2/start", post(ui::social::start))
        .route("/sso/oauth2/callback/{alias}", get(ui::social::callback).post(ui::social::callback_post))
        .route("/settings/oauth/connect", post(ui::social::connect))
        .route("/settings/oauth/disconnect", post(ui::social::disconnect))
        .route("/static/authgraph.css", get(ui::stylesheet))
        .route("/static/passkey.js", get(ui::passkey::script))
}
