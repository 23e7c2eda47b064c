//! What the login tests share: the test password, the client's callback, an
//! authorization request built by the `openidconnect` relying party, and a registered SPA.
//!
//! The login tests go through the real Auth UI forms, with the `openidconnect` crate as the
//! relying party. Test names follow the OpenID Foundation's Basic OP plan where one applies.
//! They are split by flow: `login_code_flow`, `login_authorize_request`, `login_session`,
//! `login_consent` and `login_password`.

use openidconnect::core::CoreAuthenticationFlow;
use openidconnect::{CsrfToken, Nonce, PkceCodeChallenge, PkceCodeVerifier, Scope};

use crate::helpers::TestApp;
use crate::rp::{Rp, register, relying_party};

pub(crate) const PW: &str = "correct horse battery";
pub(crate) const CB: &str = "http://127.0.0.1:9/cb";

pub(crate) struct Flow {
    pub(crate) url: String,
    pub(crate) state: CsrfToken,
    pub(crate) nonce: Nonce,
    pub(crate) verifier: PkceCodeVerifier,
}

pub(crate) fn start(rp: &Rp, scopes: &[&str], extra: &[(&str, &str)]) -> Flow {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut req = rp
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge);
    for s in scopes {
        req = req.add_scope(Scope::new((*s).to_owned()));
    }
    for (k, v) in extra {
        req = req.add_extra_param(*k, *v);
    }
    let (url, state, nonce) = req.url();
    Flow { url: url.to_string(), state, nonce, verifier }
}

pub(crate) async fn spa(app: &TestApp) -> (Rp, String) {
    let (id, _) = register(app, "SPA", CB).await;
    (relying_party(app, &id, None, CB).await, id)
}
