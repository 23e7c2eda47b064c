//! Hostile bytes in every form and query parameter of every endpoint, in Basic
//! credentials and in cookies.

use serde_json::Value;

use super::{API, Answer, EMAIL, Endpoint, Who, World, enc, endpoints, world};

/// Values with NUL, as they appear percent-encoded.
const NUL: &[&str] = &["%00", "ok%00", "%00%00%00"];

/// Other hostile values, percent-encoded (or raw where a browser might send them raw).
fn others(long: usize) -> Vec<String> {
    let mut v: Vec<String> = [
        "%FF",
        "%C0%80",
        "%ED%A0%80",
        "%ED%BF%BF%ED%A0%80",
        "%0D%0ASet-Cookie:%20x=1",
        "%27%22%5C",
        "'\"\\",
        "%",
        "%zz",
        "%E2%80%AE",
        "%F0%9F%98%80",
        "%01%1F%7F",
        "",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    v.push("a".repeat(long));
    v
}

/// Sends `params` (already encoded) to the endpoint as its browser would.
pub async fn send(
    w: &World,
    ep: &Endpoint,
    params: &[(String, String)],
    headers: &[(&str, &str)],
) -> Result<(u16, String), String> {
    let encoded = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let client = match ep.who {
        Who::Anon => &w.anon.client,
        Who::SignedIn => &w.signed_in.client,
    };
    let mut req = if ep.method == "GET" {
        client.get(format!("{}{}?{encoded}", w.app.url, ep.path))
    } else {
        client
            .post(format!("{}{}", w.app.url, ep.path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encoded)
    };
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let res = req.send().await.map_err(|e| format!("no answer: {e}"))?;
    let status = res.status().as_u16();
    Ok((status, res.text().await.map_err(|e| format!("body cut: {e}"))?))
}

/// A labelled set of encoded parameters, and whether it holds NUL.
type Case = (String, Vec<(String, String)>, bool);

/// Whether a refusal names the forbidden character (a page says what to fix; OAuth gives
/// `invalid_request` with a description).
fn refusal_ok(answer: Answer, status: u16, body: &str) -> bool {
    if status != 400 {
        return false;
    }
    match answer {
        Answer::Page => body.contains("character that is not allowed") && body.contains("U+0000"),
        Answer::Json => serde_json::from_str::<Value>(body).is_ok_and(|v| {
            v["error"] == "invalid_request"
                && v["error_description"].as_str().is_some_and(|d| d.contains("forbidden character"))
        }),
    }
}

#[tokio::test]
async fn nul_and_hostile_bytes_in_every_parameter_of_every_endpoint() {
    let w = world().await;
    let mut failures = Vec::new();
    for ep in endpoints(&w) {
        let long = if ep.method == "GET" { 6_000 } else { 200_000 };
        let base: Vec<(String, String)> = ep.params.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
        // A parameter name with NUL, next to valid parameters.
        let mut cases: Vec<Case> = Vec::new();
        let mut named = base.clone();
        named.push(("x%00".to_owned(), "1".to_owned()));
        cases.push(("a name with NUL".to_owned(), named, true));
        for i in 0..base.len() {
            for (value, nul) in
                NUL.iter().map(|v| ((*v).to_owned(), true)).chain(others(long).into_iter().map(|v| (v, false)))
            {
                let mut p = base.clone();
                let shown: String = value.chars().take(24).collect();
                p[i].1 = value;
                cases.push((format!("{}={shown}", p[i].0), p, nul));
            }
        }
        for (label, params, nul) in cases {
            let what = format!("{} {} with {label}", ep.method, ep.path);
            match send(&w, &ep, &params, &[]).await {
                Err(e) => failures.push(format!("{what}: {e}")),
                Ok((status, body)) if nul && !refusal_ok(ep.answer, status, &body) => {
                    failures.push(format!(
                        "{what}: expected a 400 naming the forbidden character, got {status}: {}",
                        &body[..body.len().min(300)]
                    ));
                }
                Ok((status, body)) if status >= 500 => {
                    failures.push(format!("{what}: {status}: {}", &body[..body.len().min(300)]));
                }
                Ok(_) => {}
            }
        }
    }
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    let health = w.app.client.get(format!("{}/healthz", w.app.url)).send().await.unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn nul_in_basic_credentials_and_cookies() {
    use base64::Engine;
    let w = world().await;
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let (m2m_id, m2m_secret) = (&w.m2m.0, &w.m2m.1);
    let basics = [
        (b64(format!("{m2m_id}%00:{m2m_secret}").as_bytes()), true),
        (b64(format!("{m2m_id}:{m2m_secret}%00").as_bytes()), true),
        (b64(format!("a\0b:{m2m_secret}").as_bytes()), true),
        (b64(b"\xff\xfe:x"), false),
        (b64(format!("{m2m_id}:%FF").as_bytes()), false),
        (b64(b"no-colon"), false),
        ("!!!".to_owned(), false),
    ];
    for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
        let ep = Endpoint { method: "POST", path, answer: Answer::Json, who: Who::Anon, params: vec![] };
        let params = vec![
            ("grant_type".to_owned(), "client_credentials".to_owned()),
            ("resource".to_owned(), enc(API)),
            ("token".to_owned(), enc(&w.access_token)),
        ];
        for (basic, nul) in &basics {
            let auth = format!("Basic {basic}");
            let (status, body) = send(&w, &ep, &params, &[("authorization", &auth)]).await.unwrap();
            if *nul {
                assert!(refusal_ok(Answer::Json, status, &body), "{path} with Basic {basic}: {status} {body}");
            } else {
                assert!((400..500).contains(&status), "{path} with Basic {basic}: {status} {body}");
            }
        }
    }
    // Cookies are percent-decoded: a NUL in the session or CSRF cookie reaches no query
    // (the session token is hashed first) and fails like any unknown cookie.
    for cookie in ["ag_session=%00", "ag_session=a%00b; ag_csrf=%00%00", "ag_csrf=%FF%00"] {
        for path in ["/settings", "/login", "/select_account?flow=x", "/oauth2/end_session"] {
            let res = w.app.client.get(format!("{}{path}", w.app.url)).header("cookie", cookie).send().await.unwrap();
            assert!(res.status().as_u16() < 500, "{path} with cookie {cookie}: {}", res.status());
        }
        let res = w
            .app
            .client
            .post(format!("{}/login", w.app.url))
            .header("cookie", cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf=%00&login_id={}&password=x", enc(EMAIL)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 400, "POST /login with cookie {cookie}");
    }
}
