//! The AWS emulator (moto) the test command starts: `PAYOUTS_TEST_AWS_ENDPOINT`.

use payouts::adapters::dynamodb::DynamoDbStore;

/// Builds an SDK config for the emulator. Panics with instructions when it is not running:
/// these tests must never silently skip.
pub async fn sdk_config() -> aws_config::SdkConfig {
    sdk_config_at(&emulator_endpoint()).await
}

/// The emulator's URL. Panics with instructions when it is not set.
pub fn emulator_endpoint() -> String {
    std::env::var("PAYOUTS_TEST_AWS_ENDPOINT")
        .unwrap_or_else(|_| panic!("PAYOUTS_TEST_AWS_ENDPOINT is not set: run the repo test command (infra/test.sh), which starts the local AWS emulator"))
}

/// An SDK config for the emulator reached at `endpoint` (itself, or a proxy in front of it).
pub async fn sdk_config_at(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("test", "test", None, None, "payouts-tests"))
        .load()
        .await
}

pub fn unique_name(prefix: &str) -> String {
    use rand::RngCore;
    format!("{prefix}-{:016x}", rand::rng().next_u64())
}

/// A fresh, uniquely named table with the production design.
pub async fn fresh_table() -> (DynamoDbStore, aws_sdk_dynamodb::Client, String) {
    let config = sdk_config().await;
    let client = aws_sdk_dynamodb::Client::new(&config);
    let name = unique_name("payouts");
    payouts::adapters::dynamodb::create_table(&client, &name).await.expect("create table on the emulator");
    (DynamoDbStore::new(client.clone(), name.clone()), client, name)
}
