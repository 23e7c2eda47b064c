//! A local HTTP listener that stands in for an SMS provider (the generic webhook and
//! Twilio's Messages API): it keeps every request, so tests read the SMS the server's
//! real HTTP client sent. Nothing leaves the machine.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::post;

/// A received request: path, headers and body.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

#[derive(Clone, Default)]
struct Sink {
    got: Arc<Mutex<Vec<Received>>>,
    status: Arc<Mutex<u16>>,
}

pub struct SmsSink {
    pub url: String,
    sink: Sink,
}

async fn receive(State(sink): State<Sink>, uri: Uri, headers: HeaderMap, body: Bytes) -> (StatusCode, &'static str) {
    sink.got.lock().unwrap().push(Received {
        path: uri.path().to_owned(),
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let status = *sink.status.lock().unwrap();
    (StatusCode::from_u16(status).unwrap(), "{\"sid\":\"SM123\",\"status\":\"queued\"}")
}

impl SmsSink {
    pub async fn start() -> Self {
        let sink = Sink { got: Arc::default(), status: Arc::new(Mutex::new(201)) };
        let app = Router::new().fallback(post(receive)).with_state(sink.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        Self { url, sink }
    }

    /// Answers every later request with `status`.
    pub fn answer(&self, status: u16) {
        *self.sink.status.lock().unwrap() = status;
    }

    pub fn all(&self) -> Vec<Received> {
        self.sink.got.lock().unwrap().clone()
    }
}

/// The first run of `digits` digits in `text` (the code in a message).
pub fn code_in(text: &str, digits: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let run: String = chars[i..].iter().take_while(|c| c.is_ascii_digit()).collect();
        if run.len() == digits {
            return run;
        }
        i += run.len().max(1);
    }
    panic!("no {digits}-digit code in {text}")
}
