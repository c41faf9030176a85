//! Lambda: publishes new event records to the bus as soon as they are committed (DynamoDB stream).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::run_event_relay().await
}
