//! Requests: to the routes that read form parameters, to any route (or a path near one),
//! and to the Admin API, each with random headers and credentials.

use serde_json::json;

use super::documents::DocGen;
use super::schema_model::Schema;
use super::values::{Pool, Rng, alter, encode, encoded, mangle_text};
use crate::hostile_input::{Who, World, endpoints};

/// Which client sends a request.
#[derive(Clone, Copy, Debug)]
pub(super) enum Sender {
    Browser(Who),
    Plain,
}

/// One request, fully described, so that a failure can be shown and replayed.
#[derive(Debug)]
pub struct Req {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) headers: Vec<(String, Vec<u8>)>,
    pub(super) body: Vec<u8>,
    pub(super) sender: Sender,
}

impl Req {
    pub(super) fn describe(&self) -> String {
        let body = String::from_utf8_lossy(&self.body);
        let body: String = body.chars().take(600).collect();
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(k, v)| format!("{k}: {}", String::from_utf8_lossy(v).chars().take(200).collect::<String>()))
            .collect();
        let path: String = self.path.chars().take(600).collect();
        format!(
            "{} {path} ({:?})\n  headers: {headers:?}\n  body ({} bytes): {body}",
            self.method,
            self.sender,
            self.body.len()
        )
    }
}

const ROUTES: &[&str] = &[
    "/_api/admin/graphql",
    "/graphiql",
    "/_api/admin/graphiql",
    "/_api/admin/graphiql/graphiql.js",
    "/_api/admin/graphiql/graphiql.css",
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",
    "/oauth2/jwks",
    "/oauth2/token",
    "/oauth2/introspect",
    "/oauth2/revoke",
    "/oauth2/userinfo",
    "/oauth2/authorize",
    "/oauth2/authorize/resume",
    "/oauth2/end_session",
    "/logout",
    "/login",
    "/signup",
    "/select_account",
    "/consent",
    "/forgot_password",
    "/reset_password",
    "/settings",
    "/settings/profile",
    "/settings/password",
    "/settings/reauthenticate",
    "/login/change_password",
    "/settings/sessions/revoke",
    "/settings/delete",
    "/static/authgraph.css",
    "/healthz",
    "/readyz",
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "FUZZ"];

const CONTENT_TYPES: &[&str] = &[
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-16",
    "APPLICATION/X-WWW-FORM-URLENCODED",
    "application/json",
    "application/graphql",
    "application/graphql-response+json",
    "text/plain",
    "multipart/form-data; boundary=xyz",
    "",
    ";;;",
];

/// Tokens and credentials the fuzzer can present.
pub(super) struct Creds {
    pub(super) admin: String,
    pub(super) narrow: Vec<String>,
    pub(super) access: String,
    pub(super) m2m: (String, String),
}

fn header_value(rng: &mut Rng, pool: &Pool) -> Vec<u8> {
    match rng.below(4) {
        0 => (0..rng.below(60))
            .map(|_| *rng.pick(&[b'a', b' ', b'\t', b'"', b';', b'=', b',', 0x80, 0xff, 0xc3, 0xa9]))
            .collect(),
        _ => pool
            .string(rng)
            .bytes()
            .filter(|b| *b == b'\t' || (0x20..0x7f).contains(b) || *b >= 0x80)
            .take(8_000)
            .collect(),
    }
}

fn random_headers(rng: &mut Rng, pool: &Pool, creds: &Creds, w: &World) -> Vec<(String, Vec<u8>)> {
    let mut h: Vec<(String, Vec<u8>)> = Vec::new();
    for _ in 0..rng.below(4) {
        let (name, value): (&str, Vec<u8>) = match rng.below(10) {
            0 => ("authorization", format!("Bearer {}", creds.admin).into_bytes()),
            1 => ("authorization", format!("Bearer {}", creds.access).into_bytes()),
            2 => {
                let raw = match rng.below(3) {
                    0 => format!("{}:{}", creds.m2m.0, creds.m2m.1),
                    1 => format!("{}:{}", w.spa, pool.string(rng)),
                    _ => pool.string(rng),
                };
                let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, raw.as_bytes());
                ("authorization", format!("Basic {b64}").into_bytes())
            }
            3 => ("authorization", header_value(rng, pool)),
            4 => ("origin", if rng.chance(50) { b"http://127.0.0.1:9".to_vec() } else { header_value(rng, pool) }),
            5 => ("cookie", {
                let name = rng.pick(&["ag_session", "ag_csrf", "__Host-ag_session", "x"]).to_string();
                let v = encoded(rng, pool);
                format!("{name}={v}").into_bytes()
            }),
            6 => ("content-type", rng.pick(CONTENT_TYPES).as_bytes().to_vec()),
            7 => ("x-forwarded-for", header_value(rng, pool)),
            8 => ("access-control-request-method", b"POST".to_vec()),
            _ => ("user-agent", header_value(rng, pool)),
        };
        h.push((name.to_owned(), value));
    }
    h
}

/// A form request to a route that reads parameters, with its parameters mangled.
pub(super) fn form_request(rng: &mut Rng, w: &World, pool: &Pool, creds: &Creds) -> Req {
    let eps = endpoints(w);
    let ep = &eps[rng.below(eps.len())];
    let mut params: Vec<(String, String)> = ep.params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    for _ in 0..1 + rng.below(3) {
        match rng.below(8) {
            0 | 1 if !params.is_empty() => {
                let i = rng.below(params.len());
                params[i].1 = encoded(rng, pool);
            }
            2 if !params.is_empty() => {
                // This very parameter's good value, made bad.
                let i = rng.below(params.len());
                let good: String = url::form_urlencoded::parse(format!("x={}", params[i].1).as_bytes())
                    .map(|(_, v)| v.into_owned())
                    .collect();
                let bad = alter(rng, &good);
                params[i].1 = encode(rng, &bad);
            }
            3 if !params.is_empty() => {
                params.remove(rng.below(params.len()));
            }
            4 if !params.is_empty() => {
                let i = rng.below(params.len());
                let mut dup = params[i].clone();
                if rng.chance(50) {
                    dup.1 = encoded(rng, pool);
                }
                params.push(dup);
            }
            5 => params.push((encoded(rng, pool), encoded(rng, pool))),
            6 => {
                let n = params.len();
                for i in 0..n {
                    let j = rng.below(n);
                    params.swap(i, j);
                }
            }
            _ => params.push((
                rng.pick(&["x_sdk", "acr_values", "claims", "display", "registration", "code_challenge"]).to_string(),
                encoded(rng, pool),
            )),
        }
    }
    let encoded = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let method = if rng.chance(10) { rng.pick(METHODS).to_string() } else { ep.method.to_owned() };
    let mut headers = random_headers(rng, pool, creds, w);
    let (path, body) = if method == "GET" || method == "HEAD" || rng.chance(5) {
        (format!("{}?{encoded}", ep.path), Vec::new())
    } else {
        if !headers.iter().any(|(k, _)| k == "content-type") {
            let ct = if rng.chance(90) { CONTENT_TYPES[0] } else { rng.pick(CONTENT_TYPES) };
            headers.push(("content-type".to_owned(), ct.as_bytes().to_vec()));
        }
        let body = match rng.below(30) {
            0 => (0..rng.below(2_000)).map(|_| rng.below(256) as u8).collect(),
            1 => json!({"client_id": w.spa, "grant_type": "client_credentials"}).to_string().into_bytes(),
            2 => vec![b'a'; 1_100_000],
            _ => encoded.into_bytes(),
        };
        (ep.path.to_owned(), body)
    };
    let sender = if rng.chance(15) { Sender::Plain } else { Sender::Browser(ep.who) };
    Req { method, path, headers, body, sender }
}

/// Any route (or a path near one) with any method and a random query and body.
pub(super) fn route_request(rng: &mut Rng, w: &World, pool: &Pool, creds: &Creds) -> Req {
    let mut path = rng.pick(ROUTES).to_string();
    match rng.below(8) {
        0 => {
            const SUFFIXES: [&str; 8] = ["/", "//", "/x", "%00", "/..%2f..", ".json", "?", "#frag"];
            path.push_str(SUFFIXES[rng.below(SUFFIXES.len())]);
        }
        1 => path = format!("/{}", encoded(rng, pool)),
        _ => {}
    }
    if rng.chance(50) {
        let q: Vec<String> =
            (0..rng.below(4)).map(|_| format!("{}={}", encoded(rng, pool), encoded(rng, pool))).collect();
        path.push('?');
        path.push_str(&q.join("&"));
    }
    let method = if rng.chance(60) { "GET".to_owned() } else { rng.pick(METHODS).to_string() };
    let body = if rng.chance(30) { pool.string(rng).into_bytes() } else { Vec::new() };
    let sender = *rng.pick(&[Sender::Plain, Sender::Browser(Who::Anon), Sender::Browser(Who::SignedIn)]);
    Req { method, path, headers: random_headers(rng, pool, creds, w), body, sender }
}

/// An Admin API request: a random document with variables, as JSON or `application/graphql`,
/// with a full, narrow, foreign or broken token.
pub(super) fn graphql_request(rng: &mut Rng, w: &World, pool: &Pool, schema: &Schema, creds: &Creds) -> Req {
    let wild = rng.chance(25);
    let doc_gen = DocGen {
        rng,
        schema,
        pool,
        wild,
        var_defs: Vec::new(),
        variables: serde_json::Map::new(),
        fragments: Vec::new(),
        aliases: 0,
        hint: String::new(),
    };
    let (doc, variables, op) = doc_gen.document();
    let auth = match rng.below(20) {
        0..=13 => Some(format!("Bearer {}", creds.admin)),
        14..=16 => Some(format!("Bearer {}", rng.pick(&creds.narrow))),
        17 => Some(format!("Bearer {}", creds.access)),
        18 => Some(format!("Bearer {}", mangle_text(rng, &creds.admin))),
        _ => None,
    };
    let mut headers: Vec<(String, Vec<u8>)> =
        auth.map(|a| ("authorization".to_owned(), a.into_bytes())).into_iter().collect();
    let body = match rng.below(20) {
        0 => {
            headers.push(("content-type".to_owned(), b"application/graphql".to_vec()));
            doc.into_bytes()
        }
        1 => {
            headers.push(("content-type".to_owned(), b"application/json".to_vec()));
            let mut s = json!({"query": doc, "variables": variables}).to_string().into_bytes();
            s.truncate(rng.below(s.len()));
            s
        }
        2 => {
            headers.push(("content-type".to_owned(), b"application/json".to_vec()));
            let v = rng.pick(&[json!([{"query": "{ __typename }"}]), json!({"query": 1}), json!({"variables": "x"}), json!(null), json!({"query": "{ __typename }", "variables": [1], "extensions": {"persistedQuery": {"version": 1, "sha256Hash": "x"}}})]).clone();
            v.to_string().into_bytes()
        }
        _ => {
            headers.push(("content-type".to_owned(), b"application/json".to_vec()));
            let mut req = json!({"query": doc, "variables": variables});
            if let Some(op) = op {
                req["operationName"] = json!(op);
            }
            req.to_string().into_bytes()
        }
    };
    if rng.chance(10) {
        headers.extend(random_headers(rng, pool, creds, w));
    }
    let method = if rng.chance(3) { "GET".to_owned() } else { "POST".to_owned() };
    Req { method, path: "/_api/admin/graphql".to_owned(), headers, body, sender: Sender::Plain }
}
