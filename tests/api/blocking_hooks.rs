//! Blocking hooks through the real flows: a refusal, each mutation kind, an invalid
//! response, a timeout and a chain of two handlers, at Admin API `createUser` /
//! `updateUser`, Auth UI signup, and the token endpoint (`oidc.jwt.pre_create`,
//! `oidc.id_token.pre_create`); and custom claims from config.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use authgraph::config::{BlockingHandler, Config, CustomAttribute, CustomClaim, Secret, TokenKind};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, jwt_claims, spawn_with};
use crate::login_helpers::{CB, PW, spa, start};
use crate::rp::{Browser, hidden, param};
use crate::webhook_receiver::expected_signature;

const SECRET: &str = "blocking-hook-secret";

/// What a handler answers.
#[derive(Clone)]
pub(crate) enum Answer {
    Json(Value),
    Status(u16),
    Sleep(u64),
    Raw(&'static str),
    /// Allow, with `edit` applied to the token payload it was sent (`jwt` or `id_token`).
    EditToken(&'static str, fn(&mut serde_json::Map<String, Value>)),
}

#[derive(Default)]
pub(crate) struct Hooks {
    answers: Mutex<HashMap<String, Answer>>,
    seen: Mutex<Vec<(String, Value, bool)>>,
}

impl Hooks {
    pub(crate) async fn start() -> (Arc<Self>, String) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let me = Arc::new(Self::default());
        let app = axum::Router::new().route("/h/{name}", axum::routing::post(answer)).with_state(me.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (me, base)
    }

    pub(crate) fn set(&self, name: &str, a: Answer) {
        self.answers.lock().unwrap().insert(name.to_owned(), a);
    }

    /// The events handler `name` received, with whether the signature was valid.
    pub(crate) fn seen(&self, name: &str) -> Vec<(Value, bool)> {
        self.seen.lock().unwrap().iter().filter(|(n, _, _)| n == name).map(|(_, v, ok)| (v.clone(), *ok)).collect()
    }
}

async fn answer(State(h): State<Arc<Hooks>>, Path(name): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    let sig = headers.get("x-authgear-body-signature").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let ok = sig == expected_signature(SECRET, &body);
    h.seen.lock().unwrap().push((name.clone(), serde_json::from_slice(&body).unwrap_or(Value::Null), ok));
    let a = h.answers.lock().unwrap().get(&name).cloned().unwrap_or(Answer::Json(json!({"is_allowed": true})));
    match a {
        Answer::Json(v) => axum::Json(v).into_response(),
        Answer::Status(s) => StatusCode::from_u16(s).unwrap().into_response(),
        Answer::Sleep(s) => {
            tokio::time::sleep(Duration::from_secs(s)).await;
            axum::Json(json!({"is_allowed": true})).into_response()
        }
        Answer::Raw(s) => s.into_response(),
        Answer::EditToken(key, edit) => {
            let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let mut payload = event["payload"][key]["payload"].as_object().cloned().unwrap_or_default();
            edit(&mut payload);
            axum::Json(json!({"is_allowed": true, "mutations": {key: {"payload": payload}}})).into_response()
        }
    }
}

/// An app whose blocking handlers are `(event, handler name)` on the hook server.
pub(crate) async fn app_with(base: &str, handlers: &[(&str, &str)], extra: impl FnOnce(&mut Config)) -> TestApp {
    spawn_with(move |c| {
        configure(c, base, handlers);
        extra(c);
    })
    .await
}

/// Points the blocking handlers `(event, handler name)` at the hook server `base`.
pub(crate) fn configure(c: &mut Config, base: &str, handlers: &[(&str, &str)]) {
    c.hook.webhook_secret = Some(Secret::new(SECRET));
    c.hook.sync_hook_timeout_seconds = 1;
    c.hook.blocking_handlers =
        handlers.iter().map(|(e, n)| BlockingHandler { event: e.to_string(), url: format!("{base}/h/{n}") }).collect();
}

async fn user_count(app: &TestApp) -> i64 {
    app.ok("{ users { totalCount } }", json!({})).await["users"]["totalCount"].as_i64().unwrap()
}

const CREATE: &str = "mutation($e: String!) { createUser(input: {definition: {loginID: {key: \"email\", value: $e}}}) { user { id standardAttributes customAttributes roles { edges { node { key } } } groups { edges { node { key } } } } } }";

#[tokio::test]
async fn a_refusal_stops_admin_and_auth_ui_signups_and_changes_nothing() {
    let (hooks, base) = Hooks::start().await;
    hooks.set(
        "deny",
        Answer::Json(json!({"is_allowed": false, "title": "Sign-ups closed", "reason": "Come back tomorrow"})),
    );
    let app = app_with(&base, &[("user.pre_create", "deny")], |_| {}).await;
    let err = app.err(CREATE, json!({"e": "nope@example.com"}), "BLOCKED_BY_HOOK", Some("HookDisallowed")).await;
    assert_eq!(err["extensions"]["info"]["event_type"], "user.pre_create");
    assert_eq!(err["extensions"]["info"]["reasons"][0]["title"], "Sign-ups closed");
    assert_eq!(err["extensions"]["info"]["reasons"][0]["reason"], "Come back tomorrow");
    assert!(err["message"].as_str().unwrap().contains("Come back tomorrow"));
    assert_eq!(user_count(&app).await, 0, "nothing created");
    let logs = app.ok("{ auditLogs { totalCount } }", json!({})).await;
    assert_eq!(logs["auditLogs"]["totalCount"], 0, "no audit row for a refused change");
    // The handler got Authgear's payload, signed.
    let (event, signed) = hooks.seen("deny").pop().unwrap();
    assert!(signed, "x-authgear-body-signature is the HMAC of the body");
    assert_eq!(event["type"], "user.pre_create");
    assert_eq!(event["payload"]["user"]["standard_attributes"]["email"], "nope@example.com");
    assert_eq!(event["payload"]["identities"][0]["type"], "login_id");
    assert_eq!(event["payload"]["identities"][0]["claims"]["email"], "nope@example.com");
    assert_eq!(event["context"]["triggered_by"], "admin_api");

    // The Auth UI's signup shows the hook's words.
    let browser = Browser::new(&app);
    let (_, page) = browser.open("/signup").await.page();
    let form =
        [("csrf", hidden(&page, "csrf")), ("login_id", "web@example.com".to_owned()), ("password", PW.to_owned())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (_, page) = browser.submit("/signup", &form).await.page();
    assert!(page.contains("Sign-ups closed: Come back tomorrow"), "the form says why: {page}");
    assert_eq!(user_count(&app).await, 0);
    assert_eq!(hooks.seen("deny").last().unwrap().0["context"]["triggered_by"], "user");
}

#[tokio::test]
async fn mutations_replace_attributes_roles_and_groups_along_a_chain_of_two() {
    let (hooks, base) = Hooks::start().await;
    hooks.set(
        "first",
        Answer::Json(json!({"is_allowed": true, "mutations": {"user": {
            "standard_attributes": {"given_name": "Hooked"},
            "roles": ["vip"]}}})),
    );
    hooks.set(
        "second",
        Answer::Json(json!({"is_allowed": true, "mutations": {"user": {
            "custom_attributes": {"plan": "gold"},
            "groups": ["staff"]}}})),
    );
    let app = app_with(&base, &[("user.pre_create", "first"), ("user.pre_create", "second")], |c| {
        c.custom_attributes =
            vec![serde_json::from_value::<CustomAttribute>(json!({"pointer": "/plan", "type": "string"})).unwrap()];
    })
    .await;
    app.ok("mutation { createRole(input: {key: \"vip\"}) { role { id } } createGroup(input: {key: \"staff\"}) { group { id } } }", json!({})).await;
    let d = app.ok(CREATE, json!({"e": "mut@example.com"})).await;
    let u = &d["createUser"]["user"];
    assert_eq!(u["standardAttributes"]["given_name"], "Hooked");
    assert_eq!(u["standardAttributes"]["email"], "mut@example.com", "derived attributes are kept");
    assert_eq!(u["customAttributes"]["plan"], "gold");
    assert_eq!(u["roles"]["edges"][0]["node"]["key"], "vip");
    assert_eq!(u["groups"]["edges"][0]["node"]["key"], "staff");
    // The second handler saw the first one's mutations.
    let (second, _) = hooks.seen("second").pop().unwrap();
    assert_eq!(second["payload"]["user"]["standard_attributes"]["given_name"], "Hooked");
    assert_eq!(second["payload"]["user"]["roles"], json!(["vip"]));
    // A mutation naming a role that does not exist fails the whole change.
    hooks.set("second", Answer::Json(json!({"is_allowed": true, "mutations": {"user": {"roles": ["nope"]}}})));
    let err = app.err(CREATE, json!({"e": "bad-role@example.com"}), "BAD_USER_INPUT", None).await;
    assert!(err["message"].as_str().unwrap().contains("nope"), "{err}");
    assert_eq!(user_count(&app).await, 1);
}

#[tokio::test]
async fn an_invalid_answer_a_failing_handler_and_a_timeout_fail_closed() {
    let (hooks, base) = Hooks::start().await;
    let app = app_with(&base, &[("user.pre_create", "h")], |_| {}).await;
    for (answer, reason) in [
        (Answer::Raw("not json"), "HookInvalidResponse"),
        (Answer::Json(json!({"allowed": true})), "HookInvalidResponse"),
        (Answer::Json(json!({"is_allowed": true, "mutations": {"jwt": {"payload": {}}}})), "HookInvalidResponse"),
        (Answer::Status(500), "HookDeliveryFailed"),
    ] {
        hooks.set("h", answer);
        let err = app.err(CREATE, json!({"e": "x@example.com"}), "BLOCKED_BY_HOOK", Some(reason)).await;
        assert_eq!(err["extensions"]["info"]["event_type"], "user.pre_create");
    }
    hooks.set("h", Answer::Sleep(5));
    let started = Instant::now();
    app.err(CREATE, json!({"e": "x@example.com"}), "BLOCKED_BY_HOOK", Some("HookDeliveryTimeout")).await;
    assert!(started.elapsed() < Duration::from_secs(3), "the 1 s timeout holds: {:?}", started.elapsed());
    assert_eq!(user_count(&app).await, 0);
    // An unreachable handler fails closed too.
    let app = app_with("http://127.0.0.1:9", &[("user.pre_create", "h")], |_| {}).await;
    app.err(CREATE, json!({"e": "x@example.com"}), "BLOCKED_BY_HOOK", Some("HookDeliveryFailed")).await;
    assert_eq!(user_count(&app).await, 0);
}

#[tokio::test]
async fn profile_updates_can_be_refused_or_changed() {
    let (hooks, base) = Hooks::start().await;
    let app = app_with(&base, &[("user.profile.pre_update", "upd")], |_| {}).await;
    let id = app.create_user("prof@example.com", None).await;
    const UPDATE: &str = "mutation($id: ID!) { updateUser(input: {userID: $id, standardAttributes: {given_name: \"Ann\"}}) { user { standardAttributes } } }";
    hooks.set("upd", Answer::Json(json!({"is_allowed": true, "mutations": {"user": {"standard_attributes": {"given_name": "Ann", "family_name": "Hook"}}}})));
    let d = app.ok(UPDATE, json!({"id": id})).await;
    assert_eq!(d["updateUser"]["user"]["standardAttributes"]["family_name"], "Hook");
    let (event, _) = hooks.seen("upd").pop().unwrap();
    assert_eq!(event["payload"]["user"]["standard_attributes"]["given_name"], "Ann", "the handler sees the change");
    hooks.set("upd", Answer::Json(json!({"is_allowed": false, "reason": "frozen"})));
    app.err(UPDATE, json!({"id": id}), "BLOCKED_BY_HOOK", Some("HookDisallowed")).await;
    let after =
        app.ok("query($id: ID!) { node(id: $id) { ... on User { standardAttributes } } }", json!({"id": id})).await;
    assert_eq!(after["node"]["standardAttributes"]["family_name"], "Hook", "the refused change left nothing");
}

/// Signs in through the Auth UI and exchanges the code; returns the token response.
async fn sign_in(app: &TestApp, client_id: &str, rp: &crate::rp::Rp, email: &str) -> (u16, Value) {
    let browser = Browser::new(app);
    let f = start(rp, &["email"], &[]);
    let cb = browser.authorize_with_login(&f.url, email, PW).await;
    assert!(cb.starts_with(CB));
    app.token_request(&[
        ("grant_type", "authorization_code"),
        ("code", &param(&cb, "code").unwrap()),
        ("redirect_uri", CB),
        ("client_id", client_id),
        ("code_verifier", f.verifier.secret()),
    ])
    .await
}

#[tokio::test]
async fn token_hooks_add_claims_and_may_not_change_existing_ones() {
    let (hooks, base) = Hooks::start().await;
    let app = app_with(&base, &[("oidc.jwt.pre_create", "jwt"), ("oidc.id_token.pre_create", "idt")], |c| {
        c.custom_attributes = vec![
            serde_json::from_value::<CustomAttribute>(json!({"pointer": "/department", "type": "string"})).unwrap(),
        ];
        c.custom_claims = vec![
            CustomClaim {
                claim: "department".into(),
                from: "custom_attributes.department".into(),
                tokens: vec![TokenKind::AccessToken, TokenKind::IdToken],
            },
            CustomClaim { claim: "groups".into(), from: "groups".into(), tokens: vec![TokenKind::AccessToken] },
            CustomClaim {
                claim: "first_name".into(),
                from: "standard_attributes.given_name".into(),
                tokens: vec![TokenKind::IdToken],
            },
        ];
    })
    .await;
    let user = app.create_user("tok@example.com", Some(PW)).await;
    app.ok(
        "mutation($u: ID!) { updateUser(input: {userID: $u, standardAttributes: {email: \"tok@example.com\", given_name: \"Tia\"}, customAttributes: {department: \"sales\"}}) { user { id } } createGroup(input: {key: \"staff\"}) { group { id } } addGroupToUsers(input: {groupKey: \"staff\", userIDs: [$u]}) { group { id } } }",
        json!({"u": user}),
    )
    .await;
    let (rp, client_id) = spa(&app).await;
    hooks.set("jwt", Answer::Json(json!({"is_allowed": true})));
    // First a hook that only sees: the payload has the user, identities and the token.
    let (status, tokens) = sign_in(&app, &client_id, &rp, "tok@example.com").await;
    assert_eq!(status, 200, "{tokens}");
    let (seen, signed) = hooks.seen("jwt").pop().unwrap();
    assert!(signed);
    assert_eq!(seen["payload"]["jwt"]["payload"]["department"], "sales", "custom claims come before the hook");
    assert_eq!(seen["payload"]["identities"][0]["type"], "login_id");
    assert_eq!(seen["payload"]["user"]["groups"], json!(["staff"]));
    let access = jwt_claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(access["department"], "sales");
    assert_eq!(access["groups"], json!(["staff"]));
    let id_token = jwt_claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id_token["department"], "sales");
    assert_eq!(id_token["first_name"], "Tia");
    assert!(id_token.get("groups").is_none(), "groups go to the access token only");

    // Additions go in.
    hooks.set("jwt", Answer::EditToken("jwt", |p| drop(p.insert("tier".into(), json!("gold")))));
    hooks.set("idt", Answer::EditToken("id_token", |p| drop(p.insert("locale_hint".into(), json!("fr")))));
    let (status, tokens) = sign_in(&app, &client_id, &rp, "tok@example.com").await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(jwt_claims(tokens["access_token"].as_str().unwrap())["tier"], "gold");
    assert_eq!(jwt_claims(tokens["id_token"].as_str().unwrap())["locale_hint"], "fr");
    let (idt, _) = hooks.seen("idt").pop().unwrap();
    assert_eq!(idt["type"], "oidc.id_token.pre_create");
    assert!(idt["payload"]["id_token"]["payload"]["sub"].is_string());
    // A mutation that changes `sub` fails the token request; so does a refusal.
    hooks.set(
        "jwt",
        Answer::EditToken("jwt", |p| {
            p.insert("sub".into(), json!("someone-else"));
            p.remove("sid");
        }),
    );
    let (status, body) = sign_in(&app, &client_id, &rp, "tok@example.com").await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"], "server_error");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains("removed [sid]") && description.contains("changed [sub]"), "{description}");
    hooks.set("jwt", Answer::Json(json!({"is_allowed": false, "title": "Blocked", "reason": "no tokens today"})));
    let (status, body) = sign_in(&app, &client_id, &rp, "tok@example.com").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "access_denied");
    assert!(body["error_description"].as_str().unwrap().contains("no tokens today"));
}

#[test]
fn config_refuses_unknown_events_bad_urls_reserved_claims_and_a_missing_secret() {
    let check = |f: &dyn Fn(&mut Config)| {
        let mut c = Config::default();
        f(&mut c);
        c.validate().err().map(|e| e.to_string())
    };
    let h = |event: &str, url: &str| BlockingHandler { event: event.into(), url: url.into() };
    let with_secret = |c: &mut Config| c.hook.webhook_secret = Some(Secret::new("s"));
    assert!(
        check(&|c| {
            with_secret(c);
            c.hook.blocking_handlers = vec![h("user.created", "http://x/")]
        })
        .unwrap()
        .contains("blocking event")
    );
    assert!(
        check(&|c| {
            with_secret(c);
            c.hook.blocking_handlers = vec![h("user.pre_create", "ftp://x/")]
        })
        .unwrap()
        .contains("url")
    );
    assert!(
        check(&|c| c.hook.blocking_handlers = vec![h("user.pre_create", "http://x/")])
            .unwrap()
            .contains("webhook_secret")
    );
    assert!(
        check(&|c| c.hook.blocking_handlers = vec![h("user.pre_create", "authgeardeno:///deno/a.ts")]).is_none(),
        "scripts need no secret"
    );
    let claim = |name: &str, from: &str| CustomClaim {
        claim: name.into(),
        from: from.into(),
        tokens: vec![TokenKind::AccessToken],
    };
    assert!(check(&|c| c.custom_claims = vec![claim("sub", "roles")]).unwrap().contains("sets itself"));
    assert!(
        check(&|c| c.custom_claims = vec![claim("x", "custom_attributes.nope")]).unwrap().contains("custom attribute")
    );
    assert!(check(&|c| c.custom_claims = vec![claim("x", "password")]).unwrap().contains("from"));
    assert!(check(&|c| c.custom_claims = vec![claim("x", "roles")]).is_none());
}

#[tokio::test]
async fn sign_in_hooks_refuse_see_the_user_and_can_require_a_second_factor() {
    let (hooks, base) = Hooks::start().await;
    let app = app_with(
        &base,
        &[
            ("authentication.pre_initialize", "init"),
            ("authentication.post_identified", "ident"),
            ("authentication.pre_authenticated", "pre"),
        ],
        |c| c.mfa.mode = authgraph::config::MfaMode::Disabled,
    )
    .await;
    app.create_user("flow@example.com", Some(PW)).await;
    let login = |browser: Browser| async move {
        let (_, page) = browser.open("/login").await.page();
        browser.login(&page, "flow@example.com", PW).await.page()
    };
    // A refusal at the start shows the hook's words and signs nobody in.
    hooks.set("init", Answer::Json(json!({"is_allowed": false, "title": "Maintenance", "reason": "Back at noon"})));
    let (_, page) = login(Browser::new(&app)).await;
    assert!(page.contains("Maintenance") && page.contains("Back at noon"), "{page}");
    assert!(hooks.seen("ident").is_empty(), "the chain stops at the refusal");
    // Allowed: each step sees what it should.
    hooks.set("init", Answer::Json(json!({"is_allowed": true})));
    let browser = Browser::new(&app);
    let (_, page) = login(browser).await;
    assert!(!page.contains("action=\"/login\""), "signed in: {page}");
    let (init, _) = hooks.seen("init").pop().unwrap();
    assert!(init["payload"]["authentication_context"]["user"].is_null());
    let (ident, _) = hooks.seen("ident").pop().unwrap();
    assert_eq!(ident["payload"]["identification"]["identification"], "email");
    assert_eq!(ident["payload"]["authentication_context"]["user"]["standard_attributes"]["email"], "flow@example.com");
    let (pre, _) = hooks.seen("pre").pop().unwrap();
    assert_eq!(pre["payload"]["authentication_context"]["amr"], json!(["pwd"]));
    // `constraints.amr` asks for a second factor although `mfa.mode` is disabled: the
    // user has none, so the sign-in goes through enrolment.
    hooks.set("pre", Answer::Json(json!({"is_allowed": true, "constraints": {"amr": ["mfa"]}})));
    let (_, page) = login(Browser::new(&app)).await;
    assert!(page.contains("action=\"/login/mfa/enrol\""), "the enrolment a hook required: {page}");
    // A bad constraint is an invalid response, failing closed.
    hooks.set("pre", Answer::Json(json!({"is_allowed": true, "constraints": {"amr": ["retina"]}})));
    let (status, page) = login(Browser::new(&app)).await;
    assert_eq!(status, 503, "{page}");
}

#[tokio::test]
async fn script_hooks_add_a_claim_the_relying_party_sees_refuse_signups_and_fail_closed_on_a_loop() {
    use openidconnect::{AuthorizationCode, OAuth2TokenResponse, TokenResponse};
    let scripts = tempfile::tempdir().unwrap();
    std::fs::write(
        scripts.path().join("claims.ts"),
        r#"
interface Event { payload: { user: { standard_attributes: Record<string, unknown> }; jwt: { payload: Record<string, unknown> } } }
export default async function (e: Event): Promise<object> {
  const payload = { ...e.payload.jwt.payload, plan: "gold", email_seen: e.payload.user.standard_attributes.email };
  return { is_allowed: true, mutations: { jwt: { payload } } };
}
"#,
    )
    .unwrap();
    std::fs::write(
        scripts.path().join("idtoken.ts"),
        "export default (e: any) => ({ is_allowed: true, mutations: { id_token: { payload: { ...e.payload.id_token.payload, plan: 'gold' } } } });",
    )
    .unwrap();
    std::fs::write(
        scripts.path().join("signup.ts"),
        "export default (e: any) => e.payload.user.standard_attributes.email.endsWith('@blocked.example') ? { is_allowed: false, title: 'Not here', reason: 'blocked domain' } : { is_allowed: true };",
    )
    .unwrap();
    std::fs::write(scripts.path().join("loop.ts"), "export default () => { for (;;) {} };").unwrap();
    let dir = scripts.path().to_owned();
    let app = spawn_with(move |c| {
        c.hook.scripts_dir = Some(dir);
        c.hook.sync_hook_timeout_seconds = 1;
        c.hook.blocking_handlers = vec![
            BlockingHandler { event: "oidc.jwt.pre_create".into(), url: "authgeardeno:///deno/claims.ts".into() },
            BlockingHandler { event: "oidc.id_token.pre_create".into(), url: "authgeardeno:///deno/idtoken.ts".into() },
            BlockingHandler { event: "user.pre_create".into(), url: "authgeardeno:///deno/signup.ts".into() },
        ];
    })
    .await;
    app.create_user("script@example.com", Some(PW)).await;
    app.err(CREATE, json!({"e": "x@blocked.example"}), "BLOCKED_BY_HOOK", Some("HookDisallowed")).await;

    // The `openidconnect` relying party verifies the ID token and reads the added claim.
    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &["email"], &[]);
    let cb = browser.authorize_with_login(&f.url, "script@example.com", PW).await;
    let http = crate::rp::http_client(reqwest::Client::new());
    let token = rp
        .exchange_code(AuthorizationCode::new(param(&cb, "code").unwrap()))
        .set_pkce_verifier(f.verifier)
        .request_async(&http)
        .await
        .expect("code exchange");
    let id_token = token.id_token().expect("an ID token");
    id_token.claims(&rp.id_token_verifier(), &f.nonce).expect("the ID token verifies");
    assert_eq!(jwt_claims(&id_token.to_string())["plan"], "gold");
    let access = jwt_claims(token.access_token().secret());
    assert_eq!(access["plan"], "gold");
    assert_eq!(access["email_seen"], "script@example.com");

    // A script that loops forever is stopped at the timeout and fails the sign-up closed.
    let dir = scripts.path().to_owned();
    let looping = spawn_with(move |c| {
        c.hook.scripts_dir = Some(dir);
        c.hook.sync_hook_timeout_seconds = 1;
        c.hook.blocking_handlers =
            vec![BlockingHandler { event: "user.pre_create".into(), url: "authgeardeno:///deno/loop.ts".into() }];
    })
    .await;
    let started = Instant::now();
    looping.err(CREATE, json!({"e": "l@example.com"}), "BLOCKED_BY_HOOK", Some("HookDeliveryTimeout")).await;
    assert!(started.elapsed() < Duration::from_secs(4), "{:?}", started.elapsed());
    assert_eq!(user_count(&looping).await, 0);
    assert_eq!(user_count(&looping).await, 0, "the server still answers");
}
