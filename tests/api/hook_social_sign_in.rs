//! The `authentication.*` blocking hooks in a sign-in through a provider (the local fake
//! OpenID Connect provider), through the real provider button and callback:
//! `pre_initialize` when the button is pressed, `post_identified`
//! (`identification: "oauth"`) and `pre_authenticated` (`amr: []`) once the callback
//! names a connected account (of type `signup` before a new account exists); a refusal
//! at each ends on a clear page without a session,
//! and `constraints.amr` asks for a second factor a provider sign-in otherwise skips.

use serde_json::json;

use crate::blocking_hooks::{Hooks, configure};
use crate::helpers::spawn_with;
use crate::hook_code_sign_in::{ALL, allow_with, refuse, signed_in};
use crate::rp::{Browser, hidden};
use crate::social_fake::{ALICE, fake, fake_providers};
use crate::social_login::through_fake;

#[tokio::test]
async fn a_provider_sign_in_fires_the_hooks_which_can_refuse_or_ask_for_a_second_factor() {
    let (hooks, base) = Hooks::start().await;
    let (fake_base, _fake) = fake().await;
    let app = spawn_with(|c| {
        configure(c, &base, &ALL);
        c.social_login.providers = fake_providers(&fake_base);
    })
    .await;
    let sign_in = async || {
        let b = Browser::new(&app);
        let back = through_fake(&b, "fake").await;
        let (status, page) = b.open(&back).await.page();
        (b, status, page)
    };

    // The first sign-in is a sign-up: its events are of type `signup`, before the user
    // exists.
    let (b, status, page) = sign_in().await;
    assert_eq!(status, 200, "{page}");
    assert!(signed_in(&b).await);
    assert_eq!(hooks.seen("init").len(), 1, "pre_initialize when the button was pressed");
    for name in ["ident", "pre"] {
        let seen = hooks.seen(name);
        assert_eq!(seen.len(), 1, "{name}");
        let ctx = &seen[0].0["payload"]["authentication_context"];
        assert_eq!(ctx["authentication_flow"]["type"], "signup", "{name}");
        assert!(ctx["user"].is_null(), "{name}");
    }

    // The connected account signs in: each event with Authgear's payload.
    let (b, status, page) = sign_in().await;
    assert_eq!(status, 200, "{page}");
    assert!(signed_in(&b).await);
    let (ident, signed) = hooks.seen("ident").pop().unwrap();
    assert!(signed);
    let p = &ident["payload"];
    assert_eq!(p["identification"]["identification"], "oauth", "{ident}");
    let identity = &p["identification"]["identity"];
    assert_eq!(identity["type"], "oauth");
    assert_eq!(identity["claims"]["https://authgear.com/claims/oauth/provider_alias"], "fake");
    assert_eq!(identity["claims"]["email"], ALICE);
    let user_id = p["authentication_context"]["user"]["id"].clone();
    assert!(user_id.is_string(), "{ident}");
    assert_eq!(identity["user_id"], user_id);
    let (pre, _) = hooks.seen("pre").pop().unwrap();
    let ctx = &pre["payload"]["authentication_context"];
    assert_eq!(ctx["user"]["id"], user_id);
    assert_eq!(ctx["amr"], json!([]), "a provider account proves no method, as in Authgear");
    assert_eq!(ctx["asserted_authentications"], json!([]));
    assert_eq!(ctx["asserted_identifications"][0]["identification"], "oauth");
    let sessions = app.audit_count_of("USER_AUTHENTICATED").await;

    // A refusal after identification: a clear page, no session.
    hooks.set("ident", refuse("Provider sign-in paused", "Use your password today"));
    let (b, status, page) = sign_in().await;
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("Provider sign-in paused") && page.contains("Use your password today"), "{page}");
    assert!(!signed_in(&b).await);

    // `constraints.amr` asking for `mfa`: the sign-in goes on to a second factor (the
    // user has none: its enrolment) instead of a session.
    hooks.set("ident", allow_with(json!({})));
    hooks.set("pre", allow_with(json!({"constraints": {"amr": ["mfa"]}})));
    let (b, status, page) = sign_in().await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("action=\"/login/mfa/enrol\""), "the enrolment the hook required: {page}");
    assert!(!signed_in(&b).await);
    assert_eq!(app.audit_count_of("USER_AUTHENTICATED").await, sessions, "no session since");

    // A refusal at the button: the browser never goes to the provider.
    hooks.set("init", refuse("Closed", "No sign-ins right now"));
    let b = Browser::new(&app);
    let (_, login) = b.open("/login").await.page();
    let csrf = hidden(&login, "csrf");
    let (status, page) =
        b.submit("/sso/oauth2/start", &[("csrf", &csrf), ("flow", ""), ("alias", "fake")]).await.page();
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("Closed") && page.contains("No sign-ins right now"), "{page}");
}
