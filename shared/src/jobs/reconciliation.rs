//! The scheduled reconciliation Lambdas: the source-wallet scanner and the reconciliation job.

use crate::ports::store::StoreError;
use crate::service::App;
use crate::service::reconciliation::{JobReport, run_job};
use crate::service::scanner::{ScanReport, Scanner};
use aws_lambda_events::event::eventbridge::EventBridgeEvent;

pub async fn handle_scan_schedule(scanner: &Scanner, event: EventBridgeEvent<serde_json::Value>) -> ScanReport {
    tracing::info!(schedule_event = event.id.as_deref().unwrap_or(""), "source-wallet scan");
    let report = scanner.run().await;
    tracing::info!(
        log_requests = report.log_requests,
        refused = report.refused,
        recorded = report.recorded,
        linked = report.linked,
        interrupted = report.interrupted.len(),
        "source-wallet scan done"
    );
    report
}

pub async fn handle_reconciliation_schedule(app: &App, event: EventBridgeEvent<serde_json::Value>) -> Result<JobReport, StoreError> {
    tracing::info!(schedule_event = event.id.as_deref().unwrap_or(""), "reconciliation");
    let report = run_job(app).await?;
    tracing::info!(reports = report.reports, events = report.events, failed = report.failed, "reconciliation done");
    Ok(report)
}
