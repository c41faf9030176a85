//! API Gateway (HTTP API, payload v2) → [`ApiRequest`], and back.

use super::routes::Route;
use super::{ApiRequest, ApiResponse, new_request_id, serve};
use crate::error::ApiError;
use crate::service::App;
use lambda_http::{Body, Request, RequestExt, Response};

pub fn to_api_request(request: Request) -> ApiRequest {
    let request_id = request.lambda_context_ref().map(|c| c.request_id.clone()).filter(|id| !id.is_empty()).unwrap_or_else(new_request_id);
    let (parts, body) = request.into_parts();
    let body = match body {
        Body::Empty => bytes::Bytes::new(),
        Body::Text(text) => bytes::Bytes::from(text),
        Body::Binary(bytes) => bytes::Bytes::from(bytes),
        _ => bytes::Bytes::new(),
    };
    ApiRequest::from_parts(parts, body, request_id)
}

pub fn to_lambda_response(response: ApiResponse) -> Response<Body> {
    let mut builder = Response::builder().status(response.status);
    for (name, value) in response.headers {
        builder = builder.header(name, value);
    }
    let body = if response.body.is_empty() { Body::Empty } else { Body::Text(String::from_utf8_lossy(&response.body).into_owned()) };
    builder.body(body).unwrap_or_else(|_| Response::new(Body::Empty))
}

/// Runs a per-route Lambda: the app is built once, each invocation is served by `serve`.
pub async fn run_route(app: App, route: Route) -> Result<(), lambda_http::Error> {
    let app = &app;
    lambda_http::run(lambda_http::service_fn(move |request: Request| async move {
        let response = serve_catching_panics(app.clone(), to_api_request(request), route).await;
        crate::metrics::flush();
        Ok::<_, std::convert::Infallible>(to_lambda_response(response))
    }))
    .await
}

/// `serve` on its own task, so that a panic (a bug) is still answered with the contract's 500
/// body and the request id, not a runtime crash that API Gateway turns into
/// `{"message":"Internal Server Error"}`; the process goes on serving.
async fn serve_catching_panics(app: App, request: ApiRequest, route: Route) -> ApiResponse {
    let request_id = request.request_id.clone();
    answer_catching_panics(request_id, async move { serve(&app, request, Some(route)).await }).await
}

/// Runs `answer` on its own task; a panic in it becomes the contract's 500.
pub(crate) async fn answer_catching_panics(request_id: String, answer: impl Future<Output = ApiResponse> + Send + 'static) -> ApiResponse {
    match tokio::spawn(answer).await {
        Ok(response) => response,
        Err(join_error) => {
            let mut response = ApiResponse::error(&ApiError::internal(format!("request handler panicked: {join_error}")));
            response.headers.push(("request-id", request_id));
            response
        }
    }
}

#[cfg(test)]
mod tests;
