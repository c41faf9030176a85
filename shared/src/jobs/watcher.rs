//! The chain-watcher's two Lambda handlers: the tx-queue consumer (SQS, partial batch
//! failures) and the scheduled sweep (EventBridge schedule).

use super::batch_response;
use crate::domain::ids::PayoutId;
use crate::ports::queue::TxMessage;
use crate::service::watcher::{WatchError, WatchReport, Watcher};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

/// Checks every payout named in the batch. Only messages whose work is done are acknowledged:
/// unreadable messages and payouts that could not be checked (RPC or store trouble) are reported
/// as failures, so SQS redelivers them (and moves them to the DLQ after a few receives).
pub async fn handle_tx_queue(watcher: &Watcher, event: SqsEvent) -> SqsBatchResponse {
    let mut failures = Vec::new();
    let mut by_payout: Vec<(String, PayoutId)> = Vec::new();
    for record in &event.records {
        let message_id = record.message_id.clone().unwrap_or_default();
        match record.body.as_deref().map(serde_json::from_str::<TxMessage>) {
            Some(Ok(message)) => by_payout.push((message_id, message.payout_id)),
            _ => {
                tracing::error!(message_id = %message_id, "unreadable tx-queue message");
                failures.push(message_id);
            }
        }
    }
    let ids: Vec<PayoutId> = by_payout.iter().map(|(_, id)| id.clone()).collect();
    match watcher.check_payouts(&ids).await {
        Ok(report) => {
            tracing::info!(checked = report.checked, changed = report.changed, deferred = report.deferred.len(), "tx-queue batch");
            for (message_id, payout_id) in &by_payout {
                if report.deferred.contains(payout_id) {
                    failures.push(message_id.clone());
                }
            }
        }
        Err(error) => {
            tracing::warn!(error = %error, "tx-queue batch could not be checked; all messages will be redelivered");
            failures.extend(by_payout.iter().map(|(message_id, _)| message_id.clone()));
        }
    }
    batch_response(failures)
}

/// One sweep per scheduled event. An error fails the invocation (visible in metrics); nothing
/// is lost either way, the next schedule sweeps again.
pub async fn handle_schedule(watcher: &Watcher, event: EventBridgeEvent<serde_json::Value>) -> Result<WatchReport, WatchError> {
    tracing::info!(schedule_event = event.id.as_deref().unwrap_or(""), detail_type = %event.detail_type, "sweep");
    let report = watcher.sweep().await?;
    tracing::info!(checked = report.checked, changed = report.changed, published = report.published, unavailable = report.unavailable.len(), "sweep done");
    Ok(report)
}

/// The event relay: triggered by the table's stream when event records are inserted (filtered
/// in the event source mapping), it publishes everything still in the outbox. The stream records
/// themselves are not needed: the outbox index is the truth, so a lost trigger only delays.
pub async fn handle_stream(watcher: &Watcher, records: usize) -> Result<usize, WatchError> {
    let published = watcher.relay_outbox().await?;
    tracing::info!(stream_records = records, published, "event relay");
    Ok(published)
}
