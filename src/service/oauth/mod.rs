//! The OAuth 2.0 and OpenID Connect flows: the authorization request, one module per
//! grant (authorization code, refresh token, client credentials), the claims of the
//! tokens, introspection and revocation, and the errors of the token endpoint.

pub mod authorization_code;
pub mod authorize;
pub mod claims;
pub mod client_credentials;
pub mod error;
pub mod refresh_token;
pub mod revocation;
