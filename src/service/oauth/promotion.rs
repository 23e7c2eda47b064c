//! Promotion of an anonymous user, as Authgear's SDKs start it (`promoteAnonymousUser`):
//! an authorization request whose `login_hint` is
//! `https://authgear.com/login_hint?type=anonymous&jwt=<JWT>`, the JWT signed by the
//! anonymous user's device key over a fresh challenge with `action: "promote"`. The
//! request then opens on the signup page, and the account created there is the
//! anonymous user itself: same `sub`, a login ID and a password added, the device key
//! removed, `isAnonymous` false, `user.anonymous.promoted` audited. Web apps send
//! `promotion_code=<code>` instead (`anonymous_web.rs`).

use crate::crypto::challenge::Purpose;
use crate::crypto::device_jwt::{ANONYMOUS_REQUEST_TYP, DeviceJwt};
use crate::domain::ids::UserId;
use crate::service::OAuth;
use crate::service::admin::applications::Application;
use crate::service::admin::identities::anonymous_by_key_id;
use crate::service::oauth::challenge::consume_challenge;
use crate::service::oauth::error::OAuthError;
use crate::service::store::time::now;

/// What a promotion `login_hint` carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PromotionHint {
    /// `jwt=`: signed by the anonymous user's device key (apps).
    Jwt(String),
    /// `promotion_code=`: from `POST /api/anonymous_user/promotion_code` (web apps).
    Code(String),
}

/// The promotion a `login_hint` asks for, if `hint` is one (any other hint is a login ID).
/// A promotion hint with neither a JWT nor a code is a JWT that does not verify.
pub fn promotion_hint(hint: &str) -> Option<PromotionHint> {
    let query = hint.strip_prefix("https://authgear.com/login_hint?")?;
    let mut kind = None;
    let mut jwt = None;
    let mut code = None;
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        match k.as_ref() {
            "type" => kind = Some(v.into_owned()),
            "jwt" => jwt = Some(v.into_owned()),
            "promotion_code" => code = Some(v.into_owned()),
            _ => {}
        }
    }
    if kind.as_deref() != Some("anonymous") {
        return None;
    }
    match (jwt, code) {
        (None, Some(code)) => Some(PromotionHint::Code(code)),
        (jwt, _) => Some(PromotionHint::Jwt(jwt.unwrap_or_default())),
    }
}

impl OAuth<'_> {
    /// The anonymous user a promotion JWT names: the JWT must verify against the user's
    /// stored device key, say `action: "promote"`, and carry an unused challenge of purpose
    /// `anonymous_request` (used up here). Errors are `invalid_request` / `invalid_grant`
    /// descriptions for the redirect.
    pub(in crate::service) async fn promotion_target(
        &self,
        app: &Application,
        jwt: &str,
    ) -> Result<UserId, OAuthError> {
        if !self.config.anonymous.enabled || !app.kind.allows_anonymous_users() {
            return Err(OAuthError::UnauthorizedClient("this client may not promote anonymous users".into()));
        }
        let parsed = DeviceJwt::parse(jwt, ANONYMOUS_REQUEST_TYP).map_err(|e| OAuthError::InvalidGrant(e.0))?;
        let Some(ident) = anonymous_by_key_id(&self.db.reader(), &parsed.key_id).await? else {
            return Err(OAuthError::InvalidGrant("no anonymous user has this key".into()));
        };
        let Some(stored) = ident.details.as_ref().and_then(|d| d.get("jwk")).filter(|k| !k.is_null()) else {
            return Err(OAuthError::InvalidGrant("this anonymous user has no device key".into()));
        };
        let claims = parsed.verify(jwt, stored, now().unix_timestamp()).map_err(|e| OAuthError::InvalidGrant(e.0))?;
        if claims.action.as_deref() != Some("promote") {
            return Err(OAuthError::InvalidGrant("the JWT's action must be `promote`".into()));
        }
        let challenge = self.open_challenge(&claims.challenge, Purpose::AnonymousRequest)?;
        let user = UserId::from(ident.user_id);
        match self.users().get(user).await? {
            Some(u) if u.is_anonymous && !u.is_disabled_at(now()) && !u.is_deactivated => {}
            _ => return Err(OAuthError::InvalidGrant("the user is not an anonymous user who may sign in".into())),
        }
        self.write_unaudited(async |tx| consume_challenge(tx.conn(), &claims.challenge, &challenge).await).await?;
        Ok(user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_promotion_hint_carries_a_jwt_or_a_code_and_anything_else_is_a_login_id() {
        let h = |q: &str| promotion_hint(&format!("https://authgear.com/login_hint?{q}"));
        assert_eq!(h("type=anonymous&jwt=a.b.c"), Some(PromotionHint::Jwt("a.b.c".into())));
        assert_eq!(h("type=anonymous&promotion_code=x%2By"), Some(PromotionHint::Code("x+y".into())));
        assert_eq!(h("type=anonymous&jwt=a&promotion_code=b"), Some(PromotionHint::Jwt("a".into())));
        assert_eq!(h("type=anonymous"), Some(PromotionHint::Jwt(String::new())), "verifies as nothing");
        assert_eq!(h("type=login_id&promotion_code=b"), None);
        assert_eq!(promotion_hint("someone@example.com"), None);
    }
}
