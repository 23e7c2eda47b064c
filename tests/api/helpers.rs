//! Test harness: the real app on port 0 with a fresh database (a SQLite temp file, or a
//! fresh PostgreSQL database when AUTHGRAPH_TEST_DATABASE_URL is set), talked to over HTTP.

use std::time::Duration;

use authgraph::config::{Config, Secret};
use authgraph::service::Services;
use authgraph::service::admin::signing_keys::ADMIN_SCOPES;
use sea_orm::ConnectionTrait;
use serde_json::{Value, json};
use tempfile::TempDir;

pub struct TestApp {
    pub url: String,
    pub services: Services,
    pub client: reqwest::Client,
    pub dir: TempDir,
    pub database_url: String,
    /// Where `metrics.listen` is bound, when configured.
    pub metrics_addr: Option<std::net::SocketAddr>,
    token: String,
}

/// A fresh database URL: a file in `dir`, or a new PostgreSQL database.
pub async fn fresh_database(dir: &TempDir) -> String {
    match std::env::var("AUTHGRAPH_TEST_DATABASE_URL") {
        Ok(admin_url) if !admin_url.is_empty() => {
            let name = format!("agtest_{}", uuid::Uuid::now_v7().simple());
            let admin = sea_orm::Database::connect(admin_url.as_str()).await.expect("connect to PostgreSQL");
            admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
            admin.close().await.ok();
            let (base, _) = admin_url.rsplit_once('/').expect("database URL has a path");
            format!("{base}/{name}")
        }
        _ => format!("sqlite://{}", dir.path().join("test.db").display()),
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(|_| {}).await
}

pub async fn spawn_with(customize: impl FnOnce(&mut Config)) -> TestApp {
    if std::env::var("TEST_LOG").is_ok() {
        let filter = std::env::var("TEST_LOG")
            .ok()
            .filter(|v| v.contains('=') || v.contains("trace"))
            .unwrap_or_else(|| "info".into());
        let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let database_url = fresh_database(&dir).await;
    let mut config = Config {
        listen: addr,
        public_url: Some(format!("http://{addr}")),
        database_url: Secret::new(database_url.clone()),
        master_key_file: dir.path().join("master.key"),
        ..Config::default()
    };
    customize(&mut config);
    config.validate().expect("valid test config");
    let (services, _) = authgraph::init_services(config).await.expect("init services");
    // What a serving process runs in the background to follow other processes' changes.
    services.maintenance().spawn_change_watch();
    authgraph::jobs::spawn_delivery(services.clone());
    let metrics_addr = authgraph::start_metrics(&services).await.expect("metrics");
    let router = authgraph::build_router(services.clone()).expect("router");
    tokio::spawn(authgraph::serve(listener, router, std::future::pending()));
    let scopes: Vec<String> = ADMIN_SCOPES.iter().map(|s| s.to_string()).collect();
    let token =
        services.signing_keys().mint_admin_token("test-admin", &scopes, Duration::from_secs(3600)).expect("token");
    TestApp {
        url: format!("http://{addr}"),
        services,
        client: reqwest::Client::new(),
        dir,
        database_url,
        metrics_addr,
        token,
    }
}

impl TestApp {
    pub fn endpoint(&self) -> String {
        format!("{}/_api/admin/graphql", self.url)
    }

    /// A token with exactly these scopes.
    pub fn token(&self, scopes: &[&str]) -> String {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        self.services.signing_keys().mint_admin_token("test-admin", &scopes, Duration::from_secs(600)).expect("token")
    }

    /// Posts a GraphQL request with `token`; returns the whole JSON response.
    pub async fn gql_as(&self, token: &str, query: &str, variables: Value) -> Value {
        let res = self
            .client
            .post(self.endpoint())
            .bearer_auth(token)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 200, "GraphQL over HTTP answers 200");
        res.json().await.expect("JSON body")
    }

    /// Posts a GraphQL request with every Admin API scope.
    pub async fn gql(&self, query: &str, variables: Value) -> Value {
        let token = self.token.clone();
        self.gql_as(&token, query, variables).await
    }

    /// Like `gql` but asserts there are no errors and returns `data`.
    pub async fn ok(&self, query: &str, variables: Value) -> Value {
        let res = self.gql(query, variables).await;
        assert!(res.get("errors").is_none(), "unexpected errors: {res:#}");
        res["data"].clone()
    }

    /// Asserts the request fails with `code` (and `reason`, if given); returns the error.
    pub async fn err(&self, query: &str, variables: Value, code: &str, reason: Option<&str>) -> Value {
        let res = self.gql(query, variables).await;
        let err = res["errors"][0].clone();
        assert_eq!(err["extensions"]["code"], code, "wrong error: {res:#}");
        if let Some(reason) = reason {
            assert_eq!(err["extensions"]["reason"], reason, "wrong reason: {res:#}");
        }
        err
    }

    /// Creates a user with an email login ID; returns the user's global ID.
    pub async fn create_user(&self, email: &str, password: Option<&str>) -> String {
        let data = self
            .ok(
                "mutation($e: String!, $p: String) { createUser(input: {definition: {loginID: {key: \"email\", value: $e}}, password: $p}) { user { id } } }",
                json!({"e": email, "p": password}),
            )
            .await;
        data["createUser"]["user"]["id"].as_str().expect("id").to_owned()
    }

    /// Creates a single-page application (a public client) named `name`; returns its client ID.
    pub async fn create_spa(&self, name: &str) -> String {
        let data = self
            .ok(
                "mutation($n: String!) { createApplication(input: {name: $n, type: SPA}) { application { clientID } } }",
                json!({"n": name}),
            )
            .await;
        data["createApplication"]["application"]["clientID"].as_str().expect("client ID").to_owned()
    }

    /// A new refresh grant of `user` for `client` (the Admin API's `createSession`); returns its
    /// refresh token.
    pub async fn create_grant(&self, user: &str, client: &str) -> String {
        let data = self
            .ok(
                "mutation($u: ID!, $c: String!) { createSession(input: {userID: $u, clientID: $c}) { refreshToken } }",
                json!({"u": user, "c": client}),
            )
            .await;
        data["createSession"]["refreshToken"].as_str().expect("refresh token").to_owned()
    }

    /// Creates `n` users without passwords, 50 per request.
    pub async fn seed_users(&self, prefix: &str, n: usize) -> Vec<String> {
        let mut ids = Vec::with_capacity(n);
        for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
            let body: String = chunk
                .iter()
                .map(|i| {
                    format!(
                        "u{i}: createUser(input: {{definition: {{loginID: {{key: \"email\", value: \"{prefix}{i:04}@example.com\"}}}}}}) {{ user {{ id }} }}\n"
                    )
                })
                .collect();
            let data = self.ok(&format!("mutation {{ {body} }}"), json!({})).await;
            for i in chunk {
                ids.push(data[format!("u{i}")]["user"]["id"].as_str().expect("id").to_owned());
            }
        }
        ids
    }

    /// POSTs a form to the token endpoint; returns the status and the JSON body.
    pub async fn token_request(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
        let res = self
            .client
            .post(format!("{}/oauth2/token", self.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("request");
        (res.status().as_u16(), res.json().await.expect("JSON body"))
    }

    /// Exchanges an authorization code issued for `redirect_uri`, authenticating with
    /// `client_secret` in the body when given; `extra` adds parameters (a PKCE verifier).
    pub async fn exchange_code(
        &self,
        code: &str,
        redirect_uri: &str,
        client_id: &str,
        client_secret: Option<&str>,
        extra: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", client_id),
        ];
        if let Some(secret) = client_secret {
            form.push(("client_secret", secret));
        }
        form.extend_from_slice(extra);
        self.token_request(&form).await
    }

    /// Number of audit rows.
    pub async fn audit_count(&self) -> i64 {
        self.ok("{ auditLogs { totalCount } }", json!({})).await["auditLogs"]["totalCount"].as_i64().expect("count")
    }

    /// Audit log entries of one `AuditLogActivityType` (e.g. `USER_CREATED`).
    pub async fn audit_count_of(&self, activity: &str) -> i64 {
        let q = format!("{{ auditLogs(activityTypes: [{activity}]) {{ totalCount }} }}");
        self.ok(&q, json!({})).await["auditLogs"]["totalCount"].as_i64().expect("count")
    }
}

/// Rows of `from`, read straight from the database: a table's name, optionally followed by
/// a `WHERE` clause (`"sessions WHERE revoked_at IS NULL"`).
pub async fn count_rows(db: &impl ConnectionTrait, from: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) AS n FROM {from}");
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap().unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

/// The claims of a JWT, unverified (tests verify signatures separately).
pub fn jwt_claims(jwt: &str) -> Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&authgraph::crypto::b64_decode(payload).expect("base64url")).expect("JSON claims")
}

/// The decoded header of a JWT.
pub fn jwt_header(jwt: &str) -> Value {
    let header = jwt.split('.').next().expect("a JWT");
    serde_json::from_slice(&authgraph::crypto::b64_decode(header).expect("base64url")).expect("JSON header")
}

/// Extra time a loaded CI machine (2 cores, dozens of servers in parallel) may take to
/// schedule the server's poll and the check itself, on top of the bound a test claims.
pub const LOAD_ALLOWANCE: Duration = Duration::from_secs(2);

/// Checks until `check` holds and returns how long that took. Fails when a check that
/// started after `claim` + [`LOAD_ALLOWANCE`] still does not hold: the time a slow check
/// takes to answer is not counted against the server.
pub async fn converges_within<F, Fut>(claim: Duration, mut check: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let start = std::time::Instant::now();
    loop {
        let started = start.elapsed();
        if check().await {
            return started;
        }
        assert!(
            started < claim + LOAD_ALLOWANCE,
            "not within {claim:?} (a check started {started:?} after the change still failed)"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
