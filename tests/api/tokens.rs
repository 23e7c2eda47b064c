//! Client-credentials tokens, JWKS, discovery, introspection and revocation, through the
//! real HTTP endpoints. Tokens are verified with `jsonwebtoken` against the published
//! JWKS: a different JOSE implementation from the one that signs them.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const API: &str = "https://api.example.com/orders";

/// An m2m client linked to API with `read` and `write` granted; returns (client_id, secret).
async fn setup(app: &TestApp, alg: &str) -> (String, String) {
    let d = app
        .ok(
            "mutation($a: SigningAlgorithm) { createApplication(input: {name: \"Worker\", type: M2M, accessTokenSigningAlgorithm: $a, accessTokenLifetimeSeconds: 600}) { application { clientID } clientSecret } }",
            json!({"a": alg}),
        )
        .await;
    let client = d["createApplication"]["application"]["clientID"].as_str().unwrap().to_owned();
    let secret = d["createApplication"]["clientSecret"].as_str().unwrap().to_owned();
    if app.ok("query($u: String) { resources(searchKeyword: $u) { totalCount } }", json!({"u": API})).await["resources"]
        ["totalCount"]
        == 0
    {
        app.ok("mutation($u: String!) { createResource(input: {resourceURI: $u}) { resource { id } } a: createScope(input: {resourceURI: $u, scope: \"read\"}) { scope { id } } b: createScope(input: {resourceURI: $u, scope: \"write\"}) { scope { id } } c: createScope(input: {resourceURI: $u, scope: \"admin\"}) { scope { id } } }", json!({"u": API})).await;
    }
    app.ok(
        "mutation($u: String!, $c: String!) { addResourceToClientID(input: {resourceURI: $u, clientID: $c}) { resource { id } } addScopesToClientID(input: {resourceURI: $u, clientID: $c, scopes: [\"read\", \"write\"]}) { scopes { scope } } }",
        json!({"u": API, "c": client}),
    )
    .await;
    (client, secret)
}

async fn post(app: &TestApp, path: &str, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> reqwest::Response {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let mut req = app
        .client
        .post(format!("{}{path}", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    req.send().await.unwrap()
}

async fn verify(app: &TestApp, token: &str, aud: &str) -> Value {
    let jwks: JwkSet = app.client.get(format!("{}/oauth2/jwks", app.url)).send().await.unwrap().json().await.unwrap();
    let header = jsonwebtoken::decode_header(token).unwrap();
    assert_eq!(header.typ.as_deref(), Some("at+jwt"));
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("the signing key is in the JWKS");
    let mut v = Validation::new(header.alg);
    v.set_audience(&[aud]);
    v.set_issuer(&[&app.url]);
    jsonwebtoken::decode::<Value>(token, &DecodingKey::from_jwk(jwk).unwrap(), &v).unwrap().claims
}

#[tokio::test]
async fn client_credentials_with_both_auth_methods_and_every_algorithm() {
    let app = spawn_app().await;
    for alg in ["RS256", "ES256", "EdDSA"] {
        let (client, secret) = setup(&app, alg).await;
        let res = post(
            &app,
            "/oauth2/token",
            Some((&client, &secret)),
            &[("grant_type", "client_credentials"), ("resource", API)],
        )
        .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 600);
        assert_eq!(body["scope"], "read write", "default: every granted scope");
        assert!(body.get("refresh_token").is_none());
        let claims = verify(&app, body["access_token"].as_str().unwrap(), API).await;
        assert_eq!(
            jsonwebtoken::decode_header(body["access_token"].as_str().unwrap()).unwrap().alg,
            alg.parse().unwrap()
        );
        assert_eq!(claims["sub"], client.as_str());
        assert_eq!(claims["client_id"], client.as_str());
        assert_eq!(claims["aud"], API);
        assert!(claims["jti"].is_string() && claims["iat"].is_i64());
        assert_eq!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(), 600);

        // client_secret_post, a scope subset.
        let res = post(
            &app,
            "/oauth2/token",
            None,
            &[
                ("grant_type", "client_credentials"),
                ("resource", API),
                ("scope", "read"),
                ("client_id", &client),
                ("client_secret", &secret),
            ],
        )
        .await;
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["scope"], "read", "{body}");
    }
    // Basic credentials are form-urlencoded before base64 (RFC 6749 §2.3.1).
    let (client, secret) = setup(&app, "RS256").await;
    let encoded = secret.replace('-', "%2D").replace('_', "%5F");
    let res = post(
        &app,
        "/oauth2/token",
        Some((&client, &encoded)),
        &[("grant_type", "client_credentials"), ("resource", API)],
    )
    .await;
    assert_eq!(res.status(), 200);

    let d = app
        .ok(
            "{ auditLogs(activityTypes: [M2M_TOKEN_CREATED]) { totalCount edges { node { clientID data } } } }",
            json!({}),
        )
        .await;
    assert_eq!(d["auditLogs"]["totalCount"], 7, "each token is audited before the response");
    assert_eq!(d["auditLogs"]["edges"][0]["node"]["clientID"], client.as_str());
    assert_eq!(d["auditLogs"]["edges"][0]["node"]["data"]["payload"]["resource"], API);
}

#[tokio::test]
async fn token_errors_follow_rfc_6749() {
    let app = spawn_app().await;
    let (client, secret) = setup(&app, "RS256").await;
    let ok_form: Vec<(&str, &str)> = vec![("grant_type", "client_credentials"), ("resource", API)];

    let res = post(&app, "/oauth2/token", Some((&client, "wrong")), &ok_form).await;
    assert_eq!(res.status(), 401);
    assert!(res.headers()["www-authenticate"].to_str().unwrap().starts_with("Basic"));
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_client");
    let res = post(&app, "/oauth2/token", Some(("nobody", &secret)), &ok_form).await;
    assert_eq!(res.status(), 401);
    let res = post(
        &app,
        "/oauth2/token",
        None,
        &[("grant_type", "client_credentials"), ("resource", API), ("client_id", &client), ("client_secret", "x")],
    )
    .await;
    assert_eq!(res.status(), 401);
    assert!(!res.headers().contains_key("www-authenticate"));
    let res = post(&app, "/oauth2/token", None, &ok_form).await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_client");

    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("resource", API)], "invalid_request"),
        (vec![("grant_type", "password"), ("resource", API)], "unsupported_grant_type"),
        (
            vec![("grant_type", "client_credentials"), ("grant_type", "client_credentials"), ("resource", API)],
            "invalid_request",
        ),
        (vec![("grant_type", "client_credentials")], "invalid_target"),
        (vec![("grant_type", "client_credentials"), ("resource", "https://unknown.example.com")], "invalid_target"),
        (
            vec![("grant_type", "client_credentials"), ("resource", API), ("resource", "https://other.example.com")],
            "invalid_target",
        ),
        (vec![("grant_type", "client_credentials"), ("resource", API), ("scope", "read admin")], "invalid_scope"),
        (vec![("grant_type", "client_credentials"), ("resource", API), ("client_secret", &secret)], "invalid_request"),
    ];
    for (form, error) in cases {
        let res = post(&app, "/oauth2/token", Some((&client, &secret)), &form).await;
        assert_eq!(res.status(), 400, "{form:?}");
        assert_eq!(res.headers()["cache-control"], "no-store");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["error"], error, "{form:?}: {body}");
        assert!(body["error_description"].is_string());
    }
    let admin = app.services.config().admin_resource_uri();
    let res = post(
        &app,
        "/oauth2/token",
        Some((&client, &secret)),
        &[("grant_type", "client_credentials"), ("resource", &admin)],
    )
    .await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_target", "not linked to the Admin API");

    // A confidential app without the client_credentials grant.
    let d = app.ok("mutation { createApplication(input: {name: \"Web\", type: CONFIDENTIAL, redirectURIs: [\"https://w.example.com/cb\"]}) { application { clientID } clientSecret } }", json!({})).await;
    let web = d["createApplication"]["application"]["clientID"].as_str().unwrap().to_owned();
    let web_secret = d["createApplication"]["clientSecret"].as_str().unwrap().to_owned();
    let res = post(&app, "/oauth2/token", Some((&web, &web_secret)), &ok_form).await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "unauthorized_client");

    let res = app
        .client
        .post(format!("{}/oauth2/token", app.url))
        .basic_auth(&client, Some(&secret))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "invalid_request", "JSON bodies are refused");
}

#[tokio::test]
async fn rotated_secrets_m2m_admin_tokens_introspection_and_revocation() {
    let app = spawn_app().await;
    let (client, first) = setup(&app, "RS256").await;
    let d = app.ok("mutation($c: String!) { createApplicationSecret(input: {clientID: $c}) { clientSecret application { secrets { id } } } }", json!({"c": client})).await;
    let second = d["createApplicationSecret"]["clientSecret"].as_str().unwrap().to_owned();
    let old_id = d["createApplicationSecret"]["application"]["secrets"][1]["id"].clone();
    let form = [("grant_type", "client_credentials"), ("resource", API)];
    assert_eq!(post(&app, "/oauth2/token", Some((&client, &first)), &form).await.status(), 200);
    assert_eq!(post(&app, "/oauth2/token", Some((&client, &second)), &form).await.status(), 200);
    app.ok("mutation($c: String!, $s: ID!) { revokeApplicationSecret(input: {clientID: $c, secretID: $s}) { application { id } } }", json!({"c": client, "s": old_id})).await;
    assert_eq!(post(&app, "/oauth2/token", Some((&client, &first)), &form).await.status(), 401);

    // The Admin API is a resource like any other: grant user:read only.
    let admin = app.services.config().admin_resource_uri();
    app.ok(
        "mutation($u: String!, $c: String!) { addResourceToClientID(input: {resourceURI: $u, clientID: $c}) { resource { id } } addScopesToClientID(input: {resourceURI: $u, clientID: $c, scopes: [\"user:read\"]}) { scopes { scope } } }",
        json!({"u": admin, "c": client}),
    )
    .await;
    let res: Value = post(
        &app,
        "/oauth2/token",
        Some((&client, &second)),
        &[("grant_type", "client_credentials"), ("resource", &admin)],
    )
    .await
    .json()
    .await
    .unwrap();
    let token = res["access_token"].as_str().unwrap().to_owned();
    assert_eq!(res["scope"], "user:read");
    let ok = app.gql_as(&token, "{ users { totalCount } }", json!({})).await;
    assert!(ok.get("errors").is_none(), "{ok}");
    let denied = app.gql_as(&token, "mutation { createRole(input: {key: \"x\"}) { role { id } } }", json!({})).await;
    assert_eq!(denied["errors"][0]["extensions"]["code"], "FORBIDDEN");

    // Introspection: active with claims, then inactive after revocation.
    let introspect = |t: String| {
        let app = &app;
        let client = client.clone();
        let second = second.clone();
        async move {
            post(app, "/oauth2/introspect", Some((&client, &second)), &[("token", &t)])
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let i = introspect(token.clone()).await;
    assert_eq!(i["active"], true);
    assert_eq!(i["client_id"], client.as_str());
    assert_eq!(i["scope"], "user:read");
    assert_eq!(introspect("not.a.token".into()).await, json!({"active": false}));
    assert_eq!(post(&app, "/oauth2/introspect", None, &[("token", &token)]).await.status(), 401);

    // Another client cannot revoke it.
    let (other, other_secret) = setup(&app, "RS256").await;
    let res = post(&app, "/oauth2/revoke", Some((&other, &other_secret)), &[("token", &token)]).await;
    assert_eq!(res.json::<Value>().await.unwrap()["error"], "unauthorized_client");
    let res = post(&app, "/oauth2/revoke", Some((&client, &second)), &[("token", &token)]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(introspect(token.clone()).await, json!({"active": false}));
    let res = app
        .client
        .post(app.endpoint())
        .bearer_auth(&token)
        .json(&json!({"query": "{ users { totalCount } }"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401, "the Admin API refuses a revoked token");
    // Revoking garbage is not an error (RFC 7009 §2.2).
    assert_eq!(post(&app, "/oauth2/revoke", Some((&client, &second)), &[("token", "garbage")]).await.status(), 200);
}

#[tokio::test]
async fn discovery_and_jwks_list_what_exists() {
    let app = spawn_app().await;
    for path in ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"] {
        let d: Value = app.client.get(format!("{}{path}", app.url)).send().await.unwrap().json().await.unwrap();
        assert_eq!(d["issuer"], app.url.as_str());
        assert_eq!(d["token_endpoint"], format!("{}/oauth2/token", app.url));
        assert_eq!(d["jwks_uri"], format!("{}/oauth2/jwks", app.url));
        assert_eq!(d["grant_types_supported"], json!(["authorization_code", "refresh_token", "client_credentials"]));
        assert_eq!(d["authorization_endpoint"], format!("{}/oauth2/authorize", app.url));
        assert_eq!(d["userinfo_endpoint"], format!("{}/oauth2/userinfo", app.url));
        assert_eq!(d["end_session_endpoint"], format!("{}/oauth2/end_session", app.url));
        assert_eq!(d["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(d["authorization_response_iss_parameter_supported"], true);
    }
    // oidcc-discovery: an independent client accepts the metadata.
    let http = crate::rp::http_client(reqwest::Client::new());
    let meta = openidconnect::core::CoreProviderMetadata::discover_async(
        openidconnect::IssuerUrl::new(app.url.clone()).unwrap(),
        &http,
    )
    .await
    .expect("openidconnect accepts the discovery document");
    assert!(meta.scopes_supported().unwrap().iter().any(|s| s.as_str() == "offline_access"));
    let jwks: Value = app.client.get(format!("{}/oauth2/jwks", app.url)).send().await.unwrap().json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(algs.contains(&alg), "{alg} in {algs:?}");
    }
    assert!(keys.iter().all(|k| k.get("d").is_none() && k["use"] == "sig"), "public parts only");
    // The kid is the RFC 7638 thumbprint, as another implementation computes it.
    let set: JwkSet = serde_json::from_value(jwks.clone()).unwrap();
    for jwk in &set.keys {
        assert_eq!(
            jwk.common.key_id.as_deref(),
            Some(jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256).unwrap().as_str())
        );
    }
}

#[tokio::test]
async fn key_rotation_keeps_old_tokens_valid_until_retirement() {
    // One process: the new key may sign at once (processes.rs tests the publish delay).
    let app = crate::helpers::spawn_with(|c| c.oauth.key_publish_seconds = 0).await;
    let (client, secret) = setup(&app, "RS256").await;
    let form = [("grant_type", "client_credentials"), ("resource", API)];
    let old: Value = post(&app, "/oauth2/token", Some((&client, &secret)), &form).await.json().await.unwrap();
    let old_token = old["access_token"].as_str().unwrap().to_owned();
    let old_kid = jsonwebtoken::decode_header(&old_token).unwrap().kid.unwrap();

    let d = app
        .ok(
            "mutation { rotateSigningKey(input: {algorithm: RS256}) { signingKey { kid algorithm isActive } } }",
            json!({}),
        )
        .await;
    let new_kid = d["rotateSigningKey"]["signingKey"]["kid"].as_str().unwrap().to_owned();
    assert_ne!(new_kid, old_kid);
    let keys = app.ok("{ signingKeys { kid isActive retireAt publicJWK } }", json!({})).await;
    let old_info =
        keys["signingKeys"].as_array().unwrap().iter().find(|k| k["kid"] == old_kid.as_str()).unwrap().clone();
    assert_eq!(old_info["isActive"], false);
    assert!(old_info["retireAt"].is_string());
    assert!(old_info["publicJWK"].get("d").is_none());

    let new: Value = post(&app, "/oauth2/token", Some((&client, &secret)), &form).await.json().await.unwrap();
    assert_eq!(jsonwebtoken::decode_header(new["access_token"].as_str().unwrap()).unwrap().kid.unwrap(), new_kid);
    // The old token still verifies against the JWKS and by introspection.
    verify(&app, &old_token, API).await;
    let i: Value = post(&app, "/oauth2/introspect", Some((&client, &secret)), &[("token", &old_token)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(i["active"], true);

    // Once retired, the old key leaves the JWKS and its tokens are inactive.
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    use sea_orm::ConnectionTrait;
    db.execute_unprepared(&format!("UPDATE signing_keys SET retire_at = 1 WHERE kid = '{old_kid}'")).await.unwrap();
    app.services.signing_keys().load().await.unwrap();
    let jwks: Value = app.client.get(format!("{}/oauth2/jwks", app.url)).send().await.unwrap().json().await.unwrap();
    assert!(!jwks.to_string().contains(&old_kid));
    let i: Value = post(&app, "/oauth2/introspect", Some((&client, &secret)), &[("token", &old_token)])
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(i, json!({"active": false}));
    let reader = app.token(&["application:read"]);
    let res = app.gql_as(&reader, "mutation { rotateSigningKey(input: {}) { signingKey { kid } } }", json!({})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN");
}

#[tokio::test]
async fn cors_answers_only_allowed_origins() {
    let app = spawn_app().await;
    app.ok(
        "mutation { createApplication(input: {name: \"Web\", type: SPA, allowedOrigins: [\"https://web.example.com\"]}) { application { clientID } } }",
        json!({}),
    )
    .await;
    let preflight = |origin: &'static str| {
        let app = &app;
        async move {
            app.client
                .request(reqwest::Method::OPTIONS, format!("{}/oauth2/token", app.url))
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "content-type")
                .send()
                .await
                .unwrap()
        }
    };
    let res = preflight("https://web.example.com").await;
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers()["access-control-allow-origin"], "https://web.example.com");
    assert_eq!(res.headers()["access-control-allow-credentials"], "true");
    assert!(res.headers()["access-control-allow-methods"].to_str().unwrap().contains("POST"));
    let res = preflight("https://evil.example.com").await;
    assert!(!res.headers().contains_key("access-control-allow-origin"));

    for path in ["/oauth2/jwks", "/.well-known/openid-configuration"] {
        let res = app
            .client
            .get(format!("{}{path}", app.url))
            .header("Origin", "https://web.example.com")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers()["access-control-allow-origin"], "https://web.example.com", "{path}");
        let res = app
            .client
            .get(format!("{}{path}", app.url))
            .header("Origin", "https://evil.example.com")
            .send()
            .await
            .unwrap();
        assert!(!res.headers().contains_key("access-control-allow-origin"), "{path}");
    }
    // An error from the token endpoint is readable by the allowed origin too.
    let res = app
        .client
        .post(format!("{}/oauth2/token", app.url))
        .header("Origin", "https://web.example.com")
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["access-control-allow-origin"], "https://web.example.com");
}

#[tokio::test]
async fn a_client_introspects_only_its_own_tokens_unless_allowed_all() {
    let app = spawn_app().await;
    let (mine, my_secret) = setup(&app, "RS256").await;
    let (other, other_secret) = setup(&app, "RS256").await;
    let form = [("grant_type", "client_credentials"), ("resource", API)];
    let res: Value = post(&app, "/oauth2/token", Some((&mine, &my_secret)), &form).await.json().await.unwrap();
    let token = res["access_token"].as_str().unwrap().to_owned();
    let admin_token = app.token(&["user:read"]);
    let introspect = |client: String, secret: String, t: String| {
        let app = &app;
        async move {
            post(app, "/oauth2/introspect", Some((&client, &secret)), &[("token", &t)])
                .await
                .json::<Value>()
                .await
                .unwrap()
        }
    };
    let own = introspect(mine.clone(), my_secret.clone(), token.clone()).await;
    assert_eq!((own["active"].clone(), own["client_id"].clone()), (json!(true), json!(mine)));
    assert_eq!(introspect(other.clone(), other_secret.clone(), token.clone()).await, json!({"active": false}));
    assert_eq!(introspect(mine.clone(), my_secret.clone(), admin_token.clone()).await, json!({"active": false}));

    // A resource server's client may be given the right to introspect every token.
    let d = app
        .ok(
            "mutation($c: String!) { updateApplication(input: {clientID: $c, canIntrospectAllTokens: true}) { application { canIntrospectAllTokens } } }",
            json!({"c": other}),
        )
        .await;
    assert_eq!(d["updateApplication"]["application"]["canIntrospectAllTokens"], true);
    let theirs = introspect(other.clone(), other_secret.clone(), token.clone()).await;
    assert_eq!((theirs["active"].clone(), theirs["client_id"].clone()), (json!(true), json!(mine)));
    assert_eq!(introspect(other.clone(), other_secret.clone(), admin_token).await["active"], true);
    let d = app.ok("query { applications { edges { node { clientID canIntrospectAllTokens } } } }", json!({})).await;
    let flags: Vec<(Value, Value)> = d["applications"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["node"]["clientID"].clone(), e["node"]["canIntrospectAllTokens"].clone()))
        .collect();
    assert!(flags.contains(&(json!(mine), json!(false))) && flags.contains(&(json!(other), json!(true))), "{flags:?}");

    // A public client has no secret and so cannot introspect: the flag is refused.
    app.err(
        "mutation { createApplication(input: {name: \"SPA\", type: SPA, canIntrospectAllTokens: true}) { application { id } } }",
        json!({}),
        "BAD_USER_INPUT",
        None,
    )
    .await;
}
