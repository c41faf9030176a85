//! The local HTTP server: hyper on loopback, every route, through the same `serve` as Lambda.

use super::{ApiRequest, ApiResponse, MAX_BODY_BYTES, new_request_id, serve};
use crate::error::ApiError;
use crate::service::App;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use tokio::net::TcpListener;

async fn to_api_request(request: hyper::Request<Incoming>) -> Result<ApiRequest, ApiError> {
    let (parts, body) = request.into_parts();
    // Read at most one byte past the limit: enough to know it is too large.
    let body = Limited::new(body, MAX_BODY_BYTES + 1).collect().await.map_err(|_| ApiError::body_too_large(MAX_BODY_BYTES))?.to_bytes();
    let request_id =
        parts.headers.get("x-request-id").and_then(|v| v.to_str().ok()).filter(|v| v.len() <= 128).map(str::to_owned).unwrap_or_else(new_request_id);
    Ok(ApiRequest::from_parts(parts, body, request_id))
}

fn to_hyper_response(response: ApiResponse) -> hyper::Response<Full<Bytes>> {
    let mut builder = hyper::Response::builder().status(response.status);
    for (name, value) in response.headers {
        builder = builder.header(name, value);
    }
    builder.body(Full::new(response.body)).unwrap_or_else(|_| hyper::Response::new(Full::new(Bytes::new())))
}

/// Serves until the listener fails; each connection on its own task.
pub async fn run(app: App, listener: TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| {
                let app = app.clone();
                async move {
                    let response = match to_api_request(request).await {
                        Ok(request) => serve(&app, request, None).await,
                        Err(error) => ApiResponse::error(&error),
                    };
                    Ok::<_, Infallible>(to_hyper_response(response))
                }
            });
            if let Err(error) = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(error = %error, "connection closed with an error");
            }
        });
    }
}
