//! Password hashes imported from other systems: every type signs in through the real
//! login form, and the first success replaces the hash by the server's Argon2id.

use authgraph::config::{Config, FirebaseScryptConfig, PasswordImportConfig, Secret};
use authgraph::crypto::foreign_hash::ImportedPassword;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{EntityTrait, QueryFilter};

use crate::helpers::{TestApp, spawn_with};
use crate::login_helpers::{CB, PW, spa, start};
use crate::rp::{Browser, Rp, param};
use crate::totp::raw_id;

/// The example project of Firebase's own scrypt repository.
const FIREBASE_SIGNER_KEY: &str =
    "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==";

/// `(type, password_hash, salt, salt_position)` of `PW`, made with Python (hashlib,
/// bcrypt, argon2-cffi, cryptography).
const CASES: &[(&str, &str, Option<&str>, Option<&str>)] = &[
    ("bcrypt", "$2b$04$clRr/qcbry8sBtB0Kqz4t.bxIP.1tecJUR4ijFGqmbQLi.XVJuLm6", None, None),
    ("bcrypt", "$2a$05$ZPCAFQHmvEEYXufecUJ6UuDhkBYDfvCYZ2Mm1ebjThbe3GpPhU.qW", None, None),
    ("bcrypt", "$2y$04$7V2lyvLvJlbBPXQW0bzfDeD6awq1qFAxapKHEuUfOzRhdWp22Zw5O", None, None),
    ("argon2", "$argon2id$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0MTIzNA$UYgZZgJXPj/HtJRCg6u6jbCEnkD/6nUW", None, None),
    ("argon2", "$argon2i$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0MTIzNA$7l5w3a2OWUIUxwnDJhw0MuDxUvDWeDYy", None, None),
    ("argon2", "$argon2d$v=19$m=64,t=1,p=2$c2FsdHNhbHRzYWx0MTIzNA$xcImOiYMjlZeoInZVilOMNrnwDVZeAVO", None, None),
    ("scrypt", "$scrypt$ln=10,r=8,p=2$AQJzY3J5cHQtc2FsdP8$+wKy8flRjsc6458dTYfKCdNZhLlYVV/86995J92aOPw", None, None),
    (
        "firebase_scrypt",
        "i6qfwhZA2YLLN+ziDp+CRWMh5HZprE1FSs7WVrhtE4n/lAnuGL5vb5fZ23zC7gT9I+nPn3ssTWSYGPB+F7L7Tg==",
        Some("ZmlyZWJhc2Utc2FsdCE="),
        None,
    ),
    ("pbkdf2_sha256", "pbkdf2_sha256$1000$seasalt123$8LLL/IKTXXEzdJJ5hUYPuyAMUebCj/rtkXlKp0V5hNo=", None, None),
    (
        "pbkdf2_sha256",
        "$pbkdf2-sha256$i=1200,l=32$++++LXBia2RmMi1zYWx0$WYgsCdPksPRcXCYy4AMZIhtWJ2HdCO/2MNYuuWMmps0",
        None,
        None,
    ),
    ("pbkdf2_sha1", "pbkdf2_sha1$1000$seasalt123$A42vLgCFbuKZoNE6BlYlfsm8nVs=", None, None),
    ("pbkdf2_sha1", "$pbkdf2-sha1$i=1200,l=20$++++LXBia2RmMi1zYWx0$u+yLZPE2E/7LN4vNlyBE3+qEChI", None, None),
    (
        "sha256_salted",
        "4ecde0b80c3e2724a0e56f8903554336a174bc25b0bbc9ff7d50c808c5342d18",
        Some("pepper-and-salt"),
        None,
    ),
    ("sha256_salted", "aHkDrFOVIcXP1cIBT7R0Csvr6yV6/T/fk8F5Ye6/W6U=", Some("pepper-and-salt"), Some("after")),
    (
        "sha512_salted",
        "1eAEwHsE8Xb9fDac7hX+P4HfEJOLAVpJ9CbuuK6w6PufWXGF+X/rvq7/+5ZMLN2QcuNzH1jc5l+tBr4Lmgf7fQ==",
        Some("pepper-and-salt"),
        None,
    ),
];

fn firebase_project() -> PasswordImportConfig {
    PasswordImportConfig {
        firebase_scrypt: Some(FirebaseScryptConfig {
            signer_key: Some(Secret::new(FIREBASE_SIGNER_KEY)),
            ..FirebaseScryptConfig::default()
        }),
    }
}

/// The user's primary password authenticator row: its hash and `updated_at`.
async fn password_row(db: &sea_orm::DatabaseConnection, user: uuid::Uuid) -> (String, i64) {
    let row = entity::authenticator::Entity::find()
        .filter(Expr::col(entity::authenticator::Column::UserId).eq(user))
        .filter(Expr::col(entity::authenticator::Column::Kind).eq("password"))
        .one(db)
        .await
        .unwrap()
        .expect("a password authenticator");
    (row.password_hash.expect("a hash"), row.updated_at)
}

/// Signs in through the authorization endpoint and the login form: `Ok(callback)` with a
/// code, or `Err(status)` of the page the form answered with.
async fn sign_in(app: &TestApp, rp: &Rp, login_id: &str, password: &str) -> Result<String, u16> {
    let browser = Browser::new(app);
    let f = start(rp, &[], &[]);
    let (status, page) = browser.open(&f.url).await.page();
    assert_eq!(status, 200, "{page}");
    match browser.login(&page, login_id, password).await {
        crate::rp::Landing::Redirect(cb) => {
            assert!(cb.starts_with(CB) && param(&cb, "code").is_some(), "{cb}");
            Ok(cb)
        }
        crate::rp::Landing::Page(status, _) => Err(status),
    }
}

/// Every type, through the bulk import: the records go in with their hashes (stored as
/// `stored_form` gives them), a wrong password is refused and leaves the hash, the right one
/// signs in through the login form and leaves an Argon2id hash that signs in again.
#[tokio::test]
async fn every_foreign_hash_imports_signs_in_and_is_upgraded_to_argon2id() {
    let app = spawn_with(|c| {
        c.rate_limits.login_failures_per_ip_per_minute = 1_000;
        c.rate_limits.login_failures_per_account_per_minute = 1_000;
        c.password_import = firebase_project();
    })
    .await;
    let (rp, _) = spa(&app).await;
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let project = firebase_project();
    let records: Vec<serde_json::Value> = CASES
        .iter()
        .enumerate()
        .map(|(i, (kind, hash, salt, position))| {
            let mut password = serde_json::json!({"type": kind, "password_hash": hash});
            if let Some(s) = salt {
                password["salt"] = (*s).into();
            }
            if let Some(p) = position {
                password["salt_position"] = (*p).into();
            }
            serde_json::json!({"email": format!("imported{i}@example.com"), "password": password})
        })
        .collect();
    let token = app.token(&["user:write", "user:read"]);
    let res: serde_json::Value = app
        .client
        .post(format!("{}/_api/admin/users/import", app.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"identifier": "email", "records": records}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = res["result"]["id"].as_str().unwrap().to_owned();
    let job = loop {
        let j: serde_json::Value = app
            .client
            .get(format!("{}/_api/admin/users/import/{id}", app.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if j["result"]["status"] != "pending" && j["result"]["status"] != "running" {
            break j["result"].clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(job["summary"]["inserted"], CASES.len(), "{job:#}");
    for (i, (kind, hash, salt, position)) in CASES.iter().enumerate() {
        let email = format!("imported{i}@example.com");
        let uuid: uuid::Uuid = job["details"][i]["user_id"].as_str().unwrap().parse().unwrap();
        let imported = ImportedPassword {
            kind: (*kind).into(),
            password_hash: (*hash).into(),
            salt: salt.map(Into::into),
            expire_after: None,
            salt_position: position.map(Into::into),
            salt_encoding: None,
        };
        let stored = imported.stored_form(&project).unwrap_or_else(|e| panic!("{kind} {hash}: {e}"));
        let (before, updated_at) = password_row(&db, uuid).await;
        assert_eq!(before, stored, "{kind}: the import stores the hash's stored form");

        assert_eq!(sign_in(&app, &rp, &email, "wrong password").await, Err(401), "{kind}: a wrong password");
        assert_eq!(password_row(&db, uuid).await.0, stored, "{kind}: a failure changes nothing");

        sign_in(&app, &rp, &email, PW).await.unwrap_or_else(|s| panic!("{kind} {hash}: sign-in answered {s}"));
        let (after, updated_after) = password_row(&db, uuid).await;
        assert!(after.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{kind}: upgraded to {after}");
        assert_eq!(updated_after, updated_at, "{kind}: the password's age is unchanged");

        sign_in(&app, &rp, &email, PW).await.unwrap_or_else(|s| panic!("{kind}: second sign-in answered {s}"));
        assert_eq!(password_row(&db, uuid).await.0, after, "{kind}: an Argon2id hash stays");
        assert_eq!(sign_in(&app, &rp, &email, "wrong password").await, Err(401), "{kind}: still refused");
    }
}

/// A hash with the server's own parameters is left as it is (Argon2 hashes with other
/// parameters are upgraded like foreign ones, see the `argon2` cases above).
#[tokio::test]
async fn the_servers_own_hash_is_not_rehashed() {
    let app = spawn_with(|_| {}).await;
    let (rp, _) = spa(&app).await;
    let db = sea_orm::Database::connect(app.database_url.as_str()).await.unwrap();
    let user = app.create_user("native@example.com", Some(PW)).await;
    let uuid = raw_id(&app, &user).await;
    let (own, _) = password_row(&db, uuid).await;
    sign_in(&app, &rp, "native@example.com", PW).await.unwrap();
    assert_eq!(password_row(&db, uuid).await.0, own, "the server's own hash is kept");
}

/// `[password_import.firebase_scrypt]` loads from a file with the signer key in another
/// file, and bad values name their key.
#[test]
fn firebase_parameters_load_from_config_with_a_key_file() {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("signer.key");
    std::fs::write(&key_file, format!("{FIREBASE_SIGNER_KEY}\n")).unwrap();
    let path = dir.path().join("authgraph.toml");
    let toml = format!(
        "[password_import.firebase_scrypt]\nsigner_key_file = \"{}\"\nsalt_separator = \"Bw==\"\nrounds = 8\nmem_cost = 14\n",
        key_file.display()
    );
    std::fs::write(&path, toml).unwrap();
    let config = Config::load(Some(&path)).unwrap();
    let f = config.password_import.firebase_scrypt.as_ref().unwrap();
    assert_eq!(f.signer_key.as_ref().unwrap().expose(), FIREBASE_SIGNER_KEY);
    assert!(!format!("{config:?}").contains(FIREBASE_SIGNER_KEY), "the key is not printed");

    for (toml, key) in [
        ("[password_import.firebase_scrypt]\nrounds = 8\n", "password_import.firebase_scrypt.signer_key"),
        ("[password_import.firebase_scrypt]\nsigner_key = \"!!\"\n", "password_import.firebase_scrypt.signer_key"),
        ("[password_import.firebase_scrypt]\nsigner_key = \"a2V5\"\nmem_cost = 40\n", "mem_cost"),
        ("[password_import.firebase_scrypt]\nsigner_key = \"a2V5\"\npepper = 1\n", "pepper"),
    ] {
        std::fs::write(&path, toml).unwrap();
        let e = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(e.contains(key), "{toml}: {e}");
    }
}
