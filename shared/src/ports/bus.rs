//! The event bus port: where committed event records are published (EventBridge in AWS, an
//! in-process channel locally). Publishing twice is harmless — consumers dedupe on the event
//! id — never publishing is a bug, so unpublished records are retried by every sweep.

use crate::domain::event::Event;
use crate::domain::ids::EventId;
use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
#[error("event bus unavailable: {0}")]
pub struct BusError(pub String);

#[async_trait]
pub trait EventBus: Send + Sync {
    /// Publishes `events`; returns the ids the bus accepted (a partial failure leaves the rest
    /// out of the list, to be retried later).
    async fn publish(&self, events: &[Event]) -> Result<Vec<EventId>, BusError>;
}
