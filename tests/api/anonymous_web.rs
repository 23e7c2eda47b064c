//! Anonymous users for web apps, as Authgear's web SDK makes them:
//! `POST /api/anonymous_user/signup` with a cookie session or a refresh token, and
//! `POST /api/anonymous_user/promotion_code`, whose code an authorization request redeems
//! with `login_hint=https://authgear.com/login_hint?type=anonymous&promotion_code=…`.

use serde_json::{Value, json};

use crate::helpers::{TestApp, jwt_claims, spawn_with};
use crate::login_helpers::{CB, Flow, PW, start};
use crate::rp::{Browser, Rp, hidden, param, register, relying_party};

pub(crate) const IS_ANONYMOUS: &str = "https://authgear.com/claims/user/is_anonymous";

/// POSTs `body` as JSON to `path` with `client` (a browser's, to send its cookies).
pub(crate) async fn api(client: &reqwest::Client, app: &TestApp, path: &str, body: Value) -> (u16, Value) {
    let res = client.post(format!("{}{path}", app.url)).json(&body).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// An app with anonymous users on and a SPA client; returns the client ID and its RP.
pub(crate) async fn web_app(app: &TestApp) -> (String, Rp) {
    let (client_id, _) = register(app, "SPA", CB).await;
    let rp = relying_party(app, &client_id, None, CB).await;
    (client_id, rp)
}

/// A refresh-token web anonymous user of `client_id`: the signup's result.
pub(crate) async fn token_signup(app: &TestApp, client_id: &str) -> Value {
    let body = json!({"client_id": client_id, "session_type": "refresh_token"});
    let (status, body) = api(&app.client, app, "/api/anonymous_user/signup", body).await;
    assert_eq!(status, 200, "{body}");
    body["result"].clone()
}

/// A promotion code for `session_type` (with the refresh token, if any) from `client`.
pub(crate) async fn promotion_code(client: &reqwest::Client, app: &TestApp, rt: Option<&str>) -> String {
    let body = match rt {
        Some(rt) => json!({"session_type": "refresh_token", "refresh_token": rt}),
        None => json!({"session_type": "cookie"}),
    };
    let (status, body) = api(client, app, "/api/anonymous_user/promotion_code", body).await;
    assert_eq!(status, 200, "{body}");
    body["result"]["promotion_code"].as_str().unwrap().to_owned()
}

/// The promotion authorization request for `code`, as the web SDK builds it.
pub(crate) fn promotion_request(rp: &Rp, code: &str) -> Flow {
    let enc = url::form_urlencoded::byte_serialize(code.as_bytes()).collect::<String>();
    let hint = format!("https://authgear.com/login_hint?type=anonymous&promotion_code={enc}");
    start(rp, &["offline_access"], &[("login_hint", &hint), ("prompt", "login")])
}

/// The sub of an access token's user, from userinfo.
async fn userinfo(app: &TestApp, client: &reqwest::Client, access: Option<&str>) -> (u16, Value) {
    let mut req = client.get(format!("{}/oauth2/userinfo", app.url));
    if let Some(a) = access {
        req = req.bearer_auth(a);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// What every promotion must leave: the same `sub` in a fresh ID token (from the code
/// `callback` carries), `is_anonymous` false there and in the Admin API, one
/// `user.anonymous.promoted`, and no anonymous identity left.
pub(crate) async fn assert_promoted(app: &TestApp, client_id: &str, flow: &Flow, callback: &str, sub: &str) -> Value {
    let code = param(callback, "code").unwrap_or_else(|| panic!("a code: {callback}"));
    let (status, tokens) =
        app.exchange_code(&code, CB, client_id, None, &[("code_verifier", flow.verifier.secret())]).await;
    assert_eq!(status, 200, "{tokens}");
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], sub, "the same user");
    assert_eq!(id[IS_ANONYMOUS], false, "{id}");
    let gid = authgraph::crypto::b64(format!("User:{sub}"));
    let q = "query($id: ID!) { node(id: $id) { ... on User { isAnonymous identities { edges { node { type } } } } } }";
    let d = app.ok(q, json!({"id": gid})).await;
    assert_eq!(d["node"]["isAnonymous"], false, "{d}");
    let types: Vec<&str> = d["node"]["identities"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["node"]["type"].as_str())
        .collect();
    assert!(!types.contains(&"ANONYMOUS"), "the anonymous identity is gone: {d}");
    assert_eq!(app.audit_count_of("USER_ANONYMOUS_PROMOTED").await, 1);
    d["node"].clone()
}

async fn user_count(app: &TestApp) -> i64 {
    app.ok("{ users { totalCount } }", json!({})).await["users"]["totalCount"].as_i64().unwrap()
}

#[tokio::test]
async fn a_cookie_signup_signs_the_browser_in_as_an_anonymous_user() {
    let app = spawn_with(|c| c.anonymous.enabled = true).await;
    let (client_id, rp) = web_app(&app).await;
    let browser = Browser::new(&app);
    let body = json!({"client_id": client_id, "session_type": "cookie"});
    let res = browser.client.post(format!("{}/api/anonymous_user/signup", app.url)).json(&body).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("set-cookie").is_some(), "the IdP session cookie is set");
    assert_eq!(res.json::<Value>().await.unwrap(), json!({"result": {}}), "Authgear's empty result");

    // The web SDK then reads the user with the cookie.
    let (status, me) = userinfo(&app, &browser.client, None).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me[IS_ANONYMOUS], true, "{me}");
    let sub = me["sub"].as_str().unwrap().to_owned();
    assert_eq!(userinfo(&app, &reqwest::Client::new(), None).await.0, 401, "no cookie, no user");

    // Again from the same browser: the same user, nobody new.
    let (status, again) = api(&browser.client, &app, "/api/anonymous_user/signup", body.clone()).await;
    assert_eq!((status, again), (200, json!({"result": {}})));
    assert_eq!(user_count(&app).await, 1);
    assert_eq!(app.audit_count_of("USER_CREATED").await, 1);
    assert_eq!(app.audit_count_of("USER_AUTHENTICATED").await, 1);
    let gid = authgraph::crypto::b64(format!("User:{sub}"));
    let q = "query($id: ID!) { node(id: $id) { ... on User { isAnonymous identities { edges { node { type claims } } } } } }";
    let d = app.ok(q, json!({"id": gid})).await;
    assert_eq!(d["node"]["isAnonymous"], true);
    let ident = &d["node"]["identities"]["edges"][0]["node"];
    assert_eq!(ident["type"], "ANONYMOUS", "{d}");
    assert!(ident["claims"]["https://authgear.com/claims/anonymous/key_id"].is_null(), "no key: {d}");

    // The authorization endpoint sees the browser signed in: a code at once, for that user.
    let flow = start(&rp, &[], &[]);
    let cb = browser.open(&flow.url).await.redirect();
    let code = param(&cb, "code").unwrap_or_else(|| panic!("signed in already: {cb}"));
    let (status, tokens) =
        app.exchange_code(&code, CB, &client_id, None, &[("code_verifier", flow.verifier.secret())]).await;
    assert_eq!(status, 200, "{tokens}");
    let id = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!((id["sub"].as_str(), &id[IS_ANONYMOUS]), (Some(sub.as_str()), &json!(true)));

    // A browser signed in as a normal user is refused, and nobody is created.
    let normal = Browser::new(&app);
    app.create_user("norma@example.com", Some(PW)).await;
    normal.authorize_with_login(&start(&rp, &[], &[]).url, "norma@example.com", PW).await;
    let (status, err) = api(&normal.client, &app, "/api/anonymous_user/signup", body).await;
    assert_eq!(status, 400, "{err}");
    assert_eq!(err["error"]["name"], "Invalid");
    assert_eq!(user_count(&app).await, 2);
}

#[tokio::test]
async fn a_refresh_token_signup_returns_tokens_and_its_token_signs_the_same_user_in_again() {
    let app = spawn_with(|c| c.anonymous.enabled = true).await;
    let (client_id, _) = web_app(&app).await;
    let first = token_signup(&app, &client_id).await;
    assert_eq!(first["token_type"], "Bearer");
    assert!(first["expires_in"].as_i64().unwrap() > 0);
    let id = jwt_claims(first["id_token"].as_str().unwrap());
    assert_eq!(id[IS_ANONYMOUS], true);
    let sub = id["sub"].as_str().unwrap().to_owned();
    let rt = first["refresh_token"].as_str().unwrap().to_owned();
    let (status, me) = userinfo(&app, &app.client, first["access_token"].as_str()).await;
    assert_eq!((status, me["sub"].as_str()), (200, Some(sub.as_str())));

    // The SDK sends its refresh token back: a new access token for the same user, the
    // refresh token unchanged (not rotated), nobody new.
    let body = json!({"client_id": client_id, "session_type": "refresh_token", "refresh_token": rt});
    let (status, again) = api(&app.client, &app, "/api/anonymous_user/signup", body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["result"]["refresh_token"], rt.as_str());
    let access = again["result"]["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(access)["sub"], sub.as_str());
    assert_eq!(user_count(&app).await, 1);
    assert_eq!(app.audit_count_of("USER_CREATED").await, 1);

    // A refresh token that is not one, or another client's, is refused.
    let (other, _) = web_app(&app).await;
    for (cid, token) in [(client_id.as_str(), "nope"), (other.as_str(), rt.as_str())] {
        let body = json!({"client_id": cid, "session_type": "refresh_token", "refresh_token": token});
        let (status, err) = api(&app.client, &app, "/api/anonymous_user/signup", body).await;
        assert_eq!(status, 400, "{err}");
        assert_eq!(err["error"]["message"], "invalid refresh token");
    }
    assert_eq!(user_count(&app).await, 1);
}

#[tokio::test]
async fn disabled_anonymous_users_wrong_clients_and_bad_bodies_are_refused_and_create_nobody() {
    let off = spawn_with(|_| {}).await;
    let (client_id, _) = web_app(&off).await;
    for kind in ["cookie", "refresh_token"] {
        let body = json!({"client_id": client_id, "session_type": kind});
        let (status, err) = api(&off.client, &off, "/api/anonymous_user/signup", body).await;
        assert_eq!(status, 400, "{err}");
        assert_eq!(err["error"]["reason"], "AnonymousUserDisallowed", "{err}");
    }
    assert_eq!(user_count(&off).await, 0);

    let app = spawn_with(|c| c.anonymous.enabled = true).await;
    let d = app
        .ok("mutation { createApplication(input: {name: \"M\", type: M2M}) { application { clientID } } }", json!({}))
        .await;
    let m2m = d["createApplication"]["application"]["clientID"].as_str().unwrap().to_owned();
    let cases = [
        (json!({"client_id": "nobody", "session_type": "cookie"}), "InvalidClient"),
        (json!({"client_id": m2m, "session_type": "refresh_token"}), "UnauthorizedClient"),
        (json!({"client_id": m2m}), "ValidationFailed"),
        (json!({"client_id": m2m, "session_type": "jwt"}), "ValidationFailed"),
        (json!({"client_id": m2m, "session_type": "cookie", "x": "1"}), "ValidationFailed"),
        (json!({"client_id": 1, "session_type": "cookie"}), "ValidationFailed"),
        (json!(["cookie"]), "ValidationFailed"),
    ];
    for (body, reason) in cases {
        let (status, err) = api(&app.client, &app, "/api/anonymous_user/signup", body.clone()).await;
        assert_eq!(status, 400, "{body}: {err}");
        assert_eq!(err["error"]["reason"], reason, "{body}: {err}");
    }
    let res = app.client.post(format!("{}/api/anonymous_user/signup", app.url)).body("{").send().await.unwrap();
    assert_eq!(res.status(), 400);
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn web_anonymous_signups_are_rate_limited_per_ip() {
    let app = spawn_with(|c| {
        c.anonymous.enabled = true;
        c.rate_limits.anonymous_signups_per_ip_per_minute = 2;
    })
    .await;
    let (client_id, _) = web_app(&app).await;
    token_signup(&app, &client_id).await;
    let body = json!({"client_id": client_id, "session_type": "cookie"});
    let (status, _) = api(&Browser::new(&app).client, &app, "/api/anonymous_user/signup", body.clone()).await;
    assert_eq!(status, 200);
    for kind in ["cookie", "refresh_token"] {
        let body = json!({"client_id": client_id, "session_type": kind});
        let (status, err) = api(&Browser::new(&app).client, &app, "/api/anonymous_user/signup", body).await;
        assert_eq!(status, 429, "{err}");
        assert_eq!(err["error"]["name"], "TooManyRequest", "{err}");
    }
    assert_eq!(user_count(&app).await, 2);
}

#[tokio::test]
async fn the_api_answers_cors_for_the_clients_allowed_origins() {
    let app = spawn_with(|c| c.anonymous.enabled = true).await;
    let d = app
        .ok(
            "mutation { createApplication(input: {name: \"Web\", type: SPA, redirectURIs: [\"http://127.0.0.1:9/cb\"], allowedOrigins: [\"https://app.example.com\"]}) { application { clientID } } }",
            json!({}),
        )
        .await;
    let client_id = d["createApplication"]["application"]["clientID"].as_str().unwrap();
    let url = format!("{}/api/anonymous_user/signup", app.url);
    let pre = app
        .client
        .request(reqwest::Method::OPTIONS, &url)
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(pre.status().is_success(), "{}", pre.status());
    assert_eq!(pre.headers()["access-control-allow-origin"], "https://app.example.com");
    let body = json!({"client_id": client_id, "session_type": "refresh_token"});
    for (origin, allowed) in [("https://app.example.com", true), ("https://evil.example.com", false)] {
        let res = app.client.post(&url).header("origin", origin).json(&body).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let got = res.headers().get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(got.as_deref() == Some(origin), allowed, "{origin}");
        if allowed {
            assert_eq!(res.headers()["access-control-allow-credentials"], "true");
        }
    }
}

#[tokio::test]
async fn a_promotion_code_is_for_the_signed_in_anonymous_user_once_and_for_five_minutes() {
    let app = spawn_with(|c| c.anonymous.enabled = true).await;
    let (client_id, rp) = web_app(&app).await;
    let first = token_signup(&app, &client_id).await;
    let rt = first["refresh_token"].as_str().unwrap();
    let body = json!({"session_type": "refresh_token", "refresh_token": rt});
    let (status, issued) = api(&app.client, &app, "/api/anonymous_user/promotion_code", body).await;
    assert_eq!(status, 200, "{issued}");
    let expire_at = time::OffsetDateTime::parse(
        issued["result"]["expire_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let left = (expire_at - time::OffsetDateTime::now_utc()).whole_seconds();
    assert!((290..=300).contains(&left), "five minutes: {left}");
    let code = issued["result"]["promotion_code"].as_str().unwrap().to_owned();

    // Nobody signed in, a refresh token that is not one, a normal user: no code.
    for (body, status_want) in [
        (json!({"session_type": "cookie"}), 401),
        (json!({"session_type": "refresh_token"}), 401),
        (json!({"session_type": "refresh_token", "refresh_token": "nope"}), 403),
    ] {
        let (status, err) = api(&app.client, &app, "/api/anonymous_user/promotion_code", body.clone()).await;
        assert_eq!(status, status_want, "{body}: {err}");
    }
    // The access token of the anonymous user works too (session_type cookie, Bearer).
    let res = app
        .client
        .post(format!("{}/api/anonymous_user/promotion_code", app.url))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .json(&json!({"session_type": "cookie"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // The code opens the signup page once; a second time is a clear page.
    let browser = Browser::new(&app);
    let (status, page) = browser.open(&promotion_request(&rp, &code).url).await.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("action=\"/signup\"") && page.contains("promotion-notice"), "{page}");
    let (status, page) = Browser::new(&app).open(&promotion_request(&rp, &code).url).await.page();
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("already used"), "{page}");

    // Expired, made up, or issued for another client's refresh token: clear pages.
    use authgraph::service::oauth::anonymous_web::{PROMOTION_CODE_PURPOSE, PromotionCode};
    let sub = jwt_claims(first["id_token"].as_str().unwrap())["sub"].as_str().unwrap().parse().unwrap();
    let old = PromotionCode {
        id: "old".into(),
        user: sub,
        client_id: None,
        iat: time::OffsetDateTime::now_utc().unix_timestamp() - 301,
    };
    let expired = app.services.seal(PROMOTION_CODE_PURPOSE, &old);
    let (other_id, other_rp) = web_app(&app).await;
    let fresh = promotion_code(&app.client, &app, Some(rt)).await;
    for (rp, code, want) in [
        (&rp, expired.as_str(), "expired"),
        (&rp, "made-up", "not valid here"),
        (&other_rp, fresh.as_str(), "not valid here"),
    ] {
        let (status, page) = Browser::new(&app).open(&promotion_request(rp, code).url).await.page();
        assert_eq!(status, 400, "{page}");
        assert!(page.contains(want), "{want}: {page}");
    }
    let _ = other_id;
    let gid = authgraph::crypto::b64(format!("User:{sub}"));
    let d = app.ok("query($id: ID!) { node(id: $id) { ... on User { isAnonymous } } }", json!({"id": gid})).await;
    assert_eq!(d["node"]["isAnonymous"], true, "nothing was promoted");
}

#[tokio::test]
async fn a_web_anonymous_user_is_promoted_by_login_id_through_the_auth_ui() {
    let app = spawn_with(|c| c.anonymous.enabled = true).await;
    let (client_id, rp) = web_app(&app).await;
    let browser = Browser::new(&app);
    let body = json!({"client_id": client_id, "session_type": "cookie"});
    assert_eq!(api(&browser.client, &app, "/api/anonymous_user/signup", body).await.0, 200);
    let sub = userinfo(&app, &browser.client, None).await.1["sub"].as_str().unwrap().to_owned();
    let code = promotion_code(&browser.client, &app, None).await;

    // Signed in as the anonymous user, the browser still gets the promotion's page.
    let flow = promotion_request(&rp, &code);
    let (status, page) = browser.open(&flow.url).await.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("action=\"/signup\""), "{page}");
    let fields = [
        ("csrf", hidden(&page, "csrf")),
        ("flow", hidden(&page, "flow")),
        ("login_id", "web@example.com".to_owned()),
        ("password", PW.to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let cb = browser.submit("/signup", &fields).await.redirect();
    let node = assert_promoted(&app, &client_id, &flow, &cb, &sub).await;
    assert_eq!(node["identities"]["edges"], json!([{"node": {"type": "LOGIN_ID"}}]));
    assert_eq!(user_count(&app).await, 1);

    // The browser's cookie session is the promoted user's now.
    let (status, me) = userinfo(&app, &browser.client, None).await;
    assert_eq!((status, &me["sub"], &me[IS_ANONYMOUS]), (200, &json!(sub), &json!(false)));
    // And a promoted user gets no more codes.
    let (status, err) =
        api(&browser.client, &app, "/api/anonymous_user/promotion_code", json!({"session_type": "cookie"})).await;
    assert_eq!(status, 400, "{err}");
}
