//! Lambda: webhook retries from the retry queue (SQS, per-message delays).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::run_webhook_retries().await
}
