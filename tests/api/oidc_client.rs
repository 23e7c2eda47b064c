//! The `openidconnect` crate as an independent client: it fetches the JWKS and performs
//! the client-credentials exchange over HTTP (through reqwest 0.13 in a small closure).

use openidconnect::core::{CoreClient, CoreJsonWebKeySet};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, JsonWebKeySetUrl, OAuth2TokenResponse, Scope, TokenUrl};
use serde_json::json;

use crate::helpers::spawn_app;
use crate::rp::http_client;

#[tokio::test]
async fn openidconnect_performs_the_client_credentials_exchange() {
    let app = spawn_app().await;
    let api = "https://api.example.com/oidc-client";
    let d = app
        .ok("mutation { createApplication(input: {name: \"Worker\", type: M2M}) { application { clientID } clientSecret } }", json!({}))
        .await;
    let client_id = d["createApplication"]["application"]["clientID"].as_str().unwrap().to_owned();
    let secret = d["createApplication"]["clientSecret"].as_str().unwrap().to_owned();
    app.ok(
        "mutation($u: String!, $c: String!) { createResource(input: {resourceURI: $u}) { resource { id } } createScope(input: {resourceURI: $u, scope: \"read\"}) { scope { id } } addResourceToClientID(input: {resourceURI: $u, clientID: $c}) { resource { id } } addScopesToClientID(input: {resourceURI: $u, clientID: $c, scopes: [\"read\"]}) { scopes { scope } } }",
        json!({"u": api, "c": client_id}),
    )
    .await;

    let http = http_client(reqwest::Client::new());
    let jwks =
        CoreJsonWebKeySet::fetch_async(&JsonWebKeySetUrl::new(format!("{}/oauth2/jwks", app.url)).unwrap(), &http)
            .await
            .expect("openidconnect parses the JWKS");
    assert!(jwks.keys().len() >= 3);
    let client = CoreClient::new(ClientId::new(client_id.clone()), IssuerUrl::new(app.url.clone()).unwrap(), jwks)
        .set_client_secret(ClientSecret::new(secret))
        .set_token_uri(TokenUrl::new(format!("{}/oauth2/token", app.url)).unwrap());
    let token = client
        .exchange_client_credentials()
        .add_scope(Scope::new("read".into()))
        .add_extra_param("resource", api)
        .request_async(&http)
        .await
        .expect("client credentials exchange");
    assert_eq!(token.token_type().as_ref(), "bearer");
    assert_eq!(
        token.scopes().map(|s| s.iter().map(|s| s.to_string()).collect::<Vec<_>>()),
        Some(vec!["read".to_owned()])
    );
    assert!(token.refresh_token().is_none());

    // The token verifies against the JWKS with jsonwebtoken (another JOSE library).
    let access = token.access_token().secret();
    let header = jsonwebtoken::decode_header(access).unwrap();
    let set: jsonwebtoken::jwk::JwkSet =
        app.client.get(format!("{}/oauth2/jwks", app.url)).send().await.unwrap().json().await.unwrap();
    let jwk = set.find(header.kid.as_deref().unwrap()).unwrap();
    let mut v = jsonwebtoken::Validation::new(header.alg);
    v.set_audience(&[api]);
    let claims =
        jsonwebtoken::decode::<serde_json::Value>(access, &jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap(), &v)
            .unwrap()
            .claims;
    assert_eq!(claims["client_id"], client_id.as_str());

    // A wrong secret is refused with invalid_client.
    let bad = CoreClient::new(
        ClientId::new(client_id),
        IssuerUrl::new(app.url.clone()).unwrap(),
        CoreJsonWebKeySet::new(vec![]),
    )
    .set_client_secret(ClientSecret::new("wrong".into()))
    .set_token_uri(TokenUrl::new(format!("{}/oauth2/token", app.url)).unwrap());
    let err =
        bad.exchange_client_credentials().add_extra_param("resource", api).request_async(&http).await.unwrap_err();
    assert!(format!("{err:?}").contains("invalid_client"), "{err:?}");
}
