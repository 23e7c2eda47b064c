//! A local webhook receiver for the tests: it answers 503 while down, holds requests
//! while told to hang, and otherwise accepts, recording each body with its signature.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// How the receiver answers.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Mode {
    /// 200 and record.
    Up = 0,
    /// 503.
    Down = 1,
    /// Never answer (until the request is dropped).
    Hang = 2,
}

/// One accepted request.
#[derive(Clone, Debug)]
pub struct Received {
    pub body: Vec<u8>,
    pub json: Value,
    pub signature: String,
}

pub struct Receiver {
    pub url: String,
    mode: AtomicU8,
    /// Requests of any kind that arrived.
    pub hits: AtomicUsize,
    got: Mutex<Vec<Received>>,
}

impl Receiver {
    pub async fn start(mode: Mode) -> Arc<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let me =
            Arc::new(Self { url, mode: AtomicU8::new(mode as u8), hits: AtomicUsize::new(0), got: Mutex::default() });
        let app = axum::Router::new().route("/events", axum::routing::post(handle)).with_state(me.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        me
    }

    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits until `pred` holds for the accepted requests, or panics after `limit`.
    pub async fn wait_for(&self, limit: Duration, what: &str, pred: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let got = self.received();
            if pred(&got) {
                return got;
            }
            assert!(start.elapsed() < limit, "timed out waiting for {what}; received {} events", got.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn handle(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.hits.fetch_add(1, Ordering::SeqCst);
    match r.mode.load(Ordering::SeqCst) {
        1 => StatusCode::SERVICE_UNAVAILABLE,
        2 => {
            tokio::time::sleep(Duration::from_secs(120)).await;
            StatusCode::SERVICE_UNAVAILABLE
        }
        _ => {
            let signature =
                headers.get("x-authgear-body-signature").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
            let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
            r.got.lock().unwrap().push(Received { body: body.to_vec(), json, signature });
            StatusCode::OK
        }
    }
}

/// The lower-case hex HMAC-SHA256 of `body` under `secret`, computed here independently
/// of the server's code.
pub fn expected_signature(secret: &str, body: &[u8]) -> String {
    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, secret.as_bytes());
    aws_lc_rs::hmac::sign(&key, body).as_ref().iter().map(|b| format!("{b:02x}")).collect()
}
