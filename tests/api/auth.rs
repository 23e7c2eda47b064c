//! Admin API authentication and transport limits.

use serde_json::{Value, json};

use crate::helpers::spawn_app;

#[tokio::test]
async fn missing_or_bad_tokens_get_401_with_json_and_challenge() {
    let app = spawn_app().await;
    let cases: Vec<(Option<String>, &str)> =
        vec![(None, "required"), (Some("Basic abc".into()), "Bearer"), (Some("Bearer not-a-jwt".into()), "malformed")];
    for (header, expect) in cases {
        let mut req = app.client.post(app.endpoint()).json(&json!({"query": "{ users { totalCount } }"}));
        if let Some(h) = header {
            req = req.header("Authorization", h);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401);
        let challenge = res.headers()["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
        assert!(body["errors"][0]["message"].as_str().unwrap().contains(expect), "{body}");
    }
}

#[tokio::test]
async fn tampered_expired_and_foreign_tokens_are_refused() {
    let app = spawn_app().await;
    let key = app.services.keys().active("RS256").unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = |aud: &str, iss: &str, exp: i64| json!({"iss": iss, "sub": "x", "aud": aud, "scope": "user:read", "iat": now, "exp": exp, "jti": "1"});
    let aud = app.services.config().admin_resource_uri();
    let good = key.sign("at+jwt", &claims(&aud, &app.url, now + 600)).unwrap();
    let wrong_aud = key.sign("at+jwt", &claims("https://other.example/api", &app.url, now + 600)).unwrap();
    let wrong_iss = key.sign("at+jwt", &claims(&aud, "https://evil.example", now + 600)).unwrap();
    let expired = key.sign("at+jwt", &claims(&aud, &app.url, now - 3600)).unwrap();
    let id_token = key.sign("JWT", &claims(&aud, &app.url, now + 600)).unwrap();
    // Change a character in the middle of the signature (the last one may only carry
    // padding bits).
    let mut tampered: Vec<char> = good.chars().collect();
    let at = tampered.len() - 20;
    tampered[at] = if tampered[at] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    // A token signed by another server's key.
    let other = crate::helpers::spawn_app().await;
    let foreign =
        other.services.keys().active("RS256").unwrap().sign("at+jwt", &claims(&aud, &app.url, now + 600)).unwrap();

    let query = json!({"query": "{ users { totalCount } }"});
    let ok = app.client.post(app.endpoint()).bearer_auth(&good).json(&query).send().await.unwrap();
    assert_eq!(ok.status(), 200);
    for (name, token, expect) in [
        ("wrong audience", wrong_aud, "audience"),
        ("wrong issuer", wrong_iss, "issuer"),
        ("expired", expired, "expired"),
        ("tampered", tampered, "signature"),
        ("foreign", foreign, "unknown key"),
        ("not an access token", id_token, "typ"),
    ] {
        let res = app.client.post(app.endpoint()).bearer_auth(&token).json(&query).send().await.unwrap();
        assert_eq!(res.status(), 401, "{name}");
        assert!(res.headers().contains_key("www-authenticate"), "{name}");
        let body: Value = res.json().await.unwrap();
        let msg = body["errors"][0]["message"].as_str().unwrap();
        assert!(msg.contains(expect), "{name}: {msg}");
    }
}

#[tokio::test]
async fn a_token_verified_before_is_refused_once_expired_or_once_its_key_is_gone() {
    // The server remembers tokens whose signature it verified; a remembered token must
    // still be refused when its lifetime ends (with the 60 s leeway of a full check) and
    // when the key that signed it no longer verifies.
    let app = spawn_app().await;
    let key = app.services.keys().active("RS256").unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let aud = app.services.config().admin_resource_uri();
    let claims = |exp: i64, jti: &str| json!({"iss": app.url, "sub": "x", "aud": aud, "scope": "user:read", "iat": now, "exp": exp, "jti": jti});
    let query = json!({"query": "{ users { totalCount } }"});
    let send = |token: String| {
        let app = &app;
        let query = &query;
        async move {
            let res = app.client.post(app.endpoint()).bearer_auth(&token).json(query).send().await.unwrap();
            let status = res.status();
            (status, res.json::<Value>().await.unwrap())
        }
    };
    // Inside the leeway for two more seconds.
    let ending = key.sign("at+jwt", &claims(now - 58, "ending")).unwrap();
    for _ in 0..2 {
        assert_eq!(send(ending.clone()).await.0, 200);
    }
    tokio::time::sleep(std::time::Duration::from_millis(3_100)).await;
    let (status, body) = send(ending).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("expired"), "{body}");

    // A second key that verifies beside the server's own, then is retired, then is gone.
    use authgraph::crypto::jwt::SigningKey;
    use std::sync::Arc;
    let (_, der) = SigningKey::generate("RS256").unwrap();
    let second = Arc::new(SigningKey::from_pkcs8("RS256", &der).unwrap());
    let ring = app.services.keys();
    ring.install(std::slice::from_ref(&key), &[key.clone(), second.clone()]).unwrap();
    let lasting = second.sign("at+jwt", &claims(now + 600, "lasting")).unwrap();
    for _ in 0..2 {
        assert_eq!(send(lasting.clone()).await.0, 200);
    }
    let mut retired = SigningKey::from_pkcs8("RS256", &der).unwrap();
    retired.retire_at = Some(now - 1);
    ring.install(std::slice::from_ref(&key), &[key.clone(), Arc::new(retired)]).unwrap();
    let (status, body) = send(lasting.clone()).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("retired"), "{body}");
    ring.install(std::slice::from_ref(&key), std::slice::from_ref(&key)).unwrap();
    let (status, body) = send(lasting).await;
    assert_eq!(status, 401, "{body}");
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("unknown key"), "{body}");
}

#[tokio::test]
async fn missing_scope_is_forbidden_and_names_the_scope() {
    let app = spawn_app().await;
    let reader = app.token(&["user:read"]);
    let res = app.gql_as(&reader, "{ users { totalCount } }", json!({})).await;
    assert!(res.get("errors").is_none(), "{res}");

    let res = app
        .gql_as(
            &reader,
            "mutation { createUser(input: {definition: {loginID: {key: \"email\", value: \"a@example.com\"}}}) { user { id } } }",
            json!({}),
        )
        .await;
    let err = &res["errors"][0];
    assert_eq!(err["extensions"]["code"], "FORBIDDEN");
    assert!(err["message"].as_str().unwrap().contains("user:write"));
    assert_eq!(app.ok("{ users { totalCount } }", json!({})).await["users"]["totalCount"], 0);

    // Nested fields check their own scopes.
    app.create_user("b@example.com", None).await;
    let res = app.gql_as(&reader, "{ users(first: 10) { edges { node { roles { totalCount } } } } }", json!({})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert!(res["errors"][0]["message"].as_str().unwrap().contains("role:read"));

    let res = app.gql_as(&reader, "{ auditLogs { totalCount } }", json!({})).await;
    assert!(res["errors"][0]["message"].as_str().unwrap().contains("audit-log:read"));
}

#[tokio::test]
async fn oversized_bodies_malformed_json_and_deep_queries_are_refused() {
    let app = spawn_app().await;
    let token = app.token(&["user:read"]);
    let big = "x".repeat(1024 * 1024 + 10);
    let res = app
        .client
        .post(app.endpoint())
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(format!("{{\"query\": \"{big}\"}}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 413);

    let res = app
        .client
        .post(app.endpoint())
        .bearer_auth(&token)
        .header("content-type", "application/graphql")
        .body("{ users { totalCount } }")
        .send()
        .await
        .unwrap();
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["data"]["users"]["totalCount"], 0, "application/graphql bodies work: {body}");

    let res = app
        .client
        .post(app.endpoint())
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    let mut deep = String::from("id");
    for _ in 0..10 {
        deep = format!("roles {{ edges {{ node {{ users {{ edges {{ node {{ {deep} }} }} }} }} }} }}");
    }
    let res = app.gql(&format!("{{ users {{ edges {{ node {{ {deep} }} }} }} }}"), json!({})).await;
    let msg = res["errors"][0]["message"].as_str().unwrap_or_default().to_lowercase();
    // Refused whole, by the cost check (nested pages of pages) or the depth limit.
    assert!(msg.contains("depth") || msg.contains("too complex"), "{res}");
    assert!(res["data"].is_null(), "{res}");
}

#[tokio::test]
async fn health_graphiql_and_request_ids() {
    let app = spawn_app().await;
    let res = app.client.get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().contains_key("x-request-id"));
    let res = app.client.get(format!("{}/readyz", app.url)).send().await.unwrap();
    assert_eq!(res.status(), 200);

    for path in ["/graphiql", "/_api/admin/graphql"] {
        let page = app.client.get(format!("{}{path}", app.url)).send().await.unwrap().text().await.unwrap();
        assert!(page.contains("/_api/admin/graphiql/graphiql.js"), "{path}");
        assert!(!page.contains("unpkg") && !page.contains("cdn."), "no CDN in {path}");
    }
    let js = app.client.get(format!("{}/_api/admin/graphiql/graphiql.js", app.url)).send().await.unwrap();
    assert!(js.headers()["content-type"].to_str().unwrap().contains("javascript"));
    assert!(js.text().await.unwrap().contains("AuthgraphGraphiQL"));
    let css = app.client.get(format!("{}/_api/admin/graphiql/graphiql.css", app.url)).send().await.unwrap();
    assert_eq!(css.status(), 200);
}

#[tokio::test]
async fn complexity_is_bounded_and_write_scopes_do_not_read_users() {
    let app = spawn_app().await;
    let res = app.gql("{ roles(first: 100) { edges { node { users(first: 100) { edges { node { roles(first: 100) { edges { node { users(first: 100) { totalCount } } } } } } } } } } }", json!({})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{res}");
    assert!(res["errors"][0]["message"].as_str().unwrap().contains("complex"), "{res}");

    let user = app.create_user("w@example.com", None).await;
    app.ok("mutation { createRole(input: {key: \"w\"}) { role { id } } }", json!({})).await;
    let writer = app.token(&["role:write"]);
    let res = app
        .gql_as(&writer, "mutation($u: ID!) { addUserToRoles(input: {userID: $u, roleKeys: [\"w\"]}) { user { standardAttributes } } }", json!({"u": user}))
        .await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res}");
    assert!(res["errors"][0]["message"].as_str().unwrap().contains("user:read"));
}
