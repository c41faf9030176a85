//! The webhook sender port: one HTTP POST of a signed event to a merchant's endpoint.

use crate::domain::chain::Environment;
use async_trait::async_trait;
use std::time::Duration;

/// One delivery attempt to make.
#[derive(Clone, Debug)]
pub struct WebhookRequest {
    pub url: String,
    /// Extra headers (signatures, ids); `content-type: application/json` is always sent.
    pub headers: Vec<(String, String)>,
    /// The exact bytes that were signed.
    pub body: bytes::Bytes,
    /// Live endpoints may only resolve to public addresses; sandbox ones may be local.
    pub environment: Environment,
}

/// What happened, as recorded on the delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttemptOutcome {
    /// The HTTP status, when a response arrived.
    pub status: Option<u16>,
    pub latency: Duration,
    /// Why there was no response, as recorded on the delivery for the merchant: `timeout`,
    /// `connection failed`, `TLS error`, or why the URL as written is refused. Never an address
    /// or resolver answer.
    pub error: Option<String>,
    /// The same with its details (the library's error, what a name resolved to), for the
    /// operator's log only.
    pub detail: Option<String>,
    /// The receiver's `Retry-After`, when it sent one (seconds or HTTP date).
    pub retry_after: Option<Duration>,
    /// True when the request was refused before any connection (e.g. a forbidden address).
    pub refused_before_connect: bool,
}

impl AttemptOutcome {
    pub fn succeeded(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

#[async_trait]
pub trait WebhookSender: Send + Sync {
    async fn send(&self, request: &WebhookRequest) -> AttemptOutcome;

    /// The longest one [`WebhookSender::send`] takes (it gives up then): the dispatcher's claim
    /// on a delivery lasts longer.
    fn attempt_timeout(&self) -> Duration;
}
