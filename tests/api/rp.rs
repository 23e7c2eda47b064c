//! A relying party and a browser for the login tests: the `openidconnect` crate over
//! reqwest 0.13, and a cookie-keeping client that fills in the Auth UI's HTML forms.

use openidconnect::core::{CoreClient, CoreJsonWebKeySet};
use openidconnect::{
    AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, HttpRequest, HttpResponse, IssuerUrl,
    JsonWebKeySetUrl, RedirectUrl, TokenUrl, UserInfoUrl,
};
use serde_json::json;

use crate::helpers::TestApp;

#[derive(Debug)]
pub struct HttpError(String);

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for HttpError {}

pub type HttpFuture = std::pin::Pin<Box<dyn Future<Output = Result<HttpResponse, HttpError>> + Send>>;

/// Adapts reqwest 0.13 to the closure interface of oauth2 5.
pub fn http_client(client: reqwest::Client) -> impl Fn(HttpRequest) -> HttpFuture {
    move |req: HttpRequest| {
        let client = client.clone();
        Box::pin(async move {
            let (parts, body) = req.into_parts();
            let mut builder = client.request(parts.method, parts.uri.to_string()).body(body);
            for (name, value) in &parts.headers {
                builder = builder.header(name, value);
            }
            let res = builder.send().await.map_err(|e| HttpError(e.to_string()))?;
            let mut out = http::Response::builder().status(res.status());
            for (name, value) in res.headers() {
                out = out.header(name, value);
            }
            let bytes = res.bytes().await.map_err(|e| HttpError(e.to_string()))?;
            out.body(bytes.to_vec()).map_err(|e| HttpError(e.to_string()))
        })
    }
}

/// A fully configured openidconnect client.
pub type Rp = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet, EndpointSet>;

/// Registers an application and returns its client ID and secret (if it has one).
pub async fn register(app: &TestApp, kind: &str, redirect: &str) -> (String, Option<String>) {
    let d = app
        .ok(
            "mutation($t: ApplicationType!, $r: String!) { createApplication(input: {name: \"App\", type: $t, redirectURIs: [$r], postLogoutRedirectURIs: [\"http://127.0.0.1:9/bye\"]}) { application { clientID } clientSecret } }",
            json!({"t": kind, "r": redirect}),
        )
        .await;
    let c = &d["createApplication"];
    (c["application"]["clientID"].as_str().unwrap().to_owned(), c["clientSecret"].as_str().map(str::to_owned))
}

/// An openidconnect client for a registered application.
pub async fn relying_party(app: &TestApp, client_id: &str, secret: Option<&str>, redirect: &str) -> Rp {
    let http = http_client(reqwest::Client::new());
    let jwks =
        CoreJsonWebKeySet::fetch_async(&JsonWebKeySetUrl::new(format!("{}/oauth2/jwks", app.url)).unwrap(), &http)
            .await
            .unwrap();
    let mut client =
        CoreClient::new(ClientId::new(client_id.to_owned()), IssuerUrl::new(app.url.clone()).unwrap(), jwks)
            .set_auth_uri(AuthUrl::new(format!("{}/oauth2/authorize", app.url)).unwrap())
            .set_token_uri(TokenUrl::new(format!("{}/oauth2/token", app.url)).unwrap())
            .set_user_info_url(UserInfoUrl::new(format!("{}/oauth2/userinfo", app.url)).unwrap())
            .set_redirect_uri(RedirectUrl::new(redirect.to_owned()).unwrap());
    if let Some(s) = secret {
        client = client.set_client_secret(ClientSecret::new(s.to_owned()));
    }
    client
}

/// What the browser ended at.
#[derive(Debug)]
pub enum Landing {
    /// A redirect that leaves the server (to the client).
    Redirect(String),
    /// A page of the server: status and HTML.
    Page(u16, String),
}

impl Landing {
    /// The callback URL; panics on a page.
    pub fn redirect(self) -> String {
        match self {
            Self::Redirect(u) => u,
            Self::Page(s, body) => panic!("expected a redirect to the client, got page {s}: {body}"),
        }
    }

    /// The page; panics on a redirect.
    pub fn page(self) -> (u16, String) {
        match self {
            Self::Page(s, b) => (s, b),
            Self::Redirect(u) => panic!("expected a page, got a redirect to {u}"),
        }
    }
}

/// A browser: keeps cookies, follows the server's redirects, stops at the client's.
pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
}

impl Browser {
    pub fn new(app: &TestApp) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent("test-browser/1.0")
            .build()
            .unwrap();
        Self { client, base: app.url.clone() }
    }

    fn absolute(&self, url: &str) -> String {
        if url.starts_with('/') { format!("{}{url}", self.base) } else { url.to_owned() }
    }

    async fn settle(&self, mut res: reqwest::Response) -> Landing {
        loop {
            let status = res.status().as_u16();
            if (300..400).contains(&status) {
                let loc = res.headers()["location"].to_str().unwrap().to_owned();
                let abs = self.absolute(&loc);
                if !abs.starts_with(&self.base) {
                    return Landing::Redirect(abs);
                }
                res = self.client.get(abs).send().await.unwrap();
            } else {
                return Landing::Page(status, res.text().await.unwrap());
            }
        }
    }

    /// GET and follow the server's redirects.
    pub async fn open(&self, url: &str) -> Landing {
        let res = self.client.get(self.absolute(url)).send().await.unwrap();
        self.settle(res).await
    }

    /// POST a form and follow the server's redirects.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> Landing {
        let body = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(fields).finish();
        let res = self
            .client
            .post(self.absolute(path))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        self.settle(res).await
    }

    /// Fills in the login form on `page` and submits it.
    pub async fn login(&self, page: &str, login_id: &str, password: &str) -> Landing {
        let csrf = hidden(page, "csrf");
        let flow = hidden(page, "flow");
        self.submit("/login", &[("csrf", &csrf), ("flow", &flow), ("login_id", login_id), ("password", password)]).await
    }

    /// Opens an authorization URL and logs in on the page it shows.
    pub async fn authorize_with_login(&self, url: &str, login_id: &str, password: &str) -> String {
        let (status, page) = self.open(url).await.page();
        assert_eq!(status, 200, "{page}");
        assert!(page.contains("action=\"/login\""), "expected the login page: {page}");
        self.login(&page, login_id, password).await.redirect()
    }
}

/// The value of a hidden input (or any input) named `name` in `html`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no field {name} in {html}")) + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end]
        .replace("&#x2f;", "/")
        .replace("&amp;", "&")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
}

/// A query parameter of a URL.
pub fn param(url: &str, name: &str) -> Option<String> {
    url::Url::parse(url).unwrap().query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
}
