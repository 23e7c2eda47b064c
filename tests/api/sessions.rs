//! Admin-created sessions, the refresh_token grant with rotation and reuse detection, and
//! session revocation.

use serde_json::{Value, json};

use crate::helpers::{count_rows, spawn_with};

#[tokio::test]
async fn sessions_refresh_rotation_reuse_and_revocation() {
    let app = spawn_with(|c| c.oauth.refresh_token_reuse_grace_seconds = 0).await;
    let user = app.create_user("sess@example.com", None).await;
    app.ok("mutation($u: ID!) { createRole(input: {key: \"editor\"}) { role { id } } addUserToRoles(input: {userID: $u, roleKeys: [\"editor\"]}) { user { id } } }", json!({"u": user})).await;
    let client = app.create_spa("SPA").await;

    let create = "mutation($u: ID!, $c: String!) { createSession(input: {userID: $u, clientID: $c}) { accessToken refreshToken tokenType expiresIn } }";
    let d = app.ok(create, json!({"u": user, "c": client})).await;
    let s = &d["createSession"];
    assert_eq!(s["tokenType"], "Bearer");
    let access = s["accessToken"].as_str().unwrap();
    let claims: Value = {
        let payload = access.split('.').nth(1).unwrap();
        serde_json::from_slice(&authgraph::crypto::b64_decode(payload).unwrap()).unwrap()
    };
    let raw_user = authgraph::graphql::node::decode_any(&user).unwrap().1.to_string();
    assert_eq!(claims["sub"], raw_user.as_str());
    assert_eq!(claims["aud"], client.as_str());
    assert_eq!(claims["https://authgear.com/claims/user/roles"], json!(["editor"]));
    assert_eq!(claims["https://authgear.com/claims/user/is_anonymous"], false);

    let q = "query($u: ID!) { node(id: $u) { ... on User { sessions { totalCount edges { node { id type clientID } } } } } }";
    let d = app.ok(q, json!({"u": user})).await;
    assert_eq!(d["node"]["sessions"]["totalCount"], 1);
    assert_eq!(d["node"]["sessions"]["edges"][0]["node"]["type"], "OFFLINE_GRANT");
    assert_eq!(d["node"]["sessions"]["edges"][0]["node"]["clientID"], client.as_str());
    let session_id = d["node"]["sessions"]["edges"][0]["node"]["id"].clone();

    // A public client refreshes with its client_id alone; the token rotates.
    let first = s["refreshToken"].as_str().unwrap().to_owned();
    let (status, body) =
        app.token_request(&[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &first)]).await;
    assert_eq!(status, 200, "{body}");
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    // The refreshed token has the effective roles: direct ones and those of groups, once each.
    app.ok("mutation($u: ID!) { createRole(input: {key: \"admin_ro\"}) { role { id } } createGroup(input: {key: \"staff\"}) { group { id } } addRoleToGroups(input: {roleKey: \"admin_ro\", groupKeys: [\"staff\"]}) { role { id } } a: addRoleToGroups(input: {roleKey: \"editor\", groupKeys: [\"staff\"]}) { role { id } } addUserToGroups(input: {userID: $u, groupKeys: [\"staff\"]}) { user { id } } }", json!({"u": user})).await;
    let (status, body) =
        app.token_request(&[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &second)]).await;
    assert_eq!(status, 200, "{body}");
    let second = body["refresh_token"].as_str().unwrap().to_owned();
    let payload = body["access_token"].as_str().unwrap().split('.').nth(1).unwrap().to_owned();
    let refreshed: Value = serde_json::from_slice(&authgraph::crypto::b64_decode(&payload).unwrap()).unwrap();
    assert_eq!(refreshed["https://authgear.com/claims/user/roles"], json!(["admin_ro", "editor"]));
    assert_ne!(first, second);
    let (status, body) =
        app.token_request(&[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &second)]).await;
    assert_eq!(status, 200, "{body}");
    let third = body["refresh_token"].as_str().unwrap().to_owned();

    // Presenting a rotated token again is reuse: the whole grant is revoked.
    let (status, body) =
        app.token_request(&[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &first)]).await;
    assert_eq!((status, body["error"].clone()), (400, json!("invalid_grant")));
    let (_, body) =
        app.token_request(&[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &third)]).await;
    assert_eq!(body["error"], "invalid_grant", "the newest token of the family is dead too");
    let d = app.ok(q, json!({"u": user})).await;
    assert_eq!(d["node"]["sessions"]["totalCount"], 0);
    let terminated = app.ok("{ auditLogs(activityTypes: [USER_SESSION_TERMINATED]) { totalCount } }", json!({})).await;
    assert_eq!(terminated["auditLogs"]["totalCount"], 1);
    // The ended grant's old token again: refused, and nothing is ended or audited again.
    let (status, body) =
        app.token_request(&[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &first)]).await;
    assert_eq!((status, body["error"].clone()), (400, json!("invalid_grant")));
    let terminated = app.ok("{ auditLogs(activityTypes: [USER_SESSION_TERMINATED]) { totalCount } }", json!({})).await;
    assert_eq!(terminated["auditLogs"]["totalCount"], 1, "no second audit row");
    app.err(
        "mutation($s: ID!) { revokeSession(input: {sessionID: $s}) { user { id } } }",
        json!({"s": session_id}),
        "NOT_FOUND",
        Some("SessionNotFound"),
    )
    .await;

    // revokeSession ends one grant; a disabled user cannot refresh either.
    let d = app.ok(create, json!({"u": user, "c": client})).await;
    let token = d["createSession"]["refreshToken"].as_str().unwrap().to_owned();
    let d2 = app.ok(create, json!({"u": user, "c": client})).await;
    let other = d2["createSession"]["refreshToken"].as_str().unwrap().to_owned();
    let sessions = app.ok(q, json!({"u": user})).await;
    let sid = sessions["node"]["sessions"]["edges"][0]["node"]["id"].clone();
    app.ok("mutation($s: ID!) { revokeSession(input: {sessionID: $s}) { user { id } } }", json!({"s": sid})).await;
    let (_, body) =
        app.token_request(&[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &token)]).await;
    assert_eq!(body["error"], "invalid_grant");
    app.ok(
        "mutation($u: ID!) { setDisabledStatus(input: {userID: $u, isDisabled: true}) { user { id } } }",
        json!({"u": user}),
    )
    .await;
    let (_, body) =
        app.token_request(&[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &other)]).await;
    assert_eq!(body["error"], "invalid_grant");
    app.err(create, json!({"u": user, "c": client}), "BAD_USER_INPUT", Some("UserDisabled")).await;
    app.ok("mutation($u: ID!) { setDisabledStatus(input: {userID: $u, isDisabled: false}) { user { id } } revokeAllSessions(input: {userID: $u}) { user { id } } }", json!({"u": user})).await;
    let (_, body) =
        app.token_request(&[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &other)]).await;
    assert_eq!(body["error"], "invalid_grant", "revokeAllSessions ended the grant");
}

#[tokio::test]
async fn confidential_clients_authenticate_to_refresh_and_m2m_has_no_sessions() {
    let app = spawn_with(|_| {}).await;
    let user = app.create_user("conf@example.com", None).await;
    let d = app.ok("mutation { createApplication(input: {name: \"Web\", type: CONFIDENTIAL, redirectURIs: [\"https://w.example.com/cb\"]}) { application { clientID } clientSecret } m: createApplication(input: {name: \"M\", type: M2M}) { application { clientID } } }", json!({})).await;
    let client = d["createApplication"]["application"]["clientID"].as_str().unwrap().to_owned();
    let secret = d["createApplication"]["clientSecret"].as_str().unwrap().to_owned();
    let m2m = d["m"]["application"]["clientID"].clone();
    let create = "mutation($u: ID!, $c: String!) { createSession(input: {userID: $u, clientID: $c}) { refreshToken } }";
    app.err(create, json!({"u": user, "c": m2m}), "BAD_USER_INPUT", Some("InvalidApplication")).await;
    let token = app.ok(create, json!({"u": user, "c": client})).await["createSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) =
        app.token_request(&[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &token)]).await;
    assert_eq!((status, body["error"].clone()), (401, json!("invalid_client")));
    let (status, body) = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("client_secret", &secret),
            ("refresh_token", &token),
        ])
        .await;
    assert_eq!(status, 200, "{body}");
    // Within the grace window a rotated token still works once more (a concurrent retry).
    let (status, _) = app
        .token_request(&[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("client_secret", &secret),
            ("refresh_token", &token),
        ])
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn cleanup_deletes_long_ended_sessions_and_expired_revocations() {
    let app = spawn_with(|_| {}).await;
    let user = app.create_user("clean@example.com", None).await;
    let client = app.create_spa("SPA").await;
    let create = "mutation($u: ID!, $c: String!) { createSession(input: {userID: $u, clientID: $c}) { refreshToken } }";
    app.ok(create, json!({"u": user, "c": client})).await;
    app.ok(create, json!({"u": user, "c": client})).await;
    app.ok("mutation($u: ID!) { revokeAllSessions(input: {userID: $u}) { user { id } } }", json!({"u": user})).await;
    assert_eq!(app.services.maintenance().cleanup().await.unwrap(), 0, "recently ended sessions are kept a day");

    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    use sea_orm::ConnectionTrait;
    db.execute_unprepared("UPDATE sessions SET revoked_at = 1").await.unwrap();
    db.execute_unprepared("INSERT INTO revoked_tokens (jti, client_id, expires_at, revoked_at) VALUES ('old', 'c', 1, 1), ('live', 'c', 99999999999999999, 1)").await.unwrap();
    assert_eq!(app.services.maintenance().cleanup().await.unwrap(), 3, "two sessions and one expired revocation");
    assert_eq!(count_rows(&db, "refresh_tokens").await, 0, "refresh tokens go with their sessions");
}

/// A retry within the grace window gets the same new token as the use it repeats, so the
/// grant cannot fork; after the window, the replaced token is reuse and ends the grant.
#[tokio::test]
async fn a_grace_retry_gets_the_same_token_and_does_not_fork_the_grant() {
    let app = spawn_with(|c| c.oauth.refresh_token_reuse_grace_seconds = 1).await;
    let user = app.create_user("fork@example.com", None).await;
    let client = app.create_spa("SPA").await;
    let rt1 = app.create_grant(&user, &client).await;
    let grant = |t: String| {
        let client = client.clone();
        let app = &app;
        async move {
            app.token_request(&[("grant_type", "refresh_token"), ("client_id", &client), ("refresh_token", &t)]).await
        }
    };
    let (s, b) = grant(rt1.clone()).await;
    assert_eq!(s, 200);
    let rt2 = b["refresh_token"].as_str().unwrap().to_owned();
    let (s, b) = grant(rt1.clone()).await;
    assert_eq!(s, 200, "a retry within the grace window: {b}");
    assert_eq!(b["refresh_token"].as_str(), Some(rt2.as_str()), "the retry gets the same token");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // The grant's current token rotates as usual after the window.
    let (s, b) = grant(rt2.clone()).await;
    assert_eq!(s, 200, "{b}");
    let rt3 = b["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(rt3, rt2);
    let (s, b) = grant(rt1).await;
    assert_eq!((s, b["error"].as_str()), (400, Some("invalid_grant")), "the first token is reuse now");
    let (s, _) = grant(rt3).await;
    assert_eq!(s, 400, "and the whole grant ended");
}

/// Refreshes `token` for `client`: the status and the new refresh token.
async fn refresh(app: &crate::helpers::TestApp, client: &str, token: &str) -> (u16, Option<String>) {
    let (status, body) =
        app.token_request(&[("grant_type", "refresh_token"), ("client_id", client), ("refresh_token", token)]).await;
    (status, body["refresh_token"].as_str().map(str::to_owned))
}

#[tokio::test]
async fn concurrent_refreshes_of_many_grants_each_rotate_once_and_a_revoked_grant_among_them_is_refused() {
    let app = spawn_with(|c| c.oauth.refresh_token_reuse_grace_seconds = 0).await;
    let client = app.create_spa("SPA").await;
    let user = app.create_user("many@example.com", None).await;
    let mut first = Vec::new();
    for _ in 0..24 {
        first.push(app.create_grant(&user, &client).await);
    }
    // A grant revoked before the burst, refreshed within it.
    let gone_user = app.create_user("gone@example.com", None).await;
    let revoked = app.create_grant(&gone_user, &client).await;
    app.ok("mutation($u: ID!) { revokeAllSessions(input: {userID: $u}) { user { id } } }", json!({"u": gone_user}))
        .await;

    // All at once, so that the writer commits several rotations together.
    let burst = first.iter().chain([&revoked]).map(|t| refresh(&app, &client, t));
    let mut answers = futures::future::join_all(burst).await;
    assert_eq!(answers.pop().unwrap().0, 400, "the revoked grant is refused within a batch");
    assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
    let second: Vec<String> = answers.into_iter().map(|(_, t)| t.unwrap()).collect();
    let distinct: std::collections::HashSet<&String> = second.iter().chain(first.iter()).collect();
    assert_eq!(distinct.len(), 48, "every grant got a token of its own");

    // Every new token is live and unrotated: it rotates again, once more all at once.
    let answers = futures::future::join_all(second.iter().map(|t| refresh(&app, &client, t))).await;
    assert!(answers.iter().all(|(status, _)| *status == 200), "{answers:?}");
    let third: Vec<String> = answers.into_iter().map(|(_, t)| t.unwrap()).collect();

    // Every first token was marked rotated: presenting it again is reuse and ends its grant
    // (here for half of them), while the other grants live on.
    for token in &first[..12] {
        assert_eq!(refresh(&app, &client, token).await.0, 400);
    }
    for (i, token) in third.iter().enumerate() {
        let expected = if i < 12 { 400 } else { 200 };
        assert_eq!(refresh(&app, &client, token).await.0, expected, "grant {i}");
    }
}

#[tokio::test]
async fn one_token_presented_forty_times_at_once_leaves_at_most_one_live_token() {
    let app = spawn_with(|c| c.oauth.refresh_token_reuse_grace_seconds = 0).await;
    let client = app.create_spa("SPA").await;
    let user = app.create_user("burst@example.com", None).await;
    let token = app.create_grant(&user, &client).await;
    let answers = futures::future::join_all((0..40).map(|_| refresh(&app, &client, &token))).await;
    assert!(answers.iter().all(|(status, _)| *status == 200 || *status == 400), "{answers:?}");
    let issued: Vec<String> = answers.into_iter().filter_map(|(_, t)| t).collect();
    assert!(!issued.is_empty());
    // No fork: whichever order the copies come back in, at most one of them still works
    // (presenting a rotated one is reuse and ends the grant).
    let mut live = 0;
    for t in &issued {
        if refresh(&app, &client, t).await.0 == 200 {
            live += 1;
        }
    }
    assert!(live <= 1, "{live} of {} tokens issued for one presented token still worked", issued.len());
}
