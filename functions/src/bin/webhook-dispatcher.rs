//! Lambda: fans events from the bus out to merchants' webhook endpoints (EventBridge rule target).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::run_webhook_dispatcher().await
}
