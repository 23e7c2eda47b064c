//! `POST /_api/admin/graphql`: bearer-token auth, then the GraphQL request.

use crate::graphql::error::code;
use async_graphql::dataloader::DataLoader;
use async_graphql_axum::GraphQLResponse;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::scope::AdminScope;
use crate::graphql::context::{Principal, RequestMeta};
use crate::graphql::loaders::AppLoader;
use crate::state::{AppState, Peer};

fn unauthorized(description: &str) -> Response {
    let challenge = format!(
        "Bearer realm=\"authgraph\", error=\"invalid_token\", error_description=\"{}\"",
        description.replace('"', "'")
    );
    let body = json!({
        "errors": [{"message": description, "extensions": {"code": code::UNAUTHENTICATED, "errorName": "Unauthenticated"}}]
    });
    (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, challenge)], axum::Json(body)).into_response()
}

fn bad_request(description: &str) -> Response {
    let body = json!({
        "errors": [{"message": description, "extensions": {"code": code::BAD_USER_INPUT, "errorName": "Invalid"}}]
    });
    (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
}

/// Runs an Admin API request for an authenticated caller.
pub async fn graphql(State(state): State<AppState>, peer: Peer, headers: HeaderMap, body: Bytes) -> Response {
    let token = match crate::state::bearer_token(&headers) {
        Some(t) => t,
        None if headers.contains_key(header::AUTHORIZATION) => {
            return unauthorized("the Authorization header must be `Bearer <token>`");
        }
        None => return unauthorized("an Authorization: Bearer <token> header is required"),
    };
    let claims = match state.services.signing_keys().verify_admin_token(token).await {
        Ok(c) => c,
        Err(reason) => return unauthorized(&reason),
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let request: async_graphql::Request = if content_type.starts_with("application/graphql") {
        match std::str::from_utf8(&body) {
            Ok(q) => async_graphql::Request::new(q),
            Err(_) => return bad_request("the body is not UTF-8"),
        }
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return bad_request(&format!("the body is not a GraphQL request in JSON: {e}")),
        }
    };
    let principal = Principal {
        subject: claims.sub,
        scopes: claims.scope.split_whitespace().filter_map(AdminScope::parse).collect(),
        client_id: claims.client_id,
    };
    let meta = RequestMeta {
        ip: Some(peer.0.ip().to_string()),
        user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    // One loader per request: batches nested fields of a page into one query per field.
    // The page size is capped at 100, so 1,000 keys hold every batch of one page.
    let loader = DataLoader::new(AppLoader(state.services.clone()), tokio::spawn)
        .max_batch_size(1000)
        .delay(std::time::Duration::from_millis(1));
    // Scopes, cost, size and text are decided for the whole request before anything runs.
    let mut request = request;
    let checked = match state.schema.data::<crate::graphql::scopes::Planner>() {
        Some(planner) => planner.check(&mut request, Some(&principal)),
        None => Ok(()),
    };
    let mut response = match checked {
        Ok(()) => {
            state
                .schema
                .execute(
                    request
                        .data(principal)
                        .data(meta)
                        .data(loader)
                        .data(crate::graphql::prefetch::Prefetched::default()),
                )
                .await
        }
        Err(e) => async_graphql::Response::from_errors(vec![e]),
    };
    // Errors raised by async-graphql itself (syntax, validation, variable coercion, depth
    // and complexity limits) are the client's mistakes; give them a code like ours.
    for error in &mut response.errors {
        let extensions = error.extensions.get_or_insert_with(Default::default);
        if extensions.get("code").is_none() {
            extensions.set("code", code::BAD_USER_INPUT);
            extensions.set("errorName", "Invalid");
            extensions.set("reason", "InvalidQuery");
        }
    }
    GraphQLResponse::from(response).into_response()
}
