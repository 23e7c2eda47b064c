//! Social and enterprise login. A second authgraph process is the upstream OpenID Connect
//! provider (an application registered in it with the first app's callback, the user
//! signing in at its real login page); a small axum server (`social_fake.rs`) fakes
//! GitHub's and Facebook's APIs and an OpenID Connect provider that misbehaves on demand.

use authgraph::config::AccountLinking;
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app, spawn_with};
use crate::login_helpers::PW;
use crate::rp::{Browser, Landing, hidden, param, register};
use crate::social_fake::{ALICE, Mode, Shared, apple_key, fake, fake_providers, provider, rotate};

pub(crate) struct World {
    pub(crate) up: TestApp,
    pub(crate) down: TestApp,
    pub(crate) fake: Shared,
}

/// The upstream authgraph with an application for the downstream one, whose providers
/// are the upstream (`up`), the fake GitHub (`gh`) and the fake OIDC provider (`fake`).
async fn world(linking: AccountLinking) -> World {
    world_with(linking, |_| {}).await
}

/// [`world`] with more settings for the downstream authgraph.
pub(crate) async fn world_with(
    linking: AccountLinking,
    more: impl FnOnce(&mut authgraph::config::Config) + Send + 'static,
) -> World {
    let up = spawn_app().await;
    let (client_id, secret) = register(&up, "TRADITIONAL_WEBAPP", "http://127.0.0.1:9/cb").await;
    let (base, fake) = fake().await;
    let up_url = up.url.clone();
    let cid = client_id.clone();
    let down = spawn_with(move |c| {
        let mut all = vec![provider(json!({
            "alias": "up", "type": "oidc", "client_id": cid, "client_secret": secret.unwrap(), "issuer": up_url,
        }))];
        all.extend(fake_providers(&base));
        c.social_login.providers = all;
        c.social_login.account_linking = linking;
        more(c);
    })
    .await;
    up.ok(
        "mutation($c: String!, $r: [String!]!) { updateApplication(input: {clientID: $c, redirectURIs: $r}) { application { clientID } } }",
        json!({"c": client_id, "r": [format!("{}/sso/oauth2/callback/up", down.url)]}),
    )
    .await;
    World { up, down, fake }
}

/// Creates a user at `app` with a verified email (or not).
pub(crate) async fn user_with_email(app: &TestApp, email: &str, verified: bool) -> String {
    let id = app.create_user(email, Some(PW)).await;
    app.ok(
        "mutation($u: ID!, $v: String!, $b: Boolean!) { setVerifiedStatus(input: {userID: $u, claimName: \"email\", claimValue: $v, isVerified: $b}) { user { id } } }",
        json!({"u": id, "v": email, "b": verified}),
    )
    .await;
    id
}

async fn user_count(app: &TestApp) -> i64 {
    app.ok("{ users { totalCount } }", json!({})).await["users"]["totalCount"].as_i64().unwrap()
}

async fn by_oauth(app: &TestApp, alias: &str, subject: &str) -> Value {
    app.ok(
        "query($a: String!, $s: String!) { getUserByOAuth(oauthProviderAlias: $a, oauthProviderUserID: $s) { id oauthConnections { claims } } }",
        json!({"a": alias, "s": subject}),
    )
    .await["getUserByOAuth"]
        .clone()
}

/// Presses the button of provider `alias` on the login page; returns the provider's URL.
pub(crate) async fn press(down: &Browser, alias: &str) -> String {
    let (status, page) = down.open("/login").await.page();
    assert_eq!(status, 200);
    assert!(page.contains("action=\"/sso/oauth2/start\""), "the login page shows the provider buttons: {page}");
    let csrf = hidden(&page, "csrf");
    down.submit("/sso/oauth2/start", &[("csrf", &csrf), ("flow", ""), ("alias", alias)]).await.redirect()
}

/// Through the upstream authgraph's real login page: the URL of the callback to us.
async fn through_upstream(down: &Browser, up: &Browser, email: &str) -> String {
    let to_up = press(down, "up").await;
    match up.open(&to_up).await {
        Landing::Page(200, page) => up.login(&page, email, PW).await.redirect(),
        Landing::Redirect(u) => u,
        Landing::Page(s, page) => panic!("upstream page {s}: {page}"),
    }
}

/// Through a fake provider (which redirects at once): the URL of the callback to us.
pub(crate) async fn through_fake(down: &Browser, alias: &str) -> String {
    let to_fake = press(down, alias).await;
    let res = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap().get(to_fake);
    let res = res.send().await.unwrap();
    res.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn sign_up_then_sign_in_through_an_upstream_authgraph() {
    let w = world(AccountLinking::Error).await;
    user_with_email(&w.up, ALICE, true).await;
    let (down_b, up_b) = (Browser::new(&w.down), Browser::new(&w.up));
    let back = through_upstream(&down_b, &up_b, ALICE).await;
    assert!(back.starts_with(&format!("{}/sso/oauth2/callback/up?", w.down.url)), "{back}");
    let (status, page) = down_b.open(&back).await.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Connected accounts"), "signed in, on the settings page: {page}");
    assert_eq!(user_count(&w.down).await, 1);
    assert_eq!(w.down.audit_count_of("USER_CREATED").await, 1);
    assert_eq!(w.down.audit_count_of("USER_AUTHENTICATED").await, 1);

    // The new user: the oauth identity, the verified email as attributes, no password.
    let users = w.down.ok("{ users { edges { node { id standardAttributes oauthConnections { claims } authenticators { totalCount } } } } }", json!({})).await;
    let node = &users["users"]["edges"][0]["node"];
    assert_eq!(node["standardAttributes"]["email"], ALICE);
    assert_eq!(node["standardAttributes"]["email_verified"], true);
    assert_eq!(node["authenticators"]["totalCount"], 0);
    let claims = &node["oauthConnections"][0]["claims"];
    assert_eq!(claims["https://authgear.com/claims/oauth/provider_type"], "oidc");
    assert_eq!(claims["https://authgear.com/claims/oauth/provider_alias"], "up");
    let subject = claims["https://authgear.com/claims/oauth/subject_id"].as_str().unwrap().to_owned();
    let found = by_oauth(&w.down, "up", &subject).await;
    assert_eq!(found["id"], node["id"], "getUserByOAuth finds the user");
    assert!(by_oauth(&w.down, "up", "nobody").await.is_null());
    assert!(by_oauth(&w.down, "gh", &subject).await.is_null(), "the alias is part of the key");

    // Another browser signs in to the same account: no new user, an empty amr.
    let (down_b2, up_b2) = (Browser::new(&w.down), Browser::new(&w.up));
    let back = through_upstream(&down_b2, &up_b2, ALICE).await;
    let (status, _) = down_b2.open(&back).await.page();
    assert_eq!(status, 200);
    assert_eq!(user_count(&w.down).await, 1);
    assert_eq!(w.down.audit_count_of("USER_AUTHENTICATED").await, 2);
    let sessions = w.down.ok("{ users { edges { node { sessions { edges { node { amr } } } } } } }", json!({})).await;
    let amr = &sessions["users"]["edges"][0]["node"]["sessions"]["edges"][0]["node"]["amr"];
    assert_eq!(amr, &json!([]), "an OAuth sign-in has an empty amr, as in Authgear");
}

#[tokio::test]
async fn tampered_state_and_bad_id_tokens_end_in_a_clear_page_and_no_account() {
    let w = world(AccountLinking::Error).await;
    user_with_email(&w.up, ALICE, true).await;
    let (down_b, up_b) = (Browser::new(&w.down), Browser::new(&w.up));
    let back = through_upstream(&down_b, &up_b, ALICE).await;
    let state = param(&back, "state").unwrap();
    let tampered = back.replace(
        &format!("state={}", url::form_urlencoded::byte_serialize(state.as_bytes()).collect::<String>()),
        "state=forged",
    );
    assert_ne!(tampered, back);
    let (status, page) = down_b.open(&tampered).await.page();
    assert_eq!(status, 400, "{page}");
    assert!(page.contains("does not belong to a sign-in started in this browser"), "{page}");
    // The state of another browser does not work either.
    let (status, _) = Browser::new(&w.down).open(&back).await.page();
    assert_eq!(status, 400);
    assert_eq!(user_count(&w.down).await, 0);

    for (mode, text) in [
        (Mode::WrongNonce, "wrong nonce"),
        (Mode::OtherIssuer, "another issuer"),
        (Mode::OtherAudience, "another client (audience)"),
        (Mode::Expired, "has expired"),
        (Mode::Hs256, "uses an algorithm its key is not for"),
    ] {
        w.fake.lock().unwrap().mode = mode;
        let b = Browser::new(&w.down);
        let back = through_fake(&b, "fake").await;
        let (status, page) = b.open(&back).await.page();
        assert_eq!(status, 502, "{page}");
        assert!(page.contains(text), "{text}: {page}");
    }
    assert_eq!(user_count(&w.down).await, 0);

    w.fake.lock().unwrap().mode = Mode::Deny;
    let b = Browser::new(&w.down);
    let back = through_fake(&b, "fake").await;
    assert!(back.contains("error=access_denied"));
    let calls = w.fake.lock().unwrap().token_calls;
    let (status, page) = b.open(&back).await.page();
    assert_eq!(status, 403, "{page}");
    assert!(page.contains("Sign-in cancelled"), "{page}");
    assert_eq!(w.fake.lock().unwrap().token_calls, calls, "no code exchange after an error");
    assert_eq!(user_count(&w.down).await, 0);

    // The good answer of the same fake signs up.
    w.fake.lock().unwrap().mode = Mode::Good;
    let b = Browser::new(&w.down);
    let back = through_fake(&b, "fake").await;
    let (status, page) = b.open(&back).await.page();
    assert_eq!(status, 200, "{page}");
    assert_eq!(user_count(&w.down).await, 1);
}

#[tokio::test]
async fn discovery_and_keys_are_fetched_once_and_again_only_when_the_provider_rotates() {
    let w = world(AccountLinking::Error).await;
    let sign_in = || async {
        let b = Browser::new(&w.down);
        let back = through_fake(&b, "fake").await;
        b.open(&back).await.page()
    };
    for _ in 0..3 {
        let (status, page) = sign_in().await;
        assert!(status < 400, "{status}: {page}");
    }
    let calls = |f: &Shared| {
        let f = f.lock().unwrap();
        (f.discovery_calls, f.jwks_calls, f.token_calls)
    };
    assert_eq!(calls(&w.fake), (1, 1, 3), "one discovery and one key set for three sign-ins");

    // The provider rotates its key: the first token under the new key ID fetches the set
    // again, and signs in.
    rotate(&w.fake, "fake-key-2");
    let (status, page) = sign_in().await;
    assert!(status < 400, "{status}: {page}");
    assert_eq!(calls(&w.fake), (1, 2, 4));

    // A key ID that the fresh set does not hold either is refused without fetching the set
    // once more (a forged key ID cannot make us hammer the provider).
    w.fake.lock().unwrap().mode = Mode::UnknownKid;
    for _ in 0..2 {
        let (status, page) = sign_in().await;
        assert_eq!(status, 502, "{page}");
        assert!(page.contains("signed with a key the provider does not publish"), "{page}");
    }
    assert_eq!(calls(&w.fake), (1, 2, 6));
    assert_eq!(user_count(&w.down).await, 1);
}

#[tokio::test]
async fn linking_is_refused_under_error() {
    let w = world(AccountLinking::Error).await;
    user_with_email(&w.up, ALICE, true).await;
    w.down.create_user(ALICE, Some(PW)).await;
    let (down_b, up_b) = (Browser::new(&w.down), Browser::new(&w.up));
    let back = through_upstream(&down_b, &up_b, ALICE).await;
    let (status, page) = down_b.open(&back).await.page();
    assert_eq!(status, 409, "{page}");
    assert!(page.contains("An account with this email already exists"), "{page}");
    assert_eq!(user_count(&w.down).await, 1);
    let d = w.down.ok("{ users { edges { node { oauthConnections { id } } } } }", json!({})).await;
    assert_eq!(d["users"]["edges"][0]["node"]["oauthConnections"], json!([]));
}

#[tokio::test]
async fn login_and_link_connects_after_signing_in_and_unverified_emails_never_link() {
    let w = world(AccountLinking::LoginAndLink).await;
    user_with_email(&w.up, ALICE, true).await;
    let alice = w.down.create_user(ALICE, Some(PW)).await;
    let (down_b, up_b) = (Browser::new(&w.down), Browser::new(&w.up));
    let back = through_upstream(&down_b, &up_b, ALICE).await;
    let (status, page) = down_b.open(&back).await.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("already exists. Sign in to it to connect"), "{page}");
    assert_eq!(w.down.audit_count_of("IDENTITY_OAUTH_CONNECTED").await, 0, "nothing linked before the sign-in");
    // A wrong password links nothing; the notice stays.
    let (status, again) = down_b.login(&page, ALICE, "wrong password").await.page();
    assert_eq!(status, 401);
    assert!(again.contains("Sign in to it to connect"), "the link waits for the right password: {again}");
    assert_eq!(w.down.audit_count_of("IDENTITY_OAUTH_CONNECTED").await, 0);
    let (status, page) = down_b.login(&again, ALICE, PW).await.page();
    assert_eq!(status, 200, "{page}");
    assert_eq!(w.down.audit_count_of("IDENTITY_OAUTH_CONNECTED").await, 1);
    assert_eq!(user_count(&w.down).await, 1);
    let d = w
        .down
        .ok("query($id: ID!) { node(id: $id) { ... on User { oauthConnections { claims } } } }", json!({"id": alice}))
        .await;
    let subject = d["node"]["oauthConnections"][0]["claims"]["https://authgear.com/claims/oauth/subject_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(by_oauth(&w.down, "up", &subject).await["id"], alice);
    // Next time the provider signs Alice in directly.
    let (down_b2, up_b2) = (Browser::new(&w.down), Browser::new(&w.up));
    let back = through_upstream(&down_b2, &up_b2, ALICE).await;
    let (status, page) = down_b2.open(&back).await.page();
    assert_eq!(status, 200);
    assert!(page.contains("Connected accounts"), "{page}");
    assert_eq!(user_count(&w.down).await, 1);

    // GitHub says the same address is not verified: a separate new user, no link.
    w.fake.lock().unwrap().verified = false;
    let b = Browser::new(&w.down);
    let back = through_fake(&b, "gh").await;
    let (status, page) = b.open(&back).await.page();
    assert_eq!(status, 200, "{page}");
    assert!(!page.contains("Sign in to it to connect"), "{page}");
    assert_eq!(user_count(&w.down).await, 2);
    let gh = by_oauth(&w.down, "gh", "4242").await;
    assert_ne!(gh["id"], alice);
    let profile = &gh["oauthConnections"][0]["claims"]["https://authgear.com/claims/oauth/profile"];
    assert_eq!(profile["login"], "octocat");
    assert_eq!(profile["email_verified"], false);
    assert_eq!(w.down.audit_count_of("IDENTITY_OAUTH_CONNECTED").await, 1);
}

#[tokio::test]
async fn connect_and_disconnect_in_settings() {
    let w = world(AccountLinking::Error).await;
    let bob = w.down.create_user("bob@example.com", Some(PW)).await;
    let b = Browser::new(&w.down);
    let (_, page) = b.open("/login").await.page();
    let (status, settings) = b.login(&page, "bob@example.com", PW).await.page();
    assert_eq!(status, 200, "{settings}");
    assert!(settings.contains("action=\"/settings/oauth/connect\""), "{settings}");
    let csrf = hidden(&settings, "csrf");
    let res = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    // A connection started, then the user signed out: nothing is connected.
    let to_fake = b.submit("/settings/oauth/connect", &[("csrf", &csrf), ("alias", "gh")]).await.redirect();
    let back = res.get(to_fake).send().await.unwrap().headers()["location"].to_str().unwrap().to_owned();
    b.submit("/logout", &[("csrf", &csrf)]).await;
    let (status, page) = b.open(&back).await.page();
    assert_eq!(status, 400, "{page}");
    assert!(by_oauth(&w.down, "gh", "4242").await.is_null());
    let (_, page) = b.open("/login").await.page();
    let (status, settings) = b.login(&page, "bob@example.com", PW).await.page();
    assert_eq!(status, 200, "{settings}");
    let csrf = hidden(&settings, "csrf");
    let to_fake = b.submit("/settings/oauth/connect", &[("csrf", &csrf), ("alias", "gh")]).await.redirect();
    let back = res.get(to_fake).send().await.unwrap().headers()["location"].to_str().unwrap().to_owned();
    let (status, settings) = b.open(&back).await.page();
    assert_eq!(status, 200, "{settings}");
    assert_eq!(by_oauth(&w.down, "gh", "4242").await["id"], bob);
    assert_eq!(w.down.audit_count_of("IDENTITY_OAUTH_CONNECTED").await, 1);
    assert!(settings.contains("octocat") || settings.contains(ALICE), "{settings}");

    // Another user cannot connect the same GitHub account.
    w.down.create_user("carol@example.com", Some(PW)).await;
    let c = Browser::new(&w.down);
    let (_, page) = c.open("/login").await.page();
    let (_, s) = c.login(&page, "carol@example.com", PW).await.page();
    let to_fake =
        c.submit("/settings/oauth/connect", &[("csrf", &hidden(&s, "csrf")), ("alias", "gh")]).await.redirect();
    let back = res.get(to_fake).send().await.unwrap().headers()["location"].to_str().unwrap().to_owned();
    let (status, page) = c.open(&back).await.page();
    assert_eq!(status, 409, "{page}");
    assert_eq!(by_oauth(&w.down, "gh", "4242").await["id"], bob);

    let identity = hidden(&settings, "identity_id");
    // Carol cannot disconnect Bob's account.
    let (status, _) = c
        .submit("/settings/oauth/disconnect", &[("csrf", &hidden(&s, "csrf")), ("identity_id", &identity)])
        .await
        .page();
    assert_eq!(status, 404);
    let (status, page) =
        b.submit("/settings/oauth/disconnect", &[("csrf", &csrf), ("identity_id", &identity)]).await.page();
    assert_eq!(status, 200, "{page}");
    assert!(by_oauth(&w.down, "gh", "4242").await.is_null());
    assert_eq!(w.down.audit_count_of("IDENTITY_OAUTH_DISCONNECTED").await, 1);
}

#[tokio::test]
async fn apple_form_post_goes_on_to_the_get_callback() {
    let app = spawn_app().await;
    let res = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = res
        .post(format!("{}/sso/oauth2/callback/apple", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("code=c1&state=s1&user=%7B%7D")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/sso/oauth2/callback/apple?code=c1&state=s1");
    // An unknown provider is a clear page, not a 500.
    let page = res.get(format!("{}/sso/oauth2/callback/nope?code=c&state=s", app.url)).send().await.unwrap();
    assert_eq!(page.status(), 404);
}

#[tokio::test]
async fn an_unreachable_provider_is_a_clear_page() {
    let app = spawn_with(|c| {
        c.social_login.providers = vec![provider(json!({
            "alias": "gone", "type": "oidc", "client_id": "c", "client_secret": "s", "issuer": "http://127.0.0.1:9",
        }))];
    })
    .await;
    let b = Browser::new(&app);
    let (_, page) = b.open("/login").await.page();
    assert!(page.contains("Continue with OpenID Connect"), "{page}");
    let csrf = hidden(&page, "csrf");
    let (status, page) =
        b.submit("/sso/oauth2/start", &[("csrf", &csrf), ("flow", ""), ("alias", "gone")]).await.page();
    assert_eq!(status, 502, "{page}");
    assert!(page.contains("could not be reached"), "{page}");
    let (status, _) = b.submit("/sso/oauth2/start", &[("csrf", &csrf), ("flow", ""), ("alias", "nope")]).await.page();
    assert_eq!(status, 404);
    // Without the CSRF token nothing starts.
    let (status, _) = b.submit("/sso/oauth2/start", &[("flow", ""), ("alias", "gone")]).await.page();
    assert_eq!(status, 403);
}

#[test]
fn provider_secrets_come_from_files_and_bad_providers_name_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("gh.secret");
    std::fs::write(&secret, "s3cret\n").unwrap();
    let path = dir.path().join("authgraph.toml");
    let provider = |extra: &str| {
        format!("[[social_login.providers]]\nalias = \"gh\"\ntype = \"github\"\nclient_id = \"id\"\n{extra}")
    };
    std::fs::write(&path, provider(&format!("client_secret_file = \"{}\"\n", secret.display()))).unwrap();
    let config = authgraph::config::Config::load(Some(&path)).unwrap();
    assert_eq!(config.social_login.providers[0].client_secret.as_ref().unwrap().expose(), "s3cret");
    assert!(!format!("{config:?}").contains("s3cret"), "the secret stays out of Debug");
    for (toml, key) in [
        (provider(""), "social_login.providers[0].client_secret"),
        (provider("client_secret = \"s\"\n").replace("github", "oidc"), "social_login.providers[0].issuer"),
        (provider("client_secret = \"s\"\n").replace("github", "apple"), "social_login.providers[0].team_id"),
        (provider("client_secret = \"s\"\n").replace("\"gh\"", "\"g h\""), "social_login.providers[0].alias"),
        (provider("client_secret = \"s\"\n").repeat(2), "social_login.providers[1].alias"),
        (provider("client_secret_file = \"/nonexistent/secret\"\n"), "client_secret_file"),
    ] {
        std::fs::write(&path, &toml).unwrap();
        let err = authgraph::config::Config::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains(key), "{toml}: {err}");
    }
}

#[tokio::test]
async fn apple_signs_its_client_secret_and_comes_back_by_form_post() {
    let w = world(AccountLinking::Error).await;
    let b = Browser::new(&w.down);
    let back = through_fake(&b, "apple").await;
    assert_eq!(w.fake.lock().unwrap().response_mode.as_deref(), Some("form_post"));
    // Apple POSTs the answer from its own site: the form goes on to the GET callback,
    // which has the round trip's cookie.
    let form: Vec<(String, String)> = url::Url::parse(&back).unwrap().query_pairs().into_owned().collect();
    let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(&form).finish();
    let res = b
        .client
        .post(format!("{}/sso/oauth2/callback/apple", w.down.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let next = res.headers()["location"].to_str().unwrap().to_owned();
    let (status, page) = b.open(&next).await.page();
    assert_eq!(status, 200, "{page}");
    assert!(by_oauth(&w.down, "apple", "fake-sub").await.is_object());
    // The round trip is used up: the same answer again is refused.
    let (status, _) = b.open(&next).await.page();
    assert_eq!(status, 400);

    let secret = w.fake.lock().unwrap().client_secret.clone();
    let header = jsonwebtoken::decode_header(&secret).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.kid.as_deref(), Some("KEY123"));
    let key = jsonwebtoken::DecodingKey::from_jwk(&apple_key().1).unwrap();
    let mut v = jsonwebtoken::Validation::new(Algorithm::ES256);
    v.validate_aud = false;
    let claims = jsonwebtoken::decode::<Value>(&secret, &key, &v).unwrap().claims;
    assert_eq!(claims["iss"], "TEAM123");
    assert_eq!(claims["sub"], "down-client");
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 300);
}

#[tokio::test]
async fn a_provider_sign_in_inside_an_authorization_request_returns_to_the_client() {
    let w = world(AccountLinking::Error).await;
    user_with_email(&w.up, ALICE, true).await;
    let (rp, client_id) = crate::login_helpers::spa(&w.down).await;
    let flow = crate::login_helpers::start(&rp, &["openid", "email"], &[]);
    let (down_b, up_b) = (Browser::new(&w.down), Browser::new(&w.up));
    let (status, page) = down_b.open(&flow.url).await.page();
    assert_eq!(status, 200, "{page}");
    let sealed = hidden(&page, "flow");
    assert!(!sealed.is_empty());
    let to_up = down_b
        .submit("/sso/oauth2/start", &[("csrf", &hidden(&page, "csrf")), ("flow", &sealed), ("alias", "up")])
        .await
        .redirect();
    let (_, up_page) = up_b.open(&to_up).await.page();
    let back = up_b.login(&up_page, ALICE, PW).await.redirect();
    let done = down_b.open(&back).await.redirect();
    assert!(done.starts_with(crate::login_helpers::CB), "back at the client: {done}");
    assert_eq!(param(&done, "state").as_deref(), Some(flow.state.secret().as_str()));
    let code = param(&done, "code").unwrap();
    let (status, tokens) = w
        .down
        .exchange_code(&code, crate::login_helpers::CB, &client_id, None, &[("code_verifier", flow.verifier.secret())])
        .await;
    assert_eq!(status, 200, "{tokens}");
    let claims = crate::helpers::jwt_claims(tokens["id_token"].as_str().unwrap());
    assert!(claims.get("amr").is_none_or(|a| a == &json!([])), "no amr for an OAuth sign-in: {claims}");
    assert_eq!(claims["nonce"], flow.nonce.secret().as_str());
    assert_eq!(user_count(&w.down).await, 1);
}

#[tokio::test]
async fn facebook_signs_up_with_appsecret_proof_and_its_email_never_links() {
    let w = world(AccountLinking::LoginAndLink).await;
    w.down.create_user(ALICE, Some(PW)).await;
    let b = Browser::new(&w.down);
    let back = through_fake(&b, "fb").await;
    let (status, page) = b.open(&back).await.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Connected accounts"), "signed up, not asked to link: {page}");
    let user = by_oauth(&w.down, "fb", "10001").await;
    let claims = &user["oauthConnections"][0]["claims"];
    assert_eq!(claims["https://authgear.com/claims/oauth/provider_type"], "facebook");
    assert_eq!(claims["https://authgear.com/claims/oauth/profile"]["name"], "Face Book");
    assert_eq!(user_count(&w.down).await, 2);
}

#[tokio::test]
async fn login_and_link_goes_through_the_second_factor_and_only_for_that_account() {
    use crate::totp::{code, enrol, signed_in, step_now};
    let w = world(AccountLinking::LoginAndLink).await;
    user_with_email(&w.up, "tom@example.com", true).await;
    let (b0, csrf, tom) = signed_in(&w.down, "tom@example.com").await;
    let (secret, step) = enrol(&b0, &csrf, "Phone").await;
    w.down.create_user("eve@example.com", Some(PW)).await;

    // Signing in to another account drops the link.
    let (down_b, up_b) = (Browser::new(&w.down), Browser::new(&w.up));
    let back = through_upstream(&down_b, &up_b, "tom@example.com").await;
    let (_, page) = down_b.open(&back).await.page();
    assert!(page.contains("Sign in to it to connect"), "{page}");
    let (status, page) = down_b.login(&page, "eve@example.com", PW).await.page();
    assert_eq!(status, 200, "{page}");
    assert_eq!(w.down.audit_count_of("IDENTITY_OAUTH_CONNECTED").await, 0);

    // Tom signs in with his password and his authenticator app: then the link is added.
    let (down_b, up_b) = (Browser::new(&w.down), Browser::new(&w.up));
    let back = through_upstream(&down_b, &up_b, "tom@example.com").await;
    let (_, page) = down_b.open(&back).await.page();
    let (status, page) = down_b.login(&page, "tom@example.com", PW).await.page();
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("action=\"/login/totp\""), "the second factor: {page}");
    assert_eq!(w.down.audit_count_of("IDENTITY_OAUTH_CONNECTED").await, 0, "not before the second factor");
    let totp = code(&secret, step_now().max(step + 1));
    let fields = [
        ("csrf", hidden(&page, "csrf")),
        ("flow", hidden(&page, "flow")),
        ("pending", hidden(&page, "pending")),
        ("code", totp),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (status, page) = down_b.submit("/login/totp", &fields).await.page();
    assert_eq!(status, 200, "{page}");
    assert_eq!(w.down.audit_count_of("IDENTITY_OAUTH_CONNECTED").await, 1);
    let d = w
        .down
        .ok("query($id: ID!) { node(id: $id) { ... on User { oauthConnections { id } } } }", json!({"id": tom}))
        .await;
    assert_eq!(d["node"]["oauthConnections"].as_array().unwrap().len(), 1);
}
