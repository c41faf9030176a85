//! The round-trip budget, proven by counting the SDK calls each request makes against
//! DynamoDB and SQS (moto): a mutating request makes one read and at most one DynamoDB write
//! round trip (a transaction counts as one; its rate-limit count rides in it) plus, for
//! execute, one SQS send; a GET makes one read, its count (one `UpdateItem`) and its query.
//! The rate-limit counter is read with the API key once the instance knows the key's tenant:
//! only its first request with a key reads the counter apart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::Method;
use payouts::adapters::dynamodb::{self, CallCounter, DynamoDbStore};
use payouts::adapters::sqs::{self, SqsTxQueue};
use payouts::ports::TxQueue;
use payouts_tests::{Harness, aws, guide_body, random_tx_hash};
use serde_json::json;
use std::sync::Arc;

const WRITES: [&str; 4] = ["PutItem", "DeleteItem", "TransactWriteItems", "UpdateItem"];

fn writes(calls: &[String]) -> usize {
    calls.iter().filter(|c| WRITES.contains(&c.as_str())).count()
}

#[tokio::test]
async fn each_request_stays_within_its_round_trip_budget() {
    let config = aws::sdk_config().await;
    let counter = CallCounter::new();
    let table = aws::unique_name("budget");
    let dynamo = dynamodb::counted_client(&config, &counter);
    dynamodb::create_table(&dynamo, &table).await.unwrap();
    let sqs_client = sqs::counted_client(&config, &counter);
    let queue_url = sqs_client.create_queue().queue_name(aws::unique_name("tx")).send().await.unwrap().queue_url().unwrap().to_owned();

    let mut h = Harness::on_store(Arc::new(DynamoDbStore::new(dynamo, table)), None).await;
    let queue: Arc<dyn TxQueue> = Arc::new(SqsTxQueue::new(sqs_client.clone(), queue_url.clone()));
    h.app.tx_queue = queue;
    let key = h.tenant.live.clone();

    let measure = async |label: &str, method: Method, path: String, body: Option<String>| {
        counter.reset();
        let response = h.call(method, &path, Some(&key), body.as_deref()).await;
        assert!(response.status < 300, "{label}: {}", response.json);
        let calls = counter.snapshot();
        println!("{label}: {calls:?}");
        (response, calls)
    };

    let (_, calls) = measure("first request", Method::GET, "/v1/account".into(), None).await;
    assert_eq!(calls, ["GetItem", "GetItem", "UpdateItem", "GetItem"], "the key, then its tenant's counter, the count, and the account's organization");

    let (created, calls) = measure("create", Method::POST, "/v1/payouts".into(), Some(guide_body().to_string())).await;
    assert_eq!(calls, ["BatchGetItem", "TransactWriteItems"], "create: key + counter in one read, one transaction (intent + event + count)");
    let id = created.id();

    let (_, calls) = measure("get", Method::GET, format!("/v1/payouts/{id}"), None).await;
    assert_eq!(calls, ["BatchGetItem", "UpdateItem"], "get by id: the key, the intent and the counter in one read; the count");

    let (_, calls) = measure("approve", Method::PATCH, format!("/v1/payouts/{id}"), Some(json!({"status": "approved"}).to_string())).await;
    assert_eq!(writes(&calls), 1, "approve: {calls:?}");
    assert_eq!(calls, ["BatchGetItem", "TransactWriteItems"]);

    let (_, calls) = measure("execute", Method::POST, format!("/v1/payouts/{id}/execute"), Some(json!({"tx_hash": random_tx_hash()}).to_string())).await;
    assert_eq!(calls, ["BatchGetItem", "TransactWriteItems", "SendMessage"], "execute: one read, one transaction, one SQS send");

    let (_, calls) = measure("list", Method::GET, "/v1/payouts".into(), None).await;
    assert_eq!(calls, ["BatchGetItem", "UpdateItem", "Query"]);

    // With an idempotency key the first request costs the same; the record rides in the transaction.
    counter.reset();
    let response = h.call_with(Method::POST, "/v1/payouts", Some(&h.tenant.live), Some(&guide_body().to_string()), &[("idempotency-key", "budget-1")]).await;
    assert_eq!(response.status, 201);
    assert_eq!(counter.snapshot(), ["BatchGetItem", "TransactWriteItems"]);
    // A refused one (invalid body) writes nothing of its own, so it is counted alone.
    counter.reset();
    let response = h.call(Method::POST, "/v1/payouts", Some(&h.tenant.live), Some("{}")).await;
    assert_eq!(response.status, 400);
    assert_eq!(counter.snapshot(), ["BatchGetItem", "UpdateItem"]);

    // The message really is on the queue.
    let received = sqs_client.receive_message().queue_url(&queue_url).max_number_of_messages(10).send().await.unwrap();
    let body: serde_json::Value = serde_json::from_str(received.messages()[0].body().unwrap()).unwrap();
    assert_eq!(body["payout_id"], json!(id));
    assert_eq!(body["chain"], "tron");
}
