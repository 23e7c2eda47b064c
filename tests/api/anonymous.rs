//! Anonymous users for apps, as Authgear's SDKs sign them in: `POST /oauth2/challenge`,
//! then the anonymous-request grant with a JWT signed by a key pair kept on the device.

use serde_json::{Value, json};

use crate::device_key::{ANONYMOUS_TYP, DeviceKey};
use crate::helpers::{TestApp, jwt_claims, spawn_with};

const GRANT: &str = "urn:authgear:params:oauth:grant-type:anonymous-request";
const IS_ANONYMOUS: &str = "https://authgear.com/claims/user/is_anonymous";

async fn enabled() -> TestApp {
    spawn_with(|c| c.anonymous.enabled = true).await
}

/// A new application of `kind`; returns its client ID and secret (if it has one).
async fn application(app: &TestApp, kind: &str) -> (String, Option<String>) {
    let d = app
        .ok(
            "mutation($t: ApplicationType!) { createApplication(input: {name: \"App\", type: $t, redirectURIs: [\"com.example.app:/cb\"]}) { application { clientID } clientSecret } }",
            json!({"t": kind}),
        )
        .await;
    let d = &d["createApplication"];
    (d["application"]["clientID"].as_str().unwrap().to_owned(), d["clientSecret"].as_str().map(str::to_owned))
}

/// `POST /oauth2/challenge` with a raw body; returns the status and the JSON answer.
async fn post_challenge(app: &TestApp, body: &str) -> (u16, Value) {
    let res = app
        .client
        .post(format!("{}/oauth2/challenge", app.url))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    assert_eq!(res.headers()["cache-control"], "no-store");
    (status, res.json().await.unwrap())
}

/// A fresh challenge for `purpose`.
async fn challenge(app: &TestApp, purpose: &str) -> String {
    let (status, body) = post_challenge(app, &json!({"purpose": purpose}).to_string()).await;
    assert_eq!(status, 200, "{body}");
    body["result"]["token"].as_str().unwrap().to_owned()
}

/// The anonymous-request grant for `client_id` with `jwt`.
async fn grant(app: &TestApp, client_id: &str, jwt: &str) -> (u16, Value) {
    app.token_request(&[("grant_type", GRANT), ("client_id", client_id), ("jwt", jwt)]).await
}

/// A new challenge signed by `key`, through the grant; returns the answer.
async fn sign_in(app: &TestApp, client_id: &str, key: &DeviceKey) -> (u16, Value) {
    let c = challenge(app, "anonymous_request").await;
    grant(app, client_id, &key.anonymous_jwt(&c)).await
}

/// The user as the Admin API shows them.
async fn admin_user(app: &TestApp, sub: &str) -> Value {
    let id = authgraph::crypto::b64(format!("User:{sub}"));
    let q = "query($id: ID!) { node(id: $id) { ... on User { isAnonymous loginIDs { id } identities { totalCount edges { node { type claims } } } } } }";
    app.ok(q, json!({"id": id})).await["node"].clone()
}

#[tokio::test]
async fn the_challenge_endpoint_answers_as_authgear_does() {
    let app = enabled().await;
    for purpose in ["anonymous_request", "biometric_request", "app2app_request"] {
        let (status, body) = post_challenge(&app, &json!({"purpose": purpose}).to_string()).await;
        assert_eq!(status, 200, "{body}");
        let result = body["result"].as_object().unwrap();
        assert_eq!(result.len(), 2, "{body}");
        assert!(!result["token"].as_str().unwrap().is_empty());
        let expire_at = time::OffsetDateTime::parse(
            result["expire_at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        let left = (expire_at - time::OffsetDateTime::now_utc()).whole_seconds();
        assert!((290..=300).contains(&left), "five minutes, {left} s left");
    }
    for (body, kind) in [
        (r#"{"purpose":"login"}"#, Some("enum")),
        (r#"{"purpose":"anonymous_request","extra":true}"#, Some("additionalProperties")),
        (r#"{}"#, Some("required")),
        (r#"{"purpose":7}"#, Some("type")),
        (r#"{"purpose":"#, None),
        ("", None),
    ] {
        let (status, res) = post_challenge(&app, body).await;
        assert_eq!(status, 400, "{body}: {res}");
        let e = &res["error"];
        assert_eq!(e["code"], 400, "{res}");
        assert!(e["message"].is_string() && e["name"].is_string() && e["reason"].is_string(), "{res}");
        if let Some(kind) = kind {
            assert_eq!(e["name"], "Invalid", "{res}");
            assert_eq!(e["reason"], "ValidationFailed", "{res}");
            assert_eq!(e["info"]["causes"][0]["kind"], kind, "{res}");
        }
    }
}

#[tokio::test]
async fn a_new_key_signs_up_an_anonymous_user_and_signs_the_same_user_in_again() {
    let app = enabled().await;
    let (client_id, _) = application(&app, "NATIVE").await;
    let key = DeviceKey::es256();

    let (status, body) = sign_in(&app, &client_id, &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["scope"], "openid offline_access https://authgear.com/scopes/full-access");
    assert!(body["expires_in"].as_i64().unwrap() > 0);
    let id = jwt_claims(body["id_token"].as_str().unwrap());
    let access = jwt_claims(body["access_token"].as_str().unwrap());
    let sub = id["sub"].as_str().unwrap().to_owned();
    assert_eq!(id[IS_ANONYMOUS], true, "{id}");
    assert_eq!(id["aud"], json!([client_id]));
    assert_eq!(access[IS_ANONYMOUS], true, "{access}");
    assert_eq!(access["sub"], sub.as_str());
    assert!(access.get("amr").is_none(), "no AMR, as in Authgear: {access}");

    let user = admin_user(&app, &sub).await;
    assert_eq!(user["isAnonymous"], true, "{user}");
    assert_eq!(user["loginIDs"], json!([]), "an anonymous identity is no login ID");
    assert_eq!(user["identities"]["totalCount"], 1);
    let identity = &user["identities"]["edges"][0]["node"];
    assert_eq!(identity["type"], "ANONYMOUS");
    assert_eq!(identity["claims"], json!({"https://authgear.com/claims/anonymous/key_id": key.kid}));
    assert_eq!(app.audit_count_of("USER_CREATED").await, 1);

    // A second challenge and JWT: the same user, no new one. The SDKs send the jwk every
    // time; naming the key by kid alone works too.
    let (status, again) = sign_in(&app, &client_id, &key).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(jwt_claims(again["id_token"].as_str().unwrap())["sub"], sub.as_str());
    let c = challenge(&app, "anonymous_request").await;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let by_kid = key.sign(
        &json!({"typ": ANONYMOUS_TYP, "kid": key.kid, "alg": "ES256"}),
        &json!({"iat": now, "exp": now + 60, "challenge": c, "action": "auth"}),
    );
    let (status, third) = grant(&app, &client_id, &by_kid).await;
    assert_eq!(status, 200, "{third}");
    assert_eq!(jwt_claims(third["id_token"].as_str().unwrap())["sub"], sub.as_str());
    assert_eq!(app.audit_count_of("USER_CREATED").await, 1);
    assert_eq!(app.audit_count_of("USER_AUTHENTICATED").await, 3);

    // The refresh token of the grant works.
    let (status, refreshed) = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", client_id.as_str()),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ])
        .await;
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(jwt_claims(refreshed["access_token"].as_str().unwrap())[IS_ANONYMOUS], true);

    // The key ID is no username: signing in with it as a login ID finds nobody.
    let found = app
        .ok(
            "query($v: String!) { getUserByLoginID(loginIDKey: \"username\", loginIDValue: $v) { id } }",
            json!({"v": key.kid}),
        )
        .await;
    assert_eq!(found["getUserByLoginID"], Value::Null);
}

#[tokio::test]
async fn an_rs256_key_as_android_makes_works_too() {
    let app = enabled().await;
    let (client_id, _) = application(&app, "SPA").await;
    let key = DeviceKey::rs256();
    let (status, first) = sign_in(&app, &client_id, &key).await;
    assert_eq!(status, 200, "{first}");
    let (status, second) = sign_in(&app, &client_id, &key).await;
    assert_eq!(status, 200, "{second}");
    let sub = |b: &Value| jwt_claims(b["id_token"].as_str().unwrap())["sub"].clone();
    assert_eq!(sub(&first), sub(&second));
    assert_eq!(jwt_claims(first["id_token"].as_str().unwrap())[IS_ANONYMOUS], true);
}

#[tokio::test]
async fn replayed_foreign_or_forged_challenges_and_signatures_are_invalid_grant() {
    let app = enabled().await;
    let (client_id, _) = application(&app, "NATIVE").await;
    let key = DeviceKey::es256();
    let c = challenge(&app, "anonymous_request").await;
    let jwt = key.anonymous_jwt(&c);
    let (status, body) = grant(&app, &client_id, &jwt).await;
    assert_eq!(status, 200, "{body}");

    let refused = |(status, body): (u16, Value), what: &str| {
        assert_eq!(status, 400, "{what}: {body}");
        assert_eq!(body["error"], "invalid_grant", "{what}: {body}");
    };
    // The same JWT again, and a new JWT over the used challenge.
    refused(grant(&app, &client_id, &jwt).await, "replayed JWT");
    refused(grant(&app, &client_id, &key.anonymous_jwt(&c)).await, "replayed challenge");
    // A challenge issued for another purpose.
    let biometric = challenge(&app, "biometric_request").await;
    refused(grant(&app, &client_id, &key.anonymous_jwt(&biometric)).await, "biometric challenge");
    // A challenge this server did not seal.
    let forged = format!("{}x", challenge(&app, "anonymous_request").await);
    refused(grant(&app, &client_id, &key.anonymous_jwt(&forged)).await, "forged challenge");
    // Not a JWT, and a JWT of another typ.
    refused(grant(&app, &client_id, "not.a.jwt").await, "garbage");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let c2 = challenge(&app, "anonymous_request").await;
    let wrong_typ = key.sign(
        &json!({"typ": "JWT", "kid": key.kid, "alg": "ES256", "jwk": key.jwk()}),
        &json!({"iat": now, "challenge": c2}),
    );
    refused(grant(&app, &client_id, &wrong_typ).await, "typ JWT");
    assert_eq!(app.audit_count_of("USER_CREATED").await, 1);
    assert_eq!(app.audit_count_of("AUTHENTICATION_IDENTITY_ANONYMOUS_FAILED").await, 0);

    // Another key pair under the known key ID: refused and audited, even with its own jwk
    // in the header.
    let impostor = key.impostor();
    refused(grant(&app, &client_id, &impostor.anonymous_jwt(&c2)).await, "impostor");
    assert_eq!(app.audit_count_of("AUTHENTICATION_IDENTITY_ANONYMOUS_FAILED").await, 1);
    // The challenge was not consumed by the failure: the right key can still use it.
    let (status, body) = grant(&app, &client_id, &key.anonymous_jwt(&c2)).await;
    assert_eq!(status, 200, "{body}");
    // jwt is required.
    let (status, body) = app.token_request(&[("grant_type", GRANT), ("client_id", client_id.as_str())]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
}

#[tokio::test]
async fn disabled_or_a_confidential_client_is_unauthorized_client() {
    let off = spawn_with(|_| {}).await;
    let (client_id, _) = application(&off, "NATIVE").await;
    let (status, body) = sign_in(&off, &client_id, &DeviceKey::es256()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")), "{body}");
    assert_eq!(off.audit_count_of("USER_CREATED").await, 0);

    let app = enabled().await;
    let (client_id, secret) = application(&app, "CONFIDENTIAL").await;
    let c = challenge(&app, "anonymous_request").await;
    let jwt = DeviceKey::es256().anonymous_jwt(&c);
    let secret = secret.unwrap();
    let form = [
        ("grant_type", GRANT),
        ("client_id", client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("jwt", jwt.as_str()),
    ];
    let (status, body) = app.token_request(&form).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")), "{body}");
    assert_eq!(app.audit_count_of("USER_CREATED").await, 0);
}

#[tokio::test]
async fn the_per_ip_signup_limit_refuses_the_third_new_user_but_not_returning_ones() {
    let app = spawn_with(|c| {
        c.anonymous.enabled = true;
        c.rate_limits.anonymous_signups_per_ip_per_minute = 2;
    })
    .await;
    let (client_id, _) = application(&app, "NATIVE").await;
    let first = DeviceKey::es256();
    // Near the end of a minute the window may turn between the sign-ups; start afresh.
    let second_of_minute = time::OffsetDateTime::now_utc().second();
    if second_of_minute > 50 {
        tokio::time::sleep(std::time::Duration::from_secs(u64::from(61 - second_of_minute))).await;
    }
    for key in [&first, &DeviceKey::es256()] {
        let (status, body) = sign_in(&app, &client_id, key).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = sign_in(&app, &client_id, &DeviceKey::es256()).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(app.audit_count_of("USER_CREATED").await, 2);
    assert_eq!(app.audit_count_of("RATE_LIMIT_BLOCKED").await, 1);
    // A returning anonymous user is no sign-up.
    let (status, body) = sign_in(&app, &client_id, &first).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn hostile_bytes_and_a_parallel_burst_on_one_challenge() {
    let app = enabled().await;
    let (client_id, _) = application(&app, "NATIVE").await;
    let users =
        async |app: &TestApp| app.ok("{ users { totalCount } }", json!({})).await["users"]["totalCount"].clone();
    let before = users(&app).await;

    // NUL bytes and a megabyte in the purpose, and as the JWT: clear 400s, nothing created.
    for purpose in ["anonymous\u{0}request".to_owned(), "x".repeat(1_000_000)] {
        let (status, body) = post_challenge(&app, &json!({"purpose": purpose}).to_string()).await;
        assert_eq!(status, 400, "{body}");
    }
    for jwt in ["a\u{0}b.c.d".to_owned(), "x".repeat(1_000_000), format!("{}.{}.", "e".repeat(500_000), "f")] {
        let (status, body) = grant(&app, &client_id, &jwt).await;
        assert_eq!(status, 400, "{body}");
        assert!(body["error"] == "invalid_request" || body["error"] == "invalid_grant", "{body}");
    }
    assert_eq!(users(&app).await, before);

    // One signed challenge sent 40 times at once: one user, one answer with tokens.
    let key = DeviceKey::es256();
    let jwt = key.anonymous_jwt(&challenge(&app, "anonymous_request").await);
    let answers = futures::future::join_all((0..40).map(|_| grant(&app, &client_id, &jwt))).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 1, "{answers:?}");
    assert!(answers.iter().all(|(s, b)| *s == 200 || (*s == 400 && b["error"] == "invalid_grant")), "{answers:?}");
    assert_eq!(users(&app).await, json!(before.as_i64().unwrap() + 1));
}
