//! Audit retention: the periodic clean-up deletes audit rows older than
//! `audit.retention_days`, and old outbox events whose deliveries have all finished; an
//! event with a pending delivery stays, and so does everything younger.

use std::time::Duration;

use authgraph::config::{NonBlockingHandler, Secret};
use sea_orm::ConnectionTrait;

use crate::helpers::{TestApp, spawn_with};
use crate::webhook_receiver::{Mode, Receiver};

async fn count(db: &sea_orm::DatabaseConnection, sql: &str) -> i64 {
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned()))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

async fn app(rx: &Receiver) -> TestApp {
    let url = rx.url.clone();
    spawn_with(move |c| {
        c.audit.retention_days = 30;
        c.hook.webhook_secret = Some(Secret::new("retention"));
        c.hook.non_blocking_handlers = vec![NonBlockingHandler { events: vec!["user.created".into()], url }];
    })
    .await
}

#[tokio::test]
async fn old_audit_rows_and_finished_events_go_pending_and_young_ones_stay() {
    let rx = Receiver::start(Mode::Up).await;
    let app = app(&rx).await;
    for i in 0..3 {
        app.create_user(&format!("old{i}@example.com"), None).await;
    }
    rx.wait_for(Duration::from_secs(15), "3 deliveries", |r| r.len() >= 3).await;
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    // Wait until the worker has recorded the three outcomes.
    let start = std::time::Instant::now();
    while count(&db, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'delivered'").await < 3 {
        assert!(start.elapsed() < Duration::from_secs(10), "deliveries not marked delivered");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Everything so far is 31 days old (a test-only rewrite of the stored times).
    let old = 1_000_000i64 * 86_400 * 31;
    let now_us = count(&db, "SELECT MAX(created_at) FROM audit_logs").await;
    let then = now_us - old;
    db.execute_unprepared(&format!("UPDATE audit_logs SET created_at = {then}")).await.unwrap();
    db.execute_unprepared(&format!("UPDATE hook_events SET created_at = {then}")).await.unwrap();
    // One old event failed for good, one still waits for its next attempt (far away).
    db.execute_unprepared(
        "UPDATE webhook_deliveries SET status = 'failed' WHERE event_id = (SELECT id FROM hook_events ORDER BY seq LIMIT 1 OFFSET 1)",
    )
    .await
    .unwrap();
    db.execute_unprepared(
        "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = 99999999999999999 WHERE event_id = (SELECT id FROM hook_events ORDER BY seq LIMIT 1 OFFSET 2)",
    )
    .await
    .unwrap();
    let old_rows = count(&db, "SELECT COUNT(*) FROM audit_logs").await;
    assert!(old_rows >= 6, "two rows per createUser");
    // A young user: its rows and event stay.
    app.create_user("young@example.com", None).await;
    rx.wait_for(Duration::from_secs(15), "the young event", |r| r.len() >= 4).await;
    let young_rows = count(&db, "SELECT COUNT(*) FROM audit_logs").await - old_rows;
    assert!(young_rows >= 2);

    let deleted = app.services.maintenance().cleanup().await.unwrap();
    assert!(
        deleted >= u64::try_from(old_rows).unwrap() + 2 * 2,
        "audit rows, 2 events and their deliveries: {deleted}"
    );
    assert_eq!(count(&db, &format!("SELECT COUNT(*) FROM audit_logs WHERE created_at <= {then}")).await, 0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM audit_logs").await, young_rows, "young rows stay");
    // The old pending event and the young one stay, each with its delivery.
    assert_eq!(count(&db, "SELECT COUNT(*) FROM hook_events").await, 2);
    assert_eq!(count(&db, &format!("SELECT COUNT(*) FROM hook_events WHERE created_at = {then}")).await, 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'pending'").await, 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM webhook_deliveries").await, 2);
    // A second run finds nothing more.
    assert_eq!(app.services.maintenance().cleanup().await.unwrap(), 0);
}

#[tokio::test]
async fn a_backlog_larger_than_one_batch_is_deleted_whole() {
    let rx = Receiver::start(Mode::Up).await;
    let app = app(&rx).await;
    app.create_user("seed@example.com", None).await;
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    // 25,000 old audit rows: copies of the seed rows with new IDs, 31 days old.
    let then = count(&db, "SELECT MAX(created_at) FROM audit_logs").await - 1_000_000i64 * 86_400 * 31;
    let backend = db.get_database_backend();
    let id = match backend {
        sea_orm::DatabaseBackend::Postgres => "gen_random_uuid()".to_owned(),
        _ => "randomblob(16)".to_owned(),
    };
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 25000) \
         INSERT INTO audit_logs (id, created_at, activity_type, user_id, actor, ip_address, user_agent, client_id, data) \
         SELECT {id}, {then}, 'user.created', NULL, NULL, NULL, NULL, NULL, (SELECT data FROM audit_logs LIMIT 1) FROM n"
    );
    db.execute_unprepared(&sql).await.unwrap();
    assert!(count(&db, "SELECT COUNT(*) FROM audit_logs").await > 25_000);
    let deleted = app.services.maintenance().cleanup().await.unwrap();
    assert_eq!(deleted, 25_000);
    assert_eq!(count(&db, &format!("SELECT COUNT(*) FROM audit_logs WHERE created_at = {then}")).await, 0);
    assert!(count(&db, "SELECT COUNT(*) FROM audit_logs").await >= 2, "the seed's rows stay");
}
