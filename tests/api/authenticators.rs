//! Authenticators in the Admin API: `createAuthenticator`, `deleteAuthenticator`, the
//! per-kind fields of `User`, `Authenticator.claims(names:)`, and the MFA grace period.

use sea_orm::{ActiveModelTrait, Set};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::helpers::{TestApp, spawn_app};

const CREATE: &str = "mutation($u: ID!, $d: AuthenticatorDefinition!) { createAuthenticator(input: {userID: $u, definition: $d}) { authenticator { id type kind isDefault claims } } }";

const FIELDS: &str = "query($id: ID!) { node(id: $id) { ... on User {
    primaryPassword { id type kind }
    secondaryPassword { id type kind }
    primaryOOBOTPEmailAuthenticator { id claims }
    primaryOOBOTPSMSAuthenticator { id claims(names: [\"https://authgear.com/claims/oob_otp/phone\"]) }
    secondaryOOBOTPEmailAuthenticators { id isDefault claims }
    secondaryOOBOTPSMSAuthenticators { id isDefault claims }
    secondaryTOTPAuthenticators { id type kind claims }
    authenticators { totalCount }
    mfaGracePeriodEndAt
} } }";

const EMAIL: &str = "https://authgear.com/claims/oob_otp/email";
const PHONE: &str = "https://authgear.com/claims/oob_otp/phone";
const TOTP_NAME: &str = "https://authgear.com/claims/totp/display_name";
const TYPE: &str = "https://authgear.com/claims/authenticator/type";

/// Creates an authenticator; returns it.
async fn create(app: &TestApp, user: &str, definition: Value) -> Value {
    app.ok(CREATE, json!({"u": user, "d": definition})).await["createAuthenticator"]["authenticator"].clone()
}

async fn fields(app: &TestApp, user: &str) -> Value {
    app.ok(FIELDS, json!({"id": user})).await["node"].clone()
}

/// The raw UUID of a user, from its global ID.
async fn raw_id(app: &TestApp, user: &str) -> uuid::Uuid {
    let d = app.ok("query($id: ID!) { node(id: $id) { ... on User { rawID } } }", json!({"id": user})).await;
    d["node"]["rawID"].as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn each_type_and_kind_is_created_and_listed_on_the_user() {
    let app = spawn_app().await;
    let user = app.create_user("ann@example.com", Some("long enough pw")).await;
    let before = fields(&app, &user).await;
    assert_eq!(before["primaryPassword"]["type"], "PASSWORD", "createUser made a primary password");
    assert!(before["secondaryPassword"].is_null());
    assert!(before["primaryOOBOTPEmailAuthenticator"].is_null());
    assert_eq!(before["secondaryTOTPAuthenticators"], json!([]));
    assert!(before["mfaGracePeriodEndAt"].is_null());

    let pw2 = create(
        &app,
        &user,
        json!({"kind": "SECONDARY", "type": "PASSWORD", "password": {"password": "another long pw"}}),
    )
    .await;
    assert_eq!((pw2["type"].as_str(), pw2["kind"].as_str()), (Some("PASSWORD"), Some("SECONDARY")));
    assert_eq!(pw2["isDefault"], true, "the user's first second factor is the default");
    assert_eq!(pw2["claims"], json!({TYPE: "password"}), "no hash among the claims");

    let email1 = create(
        &app,
        &user,
        json!({"kind": "PRIMARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": " Ann@Example.COM "}}),
    )
    .await;
    assert_eq!(email1["type"], "OOB_OTP_EMAIL");
    assert_eq!(email1["claims"][EMAIL], "Ann@example.com", "trimmed, domain lower-cased like a login ID");
    let email2 = create(
        &app,
        &user,
        json!({"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "ann.2fa@example.com"}}),
    )
    .await;
    assert_eq!(email2["isDefault"], false, "the secondary password stays the default");
    let sms1 =
        create(&app, &user, json!({"kind": "PRIMARY", "type": "OOB_OTP_SMS", "oobOtpSMS": {"phone": "+14155550100"}}))
            .await;
    assert_eq!(sms1["claims"], json!({TYPE: "oob_otp_sms", PHONE: "+14155550100"}));
    let sms2 = create(
        &app,
        &user,
        json!({"kind": "SECONDARY", "type": "OOB_OTP_SMS", "oobOtpSMS": {"phone": "+14155550101"}}),
    )
    .await;
    // The same address as another kind is a different authenticator.
    create(
        &app,
        &user,
        json!({"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "ann@example.com"}}),
    )
    .await;

    // A TOTP authenticator is enrolled by the user (a later step); seed one as that will.
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let t = OffsetDateTime::now_utc().unix_timestamp() * 1_000_000;
    let totp_id = uuid::Uuid::now_v7();
    entity::authenticator::ActiveModel {
        id: Set(totp_id),
        user_id: Set(raw_id(&app, &user).await),
        kind: Set("totp".into()),
        factor: Set("secondary".into()),
        is_default: Set(false),
        password_hash: Set(None),
        expire_after: Set(None),
        oob_target: Set(None),
        display_name: Set(Some("Ann's phone".into())),
        totp_secret: Set(Some(vec![1, 2, 3])),
        totp_last_step: Set(None),
        passkey_credential_id: Set(None),
        created_at: Set(t),
        updated_at: Set(t),
    }
    .insert(&db)
    .await
    .unwrap();

    let u = fields(&app, &user).await;
    assert_eq!(u["authenticators"]["totalCount"], 8);
    assert_eq!(u["primaryPassword"], before["primaryPassword"]);
    assert_eq!(u["secondaryPassword"]["id"], pw2["id"]);
    assert_eq!(u["primaryOOBOTPEmailAuthenticator"]["id"], email1["id"]);
    assert_eq!(
        u["primaryOOBOTPEmailAuthenticator"]["claims"],
        json!({TYPE: "oob_otp_email", EMAIL: "Ann@example.com"})
    );
    assert_eq!(u["primaryOOBOTPSMSAuthenticator"]["id"], sms1["id"]);
    assert_eq!(u["primaryOOBOTPSMSAuthenticator"]["claims"], json!({PHONE: "+14155550100"}), "filtered by names");
    let emails: Vec<&Value> =
        u["secondaryOOBOTPEmailAuthenticators"].as_array().unwrap().iter().map(|a| &a["claims"][EMAIL]).collect();
    assert_eq!(emails, [&json!("ann.2fa@example.com"), &json!("ann@example.com")], "oldest first");
    assert_eq!(u["secondaryOOBOTPEmailAuthenticators"][0]["id"], email2["id"]);
    assert_eq!(u["secondaryOOBOTPSMSAuthenticators"].as_array().unwrap().len(), 1);
    assert_eq!(u["secondaryOOBOTPSMSAuthenticators"][0]["id"], sms2["id"]);
    let totp = &u["secondaryTOTPAuthenticators"][0];
    assert_eq!((totp["type"].as_str(), totp["kind"].as_str()), (Some("TOTP"), Some("SECONDARY")));
    assert_eq!(totp["claims"], json!({TYPE: "totp", TOTP_NAME: "Ann's phone"}), "the seed is not a claim");

    // claims(names:) on the authenticators list too; an unknown name gives an empty object.
    let d = app
        .ok(
            "query($id: ID!) { node(id: $id) { ... on User { authenticators(authenticatorType: TOTP) { edges { node { a: claims(names: [\"https://authgear.com/claims/totp/display_name\"]) b: claims(names: [\"nope\"]) } } } } } }",
            json!({"id": user}),
        )
        .await;
    let node = &d["node"]["authenticators"]["edges"][0]["node"];
    assert_eq!(node["a"], json!({TOTP_NAME: "Ann's phone"}));
    assert_eq!(node["b"], json!({}));

    // A user without authenticators has nulls and empty lists.
    let bare = app.create_user("bare@example.com", None).await;
    let b = fields(&app, &bare).await;
    for f in
        ["primaryPassword", "secondaryPassword", "primaryOOBOTPEmailAuthenticator", "primaryOOBOTPSMSAuthenticator"]
    {
        assert!(b[f].is_null(), "{f}");
    }
    for f in ["secondaryOOBOTPEmailAuthenticators", "secondaryOOBOTPSMSAuthenticators", "secondaryTOTPAuthenticators"] {
        assert_eq!(b[f], json!([]), "{f}");
    }
    let first =
        create(&app, &bare, json!({"kind": "PRIMARY", "type": "PASSWORD", "password": {"password": "long enough pw"}}))
            .await;
    assert_eq!(fields(&app, &bare).await["primaryPassword"]["id"], first["id"]);
}

#[tokio::test]
async fn bad_definitions_weak_passwords_and_duplicates_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let user = app.create_user("bob@example.com", Some("long enough pw")).await;
    create(
        &app,
        &user,
        json!({"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "bob@example.com"}}),
    )
    .await;
    create(&app, &user, json!({"kind": "PRIMARY", "type": "OOB_OTP_SMS", "oobOtpSMS": {"phone": "+14155550199"}}))
        .await;
    let audit_before = app.audit_count().await;
    let count_before = fields(&app, &user).await["authenticators"]["totalCount"].clone();

    let refused = [
        // The sub-input must match the type, and be the only one.
        (
            json!({"kind": "PRIMARY", "type": "PASSWORD", "oobOtpEmail": {"email": "x@example.com"}}),
            "BAD_USER_INPUT",
            "InvalidAuthenticatorDefinition",
        ),
        (json!({"kind": "PRIMARY", "type": "OOB_OTP_SMS"}), "BAD_USER_INPUT", "InvalidAuthenticatorDefinition"),
        (
            json!({"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "x@example.com"}, "oobOtpSMS": {"phone": "+14155550100"}}),
            "BAD_USER_INPUT",
            "InvalidAuthenticatorDefinition",
        ),
        (
            json!({"kind": "SECONDARY", "type": "PASSWORD", "password": {"password": "long enough pw2"}, "oobOtpEmail": {"email": "x@example.com"}}),
            "BAD_USER_INPUT",
            "InvalidAuthenticatorDefinition",
        ),
        // TOTP and passkeys are enrolled by the user.
        (json!({"kind": "SECONDARY", "type": "TOTP"}), "BAD_USER_INPUT", "UnsupportedAuthenticatorType"),
        (json!({"kind": "PRIMARY", "type": "PASSKEY"}), "BAD_USER_INPUT", "UnsupportedAuthenticatorType"),
        // The password policy and the login-ID normalizers apply.
        (
            json!({"kind": "SECONDARY", "type": "PASSWORD", "password": {"password": "short"}}),
            "BAD_USER_INPUT",
            "PasswordPolicyViolated",
        ),
        (
            json!({"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "not-an-email"}}),
            "BAD_USER_INPUT",
            "InvalidEmail",
        ),
        (
            json!({"kind": "SECONDARY", "type": "OOB_OTP_SMS", "oobOtpSMS": {"phone": "4155550100"}}),
            "BAD_USER_INPUT",
            "InvalidPhoneNumber",
        ),
        // One primary password, one OOB authenticator per type, kind and target.
        (
            json!({"kind": "PRIMARY", "type": "PASSWORD", "password": {"password": "long enough pw2"}}),
            "CONFLICT",
            "DuplicatedAuthenticator",
        ),
        (
            json!({"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "BOB@EXAMPLE.COM"}}),
            "CONFLICT",
            "DuplicatedAuthenticator",
        ),
        (
            json!({"kind": "PRIMARY", "type": "OOB_OTP_SMS", "oobOtpSMS": {"phone": "+14155550199"}}),
            "CONFLICT",
            "DuplicatedAuthenticator",
        ),
    ];
    for (definition, code, reason) in refused {
        let e = app.err(CREATE, json!({"u": user, "d": definition}), code, Some(reason)).await;
        assert!(!e["message"].as_str().unwrap().is_empty());
    }
    let e =
        app.err(CREATE, json!({"u": user, "d": {"kind": "SECONDARY", "type": "TOTP"}}), "BAD_USER_INPUT", None).await;
    assert!(e["message"].as_str().unwrap().contains("the user enrols it"), "{e}");

    // One secondary password too.
    let second = json!({"kind": "SECONDARY", "type": "PASSWORD", "password": {"password": "long enough pw2"}});
    create(&app, &user, second.clone()).await;
    app.err(CREATE, json!({"u": user, "d": second}), "CONFLICT", Some("DuplicatedAuthenticator")).await;

    // An unknown user.
    let gone = app.create_user("gone@example.com", None).await;
    app.ok("mutation($u: ID!) { deleteUser(input: {userID: $u}) { deletedUserID } }", json!({"u": gone})).await;
    let audit_mid = app.audit_count().await;
    for d in [
        json!({"kind": "SECONDARY", "type": "PASSWORD", "password": {"password": "long enough pw"}}),
        json!({"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "x@example.com"}}),
    ] {
        app.err(CREATE, json!({"u": gone, "d": d}), "NOT_FOUND", Some("UserNotFound")).await;
    }
    assert_eq!(app.audit_count().await, audit_mid, "refusals write no audit row");
    assert_eq!(
        audit_mid,
        audit_before + 5,
        "the secondary password, the user (and user.created), its deletion (and user.deleted)"
    );
    let after = fields(&app, &user).await["authenticators"]["totalCount"].as_i64().unwrap();
    assert_eq!(after, count_before.as_i64().unwrap() + 1, "only the secondary password was added");
}

#[tokio::test]
async fn delete_authenticator_returns_the_user_and_moves_the_default() {
    let app = spawn_app().await;
    let user = app.create_user("cat@example.com", Some("long enough pw")).await;
    let a = create(
        &app,
        &user,
        json!({"kind": "SECONDARY", "type": "OOB_OTP_SMS", "oobOtpSMS": {"phone": "+14155550100"}}),
    )
    .await;
    let b = create(
        &app,
        &user,
        json!({"kind": "SECONDARY", "type": "OOB_OTP_SMS", "oobOtpSMS": {"phone": "+14155550101"}}),
    )
    .await;
    assert_eq!((a["isDefault"].as_bool(), b["isDefault"].as_bool()), (Some(true), Some(false)));

    let delete = "mutation($a: ID!) { deleteAuthenticator(input: {authenticatorID: $a}) { user { id secondaryOOBOTPSMSAuthenticators { id isDefault } authenticators { totalCount } } } }";
    let d = app.ok(delete, json!({"a": a["id"]})).await;
    let u = &d["deleteAuthenticator"]["user"];
    assert_eq!(u["id"], json!(user));
    assert_eq!(u["secondaryOOBOTPSMSAuthenticators"], json!([{"id": b["id"], "isDefault": true}]));
    assert_eq!(u["authenticators"]["totalCount"], 2);

    let audit = app.audit_count().await;
    app.err(delete, json!({"a": a["id"]}), "NOT_FOUND", Some("AuthenticatorNotFound")).await;
    app.err(delete, json!({"a": user}), "BAD_USER_INPUT", Some("InvalidID")).await;
    assert_eq!(app.audit_count().await, audit);

    // The primary password can go as well; the user then has none.
    let pw = fields(&app, &user).await["primaryPassword"]["id"].clone();
    let d = app.ok(delete, json!({"a": pw})).await;
    assert_eq!(d["deleteAuthenticator"]["user"]["authenticators"]["totalCount"], 1);
    assert!(fields(&app, &user).await["primaryPassword"].is_null());
    // The freed slot takes a new one.
    create(&app, &user, json!({"kind": "PRIMARY", "type": "PASSWORD", "password": {"password": "new long pw!"}})).await;
}

#[tokio::test]
async fn mfa_grace_period_is_set_and_removed() {
    let app = spawn_app().await;
    let user = app.create_user("dan@example.com", None).await;
    let end = (OffsetDateTime::now_utc() + time::Duration::days(7)).replace_nanosecond(0).unwrap();
    let set = "mutation($u: ID!, $t: DateTime!) { setMFAGracePeriod(input: {userID: $u, endAt: $t}) { user { id mfaGracePeriodEndAt } } }";
    let d = app.ok(set, json!({"u": user, "t": end.format(&Rfc3339).unwrap()})).await;
    let got = d["setMFAGracePeriod"]["user"]["mfaGracePeriodEndAt"].as_str().unwrap();
    assert_eq!(OffsetDateTime::parse(got, &Rfc3339).unwrap(), end);
    assert_eq!(fields(&app, &user).await["mfaGracePeriodEndAt"], json!(got));

    let audit = app.audit_count().await;
    let past = (OffsetDateTime::now_utc() - time::Duration::minutes(1)).format(&Rfc3339).unwrap();
    app.err(set, json!({"u": user, "t": past}), "BAD_USER_INPUT", Some("InvalidMFAGracePeriod")).await;
    assert_eq!(app.audit_count().await, audit);
    assert_eq!(fields(&app, &user).await["mfaGracePeriodEndAt"], json!(got), "unchanged");

    let remove = "mutation($u: ID!) { removeMFAGracePeriod(input: {userID: $u}) { user { id mfaGracePeriodEndAt } } }";
    let d = app.ok(remove, json!({"u": user})).await;
    assert!(d["removeMFAGracePeriod"]["user"]["mfaGracePeriodEndAt"].is_null());
    assert!(fields(&app, &user).await["mfaGracePeriodEndAt"].is_null());

    // Authgear's lower-case type names.
    let d = app
        .ok(
            "{ a: __type(name: \"setMFAGracePeriodInput\") { name } b: __type(name: \"setMFAGracePeriodPayload\") { name } c: __type(name: \"removeMFAGracePeriodInput\") { name } d: __type(name: \"removeMFAGracePeriodPayload\") { name } }",
            json!({}),
        )
        .await;
    for k in ["a", "b", "c", "d"] {
        assert!(d[k]["name"].is_string(), "{k}: {d}");
    }
}

#[tokio::test]
async fn each_change_is_audited_without_secrets() {
    let app = spawn_app().await;
    let user = app.create_user("eve@example.com", None).await;
    let pw =
        create(&app, &user, json!({"kind": "PRIMARY", "type": "PASSWORD", "password": {"password": "secret long pw"}}))
            .await;
    create(
        &app,
        &user,
        json!({"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "eve@example.com"}}),
    )
    .await;
    app.ok(
        "mutation($a: ID!) { deleteAuthenticator(input: {authenticatorID: $a}) { user { id } } }",
        json!({"a": pw["id"]}),
    )
    .await;
    let end = (OffsetDateTime::now_utc() + time::Duration::days(1)).format(&Rfc3339).unwrap();
    app.ok(
        "mutation($u: ID!, $t: DateTime!) { setMFAGracePeriod(input: {userID: $u, endAt: $t}) { user { id } } }",
        json!({"u": user, "t": end}),
    )
    .await;
    app.ok("mutation($u: ID!) { removeMFAGracePeriod(input: {userID: $u}) { user { id } } }", json!({"u": user})).await;

    let d = app
        .ok(
            "query($u: [ID!]) { auditLogs(userIDs: $u, sortDirection: ASC, activityTypes: [ADMIN_API_MUTATION_CREATE_AUTHENTICATOR_EXECUTED, ADMIN_API_MUTATION_DELETE_AUTHENTICATOR_EXECUTED, ADMIN_API_MUTATION_SET_MFA_GRACE_PERIOD_EXECUTED, ADMIN_API_MUTATION_REMOVE_MFA_GRACE_PERIOD_EXECUTED]) { edges { node { activityType user { id } data } } } }",
            json!({"u": [user]}),
        )
        .await;
    let rows = d["auditLogs"]["edges"].as_array().unwrap();
    let types: Vec<&str> = rows.iter().map(|e| e["node"]["activityType"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "ADMIN_API_MUTATION_CREATE_AUTHENTICATOR_EXECUTED",
            "ADMIN_API_MUTATION_CREATE_AUTHENTICATOR_EXECUTED",
            "ADMIN_API_MUTATION_DELETE_AUTHENTICATOR_EXECUTED",
            "ADMIN_API_MUTATION_SET_MFA_GRACE_PERIOD_EXECUTED",
            "ADMIN_API_MUTATION_REMOVE_MFA_GRACE_PERIOD_EXECUTED",
        ]
    );
    for r in rows {
        assert_eq!(r["node"]["user"]["id"], json!(user));
        let text = r["node"]["data"].to_string();
        assert!(!text.contains("secret long pw") && !text.contains("$argon2"), "no password in {text}");
    }
    let created = &rows[1]["node"]["data"]["payload"]["authenticator"];
    assert_eq!(created["type"], "oob_otp_email");
    assert_eq!(created["kind"], "secondary");
    assert_eq!(created["claims"][EMAIL], "eve@example.com");
    assert_eq!(rows[2]["node"]["data"]["payload"]["authenticator"]["id"].as_str().unwrap().len(), 36);
    assert!(rows[3]["node"]["data"]["payload"]["user"]["mfa_grace_period_end_at"].is_string());
    assert!(rows[4]["node"]["data"]["payload"]["user"]["mfa_grace_period_end_at"].is_null());
}

#[tokio::test]
async fn writes_need_user_write_and_reads_need_user_read() {
    let app = spawn_app().await;
    let user = app.create_user("fay@example.com", Some("long enough pw")).await;
    let read_only = app.token(&["user:read"]);
    let end = (OffsetDateTime::now_utc() + time::Duration::days(1)).format(&Rfc3339).unwrap();
    let pw = fields(&app, &user).await["primaryPassword"]["id"].clone();
    let audit = app.audit_count().await;
    for (q, v) in [
        (
            CREATE,
            json!({"u": user, "d": {"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "f@example.com"}}}),
        ),
        ("mutation($a: ID!) { deleteAuthenticator(input: {authenticatorID: $a}) { user { id } } }", json!({"a": pw})),
        (
            "mutation($u: ID!, $t: DateTime!) { setMFAGracePeriod(input: {userID: $u, endAt: $t}) { user { id } } }",
            json!({"u": user, "t": end}),
        ),
        ("mutation($u: ID!) { removeMFAGracePeriod(input: {userID: $u}) { user { id } } }", json!({"u": user})),
    ] {
        let res = app.gql_as(&read_only, q, v).await;
        assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res}");
        assert!(res["data"].is_null(), "nothing ran: {res}");
    }
    assert_eq!(app.audit_count().await, audit);
    assert_eq!(fields(&app, &user).await["authenticators"]["totalCount"], 1);
    // With user:read, the fields read; without it, they are refused.
    let res = app.gql_as(&read_only, FIELDS, json!({"id": user})).await;
    assert!(res.get("errors").is_none(), "{res}");
    let res = app.gql_as(&app.token(&["role:read"]), FIELDS, json!({"id": user})).await;
    assert_eq!(res["errors"][0]["extensions"]["code"], "FORBIDDEN", "{res}");
}

#[tokio::test]
async fn the_authenticator_columns_roll_back_and_come_again() {
    use migration::MigratorTrait;
    let app = spawn_app().await;
    let user = app.create_user("gus@example.com", None).await;
    create(
        &app,
        &user,
        json!({"kind": "SECONDARY", "type": "OOB_OTP_EMAIL", "oobOtpEmail": {"email": "gus@example.com"}}),
    )
    .await;
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let applied = migration::Migrator::get_applied_migrations(&db).await.unwrap();
    let n = applied.iter().rev().position(|m| m.name() == "m20261201_135000_add_authenticator_details").unwrap();
    // Back to before this migration (and any after it), then forward again.
    migration::Migrator::down(&db, Some(u32::try_from(n + 1).unwrap())).await.unwrap();
    migration::Migrator::up(&db, None).await.unwrap();
    let u = fields(&app, &user).await;
    assert_eq!(u["secondaryOOBOTPEmailAuthenticators"][0]["claims"], json!({TYPE: "oob_otp_email"}), "the target went");
}

#[tokio::test]
async fn concurrent_duplicates_give_one_authenticator_and_a_conflict() {
    let app = spawn_app().await;
    let user = app.create_user("hal@example.com", None).await;
    for d in [
        json!({"kind": "SECONDARY", "type": "OOB_OTP_SMS", "oobOtpSMS": {"phone": "+14155550123"}}),
        json!({"kind": "SECONDARY", "type": "PASSWORD", "password": {"password": "long enough pw"}}),
    ] {
        let v = json!({"u": user, "d": d});
        let (a, b) = tokio::join!(app.gql(CREATE, v.clone()), app.gql(CREATE, v.clone()));
        let codes: Vec<&Value> = [&a, &b].iter().map(|r| &r["errors"][0]["extensions"]["code"]).collect();
        assert!(
            codes.contains(&&Value::Null) && codes.contains(&&json!("CONFLICT")),
            "one succeeds, one conflicts: {a} {b}"
        );
    }
    assert_eq!(fields(&app, &user).await["authenticators"]["totalCount"], 2);
}

#[tokio::test]
async fn a_secondary_password_does_not_count_as_the_first_factor() {
    let app = spawn_app().await;
    let user = app.create_user("ida@example.com", None).await;
    create(&app, &user, json!({"kind": "SECONDARY", "type": "PASSWORD", "password": {"password": "second long pw"}}))
        .await;
    app.ok(
        "mutation($u: ID!) { createIdentity(input: {userID: $u, definition: {loginID: {key: \"username\", value: \"ida\"}}, password: \"first long pw\"}) { user { id } } }",
        json!({"u": user}),
    )
    .await;
    let u = fields(&app, &user).await;
    assert!(u["primaryPassword"].is_object(), "createIdentity added the primary password: {u}");
    assert!(u["secondaryPassword"].is_object());
}
