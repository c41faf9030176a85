//! The AWS emulator (moto) for integration tests: an SDK config pointed at it, and fresh,
//! uniquely named tables and queues so tests never see each other's data.
//!
//! Start it with `infra/test-env/moto.sh start` and export the endpoint it prints as
//! `PAYOUTS_TEST_AWS_ENDPOINT` (the repo's test command does both).

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::Credentials;
use payouts::adapters::dynamodb::{self, DynamoDbStore};
use payouts::adapters::sqs::SqsTxQueue;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Where the tests find the emulator.
pub const ENDPOINT_VARIABLE: &str = "PAYOUTS_TEST_AWS_ENDPOINT";

/// The emulator's endpoint; panics (never skips) when it is not configured.
pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VARIABLE) {
        Ok(endpoint) if !endpoint.trim().is_empty() => endpoint.trim().to_owned(),
        _ => panic!(
            "{ENDPOINT_VARIABLE} is not set: these tests need the AWS emulator. Run the repo's test command \
             (infra/test.sh), or start moto yourself: \
             `export {ENDPOINT_VARIABLE}=$(infra/test-env/moto.sh start | sed -n 's/^AWS_ENDPOINT_URL=//p')`"
        ),
    }
}

/// An SDK config for the emulator: its endpoint, us-east-1, static test credentials.
pub async fn sdk_config() -> SdkConfig {
    let endpoint = endpoint();
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "payouts-tests"))
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder().connect_timeout(Duration::from_secs(5)).operation_timeout(Duration::from_secs(30)).build(),
        )
        .load()
        .await
}

/// A name no other test (in this run or a concurrent one) uses.
pub fn unique_name(prefix: &str) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{prefix}-{}-{nanos}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A new, empty table with the service's definition, and a store on it.
pub async fn fresh_table() -> (DynamoDbStore, aws_sdk_dynamodb::Client, String) {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = unique_name("payouts-test");
    dynamodb::create_table(&client, &table).await.unwrap_or_else(|e| panic!("cannot create table {table} on {}: {e}", endpoint()));
    (DynamoDbStore::new(client.clone(), table.clone()), client, table)
}

/// A new, empty standard queue, and the tx queue adapter on it.
pub async fn fresh_queue() -> (SqsTxQueue, aws_sdk_sqs::Client, String) {
    let client = aws_sdk_sqs::Client::new(&sdk_config().await);
    let name = unique_name("payouts-test");
    let created = client
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .unwrap_or_else(|e| panic!("cannot create queue {name} on {}: {}", endpoint(), aws_sdk_sqs::error::DisplayErrorContext(&e)));
    let url = created.queue_url.unwrap_or_else(|| panic!("CreateQueue {name} returned no queue URL"));
    (SqsTxQueue::new(client.clone(), url.clone()), client, url)
}
