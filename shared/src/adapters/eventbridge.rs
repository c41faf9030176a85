//! EventBridge adapter of the event bus: `source` = [`EVENT_SOURCE`], `detail-type` = the event
//! type, `detail` = the event record. `PutEvents` can answer 200 with failed entries: those are
//! retried here a few times, and whatever still failed is left for the next sweep.

use crate::domain::event::Event;
use crate::domain::ids::EventId;
use crate::ports::bus::{BusError, EventBus};
use async_trait::async_trait;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use std::time::Duration;

pub const EVENT_SOURCE: &str = "payouts";
/// PutEvents takes at most 10 entries per call.
const MAX_ENTRIES: usize = 10;
const ATTEMPTS: u32 = 3;

pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
}

impl EventBridgeBus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: String) -> EventBridgeBus {
        EventBridgeBus { client, bus_name }
    }

    fn entry(&self, event: &Event) -> Result<PutEventsRequestEntry, BusError> {
        let detail = serde_json::to_string(event).map_err(|e| BusError(e.to_string()))?;
        Ok(PutEventsRequestEntry::builder()
            .event_bus_name(&self.bus_name)
            .source(EVENT_SOURCE)
            .detail_type(event.event_type.as_str())
            .detail(detail)
            .resources(event.subject_id.clone())
            .build())
    }
}

#[async_trait]
impl EventBus for EventBridgeBus {
    async fn publish(&self, events: &[Event]) -> Result<Vec<EventId>, BusError> {
        let mut accepted = Vec::with_capacity(events.len());
        for chunk in events.chunks(MAX_ENTRIES) {
            let mut pending: Vec<&Event> = chunk.iter().collect();
            for attempt in 0..ATTEMPTS {
                if pending.is_empty() {
                    break;
                }
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(100 * 2u64.pow(attempt))).await;
                }
                let entries = pending.iter().map(|event| self.entry(event)).collect::<Result<Vec<_>, _>>()?;
                let output = match self.client.put_events().set_entries(Some(entries)).send().await {
                    Ok(output) => output,
                    Err(error) => {
                        tracing::warn!(error = %aws_sdk_eventbridge::error::DisplayErrorContext(&error), attempt, "PutEvents failed");
                        continue;
                    }
                };
                // Entries come back in request order; an entry with an error code was not put.
                let results = output.entries();
                let mut still_pending = Vec::new();
                for (position, event) in pending.iter().enumerate() {
                    match results.get(position) {
                        Some(result) if result.error_code().is_none() && result.event_id().is_some() => accepted.push(event.id.clone()),
                        Some(result) => {
                            tracing::warn!(event_id = %event.id, code = result.error_code().unwrap_or("?"), "PutEvents entry failed");
                            still_pending.push(*event);
                        }
                        None => still_pending.push(*event),
                    }
                }
                pending = still_pending;
            }
        }
        if accepted.is_empty() && !events.is_empty() {
            return Err(BusError("no event was accepted by EventBridge".into()));
        }
        Ok(accepted)
    }
}
