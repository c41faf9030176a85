//! `GET /v1/health`: unauthenticated, as billing.io documents it. `{"status": "ok", "version"}`
//! when the store answers; 503 `store_unavailable` when it does not, so a load balancer or a
//! monitor can tell a healthy deployment from one that cannot serve.

use super::App;
use super::records::bootstrap_marker_key;
use super::reply::Reply;
use crate::error::ApiError;
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
pub struct HealthView {
    /// Always `ok` in a 200.
    #[schema(example = "ok")]
    pub status: &'static str,
    /// The service's version.
    #[schema(example = "0.1.0")]
    pub version: &'static str,
}

pub async fn get(app: &App) -> Result<Reply, ApiError> {
    // One strongly consistent point read of a key that may or may not exist: it proves the store
    // answers, and costs one read unit.
    match app.store.get(&[bootstrap_marker_key()]).await {
        Ok(_) => Reply::json(200, &HealthView { status: "ok", version: env!("CARGO_PKG_VERSION") }),
        Err(error) => {
            tracing::warn!(error = %error, "health check: the store did not answer");
            Err(ApiError::store_unavailable())
        }
    }
}

#[cfg(test)]
mod tests;
