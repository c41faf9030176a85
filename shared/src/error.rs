//! The one error type of the API, and its one mapping to HTTP.
//!
//! Body: `{"error": {"type", "code", "message", "param"}}`. A 500 never carries internals: the
//! cause is logged (with the request id) and the client gets a fixed message.

use http::StatusCode;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorType {
    InvalidRequest,
    AuthenticationError,
    PermissionError,
    NotFound,
    IdempotencyConflict,
    Conflict,
    RateLimited,
    InternalError,
    /// A dependency (a chain's RPC provider) could not be reached; retrying later is right.
    ServiceUnavailable,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub error_type: ErrorType,
    pub code: &'static str,
    pub message: String,
    pub param: Option<String>,
    /// Status for the few invalid_request cases that HTTP names more precisely (405, 413, 415).
    status_override: Option<StatusCode>,
    /// The methods a 405 offers instead, for its `Allow` header (RFC 9110 requires one).
    pub allow: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    #[serde(rename = "type")]
    pub error_type: ErrorType,
    pub code: String,
    pub message: String,
    #[schema(nullable)]
    pub param: Option<String>,
}

impl ApiError {
    fn new(error_type: ErrorType, code: &'static str, message: impl Into<String>, param: Option<&str>) -> ApiError {
        ApiError { error_type, code, message: message.into(), param: param.map(str::to_owned), status_override: None, allow: None }
    }

    pub fn status(&self) -> StatusCode {
        if let Some(status) = self.status_override {
            return status;
        }
        match self.error_type {
            ErrorType::InvalidRequest => StatusCode::BAD_REQUEST,
            ErrorType::AuthenticationError => StatusCode::UNAUTHORIZED,
            ErrorType::PermissionError => StatusCode::FORBIDDEN,
            ErrorType::NotFound => StatusCode::NOT_FOUND,
            ErrorType::IdempotencyConflict | ErrorType::Conflict => StatusCode::CONFLICT,
            ErrorType::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorType::InternalError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorType::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody { error: ErrorDetail { error_type: self.error_type, code: self.code.to_owned(), message: self.message.clone(), param: self.param.clone() } }
    }

    // 400 invalid_request
    pub fn missing_field(param: &str) -> ApiError {
        ApiError::new(ErrorType::InvalidRequest, "missing_required_field", format!("The '{param}' field is required."), Some(param))
    }
    pub fn invalid_field(param: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorType::InvalidRequest, "invalid_field", message, Some(param))
    }
    pub fn duplicate_field(param: &str) -> ApiError {
        ApiError::new(ErrorType::InvalidRequest, "duplicate_field", format!("The field '{param}' appears more than once."), Some(param))
    }
    pub fn unknown_field(param: &str) -> ApiError {
        ApiError::new(ErrorType::InvalidRequest, "unknown_field", format!("Unknown field '{param}'."), Some(param))
    }
    pub fn unsupported_pair(param: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorType::InvalidRequest, "unsupported_chain_token", message, Some(param))
    }
    pub fn invalid_json(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorType::InvalidRequest, "invalid_json", message, None)
    }
    pub fn invalid_parameter(param: &str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorType::InvalidRequest, "invalid_parameter", message, Some(param))
    }
    pub fn missing_parameter(param: &str) -> ApiError {
        ApiError::new(ErrorType::InvalidRequest, "missing_required_parameter", format!("The query parameter '{param}' is required."), Some(param))
    }
    pub fn unknown_parameter(param: &str) -> ApiError {
        ApiError::new(ErrorType::InvalidRequest, "unknown_parameter", format!("Unknown query parameter '{param}'."), Some(param))
    }
    pub fn invalid_cursor() -> ApiError {
        ApiError::new(
            ErrorType::InvalidRequest,
            "invalid_cursor",
            "The cursor was not issued for this list: it is altered or truncated, or belongs to another query, account or environment. Start again without a cursor.",
            Some("cursor"),
        )
    }
    pub fn invalid_idempotency_key(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorType::InvalidRequest, "invalid_idempotency_key", message, Some("Idempotency-Key"))
    }
    pub fn body_too_large(limit: usize) -> ApiError {
        let mut error = ApiError::new(ErrorType::InvalidRequest, "body_too_large", format!("The request body exceeds {limit} bytes."), None);
        error.status_override = Some(StatusCode::PAYLOAD_TOO_LARGE);
        error
    }
    pub fn unsupported_media_type() -> ApiError {
        let mut error =
            ApiError::new(ErrorType::InvalidRequest, "unsupported_media_type", "Request bodies must be JSON (Content-Type: application/json).", None);
        error.status_override = Some(StatusCode::UNSUPPORTED_MEDIA_TYPE);
        error
    }
    /// `allowed`: the methods the path has, named in the message and the `Allow` header.
    pub fn method_not_allowed(method: &str, path: &str, allowed: &[&str]) -> ApiError {
        let list = allowed.join(", ");
        let mut error = ApiError::new(ErrorType::InvalidRequest, "method_not_allowed", format!("{method} is not allowed on {path}; it takes {list}."), None);
        error.status_override = Some(StatusCode::METHOD_NOT_ALLOWED);
        error.allow = Some(list);
        error
    }

    // 401 / 403
    pub fn api_key_missing() -> ApiError {
        ApiError::new(ErrorType::AuthenticationError, "api_key_missing", "No API key provided. Use 'Authorization: Bearer sk_live_…' or 'sk_test_…'.", None)
    }
    pub fn api_key_invalid() -> ApiError {
        ApiError::new(ErrorType::AuthenticationError, "api_key_invalid", "The API key provided is invalid.", None)
    }
    pub fn plan_upgrade_required(feature: &str, minimum: &str) -> ApiError {
        ApiError::new(
            ErrorType::PermissionError,
            "plan_upgrade_required",
            format!("{feature} in live mode need the {minimum} plan or above. Sandbox works on every plan."),
            None,
        )
    }

    // 404
    pub fn not_found(code: &'static str, what: &str, id: &str, param: &str) -> ApiError {
        ApiError::new(ErrorType::NotFound, code, format!("No {what} found with ID {id}."), Some(param))
    }
    pub fn route_not_found(method: &str, path: &str) -> ApiError {
        ApiError::new(ErrorType::NotFound, "route_not_found", format!("No route for {method} {path}."), None)
    }

    // 409
    pub fn invalid_transition(current: &str, wanted: &str) -> ApiError {
        ApiError::new(ErrorType::Conflict, "invalid_status_transition", format!("The payout intent is {current}; it cannot become {wanted}."), Some("status"))
    }
    pub fn not_editable(current: &str) -> ApiError {
        ApiError::new(
            ErrorType::Conflict,
            "invalid_status_transition",
            format!("The payout intent is {current}; description and due_date can only change in draft."),
            None,
        )
    }
    pub fn tx_hash_already_used() -> ApiError {
        ApiError::new(ErrorType::Conflict, "tx_hash_already_used", "This transaction hash is already attached to another payout intent.", Some("tx_hash"))
    }
    pub fn tx_already_seen(current: &str) -> ApiError {
        ApiError::new(
            ErrorType::Conflict,
            "tx_already_seen",
            format!("The payout intent is {current}: its transaction was already seen on-chain, so its tx_hash can no longer be replaced."),
            Some("tx_hash"),
        )
    }
    pub fn wallet_already_claimed() -> ApiError {
        ApiError::new(
            ErrorType::Conflict,
            "wallet_already_claimed",
            "This address is already a verified source wallet of an organization in this environment and chain.",
            Some("address"),
        )
    }
    pub fn wallet_already_verified() -> ApiError {
        ApiError::new(ErrorType::Conflict, "wallet_already_verified", "This source wallet is already verified.", None)
    }
    pub fn invalid_signature(message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorType::InvalidRequest, "invalid_signature", message, Some("signature"))
    }
    pub fn store_unavailable() -> ApiError {
        ApiError::new(ErrorType::ServiceUnavailable, "store_unavailable", "The service cannot reach its data store right now; retry shortly.", None)
    }
    pub fn chain_unavailable(chain: &str) -> ApiError {
        ApiError::new(
            ErrorType::ServiceUnavailable,
            "chain_unavailable",
            format!("The {chain} network could not be reached to check the contract wallet's signature; retry shortly."),
            None,
        )
    }
    /// The organization holds the most it may of a resource.
    pub fn limit_reached(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorType::Conflict, code, message, None)
    }
    pub fn concurrent_update() -> ApiError {
        ApiError::new(ErrorType::Conflict, "concurrent_update", "The resource changed while this request was applied; retry the request.", None)
    }
    pub fn idempotency_key_reused() -> ApiError {
        ApiError::new(ErrorType::IdempotencyConflict, "idempotency_key_reused", "This idempotency key was already used with different parameters.", None)
    }
    pub fn idempotency_in_progress() -> ApiError {
        ApiError::new(
            ErrorType::IdempotencyConflict,
            "idempotency_request_in_progress",
            "A request with this idempotency key is still being processed; retry shortly.",
            None,
        )
    }

    // 429
    /// The organization's rate limit for this kind of request is reached in this window.
    pub fn rate_limited(retry_after_seconds: u64) -> ApiError {
        let unit = if retry_after_seconds == 1 { "second" } else { "seconds" };
        ApiError::new(ErrorType::RateLimited, "too_many_requests", format!("Rate limit exceeded. Retry after {retry_after_seconds} {unit}."), None)
    }

    // 500
    /// Logs the cause; the body says nothing about it. A write refused for the rate limit is
    /// not an error of the service: the response becomes a 429 (`http::serve_metered`).
    pub fn internal<C: std::fmt::Display + 'static>(cause: C) -> ApiError {
        let limit_reached = matches!((&cause as &dyn std::any::Any).downcast_ref(), Some(crate::ports::store::StoreError::LimitReached));
        if !limit_reached {
            tracing::error!(cause = %cause, "internal error");
        }
        ApiError::new(ErrorType::InternalError, "internal_server_error", "An unexpected error occurred.", None)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status().as_u16(), self.message)
    }
}

impl std::error::Error for ApiError {}
