//! Load generator for complete passkey sign-ins (issue #11), with a software authenticator
//! that signs every assertion as a device does (wrk's Lua cannot sign).
//!
//!   cargo build --release --example passkey_load
//!   target/release/examples/passkey_load URL CLIENT_ID USERS CONNECTIONS SECONDS
//!
//! First signs up USERS accounts with a passkey each (`/signup` → `/signup/passkey`, the
//! discoverable credential kept in memory), then runs CONNECTIONS browsers for SECONDS.
//! A browser signs in again and again, each time as the next of its own users (so that a
//! credential's signature counter only ever moves forward): `GET /oauth2/authorize` (public
//! client, PKCE S256) → `GET /login` (the page's WebAuthn options with a fresh challenge) →
//! `POST /login/passkey` (the assertion; no login ID typed; answered with the redirect to
//! the client and its code) → `POST /oauth2/token`. Prints one line: sign-ins per second and the latency percentiles
//! of single requests and of whole sign-ins. URL must be the server's public URL
//! (`http://localhost:PORT`): the relying-party ID and origin come from it.

#![allow(clippy::unwrap_used)] // the test suite's authenticator, shared as it is

#[path = "../tests/api/passkey_device.rs"]
#[allow(dead_code)]
mod passkey_device;

use passkey_device::{Device, options_in};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const REDIRECT: &str = "http://127.0.0.1:9/cb";
const VERIFIER: &str = "bench-verifier-bench-verifier-bench-verifier-0123";

const FORM: &str = "application/x-www-form-urlencoded";

/// A form body.
fn encode<V: AsRef<str>>(fields: &[(&str, V)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in fields {
        out.append_pair(k, v.as_ref());
    }
    out.finish()
}

type Failure = Box<dyn std::error::Error + Send + Sync>;

fn fail(what: impl Into<String>) -> Failure {
    what.into().into()
}

/// A hidden form field's value on `html`.
fn hidden(html: &str, name: &str) -> Result<String, Failure> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).ok_or_else(|| fail(format!("no field {name}")))? + marker.len();
    let end = html[start..].find('"').ok_or_else(|| fail("unterminated value"))? + start;
    Ok(html[start..end]
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">"))
}

/// The value of cookie `name` set by a response.
fn cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (pair, _) = v.split_once(';').unwrap_or((v, ""));
        pair.strip_prefix(&format!("{name}=")).map(str::to_owned)
    })
}

fn location(res: &reqwest::Response) -> Result<String, Failure> {
    if res.status() != reqwest::StatusCode::SEE_OTHER {
        return Err(fail(format!("expected a redirect, got {}", res.status())));
    }
    Ok(res.headers().get(LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(|| fail("no location"))?.to_owned())
}

struct Browser {
    http: reqwest::Client,
    url: String,
}

impl Browser {
    fn new(url: &str) -> Self {
        let http = reqwest::Client::builder().redirect(Policy::none()).build().expect("an HTTP client");
        Self { http, url: url.to_owned() }
    }

    fn absolute(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_owned() } else { format!("{}{path}", self.url) }
    }

    /// Signs up `email` with a new passkey: the device that holds it.
    async fn sign_up(&self, email: &str) -> Result<Device, Failure> {
        let res = self.http.get(self.absolute("/signup")).send().await?;
        let csrf_cookie = cookie(&res, "ag_csrf").ok_or_else(|| fail("no CSRF cookie"))?;
        let page = res.text().await?;
        let mut device = Device::new(&self.url);
        let credential = device.create(&options_in(&page));
        let form = [
            ("csrf", hidden(&page, "csrf")?),
            ("flow", String::new()),
            ("state", hidden(&page, "state")?),
            ("login_id", email.to_owned()),
            ("credential", credential),
        ];
        let res = self
            .http
            .post(self.absolute("/signup/passkey"))
            .header(COOKIE, format!("ag_csrf={csrf_cookie}"))
            .header(CONTENT_TYPE, FORM)
            .body(encode(&form))
            .send()
            .await?;
        if !res.status().is_success() && !res.status().is_redirection() {
            return Err(fail(format!("signup answered {}", res.status())));
        }
        Ok(device)
    }

    /// One complete sign-in with `device`; the time of each of its four requests.
    async fn sign_in(
        &self,
        device: &mut Device,
        client: &str,
        challenge: &str,
        times: &mut Vec<Duration>,
    ) -> Result<(), Failure> {
        let timed = async |req: reqwest::RequestBuilder, times: &mut Vec<Duration>| {
            let t = Instant::now();
            let res = req.send().await;
            times.push(t.elapsed());
            res
        };
        let authorize = format!(
            "{}/oauth2/authorize?response_type=code&scope=openid&client_id={client}&redirect_uri={}&code_challenge={challenge}&code_challenge_method=S256&state=s",
            self.url,
            url::form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>()
        );
        let res = timed(self.http.get(authorize), times).await?;
        let login = location(&res)?;
        let t = Instant::now();
        let res = self.http.get(self.absolute(&login)).send().await?;
        let csrf_cookie = cookie(&res, "ag_csrf").ok_or_else(|| fail("no CSRF cookie"))?;
        let page = res.text().await?;
        times.push(t.elapsed());
        let credential = device.get(&options_in(&page));
        let form = [
            ("csrf", hidden(&page, "csrf")?),
            ("flow", hidden(&page, "flow")?),
            ("state", hidden(&page, "state")?),
            ("credential", credential),
        ];
        let post = self.http.post(self.absolute("/login/passkey")).header(COOKIE, format!("ag_csrf={csrf_cookie}"));
        let res = timed(post.header(CONTENT_TYPE, FORM).body(encode(&form)), times).await?;
        cookie(&res, "ag_session").ok_or_else(|| fail(format!("no session ({})", res.status())))?;
        let callback = url::Url::parse(&location(&res)?)?;
        let code = callback.query_pairs().find(|(k, _)| k == "code").ok_or_else(|| fail("no code"))?.1.into_owned();
        let form = [
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("code", &code),
        ];
        let res =
            timed(self.http.post(self.absolute("/oauth2/token")).header(CONTENT_TYPE, FORM).body(encode(&form)), times)
                .await?;
        if !res.status().is_success() {
            return Err(fail(format!("token endpoint answered {}", res.status())));
        }
        let body: serde_json::Value = res.json().await?;
        if body["id_token"].as_str().is_none() {
            return Err(fail("no ID token"));
        }
        Ok(())
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Failure> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, client, users, conns, secs] = args.as_slice() else {
        return Err(fail("usage: passkey_load URL CLIENT_ID USERS CONNECTIONS SECONDS"));
    };
    let (users, conns, secs): (usize, usize, u64) = (users.parse()?, conns.parse()?, secs.parse()?);
    let challenge = authgraph::crypto::b64(authgraph::crypto::sha256(VERIFIER.as_bytes()));
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();

    // Sign-ups, eight at a time; each browser gets every conns-th device.
    let started = Instant::now();
    let mut devices: Vec<Vec<Device>> = (0..conns).map(|_| Vec::new()).collect();
    let browser = Arc::new(Browser::new(url));
    for chunk in (0..users).collect::<Vec<_>>().chunks(8) {
        let mut set = tokio::task::JoinSet::new();
        for &n in chunk {
            let b = browser.clone();
            set.spawn(async move { (n, b.sign_up(&format!("passkey{stamp}-{n}@example.com")).await) });
        }
        while let Some(done) = set.join_next().await {
            let (n, device) = done?;
            devices[n % conns].push(device?);
        }
    }
    eprintln!("signed up {users} passkey users in {:.1} s", started.elapsed().as_secs_f64());

    let stop = Arc::new(AtomicBool::new(false));
    let mut set = tokio::task::JoinSet::new();
    for mine in devices {
        let (url, client, challenge, stop) = (url.clone(), client.clone(), challenge.clone(), stop.clone());
        set.spawn(async move {
            let browser = Browser::new(&url);
            let mut mine = mine;
            let (mut times, mut whole, mut failures) = (Vec::new(), Vec::new(), 0u64);
            let mut next = 0;
            while !stop.load(Ordering::Relaxed) {
                let n = mine.len();
                let device = &mut mine[next % n];
                next += 1;
                let t = Instant::now();
                match browser.sign_in(device, &client, &challenge, &mut times).await {
                    Ok(()) => whole.push(t.elapsed()),
                    Err(e) => {
                        failures += 1;
                        if failures <= 3 {
                            eprintln!("sign-in failed: {e}");
                        }
                    }
                }
            }
            (times, whole, failures)
        });
    }
    let t = Instant::now();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    let (mut times, mut whole, mut failures) = (Vec::new(), Vec::new(), 0);
    while let Some(done) = set.join_next().await {
        let (t, w, f) = done?;
        times.extend(t);
        whole.extend(w);
        failures += f;
    }
    let elapsed = t.elapsed().as_secs_f64();
    times.sort();
    whole.sort();
    println!(
        "RESULT passkey_login logins={} rate={:.1}/s failures={failures} request_p50={:.2}ms request_p90={:.2}ms request_p99={:.2}ms login_p50={:.2}ms login_p99={:.2}ms",
        whole.len(),
        whole.len() as f64 / elapsed,
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        percentile(&times, 0.99),
        percentile(&whole, 0.5),
        percentile(&whole, 0.99),
    );
    Ok(())
}
