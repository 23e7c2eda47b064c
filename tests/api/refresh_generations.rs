//! Refresh tokens that name their grant and its generation: a rotation moves the grant's
//! row to its next generation and inserts no token row; a token whose MAC does not verify
//! is unknown and revokes nothing; tokens issued
//! before (random, found by digest in `refresh_tokens`) work until their first use, which
//! moves them to grant tokens, and their reuse ends the grant as before.

use sea_orm::sea_query::{Alias, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{TestApp, count_rows, spawn_with};
use crate::refresh_refusals::refresh;

/// The ID of `user`'s only session.
async fn only_session(app: &TestApp, user: &str) -> Uuid {
    let q = "query($u: ID!) { node(id: $u) { ... on User { sessions { edges { node { id } } } } } }";
    let d = app.ok(q, json!({"u": user})).await;
    let id = d["node"]["sessions"]["edges"][0]["node"]["id"].as_str().expect("a session").to_owned();
    authgraph::graphql::node::decode_any(&id).expect("a node ID").1
}

/// Stores `token` as a refresh token of grant `sid` the way tokens were stored before grant
/// tokens: its SHA-256 digest in `refresh_tokens`.
async fn store_legacy(db: &DatabaseConnection, sid: Uuid, token: &str) {
    let now = (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64;
    let digest = authgraph::crypto::sha256(token.as_bytes()).to_vec();
    let q = Query::insert()
        .into_table(Alias::new("refresh_tokens"))
        .columns(["id", "session_id", "token_hash", "created_at"].map(Alias::new))
        .values_panic([Uuid::now_v7().into(), sid.into(), digest.into(), now.into()])
        .to_owned();
    db.execute(&q).await.unwrap();
}

#[tokio::test]
async fn rotations_move_the_grant_and_insert_no_token_rows() {
    let app = spawn_with(|c| c.oauth.refresh_token_reuse_grace_seconds = 0).await;
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let user = app.create_user("generations@example.com", None).await;
    let client = app.create_spa("SPA").await;
    let first = app.create_grant(&user, &client).await;
    let mut token = first.clone();
    let mut seen = vec![token.clone()];
    for i in 0..5 {
        let (status, error, next) = refresh(&app, &client, &token).await;
        assert_eq!((status, error), (200, None), "rotation {i}");
        token = next.unwrap();
        assert!(!seen.contains(&token), "rotation {i} gave a token seen before");
        seen.push(token.clone());
    }
    assert_eq!(count_rows(&db, "refresh_tokens").await, 0, "no token rows");
    assert_eq!(count_rows(&db, "sessions WHERE refresh_generation = 5").await, 1);

    // A token whose MAC does not verify (its MAC or its generation changed) is unknown and
    // revokes nothing.
    for byte in [55, 23] {
        let mut raw = authgraph::crypto::b64_decode(&token).unwrap();
        raw[byte] ^= 1;
        let forged = authgraph::crypto::b64(&raw);
        assert_eq!(refresh(&app, &client, &forged).await.1.as_deref(), Some("invalid_grant"), "byte {byte}");
    }
    let (status, _, next) = refresh(&app, &client, &token).await;
    assert_eq!(status, 200, "the grant lives on");

    // An earlier generation is reuse: the grant ends.
    assert_eq!(refresh(&app, &client, &first).await.1.as_deref(), Some("invalid_grant"));
    assert_eq!(refresh(&app, &client, &next.unwrap()).await.1.as_deref(), Some("invalid_grant"));
    assert_eq!(count_rows(&db, "sessions WHERE revoked_at IS NOT NULL").await, 1);
}

#[tokio::test]
async fn a_token_issued_before_grant_tokens_moves_to_one_on_first_use_and_its_reuse_ends_the_grant() {
    let app = spawn_with(|c| c.oauth.refresh_token_reuse_grace_seconds = 1).await;
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let user = app.create_user("legacy@example.com", None).await;
    let client = app.create_spa("SPA").await;
    let current = app.create_grant(&user, &client).await;
    let sid = only_session(&app, &user).await;
    let legacy = authgraph::crypto::b64([42u8; 32]);
    store_legacy(&db, sid, &legacy).await;

    let (status, error, moved) = refresh(&app, &client, &legacy).await;
    assert_eq!((status, error), (200, None));
    let moved = moved.unwrap();
    assert_eq!(moved.len(), 75, "a grant token: {moved}");
    assert_eq!(count_rows(&db, "refresh_tokens WHERE rotated_at IS NOT NULL").await, 1, "the legacy token rotated");
    // A retry within the grace window gets the same token; the token the grant had before
    // its legacy token was used is replaced too.
    assert_eq!(refresh(&app, &client, &legacy).await.2.as_deref(), Some(moved.as_str()));
    assert_eq!(refresh(&app, &client, &current).await.2.as_deref(), Some(moved.as_str()), "within the window");
    let (status, _, next) = refresh(&app, &client, &moved).await;
    assert_eq!(status, 200);

    // After the window the legacy token is reuse: the grant ends with every token of it.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(refresh(&app, &client, &legacy).await.1.as_deref(), Some("invalid_grant"));
    assert_eq!(refresh(&app, &client, &next.unwrap()).await.1.as_deref(), Some("invalid_grant"));
}

#[tokio::test]
async fn without_rotation_a_grant_keeps_its_token_whichever_kind_it_is() {
    let app = spawn_with(|c| c.oauth.refresh_token_reuse_grace_seconds = 0).await;
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let user = app.create_user("keep@example.com", None).await;
    let client = app.create_spa("SPA").await;
    let upd = "mutation($i: UpdateApplicationInput!) { updateApplication(input: $i) { application { refreshTokenRotationEnabled } } }";
    app.ok(upd, json!({"i": {"clientID": client, "refreshTokenRotationEnabled": false}})).await;
    let token = app.create_grant(&user, &client).await;
    for i in 0..3 {
        assert_eq!(refresh(&app, &client, &token).await, (200, None, Some(token.clone())), "use {i}");
    }
    let sid = only_session(&app, &user).await;
    let legacy = authgraph::crypto::b64([43u8; 32]);
    store_legacy(&db, sid, &legacy).await;
    for i in 0..3 {
        assert_eq!(refresh(&app, &client, &legacy).await, (200, None, Some(legacy.clone())), "legacy use {i}");
    }
    assert_eq!(count_rows(&db, "sessions WHERE refresh_generation = 0 AND revoked_at IS NULL").await, 1);
}
