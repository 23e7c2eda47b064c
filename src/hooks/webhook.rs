//! The HTTP transport of handlers: a signed `POST` of the event's JSON body, with a
//! deadline. Non-blocking deliveries look only at the status; blocking handlers read the
//! response body too.

use std::time::Duration;

use super::signature::{SIGNATURE_HEADER, sign};

/// Longest response body read from a handler.
const MAX_RESPONSE: usize = 64 * 1024;

/// Longest error text kept from a failed call.
const MAX_ERROR: usize = 500;

/// Sends signed requests to handlers.
#[derive(Clone)]
pub struct WebhookClient {
    client: reqwest::Client,
    secret: Vec<u8>,
}

/// What a handler answered.
#[derive(Debug)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The body, at most 64 KiB (longer bodies are cut).
    pub body: Vec<u8>,
}

/// Why a call got no usable answer.
#[derive(Debug)]
pub enum CallError {
    /// The deadline passed.
    Timeout,
    /// Connection refused, DNS failure, TLS error, a broken body.
    Transport(String),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("timed out"),
            Self::Transport(e) => f.write_str(e),
        }
    }
}

impl WebhookClient {
    /// A client that signs with `secret` (the `hook.webhook_secret`).
    pub fn new(secret: &[u8]) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .pool_max_idle_per_host(64)
            .user_agent("authgraph-hook/1")
            .build()
            .unwrap_or_default();
        Self { client, secret: secret.to_vec() }
    }

    /// `POST`s `body` to `url` with the signature header, waiting at most `timeout` for the
    /// whole exchange.
    pub async fn post(&self, url: &url::Url, body: &[u8], timeout: Duration) -> Result<Reply, CallError> {
        let sig = sign(&self.secret, body);
        let exchange = async {
            let mut resp = self
                .client
                .post(url.clone())
                .header("content-type", "application/json")
                .header(SIGNATURE_HEADER, sig)
                .body(body.to_vec())
                .send()
                .await
                .map_err(|e| CallError::Transport(describe(e)))?;
            let status = resp.status().as_u16();
            let mut out = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(|e| CallError::Transport(describe(e)))? {
                let room = MAX_RESPONSE.saturating_sub(out.len());
                out.extend_from_slice(&chunk[..chunk.len().min(room)]);
                if out.len() >= MAX_RESPONSE {
                    break;
                }
            }
            Ok(Reply { status, body: out })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(CallError::Timeout),
        }
    }
}

/// A transport error as one line, without the URL's query (which could hold a token).
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "broken response body"
    } else {
        "request failed"
    };
    let mut text = format!("{kind}: {}", e.without_url());
    text.truncate(text.char_indices().nth(MAX_ERROR).map_or(text.len(), |(i, _)| i));
    text
}
