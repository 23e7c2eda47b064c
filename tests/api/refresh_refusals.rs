//! A refresh that is refused writes nothing: the grant and its token stay as they were, so
//! the same token works once the reason is gone. On PostgreSQL the common refresh is read
//! and written by one statement for a batch; these are the cases that statement must leave
//! alone, and the last access it records when it is due.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use uuid::Uuid;

use crate::helpers::{TestApp, count_rows, spawn_with};

/// Refreshes `token` for `client`: the status, the error code and the new refresh token.
pub(crate) async fn refresh(app: &TestApp, client: &str, token: &str) -> (u16, Option<String>, Option<String>) {
    let (status, body) =
        app.token_request(&[("grant_type", "refresh_token"), ("client_id", client), ("refresh_token", token)]).await;
    (status, body["error"].as_str().map(str::to_owned), body["refresh_token"].as_str().map(str::to_owned))
}

fn micros(t: OffsetDateTime) -> i64 {
    (t.unix_timestamp_nanos() / 1000) as i64
}

/// Sets `col` of `table`'s rows whose `key` is `id`.
async fn set(db: &DatabaseConnection, table: &str, key: &str, id: Uuid, col: &str, value: sea_orm::Value) {
    let q = Query::update()
        .table(Alias::new(table))
        .value(Alias::new(col), Expr::val(value))
        .and_where(Expr::col(Alias::new(key)).eq(id))
        .to_owned();
    db.execute(&q).await.unwrap();
}

#[tokio::test]
async fn a_refused_refresh_writes_nothing_and_the_same_token_works_once_allowed_again() {
    let app = spawn_with(|c| c.oauth.refresh_token_reuse_grace_seconds = 0).await;
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let user = app.create_user("refused@example.com", None).await;
    let uid: Uuid = crate::hook_code_sign_in::uuid_of(&user).parse().unwrap();
    let (mine, other) = (app.create_spa("Mine").await, app.create_spa("Other").await);
    let mut token = app.create_grant(&user, &mine).await;
    // Each refusal is followed by a refresh of the same token that succeeds: had the refused
    // one rotated it, this would be reuse.
    let allowed = async |token: &mut String, why: &str| {
        let (status, error, next) = refresh(&app, &mine, token).await;
        assert_eq!((status, error), (200, None), "after {why}");
        *token = next.unwrap();
    };

    // Another client presents the token.
    assert_eq!(refresh(&app, &other, &token).await.1.as_deref(), Some("invalid_grant"));
    allowed(&mut token, "another client").await;

    // The user's status as it stands when time passes: an admin who disables a user ends
    // their sessions at once, but a disabled window or a valid period that begins or ends
    // later does not. Each is refused, then lifted.
    let now = micros(OffsetDateTime::now_utc());
    let hour = 3_600_000_000i64;
    let refusals: [&[(&str, sea_orm::Value)]; 6] = [
        &[("is_disabled", true.into())],
        &[("is_deactivated", true.into())],
        &[("temporarily_disabled_from", (now - hour).into()), ("temporarily_disabled_until", (now + hour).into())],
        &[("account_valid_from", (now + hour).into())],
        &[("account_valid_until", (now - 1).into())],
        &[("account_valid_from", (now - 2 * hour).into()), ("account_valid_until", (now - hour).into())],
    ];
    for (i, columns) in refusals.into_iter().enumerate() {
        for (col, value) in columns {
            set(&db, "users", "id", uid, col, value.clone()).await;
        }
        assert_eq!(refresh(&app, &mine, &token).await.1.as_deref(), Some("invalid_grant"), "status {i}");
        for (col, value) in columns {
            let cleared = match value {
                sea_orm::Value::Bool(_) => false.into(),
                _ => sea_orm::Value::BigInt(None),
            };
            set(&db, "users", "id", uid, col, cleared).await;
        }
        allowed(&mut token, &format!("status {i}")).await;
    }
    // A window that has not begun and a valid period around now allow the refresh.
    set(&db, "users", "id", uid, "temporarily_disabled_from", (now + hour).into()).await;
    set(&db, "users", "id", uid, "temporarily_disabled_until", (now + 2 * hour).into()).await;
    set(&db, "users", "id", uid, "account_valid_from", (now - hour).into()).await;
    set(&db, "users", "id", uid, "account_valid_until", (now + hour).into()).await;
    allowed(&mut token, "a window to come").await;

    // The grant sat idle past the application's idle timeout, or passed its absolute end.
    set(&db, "sessions", "user_id", uid, "last_accessed_at", 0i64.into()).await;
    assert_eq!(refresh(&app, &mine, &token).await.1.as_deref(), Some("invalid_grant"), "idle");
    let two_minutes_ago = micros(OffsetDateTime::now_utc()) - 120_000_000;
    set(&db, "sessions", "user_id", uid, "last_accessed_at", two_minutes_ago.into()).await;
    set(&db, "sessions", "user_id", uid, "last_accessed_by_ip", "192.0.2.1".into()).await;
    let expires = micros(OffsetDateTime::now_utc()) + 86_400_000_000;
    set(&db, "sessions", "user_id", uid, "expires_at", 0i64.into()).await;
    assert_eq!(refresh(&app, &mine, &token).await.1.as_deref(), Some("invalid_grant"), "expired");
    set(&db, "sessions", "user_id", uid, "expires_at", expires.into()).await;

    // A refresh records the grant's last access when the last record is a minute old.
    let before = OffsetDateTime::now_utc();
    allowed(&mut token, "the grant's end").await;
    let q = "query($u: ID!) { node(id: $u) { ... on User { sessions { edges { node { lastAccessedAt lastAccessedByIP } } } } } }";
    let d = app.ok(q, json!({"u": user})).await;
    let s = &d["node"]["sessions"]["edges"][0]["node"];
    let at = OffsetDateTime::parse(s["lastAccessedAt"].as_str().unwrap(), &Rfc3339).unwrap();
    assert!(at >= before - time::Duration::seconds(1), "last access {at} recorded by the refresh at {before}");
    assert_eq!(s["lastAccessedByIP"], "127.0.0.1");
    // Within the minute it is not written again.
    set(&db, "sessions", "user_id", uid, "last_accessed_by_ip", "192.0.2.2".into()).await;
    allowed(&mut token, "a recent access").await;
    let d = app.ok(q, json!({"u": user})).await;
    assert_eq!(d["node"]["sessions"]["edges"][0]["node"]["lastAccessedByIP"], "192.0.2.2");

    // Revoked: refused, and for good.
    app.ok("mutation($u: ID!) { revokeAllSessions(input: {userID: $u}) { user { id } } }", json!({"u": user})).await;
    assert_eq!(refresh(&app, &mine, &token).await.1.as_deref(), Some("invalid_grant"), "revoked");
}

/// A refresh whose write fails to commit answers `server_error` and writes nothing, and the
/// same token works once the database accepts writes again. On PostgreSQL the failure comes
/// at the commit itself (a deferred trigger), after the claim statement has found and
/// rotated the grant: neither the claim nor the general path may answer with tokens.
#[tokio::test]
async fn a_refresh_whose_commit_fails_answers_an_error_and_writes_nothing() {
    let app = spawn_with(|c| c.oauth.refresh_token_reuse_grace_seconds = 0).await;
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let user = app.create_user("uncommitted@example.com", None).await;
    let client = app.create_spa("SPA").await;
    let token = app.create_grant(&user, &client).await;
    let postgres = db.get_database_backend() == sea_orm::DbBackend::Postgres;
    let refuse: &[&str] = if postgres {
        &[
            "CREATE FUNCTION test_refuse_commit() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused at commit'; END $$",
            "CREATE CONSTRAINT TRIGGER test_refuse_commit AFTER UPDATE OF refresh_generation ON sessions \
             DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION test_refuse_commit()",
        ]
    } else {
        &["CREATE TRIGGER test_refuse_commit BEFORE UPDATE OF refresh_generation ON sessions \
           BEGIN SELECT RAISE(ABORT, 'refused'); END"]
    };
    for sql in refuse {
        db.execute_unprepared(sql).await.unwrap();
    }
    for attempt in 0..3 {
        let (status, error, next) = refresh(&app, &client, &token).await;
        assert_eq!((status, error.as_deref(), next), (500, Some("server_error"), None), "attempt {attempt}");
    }
    assert_eq!(count_rows(&db, "sessions WHERE refresh_generation = 0").await, 1, "the grant did not move");

    db.execute_unprepared(if postgres {
        "DROP TRIGGER test_refuse_commit ON sessions"
    } else {
        "DROP TRIGGER test_refuse_commit"
    })
    .await
    .unwrap();
    let (status, error, next) = refresh(&app, &client, &token).await;
    assert_eq!((status, error), (200, None));
    let (status, error, _) = refresh(&app, &client, &next.unwrap()).await;
    assert_eq!((status, error), (200, None), "the new token is the grant's");
}
