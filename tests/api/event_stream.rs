//! The live event stream: `subscription { events }` over `graphql-transport-ws` on the
//! Admin API endpoint. Events arrive within a second of their commit, from this process
//! and from another one on the same database; no token or a token without
//! `audit-log:read` is refused.

use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::helpers::{TestApp, spawn_app, spawn_with};
use crate::login_helpers::{PW, spa, start};
use crate::rp::Browser;

const SUBSCRIBE: &str = "subscription($t: [String!]) { events(types: $t) { id seq type userID createdAt data } }";

struct Ws(WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>);

/// How a connection ended or what it said next.
#[derive(Debug)]
enum Got {
    Json(Value),
    Closed(Option<u16>),
    Nothing,
}

impl Ws {
    async fn open(app: &TestApp, header_token: Option<&str>) -> Self {
        let url = format!("{}/_api/admin/graphql", app.url.replacen("http", "ws", 1));
        let mut req = url.into_client_request().unwrap();
        req.headers_mut().insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse().unwrap());
        if let Some(t) = header_token {
            req.headers_mut().insert("Authorization", format!("Bearer {t}").parse().unwrap());
        }
        let (ws, res) = tokio_tungstenite::connect_async(req).await.unwrap();
        assert_eq!(
            res.headers().get("sec-websocket-protocol").and_then(|v| v.to_str().ok()),
            Some("graphql-transport-ws")
        );
        Self(ws)
    }

    async fn send(&mut self, v: Value) {
        self.0.send(Message::Text(v.to_string().into())).await.unwrap();
    }

    async fn next(&mut self, limit: Duration) -> Got {
        loop {
            match tokio::time::timeout(limit, self.0.next()).await {
                Err(_) => return Got::Nothing,
                Ok(None) => return Got::Closed(None),
                Ok(Some(Err(_))) => return Got::Closed(None),
                Ok(Some(Ok(Message::Text(t)))) => {
                    let v: Value = serde_json::from_str(&t).unwrap();
                    if v["type"] == "ping" {
                        self.send(json!({"type": "pong"})).await;
                        continue;
                    }
                    return Got::Json(v);
                }
                Ok(Some(Ok(Message::Close(frame)))) => return Got::Closed(frame.map(|f| u16::from(f.code))),
                Ok(Some(Ok(_))) => continue,
            }
        }
    }

    /// `connection_init` (with `payload`), expecting `connection_ack`.
    async fn init(&mut self, payload: Value) {
        self.send(json!({"type": "connection_init", "payload": payload})).await;
        match self.next(Duration::from_secs(5)).await {
            Got::Json(v) if v["type"] == "connection_ack" => {}
            other => panic!("expected connection_ack, got {other:?}"),
        }
    }

    async fn subscribe(&mut self, types: &[&str]) {
        self.send(json!({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE, "variables": {"t": types}}}))
            .await;
        // The stream starts reading the log right after the subscription arrives.
        tokio::time::sleep(Duration::from_millis(400)).await;
    }

    /// The next event, within `limit`.
    async fn event(&mut self, limit: Duration) -> Value {
        match self.next(limit).await {
            Got::Json(v) if v["type"] == "next" => {
                assert!(v["payload"].get("errors").is_none(), "{v:#}");
                v["payload"]["data"]["events"].clone()
            }
            other => panic!("expected an event within {limit:?}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_subscriber_sees_an_admin_change_and_a_sign_in_within_a_second() {
    let app = spawn_app().await;
    let token = app.token(&["audit-log:read"]);
    let mut ws = Ws::open(&app, None).await;
    ws.init(json!({"Authorization": format!("Bearer {token}")})).await;
    ws.subscribe(&["user.created", "user.authenticated"]).await;

    let t = Instant::now();
    let user = app.create_user("live@example.com", Some(PW)).await;
    let e = ws.event(Duration::from_secs(1)).await;
    assert!(t.elapsed() < Duration::from_secs(1), "within a second: {:?}", t.elapsed());
    assert_eq!(e["type"], "user.created");
    assert_eq!(e["userID"], user.as_str());
    assert_eq!(e["seq"], 1);
    assert_eq!(e["data"]["payload"]["user"]["standard_attributes"]["email"], "live@example.com");
    assert_eq!(e["data"]["context"]["triggered_by"], "admin_api");
    let id = e["id"].as_str().unwrap().to_owned();
    let found =
        app.ok("query($id: ID!) { node(id: $id) { ... on AuditLog { activityType } } }", json!({"id": id})).await;
    assert_eq!(found["node"]["activityType"], "USER_CREATED", "the event's ID is its audit log entry's");

    let (rp, _) = spa(&app).await;
    let browser = Browser::new(&app);
    let f = start(&rp, &[], &[]);
    let t = Instant::now();
    browser.authorize_with_login(&f.url, "live@example.com", PW).await;
    let e = ws.event(Duration::from_secs(1)).await;
    assert!(t.elapsed() < Duration::from_secs(2), "sign-in plus delivery: {:?}", t.elapsed());
    assert_eq!(e["type"], "user.authenticated");
    assert_eq!(e["seq"], 2);
    assert_eq!(e["data"]["context"]["triggered_by"], "user");
    // The filter holds: the sign-in's other rows (the mutation of the app) are not sent.
    assert!(matches!(ws.next(Duration::from_millis(600)).await, Got::Nothing));
}

#[tokio::test]
async fn a_second_process_on_the_database_reaches_the_first_ones_stream() {
    let a = spawn_app().await;
    let (url, key, public) = (a.database_url.clone(), a.dir.path().join("master.key"), a.url.clone());
    let b = spawn_with(move |c| {
        c.database_url = authgraph::config::Secret::new(url);
        c.master_key_file = key;
        c.public_url = Some(public);
    })
    .await;
    let token = a.token(&["audit-log:read"]);
    // The token comes in the upgrade request's header this time.
    let mut ws = Ws::open(&a, Some(&token)).await;
    ws.init(json!({})).await;
    ws.subscribe(&[]).await;
    let t = Instant::now();
    let user = b.create_user("elsewhere@example.com", None).await;
    let mut types = Vec::new();
    while types.len() < 2 {
        let e = ws.event(Duration::from_secs(1)).await;
        assert_eq!(e["userID"], user.as_str());
        types.push(e["type"].as_str().unwrap().to_owned());
    }
    assert!(t.elapsed() < Duration::from_millis(1500), "polled within a second: {:?}", t.elapsed());
    types.sort();
    assert_eq!(types, ["admin_api.mutation.create_user.executed", "user.created"]);
}

#[tokio::test]
async fn without_a_token_or_without_audit_log_read_the_stream_is_refused() {
    let app = spawn_app().await;
    let mut ws = Ws::open(&app, None).await;
    ws.send(json!({"type": "connection_init", "payload": {}})).await;
    match ws.next(Duration::from_secs(5)).await {
        // async-graphql closes a refused `connection_init` with 1002 and the reason.
        Got::Closed(Some(code)) => assert_eq!(code, 1002),
        other => panic!("expected the connection closed, got {other:?}"),
    }

    let mut ws = Ws::open(&app, None).await;
    ws.send(json!({"type": "connection_init", "payload": {"Authorization": "Bearer not-a-token"}})).await;
    assert!(matches!(ws.next(Duration::from_secs(5)).await, Got::Closed(Some(1002))));

    let token = app.token(&["user:read"]);
    let mut ws = Ws::open(&app, None).await;
    ws.init(json!({"Authorization": format!("Bearer {token}")})).await;
    ws.send(json!({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIBE}})).await;
    match ws.next(Duration::from_secs(5)).await {
        Got::Json(v) if v["type"] == "next" => {
            assert_eq!(v["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v:#}");
            assert!(v["payload"]["data"].is_null());
        }
        other => panic!("expected a FORBIDDEN error, got {other:?}"),
    }
    // Even asking only for `id` (which needs no scope on an object) is refused.
    assert!(matches!(ws.next(Duration::from_secs(5)).await, Got::Json(v) if v["type"] == "complete" && v["id"] == "1"));
    ws.send(json!({"id": "2", "type": "subscribe", "payload": {"query": "subscription { events { id } }"}})).await;
    match ws.next(Duration::from_secs(5)).await {
        Got::Json(v) if v["type"] == "next" => {
            assert_eq!(v["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN", "{v:#}");
        }
        other => panic!("expected a FORBIDDEN error, got {other:?}"),
    }
    // Each refused subscription completes; then nothing streams.
    app.create_user("quiet@example.com", None).await;
    loop {
        match ws.next(Duration::from_millis(600)).await {
            Got::Json(v) if v["type"] == "complete" => continue,
            Got::Nothing => break,
            other => panic!("nothing streams: {other:?}"),
        }
    }
}
