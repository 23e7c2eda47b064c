//! The OAuth 2.0 and OpenID Connect flows: the authorization request, one module per
//! grant (authorization code, refresh token, client credentials, anonymous request), the
//! challenges that device-signed grants use, the claims of the tokens, introspection and
//! revocation, and the errors of the token endpoint.

pub mod anonymous_request;
pub mod anonymous_web;
pub mod authorization_code;
pub mod authorize;
pub mod biometric_request;
pub mod challenge;
pub mod claims;
pub mod client_credentials;
pub mod device_grant;
pub mod error;
pub mod grant_token;
pub mod promotion;
pub mod refresh_token;
pub mod revocation;
