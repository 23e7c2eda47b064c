//! The Admin API's subscriptions over WebSocket (`graphql-transport-ws`, and the older
//! `graphql-ws`) on `GET /_api/admin/graphql` with `Upgrade: websocket`. The bearer token
//! comes in `connection_init`'s payload (`{"Authorization": "Bearer …"}`) or in the
//! upgrade request's `Authorization` header; without a valid one the connection is
//! closed. Each subscription then passes the same scope plan as a POSTed operation.

use std::sync::{Arc, OnceLock};

use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::{Data, Executor, Request, Response};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::extract::{FromRequestParts, State, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
use futures::StreamExt;
use futures::stream::BoxStream;
use serde_json::Value;

use crate::domain::scope::AdminScope;
use crate::graphql::AdminSchema;
use crate::graphql::context::{Principal, RequestMeta};
use crate::state::{AppState, Peer};

/// The schema, run only for the principal the connection authenticated, after the
/// scope plan.
#[derive(Clone)]
struct Checked {
    schema: AdminSchema,
    principal: Arc<OnceLock<Principal>>,
    meta: RequestMeta,
}

impl Checked {
    /// The request with the caller, or the refusal.
    fn admit(&self, mut request: Request) -> Result<Request, Box<Response>> {
        let Some(principal) = self.principal.get().cloned() else {
            return Err(Box::new(Response::from_errors(vec![async_graphql::ServerError::new(
                "authentication required",
                None,
            )])));
        };
        if let Some(planner) = self.schema.data::<crate::graphql::scopes::Planner>()
            && let Err(e) = planner.check(&mut request, Some(&principal))
        {
            return Err(Box::new(Response::from_errors(vec![e])));
        }
        Ok(request.data(principal).data(self.meta.clone()))
    }
}

impl Executor for Checked {
    fn execute(&self, request: Request) -> impl Future<Output = Response> + Send {
        let this = self.clone();
        async move {
            match this.admit(request) {
                Ok(r) => this.schema.execute(r).await,
                Err(refused) => *refused,
            }
        }
    }

    fn execute_stream(&self, request: Request, session_data: Option<Arc<Data>>) -> BoxStream<'static, Response> {
        match self.admit(request) {
            Ok(r) => Executor::execute_stream(&self.schema, r, session_data),
            Err(refused) => futures::stream::once(async move { *refused }).boxed(),
        }
    }
}

/// The token of a `connection_init` payload: `Authorization` (any case) as
/// `Bearer <token>`, or a bare `token`.
fn payload_token(payload: &Value) -> Option<String> {
    let obj = payload.as_object()?;
    let v = obj.iter().find(|(k, _)| k.eq_ignore_ascii_case("authorization")).and_then(|(_, v)| v.as_str());
    if let Some(v) = v {
        return (v.len() > 7 && v[..7].eq_ignore_ascii_case("bearer ")).then(|| v[7..].trim().to_owned());
    }
    obj.get("token").and_then(Value::as_str).map(str::to_owned)
}

/// `GET /_api/admin/graphql`: a WebSocket upgrade runs subscriptions; any other GET is
/// GraphiQL (when enabled).
pub async fn get(State(state): State<AppState>, peer: Peer, request: axum::extract::Request) -> HttpResponse {
    let upgrade_asked = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade_asked {
        if state.services.config().admin_api.graphiql {
            return super::graphiql::page().await.into_response();
        }
        return (StatusCode::METHOD_NOT_ALLOWED, "POST a GraphQL request, or open a WebSocket for subscriptions")
            .into_response();
    }
    let (mut parts, _) = request.into_parts();
    let Ok(protocol) = GraphQLProtocol::from_request_parts(&mut parts, &state).await else {
        return (StatusCode::BAD_REQUEST, "Sec-WebSocket-Protocol must be graphql-transport-ws or graphql-ws")
            .into_response();
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    let header_token = crate::state::bearer_token(&parts.headers).map(str::to_owned);
    let meta = RequestMeta {
        ip: Some(peer.0.ip().to_string()),
        user_agent: parts.headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).map(str::to_owned),
    };
    let principal = Arc::new(OnceLock::new());
    let executor = Checked { schema: state.schema.clone(), principal: principal.clone(), meta };
    let services = state.services.clone();
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| {
        GraphQLWebSocket::new(socket, executor, protocol)
            .on_connection_init(move |payload: Value| async move {
                let Some(token) = payload_token(&payload).or(header_token) else {
                    return Err(async_graphql::Error::new(
                        "a bearer token is required: send {\"Authorization\": \"Bearer <token>\"} in connection_init",
                    ));
                };
                let claims =
                    services.signing_keys().verify_admin_token(&token).await.map_err(async_graphql::Error::new)?;
                let p = Principal {
                    subject: claims.sub,
                    scopes: claims.scope.split_whitespace().filter_map(AdminScope::parse).collect(),
                    client_id: claims.client_id,
                };
                let _ = principal.set(p);
                Ok(Data::default())
            })
            .serve()
    })
}
