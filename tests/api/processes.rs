//! Several processes on one database agree within a second: signing keys, applications,
//! redirect URIs and grants.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, converges_within, count_rows, fresh_database, spawn_with};

const API: &str = "https://api.example.com/inventory";

/// Two processes on one database behind one public URL (as behind a load balancer).
async fn two_processes(publish_seconds: i64) -> (TestApp, TestApp) {
    let a = spawn_with(move |c| c.oauth.key_publish_seconds = publish_seconds).await;
    let (url, key, public) = (a.database_url.clone(), a.dir.path().join("master.key"), a.url.clone());
    let b = spawn_with(move |c| {
        c.database_url = authgraph::config::Secret::new(url);
        c.master_key_file = key;
        c.public_url = Some(public);
        c.oauth.key_publish_seconds = publish_seconds;
    })
    .await;
    (a, b)
}

async fn post_form(app: &TestApp, path: &str, basic: Option<(&str, &str)>, form: &[(&str, &str)]) -> (u16, Value) {
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let mut req = app
        .client
        .post(format!("{}{path}", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = basic {
        req = req.basic_auth(id, Some(secret));
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap_or(Value::Null))
}

/// An m2m client granted `scopes` on `resource`.
async fn m2m(app: &TestApp, resource: &str, scopes: &[&str]) -> (String, String) {
    let d = app
        .ok("mutation { createApplication(input: {name: \"worker\", type: M2M}) { application { clientID } clientSecret } }", json!({}))
        .await;
    let id = d["createApplication"]["application"]["clientID"].as_str().unwrap().to_owned();
    let secret = d["createApplication"]["clientSecret"].as_str().unwrap().to_owned();
    if resource == API {
        app.ok(
            "mutation($u: String!) { createResource(input: {resourceURI: $u}) { resource { id } } }",
            json!({"u": API}),
        )
        .await;
        for s in scopes {
            app.ok("mutation($u: String!, $s: String!) { createScope(input: {resourceURI: $u, scope: $s}) { scope { scope } } }", json!({"u": API, "s": s}))
                .await;
        }
    }
    app.ok(
        "mutation($u: String!, $c: String!) { addResourceToClientID(input: {resourceURI: $u, clientID: $c}) { resource { id } } }",
        json!({"u": resource, "c": id}),
    )
    .await;
    app.ok(
        "mutation($u: String!, $c: String!, $s: [String!]!) { addScopesToClientID(input: {resourceURI: $u, clientID: $c, scopes: $s}) { scopes { scope } } }",
        json!({"u": resource, "c": id, "s": scopes}),
    )
    .await;
    (id, secret)
}

async fn token(app: &TestApp, client: &(String, String), resource: &str) -> String {
    let (status, body) = post_form(
        app,
        "/oauth2/token",
        Some((&client.0, &client.1)),
        &[("grant_type", "client_credentials"), ("resource", resource)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

fn kid(jwt: &str) -> String {
    jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap()
}

async fn jwks_kids(app: &TestApp) -> String {
    app.client.get(format!("{}/oauth2/jwks", app.url)).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn a_rotated_key_is_published_everywhere_before_anyone_signs_with_it() {
    let (a, b) = two_processes(3).await;
    let client = m2m(&a, API, &["read"]).await;
    let old_kid = kid(&token(&a, &client, API).await);
    let d = a.ok("mutation { rotateSigningKey(input: {algorithm: RS256}) { signingKey { kid } } }", json!({})).await;
    let rotated_at = Instant::now();
    let new_kid = d["rotateSigningKey"]["signingKey"]["kid"].as_str().unwrap().to_owned();
    // Published by both processes within a second...
    assert!(jwks_kids(&a).await.contains(&new_kid));
    converges_within(Duration::from_secs(1), || async { jwks_kids(&b).await.contains(&new_kid) }).await;
    // ...while neither signs with it yet (checked only while the delay surely runs: a
    // machine this busy cannot tell).
    let (from_a, from_b) = (kid(&token(&a, &client, API).await), kid(&token(&b, &client, API).await));
    if rotated_at.elapsed() < Duration::from_millis(2500) {
        assert_eq!(from_a, old_kid);
        assert_eq!(from_b, old_kid);
    }
    // After the publish delay, both sign with the new key, and each verifies the other's.
    converges_within(Duration::from_secs(5), || async {
        kid(&token(&a, &client, API).await) == new_kid && kid(&token(&b, &client, API).await) == new_kid
    })
    .await;
    let from_a = token(&a, &client, API).await;
    let (_, i) = post_form(&b, "/oauth2/introspect", Some((&client.0, &client.1)), &[("token", &from_a)]).await;
    assert_eq!(i["active"], true, "{i}");
}

#[tokio::test]
async fn a_verifier_that_has_not_heard_of_a_key_reloads_on_its_kid() {
    // With no publish delay, a token signed with the new key may reach a process before
    // its poll: it reloads on the unknown kid instead of refusing the token.
    let (a, b) = two_processes(0).await;
    let admin = a.services.config().admin_resource_uri();
    let client = m2m(&a, &admin, &["role:read"]).await;
    a.ok("mutation { rotateSigningKey(input: {algorithm: RS256}) { signingKey { kid } } }", json!({})).await;
    let fresh = token(&a, &client, &admin).await;
    let (_, i) = post_form(&b, "/oauth2/introspect", Some((&client.0, &client.1)), &[("token", &fresh)]).await;
    assert_eq!(i["active"], true, "{i}");
    let res = b.gql_as(&fresh, "{ roles { totalCount } }", json!({})).await;
    assert_eq!(res["data"]["roles"]["totalCount"], 0, "{res}");
}

#[tokio::test]
async fn a_deleted_application_stops_working_in_every_process_within_a_second() {
    let (a, b) = two_processes(5).await;
    let admin = a.services.config().admin_resource_uri();
    let client = m2m(&a, &admin, &["role:read"]).await;
    let admin_token = token(&a, &client, &admin).await;
    let ok = b.gql_as(&admin_token, "{ roles { totalCount } }", json!({})).await;
    assert_eq!(ok["data"]["roles"]["totalCount"], 0, "{ok}");

    // A SPA with a refresh grant, and a redirect URI that B has cached.
    let d = a
        .ok(
            "mutation { createApplication(input: {name: \"spa\", type: SPA, redirectURIs: [\"https://app.example.com/cb\", \"https://app.example.com/old\"]}) { application { clientID } } }",
            json!({}),
        )
        .await;
    let spa = d["createApplication"]["application"]["clientID"].as_str().unwrap().to_owned();
    let authorize = |app: &TestApp, redirect: &str| {
        format!(
            "{}/oauth2/authorize?client_id={spa}&response_type=code&scope=openid&redirect_uri={}&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
            app.url,
            url::form_urlencoded::byte_serialize(redirect.as_bytes()).collect::<String>()
        )
    };
    let nofollow = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let status = |url: String| {
        let c = nofollow.clone();
        async move { c.get(url).send().await.unwrap().status().as_u16() }
    };
    // A valid request gets the login page (200); an unregistered redirect URI, a page
    // that says so (400).
    assert_eq!(status(authorize(&b, "https://app.example.com/old")).await, 200);
    a.ok(
        "mutation($c: String!) { updateApplication(input: {clientID: $c, redirectURIs: [\"https://app.example.com/cb\"]}) { application { clientID } } }",
        json!({"c": spa}),
    )
    .await;
    converges_within(Duration::from_secs(1), || async {
        status(authorize(&b, "https://app.example.com/old")).await == 400
    })
    .await;
    assert_eq!(status(authorize(&b, "https://app.example.com/cb")).await, 200);

    let user = a.create_user("grant@example.com", None).await;
    let refresh = a.create_grant(&user, &spa).await;

    for c in [&client.0, &spa] {
        a.ok("mutation($c: String!) { deleteApplication(input: {clientID: $c}) { ok } }", json!({"c": c})).await;
    }
    // The admin token dies everywhere within a second, introspection agrees, and the
    // grant is gone.
    converges_within(Duration::from_secs(1), || async {
        let res = b
            .client
            .post(b.endpoint())
            .bearer_auth(&admin_token)
            .json(&json!({"query": "{ roles { totalCount } }"}))
            .send()
            .await
            .unwrap();
        res.status() == 401
    })
    .await;
    let other = m2m(&a, &admin, &["role:read"]).await;
    a.ok(
        "mutation($c: String!) { updateApplication(input: {clientID: $c, canIntrospectAllTokens: true}) { application { clientID } } }",
        json!({"c": other.0}),
    )
    .await;
    let (_, i) = post_form(&b, "/oauth2/introspect", Some((&other.0, &other.1)), &[("token", &admin_token)]).await;
    assert_eq!(i["active"], false, "{i}");
    let (s, body) = post_form(
        &b,
        "/oauth2/token",
        None,
        &[("grant_type", "refresh_token"), ("client_id", &spa), ("refresh_token", &refresh)],
    )
    .await;
    assert!(s == 400 || s == 401, "{s} {body}");
    let d =
        a.ok("query($u: ID!) { node(id: $u) { ... on User { sessions { totalCount } } } }", json!({"u": user})).await;
    assert_eq!(d["node"]["sessions"]["totalCount"], 0, "the grant ended with its application");
}

/// A SQLite database is in WAL mode (readers never wait for the writer): the mode is set
/// once on the file, which marks it in the header (bytes 18 and 19 are 2).
/// A client-credentials request for [`API`] with `scope`.
async fn cc(app: &TestApp, id: &str, secret: &str, scope: Option<&str>) -> (u16, Value) {
    let mut form = vec![("grant_type", "client_credentials"), ("resource", API)];
    if let Some(s) = scope {
        form.push(("scope", s));
    }
    post_form(app, "/oauth2/token", Some((id, secret)), &form).await
}

#[tokio::test]
async fn a_removed_scope_or_resource_and_a_revoked_secret_stop_working_in_every_process_within_a_second() {
    let (a, b) = two_processes(0).await;
    let client = m2m(&a, API, &["read", "write"]).await;
    // Both processes issue (and so cache) the grant.
    for p in [&a, &b] {
        let (status, body) = cc(p, &client.0, &client.1, Some("read write")).await;
        assert_eq!(status, 200, "{body}");
    }
    // A scope removed in one process is refused by the other within a second.
    a.ok(
        "mutation($u: String!, $c: String!) { removeScopesFromClientID(input: {resourceURI: $u, clientID: $c, scopes: [\"write\"]}) { scopes { scope } } }",
        json!({"u": API, "c": client.0}),
    )
    .await;
    assert_eq!(cc(&a, &client.0, &client.1, Some("write")).await.0, 400, "at once in the process that changed it");
    converges_within(Duration::from_secs(1), || async { cc(&b, &client.0, &client.1, Some("write")).await.0 == 400 })
        .await;
    let (status, body) = cc(&b, &client.0, &client.1, None).await;
    assert_eq!((status, body["scope"].as_str()), (200, Some("read")), "{body}");

    // A revoked secret: a second secret keeps working, the first stops everywhere.
    let d = a
        .ok(
            "mutation($c: String!) { createApplicationSecret(input: {clientID: $c}) { clientSecret application { secrets { id } } } }",
            json!({"c": client.0}),
        )
        .await;
    let second = d["createApplicationSecret"]["clientSecret"].as_str().unwrap().to_owned();
    let secrets = d["createApplicationSecret"]["application"]["secrets"].as_array().unwrap().clone();
    converges_within(Duration::from_secs(1), || async { cc(&b, &client.0, &second, None).await.0 == 200 }).await;
    assert_eq!(cc(&b, &client.0, &client.1, None).await.0, 200);
    // Secrets are listed newest first: the first one is the last.
    assert_eq!(secrets.len(), 2);
    let first_id = secrets[1]["id"].clone();
    a.ok(
        "mutation($c: String!, $s: ID!) { revokeApplicationSecret(input: {clientID: $c, secretID: $s}) { application { clientID } } }",
        json!({"c": client.0, "s": first_id}),
    )
    .await;
    converges_within(Duration::from_secs(1), || async { cc(&b, &client.0, &client.1, None).await.0 == 401 }).await;
    assert_eq!(cc(&b, &client.0, &second, None).await.0, 200);

    // An unlinked resource: invalid_target everywhere within a second.
    a.ok(
        "mutation($u: String!, $c: String!) { removeResourceFromClientID(input: {resourceURI: $u, clientID: $c}) { resource { id } } }",
        json!({"u": API, "c": client.0}),
    )
    .await;
    converges_within(Duration::from_secs(1), || async {
        let (status, body) = cc(&b, &client.0, &second, None).await;
        status == 400 && body["error"] == "invalid_target"
    })
    .await;
}

#[tokio::test]
async fn a_sqlite_database_is_in_wal_mode() {
    let app = spawn_with(|_| {}).await;
    let Some(path) = app.database_url.strip_prefix("sqlite://") else { return };
    let path = path.split('?').next().unwrap_or(path);
    let header = std::fs::read(path).expect("database file");
    assert_eq!((header[18], header[19]), (2, 2), "the file is not in WAL mode");
}

/// Two processes started at the same moment on one fresh database: one migrates and
/// writes the first keys while the other waits, then both serve, with one active key per
/// algorithm between them.
#[tokio::test]
async fn two_processes_start_at_once_on_a_fresh_database() {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(&dir).await;
    let key = dir.path().join("master.key");
    let same = |c: &mut authgraph::config::Config| {
        c.database_url = authgraph::config::Secret::new(url.clone());
        c.master_key_file = key.clone();
        c.public_url = Some("https://auth.example.com".into());
    };
    let (a, b) = tokio::join!(spawn_with(same), spawn_with(same));
    for app in [&a, &b] {
        let d = app.ok("{ signingKeys { algorithm isActive } }", json!({})).await;
        let active: Vec<&Value> =
            d["signingKeys"].as_array().unwrap().iter().filter(|k| k["isActive"] == true).collect();
        let mut algs: Vec<&str> = active.iter().map(|k| k["algorithm"].as_str().unwrap()).collect();
        algs.sort_unstable();
        let before = algs.len();
        algs.dedup();
        assert_eq!(before, algs.len(), "one active key per algorithm: {d}");
    }
    // Each verifies the other's admin token: they share the master key and the keys.
    let res = b.gql_as(&a.token(&["role:read"]), "{ roles { totalCount } }", json!({})).await;
    assert_eq!(res["data"]["roles"]["totalCount"], 0, "{res}");
    let res = a.gql_as(&b.token(&["role:read"]), "{ roles { totalCount } }", json!({})).await;
    assert_eq!(res["data"]["roles"]["totalCount"], 0, "{res}");
}

/// Each process remembers that an Admin API token was not revoked until the revocations'
/// change generation moves: the process that revokes it refuses it at once, the other
/// within a second.
#[tokio::test]
async fn a_revoked_admin_token_is_refused_at_once_here_and_within_a_second_elsewhere() {
    let (a, b) = two_processes(5).await;
    let admin = a.services.config().admin_resource_uri();
    let client = m2m(&a, &admin, &["role:read"]).await;
    let (revoked, kept) = (token(&a, &client, &admin).await, token(&a, &client, &admin).await);
    let status = |app: &TestApp, t: &str| {
        let req = app.client.post(app.endpoint()).bearer_auth(t).json(&json!({"query": "{ roles { totalCount } }"}));
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // Both processes have checked both tokens twice (and remember them as not revoked).
    for app in [&a, &b] {
        for t in [&revoked, &kept] {
            for _ in 0..2 {
                assert_eq!(status(app, t).await, 200);
            }
        }
    }
    let (code, body) = post_form(&a, "/oauth2/revoke", Some((&client.0, &client.1)), &[("token", &revoked)]).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(status(&a, &revoked).await, 401, "the revoking process refuses it at once");
    converges_within(Duration::from_secs(1), || async { status(&b, &revoked).await == 401 }).await;
    // The other token of the same client still works in both.
    for app in [&a, &b] {
        assert_eq!(status(app, &kept).await, 200);
    }
}

/// Thirty refresh tokens, each presented to two processes at once: the claims of both race
/// for the same rows (on PostgreSQL, from each process's claim writers). Both copies are
/// answered, the one that lost the race as a retry within the grace window, with the same
/// new token: no grant forks, and each moved on by exactly one generation.
#[tokio::test]
async fn refresh_tokens_raced_through_two_processes_leave_one_live_token_per_grant() {
    let (a, b) = two_processes(5).await;
    let client = a.create_spa("SPA").await;
    let user = a.create_user("race@example.com", None).await;
    let mut tokens = Vec::new();
    for _ in 0..30 {
        tokens.push(a.create_grant(&user, &client).await);
    }
    let forms: Vec<[(&str, &str); 3]> = tokens
        .iter()
        .map(|t| [("grant_type", "refresh_token"), ("client_id", client.as_str()), ("refresh_token", t.as_str())])
        .collect();
    let answers = futures::future::join_all(forms.iter().flat_map(|f| [a.token_request(f), b.token_request(f)])).await;
    assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
    for pair in answers.chunks(2) {
        assert_eq!(pair[0].1["refresh_token"], pair[1].1["refresh_token"], "a grant forked");
    }
    let db = sea_orm::Database::connect(a.database_url.as_str()).await.expect("connect");
    assert_eq!(count_rows(&db, "sessions WHERE refresh_generation = 1").await, 30, "each grant moved once");
    assert_eq!(count_rows(&db, "sessions WHERE revoked_at IS NULL").await, 30, "the grants live on");
}
