//! Passkeys in a real browser: headless Chromium, driven over the DevTools protocol, with
//! a virtual authenticator (CTAP2, internal, resident keys, user verification). The page's
//! own script registers a passkey in settings; after signing out, the "Sign in with a
//! passkey" button signs in with it. Needs `chromium` on the PATH (`.ci/run` installs it).

use std::process::Stdio;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::login_helpers::PW;
use crate::passkeys::spawn_localhost;

/// A DevTools connection to the browser, attached to one page.
struct Cdp {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next: u64,
    session: Option<String>,
}

impl Cdp {
    /// Sends a command (to the attached page, once there is one) and waits for its answer;
    /// events in between are skipped.
    async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next += 1;
        let id = self.next;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if let Some(s) = &self.session {
            msg["sessionId"] = json!(s);
        }
        self.ws.send(Message::Text(msg.to_string().into())).await.unwrap();
        loop {
            let m = self.ws.next().await.expect("DevTools connection open").unwrap();
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["id"] == json!(id) {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Evaluates `js` in the page (as if the user acted, for WebAuthn) and returns its value.
    async fn eval(&mut self, js: &str) -> Value {
        let r =
            self.call("Runtime.evaluate", json!({"expression": js, "userGesture": true, "returnByValue": true})).await;
        r["result"]["value"].clone()
    }

    /// Waits until `js` is true in a loaded page.
    async fn wait_for(&mut self, js: &str) {
        let check = format!("document.readyState === 'complete' && ({js})");
        for _ in 0..200 {
            if self.eval(&check).await == json!(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let body = self.eval("document.location.href + ' ' + document.body.innerText").await;
        panic!("timed out waiting for {js}; the page: {body}");
    }
}

/// Starts headless Chromium; returns the process and the browser's DevTools URL.
async fn chromium(profile: &std::path::Path) -> (tokio::process::Child, String) {
    let mut child = tokio::process::Command::new("chromium")
        .args(["--headless=new", "--remote-debugging-port=0", "--no-first-run", "--no-sandbox"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("about:blank")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium on the PATH (apt-get install chromium)");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next_line().await.unwrap().expect("Chromium printed its DevTools URL");
        if let Some(rest) = line.strip_prefix("DevTools listening on ") {
            break rest.trim().to_owned();
        }
    };
    // Keep reading stderr so that the browser never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, url)
}

/// Whether `chromium` is on the PATH. Without it the browser test is skipped with a note,
/// unless `TEST_REQUIRE_BROWSER` is set (`.ci/run` sets it and installs Chromium; not an `AUTHGRAPH_` variable, which the server would read as configuration), so
/// that `cargo test` passes on a machine without a browser and CI never skips it.
fn have_chromium() -> bool {
    let found = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("chromium").is_file()));
    if !found && std::env::var_os("TEST_REQUIRE_BROWSER").is_some() {
        panic!("chromium is not on the PATH and TEST_REQUIRE_BROWSER is set: apt-get install chromium");
    }
    if !found {
        eprintln!("skipped: the passkey browser test needs chromium on the PATH (apt-get install chromium)");
    }
    found
}

#[tokio::test]
async fn chromium_registers_a_passkey_in_settings_and_signs_in_with_it() {
    if !have_chromium() {
        return;
    }
    let app = spawn_localhost().await;
    app.create_user("vic@example.com", Some(PW)).await;
    let profile = tempfile::tempdir().unwrap();
    let (_browser, url) = chromium(profile.path()).await;
    let run = async {
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.unwrap();
        let mut cdp = Cdp { ws, next: 0, session: None };
        let target = cdp.call("Target.createTarget", json!({"url": "about:blank"})).await;
        let attached =
            cdp.call("Target.attachToTarget", json!({"targetId": target["targetId"], "flatten": true})).await;
        cdp.session = attached["sessionId"].as_str().map(str::to_owned);
        cdp.call("Page.enable", json!({})).await;
        cdp.call("WebAuthn.enable", json!({})).await;
        let options = json!({
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": true,
            "hasUserVerification": true, "isUserVerified": true, "automaticPresenceSimulation": true,
        });
        let auth = cdp.call("WebAuthn.addVirtualAuthenticator", json!({"options": options})).await;
        let authenticator_id = auth["authenticatorId"].clone();

        // Sign in with the password, then add a passkey through the settings page's script.
        cdp.call("Page.navigate", json!({"url": format!("{}/login", app.url)})).await;
        cdp.wait_for("!!document.getElementById('password')").await;
        cdp.eval(&format!(
            "document.getElementById('login_id').value = 'vic@example.com'; \
             document.getElementById('password').value = '{PW}'; \
             document.querySelector('form[action=\"/login\"]').submit(); true"
        ))
        .await;
        cdp.wait_for("location.pathname === '/settings' && !!document.querySelector('form[data-passkey=create]')")
            .await;
        cdp.eval(
            "document.getElementById('passkey_name').value = 'Headless'; \
             document.querySelector('form[data-passkey=create] [data-passkey-start]').click(); true",
        )
        .await;
        cdp.wait_for("location.search.indexOf('done=passkey') >= 0").await;
        let text = cdp.eval("document.body.innerText").await;
        assert!(text.as_str().unwrap().contains("The passkey is added"), "{text}");
        let creds = cdp.call("WebAuthn.getCredentials", json!({"authenticatorId": authenticator_id})).await;
        assert_eq!(creds["credentials"].as_array().unwrap().len(), 1, "{creds}");
        assert_eq!(creds["credentials"][0]["isResidentCredential"], true, "{creds}");

        // Sign out (this browser's session): the login page. Its autofill request
        // (conditional mediation) may already be answered by the virtual authenticator,
        // which signs in with the passkey; otherwise the passkey button does.
        cdp.eval("document.querySelector('form[action=\"/settings/sessions/revoke\"]').submit(); true").await;
        cdp.wait_for(
            "location.pathname === '/settings' || (location.pathname === '/login' && !!document.getElementById('login_id'))",
        )
        .await;
        // One evaluation: the autofill may sign in and leave the page between two.
        let field = cdp
            .eval(
                "location.pathname === '/login' && document.getElementById('login_id')                  ? document.getElementById('login_id').getAttribute('autocomplete') : 'left'",
            )
            .await;
        if field != json!("left") {
            assert_eq!(field, json!("username webauthn"));
            tokio::time::sleep(Duration::from_secs(1)).await;
            let button = "document.querySelector('form[data-passkey=get] [data-passkey-start]')";
            cdp.eval(&format!("location.pathname === '/login' && {button} ? ({button}.click(), true) : false")).await;
        }
        cdp.wait_for("location.pathname === '/settings' && document.body.innerText.indexOf('Headless') >= 0").await;
        let text = cdp.eval("document.body.innerText").await;
        assert!(text.as_str().unwrap().contains("Signed in as vic@example.com"), "{text}");
    };
    tokio::time::timeout(Duration::from_secs(90), run).await.expect("the browser run finished in time");

    // The server saw a passkey sign-in.
    let q = "{ auditLogs(activityTypes: [USER_AUTHENTICATED]) { edges { node { data } } } }";
    let d = app.ok(q, json!({})).await;
    let amrs: Vec<Value> = d["auditLogs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["data"]["payload"]["amr"].clone())
        .collect();
    assert_eq!(amrs, [json!(["x_passkey"]), json!(["pwd"])], "newest first: {d}");
}
