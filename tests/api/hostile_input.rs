//! Hostile bytes through every endpoint and every parameter of it, and through Admin API
//! arguments: NUL (U+0000, which PostgreSQL cannot store) is refused at the edge with a
//! clear 4xx on both databases; nothing else (lone surrogates, `%FF`, CR/LF, quotes, very
//! long values) may give a 5xx either.

use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};
use crate::rp::{Browser, hidden, param, register};

pub const CB: &str = "http://127.0.0.1:9/cb";
pub const API: &str = "https://api.example.com/hostile";
pub const EMAIL: &str = "hostile@example.com";
pub const PW: &str = "correct horse battery";

/// A running app with a client of every kind, a user, a browser signed in as that user
/// and an anonymous one, each with its CSRF token, and a pending authorization request.
pub struct World {
    pub app: TestApp,
    pub anon: Browser,
    pub anon_csrf: String,
    pub signed_in: Browser,
    pub signed_in_csrf: String,
    pub flow: String,
    pub spa: String,
    pub web: (String, String),
    pub m2m: (String, String),
    pub access_token: String,
    pub user_id: String,
}

pub async fn world() -> World {
    let app = spawn_app().await;
    let user_id = app.create_user(EMAIL, Some(PW)).await;
    let (spa, _) = register(&app, "SPA", CB).await;
    let (web_id, web_secret) = register(&app, "TRADITIONAL_WEBAPP", CB).await;
    let d = app
        .ok(
            "mutation($u: String!) { createApplication(input: {name: \"Worker\", type: M2M}) { application { clientID } clientSecret } createResource(input: {resourceURI: $u}) { resource { id } } createScope(input: {resourceURI: $u, scope: \"read\"}) { scope { id } } }",
            json!({"u": API}),
        )
        .await;
    let m2m_id = d["createApplication"]["application"]["clientID"].as_str().unwrap().to_owned();
    let m2m_secret = d["createApplication"]["clientSecret"].as_str().unwrap().to_owned();
    app.ok(
        "mutation($u: String!, $c: String!) { addResourceToClientID(input: {resourceURI: $u, clientID: $c}) { resource { id } } addScopesToClientID(input: {resourceURI: $u, clientID: $c, scopes: [\"read\"]}) { scopes { scope } } }",
        json!({"u": API, "c": m2m_id}),
    )
    .await;
    let (status, t) = app
        .token_request(&[
            ("grant_type", "client_credentials"),
            ("resource", API),
            ("client_id", &m2m_id),
            ("client_secret", &m2m_secret),
        ])
        .await;
    assert_eq!(status, 200, "{t}");
    let access_token = t["access_token"].as_str().unwrap().to_owned();

    let anon = Browser::new(&app);
    let authorize = format!(
        "/oauth2/authorize?client_id={spa}&redirect_uri={}&response_type=code&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256",
        url::form_urlencoded::byte_serialize(CB.as_bytes()).collect::<String>()
    );
    let res = anon.client.get(format!("{}{authorize}", app.url)).send().await.unwrap();
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let flow = param(&format!("{}{location}", app.url), "flow").expect("a pending request");
    let (_, page) = anon.open("/login").await.page();
    let anon_csrf = hidden(&page, "csrf");

    let signed_in = Browser::new(&app);
    let (_, page) = signed_in.open("/login").await.page();
    let (status, settings) = signed_in.login(&page, EMAIL, PW).await.page();
    assert_eq!(status, 200, "{settings}");
    let signed_in_csrf = hidden(&settings, "csrf");
    World {
        app,
        anon,
        anon_csrf,
        signed_in,
        signed_in_csrf,
        flow,
        spa,
        web: (web_id, web_secret.expect("a secret")),
        m2m: (m2m_id, m2m_secret),
        access_token,
        user_id,
    }
}

/// How an endpoint answers a refused request.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Answer {
    /// OAuth JSON: `{"error": "invalid_request", ...}`.
    Json,
    /// An HTML page.
    Page,
}

/// Which browser sends the request (for cookies).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Who {
    Anon,
    SignedIn,
}

/// One endpoint with a valid-looking set of parameters (values percent-encoded).
pub struct Endpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub answer: Answer,
    pub who: Who,
    pub params: Vec<(&'static str, String)>,
}

pub fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Every route that reads parameters, each with the parameters it reads.
pub fn endpoints(w: &World) -> Vec<Endpoint> {
    let authorize = |flow_extra: bool| {
        let mut p = vec![
            ("client_id", enc(&w.spa)),
            ("redirect_uri", enc(CB)),
            ("response_type", "code".to_owned()),
            ("response_mode", "query".to_owned()),
            ("scope", enc("openid email")),
            ("state", "st".to_owned()),
            ("nonce", "n".to_owned()),
            ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".to_owned()),
            ("code_challenge_method", "S256".to_owned()),
            ("prompt", "login".to_owned()),
            ("max_age", "60".to_owned()),
            ("login_hint", enc(EMAIL)),
            ("ui_locales", "en".to_owned()),
            ("x_page", "login".to_owned()),
        ];
        if flow_extra {
            p.extend([("id_token_hint", "x".to_owned()), ("request", "x".to_owned()), ("request_uri", "x".to_owned())]);
        }
        p
    };
    let (web_id, web_secret) = (&w.web.0, &w.web.1);
    let (m2m_id, m2m_secret) = (&w.m2m.0, &w.m2m.1);
    let anon_csrf = enc(&w.anon_csrf);
    let signed_csrf = enc(&w.signed_in_csrf);
    let flow = enc(&w.flow);
    let e = |method, path, answer, who, params| Endpoint { method, path, answer, who, params };
    use Answer::{Json, Page};
    use Who::{Anon, SignedIn};
    vec![
        e("GET", "/oauth2/authorize", Page, Anon, authorize(false)),
        e("POST", "/oauth2/authorize", Page, Anon, authorize(true)),
        e("GET", "/oauth2/authorize/resume", Page, Anon, vec![("flow", flow.clone())]),
        e(
            "POST",
            "/oauth2/token",
            Json,
            Anon,
            vec![
                ("grant_type", "client_credentials".to_owned()),
                ("resource", enc(API)),
                ("scope", "read".to_owned()),
                ("client_id", enc(m2m_id)),
                ("client_secret", enc(m2m_secret)),
            ],
        ),
        e(
            "POST",
            "/oauth2/token",
            Json,
            Anon,
            vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", "not-a-code".to_owned()),
                ("redirect_uri", enc(CB)),
                ("code_verifier", "v".repeat(43)),
                ("client_id", enc(web_id)),
                ("client_secret", enc(web_secret)),
            ],
        ),
        e(
            "POST",
            "/oauth2/token",
            Json,
            Anon,
            vec![
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", "not-a-token".to_owned()),
                ("scope", "openid".to_owned()),
                ("client_id", enc(&w.spa)),
            ],
        ),
        e(
            "POST",
            "/oauth2/introspect",
            Json,
            Anon,
            vec![
                ("token", enc(&w.access_token)),
                ("token_type_hint", "access_token".to_owned()),
                ("client_id", enc(web_id)),
                ("client_secret", enc(web_secret)),
            ],
        ),
        e(
            "POST",
            "/oauth2/revoke",
            Json,
            Anon,
            vec![
                ("token", "not-a-token".to_owned()),
                ("token_type_hint", "refresh_token".to_owned()),
                ("client_id", enc(&w.spa)),
            ],
        ),
        e("POST", "/oauth2/userinfo", Json, Anon, vec![("access_token", enc(&w.access_token))]),
        e(
            "GET",
            "/oauth2/end_session",
            Page,
            Anon,
            vec![
                ("client_id", enc(&w.spa)),
                ("post_logout_redirect_uri", enc("http://127.0.0.1:9/bye")),
                ("state", "st".to_owned()),
                ("id_token_hint", "x.y.z".to_owned()),
            ],
        ),
        e(
            "POST",
            "/oauth2/end_session",
            Page,
            Anon,
            vec![
                ("client_id", enc(&w.spa)),
                ("post_logout_redirect_uri", enc("http://127.0.0.1:9/bye")),
                ("state", "st".to_owned()),
            ],
        ),
        e("GET", "/login", Page, Anon, vec![("flow", flow.clone())]),
        e(
            "POST",
            "/login",
            Page,
            Anon,
            vec![
                ("csrf", anon_csrf.clone()),
                ("flow", flow.clone()),
                ("login_id", enc(EMAIL)),
                ("password", "wrong".to_owned()),
            ],
        ),
        e("GET", "/signup", Page, Anon, vec![("flow", flow.clone())]),
        e(
            "POST",
            "/signup",
            Page,
            Anon,
            vec![
                ("csrf", anon_csrf.clone()),
                ("flow", flow.clone()),
                ("login_id", enc("new@example.com")),
                ("password", "x".to_owned()),
            ],
        ),
        e("GET", "/select_account", Page, SignedIn, vec![("flow", flow.clone())]),
        e(
            "POST",
            "/select_account",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("flow", flow.clone()), ("action", "switch".to_owned())],
        ),
        e("GET", "/consent", Page, SignedIn, vec![("flow", flow.clone())]),
        e(
            "POST",
            "/consent",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("flow", flow.clone()), ("action", "deny".to_owned())],
        ),
        e("POST", "/forgot_password", Page, Anon, vec![("csrf", anon_csrf.clone()), ("email", enc(EMAIL))]),
        e("GET", "/reset_password", Page, Anon, vec![("code", "not-a-code".to_owned())]),
        e(
            "POST",
            "/reset_password",
            Page,
            Anon,
            vec![("csrf", anon_csrf.clone()), ("code", "not-a-code".to_owned()), ("password", "x".to_owned())],
        ),
        e("GET", "/settings", Page, SignedIn, vec![("done", "profile".to_owned())]),
        e(
            "POST",
            "/settings/profile",
            Page,
            SignedIn,
            vec![
                ("csrf", signed_csrf.clone()),
                ("given_name", "Ann".to_owned()),
                ("family_name", "Lee".to_owned()),
                ("nickname", "al".to_owned()),
                ("name", "Ann".to_owned()),
            ],
        ),
        e(
            "POST",
            "/settings/password",
            Page,
            SignedIn,
            vec![
                ("csrf", signed_csrf.clone()),
                ("current_password", "wrong".to_owned()),
                ("new_password", "x".to_owned()),
            ],
        ),
        e(
            "POST",
            "/settings/sessions/revoke",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("session_id", uuid::Uuid::now_v7().to_string())],
        ),
        e(
            "POST",
            "/settings/delete",
            Page,
            SignedIn,
            vec![("csrf", signed_csrf.clone()), ("confirm", "yes".to_owned()), ("password", "wrong".to_owned())],
        ),
        // Last: it ends the anonymous browser's session, if a login above made one.
        e("POST", "/logout", Page, Anon, vec![("csrf", anon_csrf), ("request", "x".to_owned())]),
    ]
}

/// Values with NUL, as they appear percent-encoded.
const NUL: &[&str] = &["%00", "ok%00", "%00%00%00"];

/// Other hostile values, percent-encoded (or raw where a browser might send them raw).
fn others(long: usize) -> Vec<String> {
    let mut v: Vec<String> = [
        "%FF",
        "%C0%80",
        "%ED%A0%80",
        "%ED%BF%BF%ED%A0%80",
        "%0D%0ASet-Cookie:%20x=1",
        "%27%22%5C",
        "'\"\\",
        "%",
        "%zz",
        "%E2%80%AE",
        "%F0%9F%98%80",
        "%01%1F%7F",
        "",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push("a".repeat(long));
    v
}

/// Sends `params` (already encoded) to the endpoint as its browser would.
pub async fn send(
    w: &World,
    ep: &Endpoint,
    params: &[(String, String)],
    headers: &[(&str, &str)],
) -> Result<(u16, String), String> {
    let encoded = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let client = match ep.who {
        Who::Anon => &w.anon.client,
        Who::SignedIn => &w.signed_in.client,
    };
    let mut req = if ep.method == "GET" {
        client.get(format!("{}{}?{encoded}", w.app.url, ep.path))
    } else {
        client
            .post(format!("{}{}", w.app.url, ep.path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encoded)
    };
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.map_err(|e| format!("no answer: {e}"))?;
    let status = res.status().as_u16();
    Ok((status, res.text().await.map_err(|e| format!("body cut: {e}"))?))
}

/// A labelled set of encoded parameters, and whether it holds NUL.
type Case = (String, Vec<(String, String)>, bool);

/// Whether a refusal names the forbidden character (a page says what to fix; OAuth gives
/// `invalid_request` with a description).
fn refusal_ok(answer: Answer, status: u16, body: &str) -> bool {
    if status != 400 {
        return false;
    }
    match answer {
        Answer::Page => body.contains("character that is not allowed") && body.contains("U+0000"),
        Answer::Json => serde_json::from_str::<Value>(body).is_ok_and(|v| {
            v["error"] == "invalid_request"
                && v["error_description"].as_str().is_some_and(|d| d.contains("forbidden character"))
        }),
    }
}

#[tokio::test]
async fn nul_and_hostile_bytes_in_every_parameter_of_every_endpoint() {
    let w = world().await;
    let mut failures = Vec::new();
    for ep in endpoints(&w) {
        let long = if ep.method == "GET" { 6_000 } else { 200_000 };
        let base: Vec<(String, String)> = ep.params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        // A parameter name with NUL, next to valid parameters.
        let mut cases: Vec<Case> = Vec::new();
        let mut named = base.clone();
        named.push(("x%00".to_owned(), "1".to_owned()));
        cases.push(("a name with NUL".to_owned(), named, true));
        for i in 0..base.len() {
            for (value, nul) in
                NUL.iter().map(|v| ((*v).to_owned(), true)).chain(others(long).into_iter().map(|v| (v, false)))
            {
                let mut p = base.clone();
                let shown: String = value.chars().take(24).collect();
                p[i].1 = value;
                cases.push((format!("{}={shown}", p[i].0), p, nul));
            }
        }
        for (label, params, nul) in cases {
            let what = format!("{} {} with {label}", ep.method, ep.path);
            match send(&w, &ep, &params, &[]).await {
                Err(e) => failures.push(format!("{what}: {e}")),
                Ok((status, body)) if nul && !refusal_ok(ep.answer, status, &body) => {
                    failures.push(format!(
                        "{what}: expected a 400 naming the forbidden character, got {status}: {}",
                        &body[..body.len().min(300)]
                    ));
                }
                Ok((status, body)) if status >= 500 => {
                    failures.push(format!("{what}: {status}: {}", &body[..body.len().min(300)]));
                }
                Ok(_) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    let health = w.app.client.get(format!("{}/healthz", w.app.url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn nul_in_basic_credentials_and_cookies() {
    use base64::Engine;
    let w = world().await;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let (m2m_id, m2m_secret) = (&w.m2m.0, &w.m2m.1);
    let basics = [
        (b64(format!("{m2m_id}%00:{m2m_secret}").as_bytes()), true),
        (b64(format!("{m2m_id}:{m2m_secret}%00").as_bytes()), true),
        (b64(format!("a\0b:{m2m_secret}").as_bytes()), true),
        (b64(b"\xff\xfe:x"), false),
        (b64(format!("{m2m_id}:%FF").as_bytes()), false),
        (b64(b"no-colon"), false),
        ("!!!".to_owned(), false),
    ];
    for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
        let ep = Endpoint { method: "POST", path, answer: Answer::Json, who: Who::Anon, params: vec![] };
        let params = vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("resource".to_owned(), enc(API)),
            ("token".to_owned(), enc(&w.access_token)),
        ];
        for (basic, nul) in &basics {
            let auth = format!("Basic {basic}");
            let (status, body) = send(&w, &ep, &params, &[("authorization", &auth)]).await.unwrap();
            if *nul {
                assert!(refusal_ok(Answer::Json, status, &body), "{path} with Basic {basic}: {status} {body}");
            } else {
                assert!((400..500).contains(&status), "{path} with Basic {basic}: {status} {body}");
            }
        }
    }
    // Cookies are percent-decoded: a NUL in the session or CSRF cookie reaches no query
    // (the session token is hashed first) and fails like any unknown cookie.
    for cookie in ["ag_session=%00", "ag_session=a%00b; ag_csrf=%00%00", "ag_csrf=%FF%00"] {
        for path in ["/settings", "/login", "/select_account?flow=x", "/oauth2/end_session"] {
            let res = w.app.client.get(format!("{}{path}", w.app.url)).header("cookie", cookie).send().await.unwrap();
            assert!(res.status().as_u16() < 500, "{path} with cookie {cookie}: {}", res.status());
        }
        let res = w
            .app
            .client
            .post(format!("{}/login", w.app.url))
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf=%00&login_id={}&password=x", enc(EMAIL)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "POST /login with cookie {cookie}");
    }
}

/// Admin API operations with one string argument `$v` of the given type, as templates
/// where `{V}` stands for the value (a variable or a literal).
fn admin_ops(user_id: &str) -> Vec<(&'static str, &'static str, String)> {
    vec![
        ("query", "String!", "getUserByLoginID(loginIDKey: \"email\", loginIDValue: {V}) { id }".to_owned()),
        ("query", "String!", "getUserByLoginID(loginIDKey: {V}, loginIDValue: \"a@example.com\") { id }".to_owned()),
        ("query", "String", "users(searchKeyword: {V}) { totalCount }".to_owned()),
        ("query", "String", "roles(searchKeyword: {V}) { totalCount }".to_owned()),
        ("query", "String", "resources(searchKeyword: {V}) { totalCount }".to_owned()),
        ("query", "ID!", "node(id: {V}) { id }".to_owned()),
        ("query", "ID!", "nodes(ids: [{V}]) { id }".to_owned()),
        (
            "mutation",
            "String!",
            "createUser(input: {definition: {loginID: {key: \"email\", value: {V}}}}) { user { id } }".to_owned(),
        ),
        (
            "mutation",
            "String!",
            format!(
                "updateUser(input: {{userID: \"{user_id}\", standardAttributes: {{given_name: {{V}}}}}}) {{ user {{ id }} }}"
            ),
        ),
        ("mutation", "String!", "createRole(input: {key: {V}}) { role { id } }".to_owned()),
        ("mutation", "String!", "createRole(input: {key: \"fine\", name: {V}}) { role { id } }".to_owned()),
        ("mutation", "String!", "createApplication(input: {name: {V}, type: SPA}) { application { id } }".to_owned()),
        ("mutation", "String!", "createResource(input: {resourceURI: {V}}) { resource { id } }".to_owned()),
    ]
}

async fn admin_post(app: &TestApp, body: String) -> (u16, Value) {
    let token = app.token(authgraph::service::keys::ADMIN_SCOPES);
    let res = app
        .client
        .post(app.endpoint())
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn nul_in_admin_api_arguments_and_variables_is_refused_before_anything_runs() {
    let app = spawn_app().await;
    let user_id = app.create_user("admin-hostile@example.com", None).await;
    let audit_before = app.audit_count().await;
    for (kind, ty, template) in admin_ops(&user_id) {
        let with_var = format!("{kind}($v: {ty}) {{ {} }}", template.replace("{V}", "$v"));
        for v in [json!("a\u{0}b"), json!("\u{0}")] {
            let res = app.gql(&with_var, json!({"v": v})).await;
            assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{with_var}: {res:#}");
            assert_eq!(res["errors"][0]["extensions"]["reason"], "InvalidCharacter", "{with_var}: {res:#}");
            assert!(res["data"].is_null(), "nothing ran: {res:#}");
        }
        for literal in [r#""\u0000""#, r#""ok\u0000""#] {
            let doc = format!("{kind} {{ {} }}", template.replace("{V}", literal));
            let res = app.gql(&doc, json!({})).await;
            assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{doc}: {res:#}");
            assert_eq!(res["errors"][0]["extensions"]["reason"], "InvalidCharacter", "{doc}: {res:#}");
            assert!(res["data"].is_null(), "nothing ran: {res:#}");
        }
    }
    // NUL in a JSON object key of a variable, in a directive argument, in a fragment and
    // in a variable's default value.
    for (doc, vars) in [
        (
            format!("mutation($a: UserStandardAttributes) {{ updateUser(input: {{userID: \"{user_id}\", standardAttributes: $a}}) {{ user {{ id }} }} }}"),
            json!({"a": {"given_name\u{0}": "x"}}),
        ),
        ("query { users @skip(if: false) { totalCount } roles(searchKeyword: \"x\") @include(if: true) { totalCount } __typename @skip(if: \"\\u0000\") }".to_owned(), json!({})),
        ("query { ...F } fragment F on Query { users(searchKeyword: \"\\u0000\") { totalCount } }".to_owned(), json!({})),
        ("query($v: String = \"\\u0000\") { users(searchKeyword: $v) { totalCount } }".to_owned(), json!({})),
        ("mutation { createRole(input: {key: \"ok\"}) { role { id } } b: createRole(input: {key: \"\\u0000\"}) { role { id } } }".to_owned(), json!({})),
    ] {
        let res = app.gql(&doc, vars).await;
        assert_eq!(res["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{doc}: {res:#}");
        assert_eq!(res["errors"][0]["extensions"]["reason"], "InvalidCharacter", "{doc}: {res:#}");
        assert!(res["data"].is_null(), "nothing ran: {res:#}");
    }
    assert_eq!(app.audit_count().await, audit_before, "no refused request changed anything");
    let d = app
        .ok(
            "{ roles { totalCount } applications { totalCount } resources { totalCount } users { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(d["roles"]["totalCount"], 0, "{d}");
    assert_eq!(d["users"]["totalCount"], 1, "{d}");

    // Everything else hostile is a clean answer, never an internal error.
    let others = [
        json!("%00"),
        json!("\u{1}\u{1f}\u{7f}"),
        json!("\r\nX: y"),
        json!("'\"\\"),
        json!("\u{fffd}\u{202e}😀"),
        json!("a".repeat(100_000)),
        json!(""),
    ];
    for (kind, ty, template) in admin_ops(&user_id) {
        let with_var = format!("{kind}($v: {ty}) {{ {} }}", template.replace("{V}", "$v"));
        for v in &others {
            let body = json!({"query": with_var, "variables": {"v": v}}).to_string();
            let (status, res) = admin_post(&app, body).await;
            assert!(status == 200 || status == 400, "{with_var} {status}");
            for e in res["errors"].as_array().into_iter().flatten() {
                assert_ne!(e["extensions"]["code"], "INTERNAL", "{with_var}: {res:#}");
            }
        }
        // A lone surrogate escaped in the JSON body, and in a GraphQL string literal.
        let body = format!(r#"{{"query": {}, "variables": {{"v": "\ud800"}}}}"#, json!(with_var));
        let (status, res) = admin_post(&app, body).await;
        assert!(status == 200 || status == 400, "{with_var} with a lone surrogate: {status} {res}");
        let doc = format!("{kind} {{ {} }}", template.replace("{V}", r#""\uD800x""#));
        let (status, res) = admin_post(&app, json!({"query": doc}).to_string()).await;
        assert!(status == 200 || status == 400, "{doc}: {status} {res}");
        assert_ne!(res["errors"][0]["extensions"]["code"], "INTERNAL", "{doc}: {res:#}");
    }
    let health = app.client.get(format!("{}/healthz", app.url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
}
