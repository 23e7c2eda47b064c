//! The account lifecycle: `anonymizeUser`, scheduled deletion and anonymization (and
//! their unscheduling), what deletion and anonymization remove, the blocking hooks, and
//! the job that runs due schedules exactly once across processes.

use sea_orm::sea_query::{Alias, Expr, Query};
use sea_orm::{ConnectionTrait, DatabaseConnection};
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::helpers::{TestApp, spawn_with};
use crate::rp::{Browser, hidden};

const PW: &str = "correct horse battery";

/// Every table holding rows of one user by `user_id` that deletion and anonymization
/// empty (audit rows, webhook events and fraud-protection decisions stay).
const OWNED: &[&str] = &[
    "identities",
    "authenticators",
    "verified_claims",
    "user_roles",
    "user_groups",
    "sessions",
    "authorization_codes",
    "authorizations",
    "password_reset_codes",
    "recovery_codes",
    "account_lockouts",
    "device_tokens",
    "password_history",
];

const USER: &str = "query($u: ID!) { node(id: $u) { ... on User { id isDisabled isDeactivated isAnonymized deleteAt deleteReason anonymizeAt standardAttributes identities { totalCount } authenticators { totalCount } sessions { totalCount } roles { totalCount } groups { totalCount } } } }";

fn raw_id(global: &str) -> Uuid {
    let raw = String::from_utf8(authgraph::crypto::b64_decode(global).unwrap()).unwrap();
    raw.trim_start_matches("User:").parse().unwrap()
}

async fn db(app: &TestApp) -> DatabaseConnection {
    sea_orm::Database::connect(app.database_url.as_str()).await.unwrap()
}

async fn count(db: &DatabaseConnection, table: &str, col: &str, value: sea_orm::Value) -> i64 {
    use sea_orm::sea_query::ExprTrait;
    let q = Query::select()
        .expr(Expr::cust("COUNT(*)"))
        .from(Alias::new(table))
        .and_where(Expr::col(Alias::new(col)).eq(value))
        .to_owned();
    db.query_one(&q).await.unwrap().unwrap().try_get_by_index::<i64>(0).unwrap()
}

/// Rows of `user` in each owned table, plus its one-time codes, rate-limit counters and
/// refresh tokens (through its sessions), as `(table, rows)`.
async fn rows_of(db: &DatabaseConnection, user: Uuid, email: &str) -> Vec<(String, i64)> {
    let mut out = Vec::new();
    for t in OWNED {
        out.push((t.to_string(), count(db, t, "user_id", user.into()).await));
    }
    out.push(("otp_codes".into(), count(db, "otp_codes", "target", email.into()).await));
    out.push(("rate_limits".into(), count(db, "rate_limits", "bucket", format!("password:user:{user}").into()).await));
    let q = "SELECT COUNT(*) FROM refresh_tokens";
    let n: i64 = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), q))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    out.push(("refresh_tokens (all)".into(), n));
    out
}

async fn insert(db: &DatabaseConnection, table: &str, cols: &[&str], values: Vec<sea_orm::Value>) {
    let exprs: Vec<Expr> = values.into_iter().map(Expr::val).collect();
    let q = Query::insert()
        .into_table(Alias::new(table))
        .columns(cols.iter().map(|c| Alias::new(*c)))
        .values_panic(exprs)
        .to_owned();
    db.execute(&q).await.unwrap();
}

/// A user with something in every table that can hold their rows: an email login ID, a
/// password (and its history), a verified email, a role and a group, a session with a
/// refresh token, a consent, recovery codes, a device token, a lockout record, a one-time
/// code and a rate-limit counter. Returns the global ID.
async fn rich_user(app: &TestApp, db: &DatabaseConnection, email: &str, client: &str) -> String {
    let user = app.create_user(email, Some(PW)).await;
    let u = json!({"u": user, "e": email, "c": client});
    app.ok(
        "mutation($u: ID!) { resetPassword(input: {userID: $u, password: \"another good password\"}) { user { id } } }",
        u.clone(),
    )
    .await;
    app.ok("mutation($u: ID!, $e: String!) { setVerifiedStatus(input: {userID: $u, claimName: \"email\", claimValue: $e, isVerified: true}) { user { id } } }", u.clone()).await;
    app.ok(
        "mutation($u: ID!) { addUserToRoles(input: {userID: $u, roleKeys: [\"staff\"]}) { user { id } } }",
        u.clone(),
    )
    .await;
    app.ok(
        "mutation($u: ID!) { addUserToGroups(input: {userID: $u, groupKeys: [\"team\"]}) { user { id } } }",
        u.clone(),
    )
    .await;
    app.ok(
        "mutation($u: ID!, $c: String!) { createSession(input: {userID: $u, clientID: $c}) { refreshToken } }",
        u.clone(),
    )
    .await;
    app.ok("mutation($e: String!) { generateOOBOTPCode(input: {target: $e}) { code } }", u.clone()).await;
    let id = raw_id(&user);
    let t = OffsetDateTime::now_utc().unix_timestamp() * 1_000_000;
    let later = t + 86_400 * 1_000_000;
    // A refresh token of the session as versions before grant tokens stored them (a grant
    // token is the session's ID and generation, and stores nothing).
    let session = {
        use sea_orm::sea_query::ExprTrait;
        let q = Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("sessions"))
            .and_where(Expr::col(Alias::new("user_id")).eq(id))
            .to_owned();
        db.query_one(&q).await.unwrap().unwrap().try_get_by_index::<Uuid>(0).unwrap()
    };
    insert(
        db,
        "refresh_tokens",
        &["id", "session_id", "token_hash", "created_at"],
        vec![Uuid::now_v7().into(), session.into(), authgraph::crypto::sha256(email).to_vec().into(), t.into()],
    )
    .await;
    insert(
        db,
        "authorizations",
        &["id", "user_id", "client_id", "scopes", "created_at", "updated_at"],
        vec![Uuid::now_v7().into(), id.into(), client.into(), json!(["openid"]).into(), t.into(), t.into()],
    )
    .await;
    insert(
        db,
        "recovery_codes",
        &["id", "user_id", "code_hash", "created_at"],
        vec![Uuid::now_v7().into(), id.into(), "hash".into(), t.into()],
    )
    .await;
    insert(
        db,
        "device_tokens",
        &["id", "user_id", "token_hash", "created_at", "expires_at"],
        vec![Uuid::now_v7().into(), id.into(), Uuid::now_v7().as_bytes().to_vec().into(), t.into(), later.into()],
    )
    .await;
    insert(
        db,
        "account_lockouts",
        &["user_id", "ip", "attempts", "last_failed_at"],
        vec![id.into(), "192.0.2.1".into(), 2i64.into(), t.into()],
    )
    .await;
    insert(
        db,
        "rate_limits",
        &["bucket", "window_start", "count"],
        vec![format!("password:user:{id}").into(), t.into(), 1i64.into()],
    )
    .await;
    user
}

/// An app with password history on, the role `staff`, the group `team` and an SPA
/// client; returns the client ID.
async fn setup(app: &TestApp) -> String {
    app.ok("mutation { createRole(input: {key: \"staff\"}) { role { id } } createGroup(input: {key: \"team\"}) { group { id } } }", json!({})).await;
    app.create_spa("spa").await
}

async fn history_app() -> TestApp {
    spawn_with(|c| c.password_policy.history_size = 3).await
}

async fn audit_of(app: &TestApp, activity: &str) -> Vec<Value> {
    let q = format!("{{ auditLogs(activityTypes: [{activity}]) {{ edges {{ node {{ data }} }} }} }}");
    let d = app.ok(&q, json!({})).await;
    d["auditLogs"]["edges"].as_array().unwrap().iter().map(|e| e["node"]["data"].clone()).collect()
}

fn assert_empty(rows: &[(String, i64)], what: &str) {
    let left: Vec<&(String, i64)> = rows.iter().filter(|(_, n)| *n != 0).collect();
    assert!(left.is_empty(), "{what}: rows left {left:?}");
}

#[tokio::test]
async fn deletion_removes_the_user_and_everything_of_theirs_but_the_audit_log() {
    let app = history_app().await;
    let client = setup(&app).await;
    let db = db(&app).await;
    let user = rich_user(&app, &db, "gone@example.com", &client).await;
    let bystander = rich_user(&app, &db, "stays@example.com", &client).await;
    let before = rows_of(&db, raw_id(&user), "gone@example.com").await;
    let missing: Vec<&(String, i64)> = before
        .iter()
        .filter(|(t, n)| *n == 0 && !["authorization_codes", "password_reset_codes"].contains(&t.as_str()))
        .collect();
    assert!(missing.is_empty(), "the fixture fills every table: {missing:?}");
    let audit_before = app.audit_count().await;

    let d = app
        .ok(
            "mutation($u: ID!) { deleteUser(input: {userID: $u, reason: \"asked\"}) { deletedUserID } }",
            json!({"u": user}),
        )
        .await;
    assert_eq!(d["deleteUser"]["deletedUserID"], user);
    let mut after = rows_of(&db, raw_id(&user), "gone@example.com").await;
    // The bystander's refresh token is the only one left.
    let refresh = after.pop().unwrap();
    assert_eq!(refresh.1, 1, "the other user's refresh token stays");
    assert_empty(&after, "after deleteUser");
    assert_eq!(count(&db, "users", "id", raw_id(&user).into()).await, 0);
    assert!(app.ok("query($u: ID!) { node(id: $u) { id } }", json!({"u": user})).await["node"].is_null());
    // The other user keeps everything.
    let other = rows_of(&db, raw_id(&bystander), "stays@example.com").await;
    assert!(other.iter().filter(|(_, n)| *n > 0).count() >= 10, "{other:?}");
    // The audit log keeps its rows and gains the mutation and `user.deleted`.
    assert_eq!(app.audit_count().await, audit_before + 2);
    let deleted = audit_of(&app, "USER_DELETED").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["payload"]["is_scheduled_deletion"], false);
    assert_eq!(deleted[0]["payload"]["user"]["standard_attributes"]["email"], "gone@example.com");
    let q = "query($u: [ID!]) { auditLogs(userIDs: $u) { totalCount } }";
    assert!(app.ok(q, json!({"u": [user]})).await["auditLogs"]["totalCount"].as_i64().unwrap() > 5);
}

#[tokio::test]
async fn anonymization_keeps_only_the_id_and_cannot_be_undone() {
    let app = history_app().await;
    let client = setup(&app).await;
    let db = db(&app).await;
    let user = rich_user(&app, &db, "anon@example.com", &client).await;
    app.ok(
        "mutation($u: ID!) { updateUser(input: {userID: $u, standardAttributes: {email: \"anon@example.com\", name: \"Ann On\"}, customAttributes: {}}) { user { id } } }",
        json!({"u": user}),
    )
    .await;

    let d = app
        .ok("mutation($u: ID!) { anonymizeUser(input: {userID: $u}) { anonymizedUserID } }", json!({"u": user}))
        .await;
    assert_eq!(d["anonymizeUser"]["anonymizedUserID"], user);
    let mut rows = rows_of(&db, raw_id(&user), "anon@example.com").await;
    rows.pop();
    assert_empty(&rows, "after anonymizeUser");
    let d = app.ok(USER, json!({"u": user})).await["node"].clone();
    assert_eq!(d["isAnonymized"], true);
    assert_eq!(d["isDisabled"], true);
    assert_eq!(d["standardAttributes"], json!({}));
    for list in ["identities", "authenticators", "sessions", "roles", "groups"] {
        assert_eq!(d[list]["totalCount"], 0, "{list}");
    }
    assert_eq!(count(&db, "users", "id", raw_id(&user).into()).await, 1, "the users row stays");
    let q = "SELECT COUNT(*) FROM users WHERE anonymized_at IS NOT NULL";
    let n: i64 = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), q))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap();
    assert_eq!(n, 1, "anonymized_at is recorded");
    let e = audit_of(&app, "USER_ANONYMIZED").await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["payload"]["user"]["standard_attributes"]["name"], "Ann On", "the event has the user before");
    assert_eq!(e[0]["context"]["triggered_by"], "admin_api");
    assert_eq!(audit_of(&app, "ADMIN_API_MUTATION_ANONYMIZE_USER_EXECUTED").await.len(), 1);

    // Admin mutations fail clearly on an anonymized user, and nothing brings it back.
    let u = json!({"u": user});
    for m in [
        "mutation($u: ID!) { anonymizeUser(input: {userID: $u}) { anonymizedUserID } }",
        "mutation($u: ID!) { updateUser(input: {userID: $u, customAttributes: {}}) { user { id } } }",
        "mutation($u: ID!) { setDisabledStatus(input: {userID: $u, isDisabled: false}) { user { id } } }",
        "mutation($u: ID!) { resetPassword(input: {userID: $u, password: \"another good password\"}) { user { id } } }",
        "mutation($u: ID!) { createIdentity(input: {userID: $u, definition: {loginID: {key: \"email\", value: \"back@example.com\"}}}) { identity { id } } }",
        "mutation($u: ID!) { scheduleAccountAnonymization(input: {userID: $u}) { user { id } } }",
        "mutation($u: ID!) { addUserToRoles(input: {userID: $u, roleKeys: [\"staff\"]}) { user { id } } }",
    ] {
        app.err(m, u.clone(), "BAD_USER_INPUT", Some("UserIsAnonymized")).await;
    }
    // It can still be deleted (or scheduled for deletion), as in Authgear.
    let d = app
        .ok(
            "mutation($u: ID!) { scheduleAccountDeletion(input: {userID: $u}) { user { deleteAt isAnonymized } } }",
            u.clone(),
        )
        .await;
    assert!(d["scheduleAccountDeletion"]["user"]["deleteAt"].is_string());
    let d = app.ok("mutation($u: ID!) { unscheduleAccountDeletion(input: {userID: $u}) { user { deleteAt isDisabled isAnonymized } } }", u.clone()).await;
    assert_eq!(
        d["unscheduleAccountDeletion"]["user"],
        json!({"deleteAt": null, "isDisabled": true, "isAnonymized": true})
    );
    app.ok("mutation($u: ID!) { deleteUser(input: {userID: $u}) { deletedUserID } }", u).await;
    assert_eq!(count(&db, "users", "id", raw_id(&user).into()).await, 0);
}

#[tokio::test]
async fn scheduling_disables_and_signs_out_and_unscheduling_reenables() {
    let app = spawn_with(|c| {
        c.account_deletion.grace_period_days = 7;
        c.account_anonymization.grace_period_days = 14;
    })
    .await;
    let client = setup(&app).await;
    let user = app.create_user("sched@example.com", Some(PW)).await;
    let u = json!({"u": user, "c": client});
    app.ok(
        "mutation($u: ID!, $c: String!) { createSession(input: {userID: $u, clientID: $c}) { refreshToken } }",
        u.clone(),
    )
    .await;

    let d = app
        .ok(
            "mutation($u: ID!) { scheduleAccountDeletion(input: {userID: $u, reason: \"left the company\"}) { user { isDisabled deleteAt deleteReason sessions { totalCount } } } }",
            u.clone(),
        )
        .await["scheduleAccountDeletion"]["user"]
        .clone();
    assert_eq!(d["isDisabled"], true);
    assert_eq!(d["deleteReason"], "left the company");
    assert_eq!(d["sessions"]["totalCount"], 0, "signed out everywhere");
    let at =
        OffsetDateTime::parse(d["deleteAt"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
    let expected = OffsetDateTime::now_utc() + Duration::days(7);
    assert!((at - expected).abs() < Duration::minutes(1), "deleteAt {at} is the grace period away");
    // Signing in is refused while the deletion is scheduled.
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (s, page) = browser.login(&login, "sched@example.com", PW).await.page();
    assert_eq!(s, 403);
    assert!(page.contains("scheduled for deletion"), "{page}");
    app.err(
        "mutation($u: ID!) { scheduleAccountDeletion(input: {userID: $u}) { user { id } } }",
        u.clone(),
        "BAD_USER_INPUT",
        Some("InvalidAccountStatusTransition"),
    )
    .await;
    // Re-enabling is unscheduling, not `setDisabledStatus`.
    app.err(
        "mutation($u: ID!) { setDisabledStatus(input: {userID: $u, isDisabled: false}) { user { id } } }",
        u.clone(),
        "BAD_USER_INPUT",
        Some("InvalidAccountStatusTransition"),
    )
    .await;
    let d = app
        .ok("mutation($u: ID!) { unscheduleAccountDeletion(input: {userID: $u}) { user { isDisabled deleteAt deleteReason } } }", u.clone())
        .await;
    assert_eq!(
        d["unscheduleAccountDeletion"]["user"],
        json!({"isDisabled": false, "deleteAt": null, "deleteReason": null})
    );
    app.err(
        "mutation($u: ID!) { unscheduleAccountDeletion(input: {userID: $u}) { user { id } } }",
        u.clone(),
        "BAD_USER_INPUT",
        Some("InvalidAccountStatusTransition"),
    )
    .await;
    let (_, login) = browser.open("/login").await.page();
    assert_eq!(browser.login(&login, "sched@example.com", PW).await.page().0, 200, "re-enabled");

    let d = app
        .ok("mutation($u: ID!) { scheduleAccountAnonymization(input: {userID: $u}) { user { isDisabled anonymizeAt sessions { totalCount } } } }", u.clone())
        .await["scheduleAccountAnonymization"]["user"]
        .clone();
    assert_eq!((&d["isDisabled"], &d["sessions"]["totalCount"]), (&json!(true), &json!(0)));
    let at = OffsetDateTime::parse(d["anonymizeAt"].as_str().unwrap(), &time::format_description::well_known::Rfc3339)
        .unwrap();
    assert!((at - (OffsetDateTime::now_utc() + Duration::days(14))).abs() < Duration::minutes(1));
    app.err(
        "mutation($u: ID!) { scheduleAccountAnonymization(input: {userID: $u}) { user { id } } }",
        u.clone(),
        "BAD_USER_INPUT",
        Some("InvalidAccountStatusTransition"),
    )
    .await;
    let d = app
        .ok("mutation($u: ID!) { unscheduleAccountAnonymization(input: {userID: $u}) { user { isDisabled anonymizeAt } } }", u.clone())
        .await;
    assert_eq!(d["unscheduleAccountAnonymization"]["user"], json!({"isDisabled": false, "anonymizeAt": null}));

    for (activity, n) in [
        ("ADMIN_API_MUTATION_SCHEDULE_ACCOUNT_DELETION_EXECUTED", 1),
        ("ADMIN_API_MUTATION_UNSCHEDULE_ACCOUNT_DELETION_EXECUTED", 1),
        ("ADMIN_API_MUTATION_SCHEDULE_ACCOUNT_ANONYMIZATION_EXECUTED", 1),
        ("ADMIN_API_MUTATION_UNSCHEDULE_ACCOUNT_ANONYMIZATION_EXECUTED", 1),
        ("USER_DELETION_SCHEDULED", 1),
        ("USER_DELETION_UNSCHEDULED", 1),
        ("USER_ANONYMIZATION_SCHEDULED", 1),
        ("USER_ANONYMIZATION_UNSCHEDULED", 1),
    ] {
        assert_eq!(app.audit_count_of(activity).await, n, "{activity}");
    }
    let e = audit_of(&app, "USER_DELETION_SCHEDULED").await;
    assert_eq!(e[0]["context"]["triggered_by"], "admin_api");
}

#[tokio::test]
async fn a_refusing_pre_schedule_hook_changes_nothing() {
    let scripts = tempfile::tempdir().unwrap();
    std::fs::write(
        scripts.path().join("guard.ts"),
        "export default (e: any) => e.payload.user.standard_attributes.email.startsWith('keep') ? { is_allowed: false, title: 'Legal hold', reason: 'anonymize_at=' + e.payload.user.anonymize_at + ' delete_at=' + e.payload.user.delete_at } : { is_allowed: true };",
    )
    .unwrap();
    let dir = scripts.path().to_owned();
    let app = spawn_with(move |c| {
        use authgraph::config::BlockingHandler;
        c.hook.scripts_dir = Some(dir);
        c.hook.blocking_handlers = vec![
            BlockingHandler { event: "user.pre_schedule_deletion".into(), url: "authgeardeno:///deno/guard.ts".into() },
            BlockingHandler {
                event: "user.pre_schedule_anonymization".into(),
                url: "authgeardeno:///deno/guard.ts".into(),
            },
        ];
    })
    .await;
    let client = setup(&app).await;
    let kept = app.create_user("keep@example.com", Some(PW)).await;
    let other = app.create_user("other@example.com", Some(PW)).await;
    let u = json!({"u": kept, "c": client});
    app.ok(
        "mutation($u: ID!, $c: String!) { createSession(input: {userID: $u, clientID: $c}) { refreshToken } }",
        u.clone(),
    )
    .await;
    let audit_before = app.audit_count().await;
    let err = app
        .err(
            "mutation($u: ID!) { scheduleAccountAnonymization(input: {userID: $u}) { user { id } } }",
            u.clone(),
            "BLOCKED_BY_HOOK",
            Some("HookDisallowed"),
        )
        .await;
    // The hook saw the user as the change leaves them: scheduled.
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("Legal hold") && msg.contains("anonymize_at=20") && msg.contains("delete_at=null"), "{err}");
    app.err(
        "mutation($u: ID!) { scheduleAccountDeletion(input: {userID: $u, reason: \"x\"}) { user { id } } }",
        u.clone(),
        "BLOCKED_BY_HOOK",
        Some("HookDisallowed"),
    )
    .await;
    let d = app.ok(USER, json!({"u": kept})).await["node"].clone();
    assert_eq!(
        (&d["isDisabled"], &d["anonymizeAt"], &d["deleteAt"], &d["sessions"]["totalCount"]),
        (&json!(false), &Value::Null, &Value::Null, &json!(1))
    );
    assert_eq!(app.audit_count().await, audit_before, "a refusal records nothing");
    // Another user passes the hook.
    let d = app
        .ok(
            "mutation($u: ID!) { scheduleAccountDeletion(input: {userID: $u}) { user { deleteAt } } }",
            json!({"u": other}),
        )
        .await;
    assert!(d["scheduleAccountDeletion"]["user"]["deleteAt"].is_string());
}

#[tokio::test]
async fn a_project_can_keep_users_from_deleting_their_own_accounts() {
    let app = spawn_with(|c| c.account_deletion.scheduled_by_end_user_enabled = false).await;
    let user = app.create_user("keep@example.com", Some(PW)).await;
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (_, page) = browser.login(&login, "keep@example.com", PW).await.page();
    assert!(page.contains("Sign out"), "{page}");
    assert!(!page.contains("/settings/delete"), "no deletion form: {page}");
    // A hand-made request is refused with a page that says why, and changes nothing.
    let csrf = hidden(&page, "csrf");
    let (s, page) =
        browser.submit("/settings/delete", &[("csrf", &csrf), ("confirm", "yes"), ("password", PW)]).await.page();
    assert_eq!(s, 403, "{page}");
    assert!(page.contains("does not let you delete your account yourself"), "{page}");
    let d = app.ok(USER, json!({"u": user})).await["node"].clone();
    assert_eq!((&d["isDeactivated"], &d["deleteAt"]), (&json!(false), &Value::Null));
    assert_eq!(app.audit_count_of("USER_DELETION_SCHEDULED").await, 0);
    // An admin still can.
    let d = app
        .ok(
            "mutation($u: ID!) { scheduleAccountDeletion(input: {userID: $u}) { user { deleteAt } } }",
            json!({"u": user}),
        )
        .await;
    assert!(d["scheduleAccountDeletion"]["user"]["deleteAt"].is_string());
}

#[tokio::test]
async fn the_end_users_request_is_a_scheduled_deletion_an_admin_sees_and_can_cancel() {
    let app = spawn_with(|c| c.account_deletion.grace_period_days = 10).await;
    let user = app.create_user("self@example.com", Some(PW)).await;
    let browser = Browser::new(&app);
    let (_, login) = browser.open("/login").await.page();
    let (_, page) = browser.login(&login, "self@example.com", PW).await.page();
    let csrf = hidden(&page, "csrf");
    let (s, page) =
        browser.submit("/settings/delete", &[("csrf", &csrf), ("confirm", "yes"), ("password", PW)]).await.page();
    assert_eq!(s, 200, "{page}");
    assert!(page.contains("deleted in 10 days"), "{page}");
    let d = app.ok(USER, json!({"u": user})).await["node"].clone();
    assert_eq!(
        (&d["isDeactivated"], &d["isDisabled"], &d["sessions"]["totalCount"]),
        (&json!(true), &json!(true), &json!(0))
    );
    assert!(d["deleteAt"].is_string());
    let e = audit_of(&app, "USER_DELETION_SCHEDULED").await;
    assert_eq!(e.len(), 1);
    assert_eq!(e[0]["context"]["triggered_by"], "user");

    let d = app
        .ok("mutation($u: ID!) { unscheduleAccountDeletion(input: {userID: $u}) { user { isDeactivated isDisabled deleteAt } } }", json!({"u": user}))
        .await;
    assert_eq!(
        d["unscheduleAccountDeletion"]["user"],
        json!({"isDeactivated": false, "isDisabled": false, "deleteAt": null})
    );
    let (_, login) = browser.open("/login").await.page();
    assert_eq!(browser.login(&login, "self@example.com", PW).await.page().0, 200);
    assert_eq!(
        app.audit_count_of("USER_DELETION_UNSCHEDULED").await,
        1,
        "the admin's; signing in had nothing to cancel"
    );
}

/// Schedules `user`'s deletion or anonymization.
async fn schedule(app: &TestApp, user: &str, deletion: bool) {
    let m = if deletion {
        "mutation($u: ID!) { scheduleAccountDeletion(input: {userID: $u}) { user { id } } }"
    } else {
        "mutation($u: ID!) { scheduleAccountAnonymization(input: {userID: $u}) { user { id } } }"
    };
    app.ok(m, json!({"u": user})).await;
}

async fn exists(app: &TestApp, user: &str) -> Option<Value> {
    let d = app.ok(USER, json!({"u": user})).await;
    (!d["node"].is_null()).then(|| d["node"].clone())
}

fn later(days: i64) -> OffsetDateTime {
    OffsetDateTime::now_utc() + Duration::days(days)
}

#[tokio::test]
async fn the_job_runs_due_schedules_only_and_never_unscheduled_ones() {
    let app = spawn_with(|_| {}).await;
    let due_delete = app.create_user("d1@example.com", Some(PW)).await;
    let due_anon = app.create_user("a1@example.com", Some(PW)).await;
    let cancelled = app.create_user("c1@example.com", Some(PW)).await;
    let cancelled_anon = app.create_user("c2@example.com", Some(PW)).await;
    let untouched = app.create_user("n1@example.com", Some(PW)).await;
    schedule(&app, &due_delete, true).await;
    schedule(&app, &due_anon, false).await;
    schedule(&app, &cancelled, true).await;
    schedule(&app, &cancelled_anon, false).await;
    app.ok(
        "mutation($u: ID!) { unscheduleAccountDeletion(input: {userID: $u}) { user { id } } }",
        json!({"u": cancelled}),
    )
    .await;
    app.ok(
        "mutation($u: ID!) { unscheduleAccountAnonymization(input: {userID: $u}) { user { id } } }",
        json!({"u": cancelled_anon}),
    )
    .await;

    // Not due yet: nothing happens.
    let run = app.services.maintenance().run_due_schedules(later(29), 100).await.unwrap();
    assert_eq!((run.deleted, run.anonymized), (0, 0));
    assert!(exists(&app, &due_delete).await.is_some());
    assert_eq!(exists(&app, &due_anon).await.unwrap()["isAnonymized"], false);

    // Due: each runs once.
    let run = app.services.maintenance().run_due_schedules(later(31), 100).await.unwrap();
    assert_eq!((run.deleted, run.anonymized), (1, 1));
    assert!(exists(&app, &due_delete).await.is_none());
    let a = exists(&app, &due_anon).await.unwrap();
    assert_eq!(
        (&a["isAnonymized"], &a["identities"]["totalCount"], &a["anonymizeAt"]),
        (&json!(true), &json!(0), &Value::Null)
    );
    for u in [&cancelled, &cancelled_anon, &untouched] {
        let d = exists(&app, u).await.unwrap();
        assert_eq!(
            (&d["isAnonymized"], &d["isDisabled"], &d["identities"]["totalCount"]),
            (&json!(false), &json!(false), &json!(1))
        );
    }
    let run = app.services.maintenance().run_due_schedules(later(400), 100).await.unwrap();
    assert_eq!((run.deleted, run.anonymized), (0, 0), "nothing runs twice");

    let deleted = audit_of(&app, "USER_DELETED").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["context"]["triggered_by"], "system");
    assert_eq!(deleted[0]["payload"]["is_scheduled_deletion"], true);
    assert_eq!(deleted[0]["payload"]["user"]["standard_attributes"]["email"], "d1@example.com");
    let anonymized = audit_of(&app, "USER_ANONYMIZED").await;
    assert_eq!(anonymized.len(), 1);
    assert_eq!(anonymized[0]["context"]["triggered_by"], "system");
    assert_eq!(anonymized[0]["payload"]["is_scheduled_anonymization"], true);
}

/// Two processes on one database.
async fn two_processes() -> (TestApp, TestApp) {
    let a = spawn_with(|_| {}).await;
    let (url, key) = (a.database_url.clone(), a.dir.path().join("master.key"));
    let b = spawn_with(move |c| {
        c.database_url = authgraph::config::Secret::new(url);
        c.master_key_file = key;
    })
    .await;
    (a, b)
}

#[tokio::test]
async fn two_processes_racing_execute_each_schedule_exactly_once() {
    let (a, b) = two_processes().await;
    let deleting = a.seed_users("race-d", 12).await;
    let anonymizing = a.seed_users("race-a", 12).await;
    for u in &deleting {
        schedule(&a, u, true).await;
    }
    for u in &anonymizing {
        schedule(&b, u, false).await;
    }
    let at = later(31);
    let (ma, mb) = (a.services.maintenance(), b.services.maintenance());
    let (ra, rb, ra2, rb2) = tokio::join!(
        ma.run_due_schedules(at, 3),
        mb.run_due_schedules(at, 3),
        ma.run_due_schedules(at, 100),
        mb.run_due_schedules(at, 100)
    );
    let runs = [ra.unwrap(), rb.unwrap(), ra2.unwrap(), rb2.unwrap()];
    assert_eq!(runs.iter().map(|r| r.deleted).sum::<u64>(), 12, "{runs:?}");
    assert_eq!(runs.iter().map(|r| r.anonymized).sum::<u64>(), 12, "{runs:?}");
    // Exactly one `user.deleted` / `user.anonymized` row per user.
    for (activity, users) in [("USER_DELETED", &deleting), ("USER_ANONYMIZED", &anonymizing)] {
        let rows = audit_of(&a, activity).await;
        let mut ids: Vec<String> =
            rows.iter().map(|r| r["payload"]["user"]["id"].as_str().unwrap().to_owned()).collect();
        ids.sort();
        let mut expected: Vec<String> = users.iter().map(|u| raw_id(u).to_string()).collect();
        expected.sort();
        assert_eq!(ids, expected, "{activity}");
    }
    for u in &deleting {
        assert!(exists(&b, u).await.is_none());
    }
    for u in &anonymizing {
        assert_eq!(exists(&a, u).await.unwrap()["isAnonymized"], true);
    }
}

#[tokio::test]
async fn an_interrupted_run_is_finished_by_another_process() {
    let a = spawn_with(|_| {}).await;
    let users = a.seed_users("resume", 7).await;
    for u in &users {
        schedule(&a, u, true).await;
    }
    let at = later(31);
    // The first process stops after a batch of 3 (each user is its own transaction).
    let run = a.services.maintenance().run_due_schedules(at, 3).await.unwrap();
    assert_eq!(run.deleted, 3);
    let (url, key) = (a.database_url.clone(), a.dir.path().join("master.key"));
    // A new process on the same database (the first one's directory holds the SQLite file,
    // so it stays) finishes the rest.
    let b = spawn_with(move |c| {
        c.database_url = authgraph::config::Secret::new(url);
        c.master_key_file = key;
    })
    .await;
    let run = b.services.maintenance().run_due_schedules(at, 100).await.unwrap();
    assert_eq!(run.deleted, 4);
    assert_eq!(b.audit_count_of("USER_DELETED").await, 7);
    for u in &users {
        assert!(exists(&b, u).await.is_none());
    }
}

#[tokio::test]
async fn the_background_job_runs_at_its_interval() {
    let app = spawn_with(|c| c.lifecycle_job.interval_seconds = 1).await;
    let user = app.create_user("bg@example.com", None).await;
    schedule(&app, &user, true).await;
    // Make the schedule due now.
    let db = db(&app).await;
    use sea_orm::sea_query::ExprTrait;
    let past = (OffsetDateTime::now_utc() - Duration::minutes(1)).unix_timestamp() * 1_000_000;
    let q = Query::update()
        .table(Alias::new("users"))
        .value(Alias::new("delete_at"), past)
        .and_where(Expr::col(Alias::new("id")).eq(raw_id(&user)))
        .to_owned();
    db.execute(&q).await.unwrap();
    authgraph::jobs::spawn_lifecycle(app.services.clone());
    let start = std::time::Instant::now();
    while exists(&app, &user).await.is_some() {
        assert!(start.elapsed() < std::time::Duration::from_secs(10), "the job did not run");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert_eq!(app.audit_count_of("USER_DELETED").await, 1);
}

#[test]
fn grace_periods_are_validated_and_the_old_name_still_works() {
    use authgraph::config::Config;
    let dir = tempfile::tempdir().unwrap();
    let load = |toml: &str| {
        let path = dir.path().join("authgraph.toml");
        std::fs::write(&path, toml).unwrap();
        Config::load(Some(&path))
    };
    let c = load("").unwrap();
    assert_eq!((c.account_deletion.grace_period_days, c.account_anonymization.grace_period_days), (30, 30));
    for (toml, key) in [
        ("[account_deletion]\ngrace_period_days = 0\n", "account_deletion.grace_period_days"),
        ("[account_deletion]\ngrace_period_days = 181\n", "account_deletion.grace_period_days"),
        ("[account_anonymization]\ngrace_period_days = 0\n", "account_anonymization.grace_period_days"),
        ("[lifecycle_job]\ninterval_seconds = 0\n", "lifecycle_job.interval_seconds"),
        ("[ui]\ndeletion_grace_days = 200\n", "ui.deletion_grace_days"),
    ] {
        let e = load(toml).unwrap_err().to_string();
        assert!(e.contains(&format!("`{key}`")), "{toml}: {e}");
    }
    assert_eq!(
        load("[account_anonymization]\ngrace_period_days = 180\n").unwrap().account_anonymization.grace_period_days,
        180
    );
    // `ui.deletion_grace_days` is the old name of `account_deletion.grace_period_days`.
    assert_eq!(load("[ui]\ndeletion_grace_days = 7\n").unwrap().account_deletion.grace_period_days, 7);
    assert_eq!(
        load("[ui]\ndeletion_grace_days = 7\n[account_deletion]\ngrace_period_days = 7\n")
            .unwrap()
            .account_deletion
            .grace_period_days,
        7
    );
    let e =
        load("[ui]\ndeletion_grace_days = 7\n[account_deletion]\ngrace_period_days = 30\n").unwrap_err().to_string();
    assert!(e.contains("ui.deletion_grace_days"), "{e}");
}
