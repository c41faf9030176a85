//! Lambda: the scheduled safety net for webhook retries (every pending delivery whose time has come).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::run_webhook_due_sweep().await
}
