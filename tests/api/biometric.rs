//! Biometric sign-in for apps, as Authgear's iOS and Android SDKs do it: a signed-in user
//! sets up a device key (`action: setup`, with the access token), then signs in with it
//! (`action: authenticate`); both JWTs carry a challenge from `POST /oauth2/challenge`.

use serde_json::{Value, json};

use crate::device_key::{DeviceKey, challenge};
use crate::helpers::{TestApp, jwt_claims, spawn_with};
use crate::login_helpers::{CB, PW, start};
use crate::rp::{Browser, param, register, relying_party};

const GRANT: &str = "urn:authgear:params:oauth:grant-type:biometric-request";
const FULL_ACCESS: &str = "https://authgear.com/scopes/full-access";
const NS: &str = "https://authgear.com/claims/biometric";

async fn enabled() -> TestApp {
    spawn_with(|c| {
        c.biometric.enabled = true;
        c.anonymous.enabled = true;
    })
    .await
}

/// Signs `email` in to the native app `client_id` through the Auth UI and the code flow;
/// returns the access token.
async fn access_token(app: &TestApp, client_id: &str, email: &str) -> String {
    let rp = relying_party(app, client_id, None, CB).await;
    let f = start(&rp, &["offline_access", FULL_ACCESS], &[]);
    let cb = Browser::new(app).authorize_with_login(&f.url, email, PW).await;
    let code = param(&cb, "code").unwrap();
    let (status, body) = app
        .token_request(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", CB),
            ("client_id", client_id),
            ("code_verifier", f.verifier.secret()),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

/// The grant with `jwt`, the bearer token (for setup) and extra form fields.
async fn grant(
    app: &TestApp,
    client_id: &str,
    jwt: &str,
    bearer: Option<&str>,
    extra: &[(&str, &str)],
) -> (u16, Value) {
    let mut form = vec![("grant_type", GRANT), ("client_id", client_id), ("jwt", jwt)];
    form.extend_from_slice(extra);
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let mut req = app
        .client
        .post(format!("{}/oauth2/token", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some(b) = bearer {
        req = req.bearer_auth(b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

/// Sets `key` up for the user of `token`.
async fn setup(app: &TestApp, client_id: &str, key: &DeviceKey, token: &str) -> (u16, Value) {
    let c = challenge(app, "biometric_request").await;
    grant(app, client_id, &key.biometric_jwt(&c, "setup"), Some(token), &[]).await
}

/// Signs in with `key`.
async fn authenticate(app: &TestApp, client_id: &str, key: &DeviceKey, extra: &[(&str, &str)]) -> (u16, Value) {
    let c = challenge(app, "biometric_request").await;
    grant(app, client_id, &key.biometric_jwt(&c, "authenticate"), None, extra).await
}

async fn count(app: &TestApp, activity: &str) -> i64 {
    let q = format!("{{ auditLogs(activityTypes: [{activity}]) {{ totalCount }} }}");
    app.ok(&q, json!({})).await["auditLogs"]["totalCount"].as_i64().unwrap()
}

/// A native app and a user with a password; returns the client ID and the user's ID.
async fn app_and_user(app: &TestApp, email: &str) -> (String, String) {
    let (client_id, _) = register(app, "NATIVE", CB).await;
    let user = app.create_user(email, Some(PW)).await;
    (client_id, user)
}

#[tokio::test]
async fn a_device_key_set_up_by_a_signed_in_user_signs_them_in() {
    let app = enabled().await;
    let (client_id, user) = app_and_user(&app, "bio@example.com").await;
    let token = access_token(&app, &client_id, "bio@example.com").await;
    for key in [DeviceKey::es256(), DeviceKey::rs256()] {
        let (status, body) = setup(&app, &client_id, &key, &token).await;
        assert_eq!((status, &body), (200, &json!({})));

        // Sign-in: tokens for the same user, amr x_biometric, the device's info kept.
        let info = authgraph::crypto::b64(json!({"android": {"Build": {"MODEL": "Pixel 8"}}}).to_string());
        let (status, body) = authenticate(&app, &client_id, &key, &[("x_device_info", &info)]).await;
        assert_eq!(status, 200, "{body}");
        let id = jwt_claims(body["id_token"].as_str().unwrap());
        let sub = id["sub"].as_str().unwrap();
        assert_eq!(authgraph::crypto::b64(format!("User:{sub}")), user);
        assert_eq!(id["amr"], json!(["x_biometric"]));
        assert_eq!(jwt_claims(body["access_token"].as_str().unwrap())["amr"], json!(["x_biometric"]));
        assert!(body["scope"].as_str().unwrap().contains("offline_access"));
        // The refresh token works like any other.
        let rt = body["refresh_token"].as_str().unwrap();
        let (status, refreshed) = app
            .token_request(&[("grant_type", "refresh_token"), ("refresh_token", rt), ("client_id", &client_id)])
            .await;
        assert_eq!(status, 200, "{refreshed}");
    }

    // The Admin API lists both devices with Authgear's claims.
    let q = "query($id: ID!) { node(id: $id) { ... on User { biometricRegistrations { id type claims } identities(identityType: BIOMETRIC) { totalCount } } } }";
    let d = app.ok(q, json!({"id": user})).await;
    let regs = d["node"]["biometricRegistrations"].as_array().unwrap().clone();
    assert_eq!(regs.len(), 2);
    assert_eq!(d["node"]["identities"]["totalCount"], 2);
    assert_eq!(regs[0]["type"], "BIOMETRIC");
    assert_eq!(regs[0]["claims"][format!("{NS}/formatted_device_info")], "iPhone 12 Pro");
    assert_eq!(regs[0]["claims"][format!("{NS}/device_info")]["ios"]["uname"]["machine"], "iPhone13,3");
    assert!(regs[0]["claims"][format!("{NS}/key_id")].is_string());
    assert_eq!(count(&app, "IDENTITY_BIOMETRIC_ENABLED").await, 2);
    assert_eq!(count(&app, "USER_AUTHENTICATED").await, 3, "the browser sign-in and two biometric ones");

    // deleteIdentity turns one device off: audited, and its key no longer signs in.
    let q =
        "mutation($id: ID!) { deleteIdentity(input: {identityID: $id}) { user { biometricRegistrations { id } } } }";
    let d = app.ok(q, json!({"id": regs[0]["id"]})).await;
    assert_eq!(d["deleteIdentity"]["user"]["biometricRegistrations"].as_array().unwrap().len(), 1);
    assert_eq!(count(&app, "IDENTITY_BIOMETRIC_DISABLED").await, 1);
}

#[tokio::test]
async fn a_biometric_sign_in_ends_the_earlier_grants_of_the_same_key_only() {
    let app = enabled().await;
    let (client_id, _) = app_and_user(&app, "bio-grants@example.com").await;
    let token = access_token(&app, &client_id, "bio-grants@example.com").await;
    let (phone, tablet) = (DeviceKey::es256(), DeviceKey::es256());
    for key in [&phone, &tablet] {
        assert_eq!(setup(&app, &client_id, key, &token).await.0, 200);
    }
    let refresh = |body: &Value| body["refresh_token"].as_str().unwrap().to_owned();
    let works = |rt: String| {
        let (app, client_id) = (&app, &client_id);
        async move {
            let (status, body) = app
                .token_request(&[("grant_type", "refresh_token"), ("refresh_token", &rt), ("client_id", client_id)])
                .await;
            (status, body)
        }
    };
    let (status, first) = authenticate(&app, &client_id, &phone, &[]).await;
    assert_eq!(status, 200, "{first}");
    let (_, on_tablet) = authenticate(&app, &client_id, &tablet, &[]).await;
    // The phone signs in again: its first grant ends; the tablet's grant and the
    // browser sign-in's grant (the access token's session) stay.
    let (status, second) = authenticate(&app, &client_id, &phone, &[]).await;
    assert_eq!(status, 200, "{second}");
    let (status, body) = works(refresh(&first)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant");
    let (status, body) = works(refresh(&second)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = works(refresh(&on_tablet)).await;
    assert_eq!(status, 200, "{body}");
    let q = "{ users { edges { node { sessions { totalCount } } } } }";
    let d = app.ok(q, json!({})).await;
    // The browser session, the app grant of its code flow, the tablet, the phone.
    assert_eq!(d["users"]["edges"][0]["node"]["sessions"]["totalCount"], 4, "{d}");
}

#[tokio::test]
async fn a_removed_key_an_impostor_and_a_replayed_challenge_are_refused() {
    let app = enabled().await;
    let (client_id, user) = app_and_user(&app, "bio2@example.com").await;
    let token = access_token(&app, &client_id, "bio2@example.com").await;
    let key = DeviceKey::es256();
    assert_eq!(setup(&app, &client_id, &key, &token).await.0, 200);

    // The same key twice is refused.
    let (status, body) = setup(&app, &client_id, &key, &token).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");

    // Another key under the same ID: refused and audited.
    let (status, body) = authenticate(&app, &client_id, &key.impostor(), &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    assert_eq!(count(&app, "AUTHENTICATION_IDENTITY_BIOMETRIC_FAILED").await, 1);

    // A challenge is used once; one of another purpose never passes.
    let c = challenge(&app, "biometric_request").await;
    let jwt = key.biometric_jwt(&c, "authenticate");
    assert_eq!(grant(&app, &client_id, &jwt, None, &[]).await.0, 200);
    let (status, body) = grant(&app, &client_id, &jwt, None, &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    let c = challenge(&app, "anonymous_request").await;
    let (status, body) = grant(&app, &client_id, &key.biometric_jwt(&c, "authenticate"), None, &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");

    // Scopes must include offline_access and full access; x_device_info must be JSON.
    let (status, body) = authenticate(&app, &client_id, &key, &[("scope", "openid offline_access")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")), "{body}");
    let (status, body) = authenticate(&app, &client_id, &key, &[("x_device_info", "not json")]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");

    // A key never set up, and a disabled user's key.
    let (status, body) = authenticate(&app, &client_id, &DeviceKey::es256(), &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
    app.ok(
        "mutation($id: ID!) { setDisabledStatus(input: {userID: $id, isDisabled: true}) { user { id } } }",
        json!({"id": user}),
    )
    .await;
    let (status, body) = authenticate(&app, &client_id, &key, &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
}

#[tokio::test]
async fn setup_needs_a_signed_in_real_user_and_a_first_party_app() {
    let app = enabled().await;
    let (client_id, _) = app_and_user(&app, "bio3@example.com").await;
    let key = DeviceKey::es256();

    // No access token, or a bad one: 401 as Authgear.
    let (status, body) = setup(&app, &client_id, &key, "not-a-token").await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_grant")), "{body}");
    let c = challenge(&app, "biometric_request").await;
    let (status, body) = grant(&app, &client_id, &key.biometric_jwt(&c, "setup"), None, &[]).await;
    assert_eq!((status, body["error"].as_str()), (401, Some("invalid_grant")), "{body}");

    // An anonymous user must be promoted first.
    let c = challenge(&app, "anonymous_request").await;
    let device = DeviceKey::es256();
    let (status, anon) = app
        .token_request(&[
            ("grant_type", "urn:authgear:params:oauth:grant-type:anonymous-request"),
            ("client_id", &client_id),
            ("jwt", &device.anonymous_jwt(&c)),
        ])
        .await;
    assert_eq!(status, 200, "{anon}");
    let (status, body) = setup(&app, &client_id, &key, anon["access_token"].as_str().unwrap()).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")), "{body}");

    // A bad action, a confidential app, and the feature off.
    let c = challenge(&app, "biometric_request").await;
    let (status, body) = grant(&app, &client_id, &key.biometric_jwt(&c, "dance"), None, &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
    let (confidential, secret) = register(&app, "CONFIDENTIAL", CB).await;
    let c = challenge(&app, "biometric_request").await;
    let jwt = key.biometric_jwt(&c, "authenticate");
    let (status, body) = grant(&app, &confidential, &jwt, None, &[("client_secret", secret.as_deref().unwrap())]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("unauthorized_client")), "{body}");
    let off = spawn_with(|_| {}).await;
    let (native, _) = register(&off, "NATIVE", CB).await;
    let c = challenge(&off, "biometric_request").await;
    let (status, body) = grant(&off, &native, &key.biometric_jwt(&c, "authenticate"), None, &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_request")), "{body}");
    assert_eq!(count(&app, "IDENTITY_BIOMETRIC_ENABLED").await, 0);
}

#[tokio::test]
async fn a_burst_hostile_bytes_and_a_second_process_change_nothing_they_should_not() {
    let app = enabled().await;
    let (client_id, user) = app_and_user(&app, "bio4@example.com").await;
    let token = access_token(&app, &client_id, "bio4@example.com").await;
    let key = DeviceKey::es256();
    assert_eq!(setup(&app, &client_id, &key, &token).await.0, 200);

    // One signed challenge sent 40 times at once signs in exactly once.
    let c = challenge(&app, "biometric_request").await;
    let jwt = key.biometric_jwt(&c, "authenticate");
    let burst = futures::future::join_all((0..40).map(|_| grant(&app, &client_id, &jwt, None, &[]))).await;
    let ok = burst.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(ok, 1, "{burst:?}");
    assert!(burst.iter().all(|(s, b)| *s == 200 || b["error"] == "invalid_grant"), "{burst:?}");
    assert_eq!(count(&app, "USER_AUTHENTICATED").await, 2, "the browser sign-in and one biometric");

    // Hostile bytes: clear 400s, nothing written.
    let huge = "a".repeat(1 << 20);
    let nul = format!("{}\0.x.y", key.biometric_jwt(&challenge(&app, "biometric_request").await, "authenticate"));
    for (jwt, extra) in [
        (nul.as_str(), vec![]),
        (huge.as_str(), vec![]),
        (jwt.as_str(), vec![("x_device_info", huge.as_str())]),
        (jwt.as_str(), vec![("x_device_info", "e30\0")]),
        (jwt.as_str(), vec![("scope", "openid\0offline_access")]),
    ] {
        let (status, body) = grant(&app, &client_id, jwt, Some("not-a-token"), &extra).await;
        // A megabyte body is over the endpoint's size limit: 413 before any parsing.
        assert!(status == 400 && body["error"].is_string() || status == 413, "{status} {body}");
    }
    let q = "query($id: ID!) { node(id: $id) { ... on User { biometricRegistrations { id } } } }";
    assert_eq!(app.ok(q, json!({"id": user})).await["node"]["biometricRegistrations"].as_array().unwrap().len(), 1);

    // A second process on the same database signs the device in, and sees it removed.
    let url = app.database_url.clone();
    let master = app.dir.path().join("master.key");
    let other = spawn_with(move |c| {
        c.biometric.enabled = true;
        c.database_url = authgraph::config::Secret::new(url);
        c.master_key_file = master;
    })
    .await;
    let (status, body) = authenticate(&other, &client_id, &key, &[]).await;
    assert_eq!(status, 200, "{body}");
    let reg = app.ok(q, json!({"id": user})).await["node"]["biometricRegistrations"][0]["id"].clone();
    app.ok("mutation($id: ID!) { deleteIdentity(input: {identityID: $id}) { user { id } } }", json!({"id": reg})).await;
    let (status, body) = authenticate(&other, &client_id, &key, &[]).await;
    assert_eq!((status, body["error"].as_str()), (400, Some("invalid_grant")), "{body}");
}
