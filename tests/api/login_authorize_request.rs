//! Checks of the authorization request itself: unregistered redirect URIs and unknown
//! clients get a page, other request errors go back to the client, and native apps'
//! loopback redirect URIs match any port.

use crate::helpers::spawn_app;
use crate::login_helpers::{CB, PW, spa};
use crate::rp::{Browser, hidden, param, register};

/// oidcc-ensure-registered-redirect-uri, unknown client: an error page, never a redirect.
#[tokio::test]
async fn wrong_redirect_uri_or_client_shows_a_page() {
    let app = spawn_app().await;
    let (_, client_id) = spa(&app).await;
    let browser = Browser::new(&app);
    let base = format!("{}/oauth2/authorize?response_type=code&scope=openid", app.url);
    let (status, page) =
        browser.open(&format!("{base}&client_id={client_id}&redirect_uri=https://evil.example.com/cb")).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("not registered"), "{page}");
    let (status, page) = browser.open(&format!("{base}&client_id=nope&redirect_uri={CB}")).await.page();
    assert_eq!(status, 400);
    assert!(page.contains("No application"), "{page}");
    let (status, _) = browser.open(&format!("{base}&client_id={client_id}&redirect_uri={CB}&client_id=x")).await.page();
    assert_eq!(status, 400, "a repeated parameter");
}

/// Errors after the redirect URI is known go back to the client with state and iss.
#[tokio::test]
async fn request_errors_are_redirected_to_the_client() {
    let app = spawn_app().await;
    let (_, id) = spa(&app).await;
    let (conf, _) = register(&app, "CONFIDENTIAL", CB).await;
    let browser = Browser::new(&app);
    let ch = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let cases = [
        (
            format!("client_id={id}&response_type=token&scope=openid&code_challenge={ch}&code_challenge_method=S256"),
            "unsupported_response_type",
        ),
        (
            format!("client_id={id}&response_type=code&scope=email&code_challenge={ch}&code_challenge_method=S256"),
            "invalid_scope",
        ),
        (
            format!(
                "client_id={id}&response_type=code&scope=openid%20admin&code_challenge={ch}&code_challenge_method=S256"
            ),
            "invalid_scope",
        ),
        (format!("client_id={id}&response_type=code&scope=openid"), "invalid_request"),
        (
            format!("client_id={id}&response_type=code&scope=openid&code_challenge={ch}&code_challenge_method=plain"),
            "invalid_request",
        ),
        (
            format!(
                "client_id={id}&response_type=code&scope=openid&code_challenge={ch}&code_challenge_method=S256&prompt=none"
            ),
            "login_required",
        ),
        (
            format!(
                "client_id={id}&response_type=code&scope=openid&code_challenge={ch}&code_challenge_method=S256&max_age=x"
            ),
            "invalid_request",
        ),
        (
            format!(
                "client_id={conf}&response_type=code&scope=openid%20https://authgear.com/scopes/full-access&prompt=none"
            ),
            "login_required",
        ),
        (
            format!(
                "client_id={id}&response_type=code&scope=openid&request=eyJ&code_challenge={ch}&code_challenge_method=S256"
            ),
            "request_not_supported",
        ),
        (format!("client_id={id}&scope=openid&code_challenge={ch}&code_challenge_method=S256"), "invalid_request"),
        (
            format!(
                "client_id={id}&response_type=code&scope=openid&request=eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.&code_challenge={ch}&code_challenge_method=S256"
            ),
            "request_not_supported",
        ),
        (
            format!(
                "client_id={id}&response_type=code&scope=openid&request_uri=https%3A%2F%2Fx.example.com%2Fr&code_challenge={ch}&code_challenge_method=S256"
            ),
            "request_uri_not_supported",
        ),
    ];
    for (q, want) in cases {
        let cb = browser.open(&format!("/oauth2/authorize?{q}&redirect_uri={CB}&state=s1")).await.redirect();
        assert_eq!(param(&cb, "error").as_deref(), Some(want), "{q} -> {cb}");
        assert_eq!(param(&cb, "state").as_deref(), Some("s1"));
        assert_eq!(param(&cb, "iss").as_deref(), Some(app.url.as_str()));
    }
}

/// RFC 8252 §7.3: a native app's loopback IP redirect URI matches any port; nothing else
/// about it varies, and other app types and `localhost` still match exactly.
#[tokio::test]
async fn native_loopback_redirect_uris_match_any_port() {
    let app = spawn_app().await;
    app.create_user("nina@example.com", Some(PW)).await;
    let (native, _) = register(&app, "NATIVE", "http://127.0.0.1/cb").await;
    let browser = Browser::new(&app);
    let verifier = "v".repeat(43);
    let challenge = authgraph::crypto::b64(authgraph::crypto::sha256(verifier.as_bytes()));
    let url = |client: &str, redirect: &str| {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("response_type", "code"),
                ("scope", "openid"),
                ("client_id", client),
                ("redirect_uri", redirect),
                ("state", "s"),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ])
            .finish();
        format!("{}/oauth2/authorize?{q}", app.url)
    };
    let used = "http://127.0.0.1:21234/cb";
    let cb = browser.authorize_with_login(&url(&native, used), "nina@example.com", PW).await;
    assert!(cb.starts_with(&format!("{used}?")), "{cb}");
    let code = param(&cb, "code").unwrap();
    // The token request must name the URI used at authorize, port included.
    let (s, b) = app.exchange_code(&code, "http://127.0.0.1/cb", &native, None, &[("code_verifier", &verifier)]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "{b}");
    let cb = browser.open(&url(&native, "http://127.0.0.1:20000/cb")).await.redirect();
    assert!(cb.starts_with("http://127.0.0.1:20000/cb?"), "{cb}");
    let code = param(&cb, "code").unwrap();
    let (s, b) =
        app.exchange_code(&code, "http://127.0.0.1:20001/cb", &native, None, &[("code_verifier", &verifier)]).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "another port at the token endpoint");
    let cb = browser.open(&url(&native, used)).await.redirect();
    let (s, b) =
        app.exchange_code(&param(&cb, "code").unwrap(), used, &native, None, &[("code_verifier", &verifier)]).await;
    assert_eq!(s, 200, "{b}");

    // IPv6 loopback too.
    let (v6, _) = register(&app, "NATIVE", "http://[::1]:8080/cb").await;
    let cb = browser.open(&url(&v6, "http://[::1]:7000/cb")).await.redirect();
    assert!(cb.starts_with("http://[::1]:7000/cb?"), "{cb}");

    // Everything but the port is exact; localhost and other app types match exactly.
    let (localhost, _) = register(&app, "NATIVE", "http://localhost/cb").await;
    let (spa_id, _) = register(&app, "SPA", "http://127.0.0.1/cb").await;
    for (client, redirect) in [
        (&native, "http://127.0.0.1:21234/cb/"),
        (&native, "http://127.0.0.1:21234/cb?x=1"),
        (&native, "http://127.0.0.2:21234/cb"),
        (&native, "https://127.0.0.1:21234/cb"),
        (&native, "http://127.0.0.1:21234/a/../cb"),
        (&localhost, "http://localhost:21234/cb"),
        (&spa_id, "http://127.0.0.1:21234/cb"),
    ] {
        let (s, page) = browser.open(&url(client, redirect)).await.page();
        assert_eq!(s, 400, "{redirect}");
        assert!(page.contains("not registered"), "{redirect}: {page}");
    }
}

/// A browser without a session gets the login page as the answer to the authorization
/// request itself, with the same protections as `/login`, and signs in from it; a request
/// that opens on the signup page still redirects there.
#[tokio::test]
async fn the_authorization_request_answers_with_the_login_page() {
    let app = spawn_app().await;
    app.create_user("lena@example.com", Some(PW)).await;
    let (_, client_id) = spa(&app).await;
    let browser = Browser::new(&app);
    let ch = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    let authorize = format!(
        "{}/oauth2/authorize?response_type=code&scope=openid&client_id={client_id}&redirect_uri={CB}&code_challenge={ch}&code_challenge_method=S256&state=s1&login_hint=lena%40example.com",
        app.url
    );
    let res = browser.client.get(&authorize).send().await.unwrap();
    assert_eq!(res.status(), 200, "no redirect to /login");
    let headers = res.headers().clone();
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(headers["content-security-policy"].to_str().unwrap().contains("frame-ancestors 'none'"));
    assert!(headers["set-cookie"].to_str().unwrap().starts_with("ag_csrf="), "{headers:?}");
    let page = res.text().await.unwrap();
    assert!(page.contains("action=\"/login\""), "{page}");
    assert!(!hidden(&page, "flow").is_empty(), "the pending request rides in the form: {page}");
    assert_eq!(hidden(&page, "login_id"), "lena@example.com", "the login hint is filled in");
    let cb = browser.login(&page, "lena@example.com", PW).await.redirect();
    assert!(cb.starts_with(&format!("{CB}?")), "{cb}");
    assert!(param(&cb, "code").is_some(), "{cb}");
    assert_eq!(param(&cb, "state").as_deref(), Some("s1"));

    // Signed in now: the same request goes straight back with a code.
    let cb = browser.open(&authorize).await.redirect();
    assert!(param(&cb, "code").is_some(), "{cb}");

    let res = Browser::new(&app).client.get(format!("{authorize}&x_page=signup")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("/signup?flow="), "{location}");
}
