//! The webhook dispatcher's Lambda handlers: events from the bus (an EventBridge rule), the
//! retry queue (SQS, partial batch failures) and the due-deliveries sweep (schedule).

use super::batch_response;
use crate::domain::event::Event;
use crate::ports::store::StoreError;
use crate::service::dispatcher::{DispatchReport, Dispatcher, RetryMessage};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

/// What the EventBridge rule hands the dispatcher: the envelope around one event record.
pub type BusEvent = EventBridgeEvent<Event>;

/// One event from the bus: fan it out. An error fails the invocation, and EventBridge retries
/// it (then its DLQ); a duplicate delivery of the same event creates no second delivery.
pub async fn handle_bus_event(dispatcher: &Dispatcher, event: EventBridgeEvent<Event>) -> Result<DispatchReport, StoreError> {
    let report = dispatcher.dispatch_event(&event.detail).await?;
    tracing::info!(event_id = %event.detail.id, event_type = %event.detail.event_type, deliveries = report.deliveries_created, succeeded = report.succeeded, "event dispatched");
    Ok(report)
}

/// Due retries. Only messages whose attempt was made (or that were re-enqueued) are acknowledged.
pub async fn handle_retry_queue(dispatcher: &Dispatcher, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    for record in &event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        let outcome = match record.body.as_deref().map(serde_json::from_str::<RetryMessage>) {
            Some(Ok(message)) => dispatcher.on_retry_message(&message).await.map(|_| ()).map_err(|e| e.to_string()),
            _ => Err("unreadable retry message".to_owned()),
        };
        if let Err(error) = outcome {
            tracing::warn!(message_id = %message_id, error = %error, "retry message not processed; SQS will redeliver it");
            failures.push(message_id);
        }
    }
    batch_response(failures)
}

/// The safety net: new endpoints' backfills, then every pending delivery whose time has come.
pub async fn handle_due_sweep(dispatcher: &Dispatcher, _event: EventBridgeEvent<serde_json::Value>) -> Result<DispatchReport, StoreError> {
    let report = dispatcher.sweep(1_000).await?;
    tracing::info!(attempts = report.attempts, succeeded = report.succeeded, failed = report.failed_for_good, "due deliveries swept");
    Ok(report)
}
