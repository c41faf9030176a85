//! The HTTP layer: one request/response shape for API Gateway (Lambda) and the local server,
//! the router, and the error-to-HTTP mapping. Handlers only extract and validate, then call
//! `service`.

pub mod dashboard;
pub mod lambda;
pub mod local_server;
pub mod openapi;
pub mod routes;

use crate::error::ApiError;
use crate::service::rate_limit::Meter;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use std::time::Instant;
use tracing::Instrument;

/// Bodies above this are refused before parsing (413).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct ApiRequest {
    pub method: Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub request_id: String,
}

impl ApiRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// From an HTTP request's parts (API Gateway's or the local server's).
    pub fn from_parts(parts: http::request::Parts, body: Bytes, request_id: String) -> ApiRequest {
        ApiRequest {
            query: ApiRequest::parse_query(parts.uri.query()),
            path: parts.uri.path().to_owned(),
            method: parts.method,
            headers: parts.headers,
            body,
            request_id,
        }
    }

    /// Parses a raw query string (`a=1&b=x%20y`).
    pub fn parse_query(raw: Option<&str>) -> Vec<(String, String)> {
        raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect()).unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct ApiResponse {
    pub status: StatusCode,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
}

impl ApiResponse {
    pub fn json(status: StatusCode, body: impl Into<Bytes>) -> ApiResponse {
        ApiResponse { status, headers: vec![("content-type", "application/json".to_owned())], body: body.into() }
    }

    pub fn empty(status: StatusCode) -> ApiResponse {
        ApiResponse { status, headers: Vec::new(), body: Bytes::new() }
    }

    pub fn error(error: &ApiError) -> ApiResponse {
        let body = serde_json::to_vec(&error.body()).unwrap_or_else(|_| {
            br#"{"error":{"type":"internal_error","code":"internal_server_error","message":"An unexpected error occurred.","param":null}}"#.to_vec()
        });
        let mut response = ApiResponse::json(error.status(), body);
        if let Some(allow) = &error.allow {
            response.headers.push(("allow", allow.clone()));
        }
        response
    }
}

/// Runs a route's handler under its organization's rate limit (when the route is metered) and
/// says where the caller stands in the rate-limit headers of every tenant's response.
async fn serve_metered(app: &crate::service::App, matched: &routes::RouteMatch, request: &ApiRequest) -> ApiResponse {
    let Some((class, charge)) = matched.route.rate_class() else {
        return routes::handle(app, matched, request).await.unwrap_or_else(|error| ApiResponse::error(&error));
    };
    let meter = std::sync::Arc::new(Meter::new(class, charge));
    let result = routes::handle(&app.metered(meter.clone()), matched, request).await;
    meter.finish(app.store.as_ref()).await;
    let now_unix = app.now().timestamp();
    let mut response = match result {
        // Refused at authentication, or by the counter in the commit: either way nothing was done.
        _ if meter.limited() => ApiResponse::error(&ApiError::rate_limited(meter.status().map_or(1, |status| status.retry_after(now_unix)))),
        Ok(response) => response,
        Err(error) => ApiResponse::error(&error),
    };
    if let Some(status) = meter.status() {
        response.headers.push(("x-ratelimit-limit", status.limit.to_string()));
        response.headers.push(("x-ratelimit-remaining", status.remaining().to_string()));
        response.headers.push(("x-ratelimit-reset", status.resets_at.to_string()));
        if status.exceeded {
            response.headers.push(("retry-after", status.retry_after(now_unix).to_string()));
        }
    }
    response
}

/// A fresh request id when the platform gave none.
pub fn new_request_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 12];
    rand::rng().fill_bytes(&mut bytes);
    format!("req_{}", hex::encode(bytes))
}

/// Serves one request: routing, the handler, the error mapping and one access-log line.
/// `only` restricts a per-route Lambda to its own route (anything else is a 404).
pub async fn serve(app: &crate::service::App, request: ApiRequest, only: Option<routes::Route>) -> ApiResponse {
    let span = tracing::info_span!("request", request_id = %request.request_id);
    serve_in_span(app, request, only).instrument(span).await
}

async fn serve_in_span(app: &crate::service::App, request: ApiRequest, only: Option<routes::Route>) -> ApiResponse {
    let started = Instant::now();
    if dashboard::owns(&request.path) && only.is_none_or(|only| only == routes::Route::Dashboard) {
        let response = dashboard::serve(&request);
        tracing::info!(method = %request.method, route = "dashboard", status = response.status.as_u16(), latency_ms = started.elapsed().as_secs_f64() * 1000.0, "request");
        return response;
    }
    let matched = routes::match_route(&request.method, &request.path);
    let route_name = matched.as_ref().map(|m| m.route.name()).unwrap_or("unmatched");
    let response = match matched {
        // API Gateway routed this request to the fallback, so no route of the stack takes it
        // in this form (a trailing slash, say): it is not found, whatever it resembles.
        Ok(_) if only == Some(routes::Route::Fallback) => ApiResponse::error(&ApiError::route_not_found(request.method.as_str(), &request.path)),
        Ok(matched) if only.is_some_and(|only| only != matched.route) => ApiResponse::error(&ApiError::route_not_found(request.method.as_str(), &request.path)),
        Ok(matched) => serve_metered(app, &matched, &request).await,
        Err(error) => ApiResponse::error(&error),
    };
    let mut response = response;
    response.headers.push(("request-id", request.request_id.clone()));
    tracing::info!(
        method = %request.method,
        route = route_name,
        status = response.status.as_u16(),
        latency_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}
