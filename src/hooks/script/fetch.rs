//! `fetch` for scripts: only to the configured hosts, http(s) only, a bounded request and
//! response, within the run's deadline. It runs on the script's own thread (a small
//! current-thread tokio runtime), so a script sees a promise that is already settled.

use std::time::Instant;

use serde_json::{Value, json};

/// Most bytes of a request or response body.
pub const MAX_BODY: usize = 1024 * 1024;
/// Most `fetch` calls in one run.
pub const MAX_CALLS: u32 = 20;

/// One thread's HTTP client.
pub struct Fetcher {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
    allowed: Vec<String>,
}

/// Whether `url` (already parsed) may be fetched: `host` allows every port of the host,
/// `host:port` only that port.
pub fn allowed(allowed: &[String], url: &url::Url) -> bool {
    let Some(host) = url.host_str() else { return false };
    let host = host.to_ascii_lowercase();
    let port = url.port_or_known_default();
    allowed.iter().any(|a| {
        let a = a.to_ascii_lowercase();
        a == host || port.is_some_and(|p| a == format!("{host}:{p}"))
    })
}

fn host_of(url: &url::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => String::new(),
    }
}

/// What `fetch` does with one call: the JSON the script's `fetch` wrapper turns into a
/// response or a rejection.
pub enum Reply {
    /// `{status, headers: [[name, value]], body, url}`.
    Response(Value),
    /// A rejection with this message (a `TypeError`).
    Error(String),
    /// The host is not allowed.
    Refused(String),
}

impl Fetcher {
    /// A client that follows redirects only to allowed hosts and uses no proxy.
    pub fn new(allowed: Vec<String>) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let hosts = allowed.clone();
        let policy = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                attempt.error("too many redirects")
            } else if matches!(attempt.url().scheme(), "http" | "https") && self::allowed(&hosts, attempt.url()) {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let client = reqwest::Client::builder().redirect(policy).no_proxy().build().map_err(std::io::Error::other)?;
        Ok(Self { runtime, client, allowed })
    }

    /// Sends one request, giving up at `deadline`.
    pub fn fetch(&self, url: &str, method: &str, headers: &str, body: Option<String>, deadline: Instant) -> Reply {
        let Ok(parsed) = url::Url::parse(url) else {
            return Reply::Error(format!("fetch: `{}` is not an absolute URL", truncate(url, 200)));
        };
        if !matches!(parsed.scheme(), "http" | "https") {
            return Reply::Error(format!("fetch: only http and https URLs are allowed, not `{}:`", parsed.scheme()));
        }
        if !allowed(&self.allowed, &parsed) {
            return Reply::Refused(host_of(&parsed));
        }
        let Ok(method) = reqwest::Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
            return Reply::Error(format!("fetch: `{}` is not an HTTP method", truncate(method, 40)));
        };
        let headers: Vec<(String, String)> = match serde_json::from_str::<Value>(headers) {
            Ok(Value::Object(m)) => {
                m.into_iter().map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect()
            }
            Ok(Value::Array(list)) => list
                .into_iter()
                .filter_map(|pair| {
                    let k = pair.get(0)?.as_str()?.to_owned();
                    let v = pair.get(1)?.as_str()?.to_owned();
                    Some((k, v))
                })
                .collect(),
            _ => Vec::new(),
        };
        if body.as_ref().is_some_and(|b| b.len() > MAX_BODY) {
            return Reply::Error(format!("fetch: a request body may have at most {MAX_BODY} bytes"));
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Reply::Error("fetch: the script's time is up".to_owned());
        }
        let mut request = self.client.request(method, parsed);
        for (k, v) in headers {
            request = request.header(k, v);
        }
        if let Some(b) = body {
            request = request.body(b);
        }
        let result = self.runtime.block_on(async {
            tokio::time::timeout(remaining, async {
                let mut resp = request.send().await.map_err(|e| format!("fetch failed: {}", without_url(&e)))?;
                let status = resp.status().as_u16();
                let final_url = resp.url().to_string();
                let headers: Vec<Value> = resp
                    .headers()
                    .iter()
                    .map(|(k, v)| json!([k.as_str(), String::from_utf8_lossy(v.as_bytes())]))
                    .collect();
                let mut bytes = Vec::new();
                while let Some(chunk) =
                    resp.chunk().await.map_err(|e| format!("fetch: reading the body failed: {}", without_url(&e)))?
                {
                    if bytes.len() + chunk.len() > MAX_BODY {
                        return Err(format!("fetch: the response body is larger than {MAX_BODY} bytes"));
                    }
                    bytes.extend_from_slice(&chunk);
                }
                Ok(json!({
                    "status": status,
                    "url": final_url,
                    "headers": headers,
                    "body": String::from_utf8_lossy(&bytes),
                }))
            })
            .await
        });
        match result {
            Ok(Ok(v)) => Reply::Response(v),
            Ok(Err(e)) => Reply::Error(e),
            Err(_) => Reply::Error("fetch: timed out at the script's deadline".to_owned()),
        }
    }
}

fn without_url(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    if let Some(u) = e.url() {
        s = s.replace(&format!(" for url ({u})"), "");
    }
    s
}

/// At most `max` characters of `s`.
pub fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => s.get(..i).unwrap_or(s),
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports_are_matched() {
        let list = vec!["api.example.com".to_owned(), "127.0.0.1:8080".to_owned()];
        let ok = |u: &str| allowed(&list, &url::Url::parse(u).expect("url"));
        assert!(ok("https://api.example.com/x"));
        assert!(ok("http://API.example.com:9000/x"));
        assert!(ok("http://127.0.0.1:8080/"));
        assert!(!ok("http://127.0.0.1:8081/"));
        assert!(!ok("https://example.com/"));
        assert!(!ok("https://api.example.com.evil.test/"));
    }
}
