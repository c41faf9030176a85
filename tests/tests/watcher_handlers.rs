//! The chain-watcher's Lambda handlers fed the JSON Lambda delivers (`tests/fixtures/lambda`):
//! the tx-queue consumer reports exactly the messages that must come back (unreadable ones, and
//! those whose chain could not be read) in `batchItemFailures`; the scheduled handler sweeps on
//! an EventBridge scheduled event.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts::adapters::rpc_chain::RpcOptions;
use payouts::domain::chain::{Chain, Environment};
use payouts::jobs::watcher::{handle_schedule, handle_tx_queue};
use payouts_tests::watch::{ARBITRUM_CONFIRMATIONS, BASE_CONFIRMATIONS, Fault, RigConfig, TRON_CONFIRMATIONS, WatchRig, lambda_fixture};
use serde_json::{Value, json};
use std::time::Duration;

const BASE_OK: &str = "2e1424d4-f796-459a-8184-9c92662be6da";
const UNREADABLE: &str = "c80e8021-a70a-42c7-a470-796e1186f753";
const ARBITRUM: &str = "9a4f1c3e-5b7d-4e2f-8a6c-0d1b3f5e7a9c";
const BASE_DUPLICATE: &str = "4d6e8f0a-2b4c-4d6e-8f0a-2b4c6d8e0f1a";
const NOT_A_TX_MESSAGE: &str = "f2d8a6b4-9c1e-4a3b-b5d7-e9f1a3c5b7d9";
const UNKNOWN_PAYOUT: &str = "0b2d4f6a-8c0e-4b2d-9f6a-8c0e2b4d6f8a";
const TRON_OK: &str = "6e8a0c2e-4f6b-4a8c-9e0f-2b4d6f8a0c2e";

const AMOUNT: u128 = 100_000_000;

struct Paid {
    base: (String, String),
    arbitrum: (String, String),
    tron: (String, String),
}

async fn rig() -> WatchRig {
    let rpc = RpcOptions { request_timeout: Duration::from_millis(1_000), max_batch: 50, retries: 0, retry_base_delay: Duration::from_millis(10) };
    WatchRig::start_with(RigConfig { proxied: true, rpc, ..RigConfig::default() }).await
}

/// One paid and executed intent per sandbox chain: (payout id, tx hash as executed).
async fn paid_intents(rig: &WatchRig) -> Paid {
    let to = rig.account(2);
    let tx = rig.pay(rig.usdc, to, AMOUNT).await;
    let base = (rig.executed_payout(Chain::Base, "USDC", &rig.evm(to), AMOUNT, &tx).await, tx);
    let tx = rig.pay(rig.usdc, to, AMOUNT + 1).await;
    let arbitrum = (rig.executed_payout(Chain::Arbitrum, "USDC", &rig.evm(to), AMOUNT + 1, &tx).await, tx);
    let tx = rig.pay(rig.usdt, to, AMOUNT + 2).await.trim_start_matches("0x").to_owned();
    let tron = (rig.executed_payout(Chain::Tron, "USDT", &rig.tron(to), AMOUNT + 2, &tx).await, tx);
    Paid { base, arbitrum, tron }
}

/// The fixture batch with the placeholders patched to real intents and hashes.
fn sqs_batch(paid: &Paid) -> String {
    lambda_fixture("sqs-tx-queue.json")
        .replace("__BASE_PAYOUT__", &paid.base.0)
        .replace("__BASE_TX__", &paid.base.1)
        .replace("__ARBITRUM_PAYOUT__", &paid.arbitrum.0)
        .replace("__ARBITRUM_TX__", &paid.arbitrum.1)
        .replace("__TRON_PAYOUT__", &paid.tron.0)
        .replace("__TRON_TX__", &paid.tron.1)
}

/// Only the records of `batch` with these message ids (what SQS redelivers).
fn only(batch: &str, message_ids: &[&str]) -> String {
    let mut event: Value = serde_json::from_str(batch).unwrap();
    let records = event["Records"].as_array().unwrap().iter().filter(|r| message_ids.contains(&r["messageId"].as_str().unwrap())).cloned().collect();
    event["Records"] = Value::Array(records);
    event.to_string()
}

/// The consumer on a batch as Lambda delivers it; the message ids it reports back, sorted.
async fn consume(rig: &WatchRig, batch: &str) -> Vec<String> {
    let response = handle_tx_queue(&rig.watcher, serde_json::from_str(batch).unwrap()).await;
    // The response in the JSON shape Lambda reads (`ReportBatchItemFailures`).
    let json = serde_json::to_value(&response).unwrap();
    let failures = json["batchItemFailures"].as_array().unwrap_or_else(|| panic!("{json}"));
    let mut ids: Vec<String> = failures
        .iter()
        .map(|f| {
            assert_eq!(f.as_object().unwrap().len(), 1, "{f}");
            f["itemIdentifier"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| (*s).to_owned()).collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_consumer_reports_exactly_the_unreadable_and_the_unavailable() {
    let rig = rig().await;
    let paid = paid_intents(&rig).await;
    let batch = sqs_batch(&paid);
    assert!(!batch.contains("__"), "every placeholder patched");
    assert_eq!(serde_json::from_str::<Value>(&batch).unwrap()["Records"].as_array().unwrap().len(), 7);

    // Arbitrum's provider is down.
    rig.proxy(Chain::Arbitrum).set(Fault::Http500);
    let failed = consume(&rig, &batch).await;
    assert_eq!(failed, sorted(&[UNREADABLE, NOT_A_TX_MESSAGE, ARBITRUM]), "and nothing else");
    assert_eq!(rig.status(&paid.base.0).await, "verifying", "checked once, though delivered twice");
    assert_eq!(rig.status(&paid.tron.0).await, "verifying");
    assert_eq!(rig.status(&paid.arbitrum.0).await, "executed");
    assert_eq!(rig.event_types(&paid.base.0).await.iter().filter(|t| *t == "payout.verifying").count(), 1);

    // SQS delivers the failed ones again; arbitrum is back. The unreadable stay unreadable
    // (to the DLQ after maxReceiveCount); the rest is done.
    rig.proxy(Chain::Arbitrum).set(Fault::Pass);
    let failed = consume(&rig, &only(&batch, &[UNREADABLE, NOT_A_TX_MESSAGE, ARBITRUM])).await;
    assert_eq!(failed, sorted(&[UNREADABLE, NOT_A_TX_MESSAGE]));
    assert_eq!(rig.status(&paid.arbitrum.0).await, "verifying");

    // The base transfer is 3 blocks deep by now (arbitrum's and tron's came after it): this
    // delivery settles it; tron's is still too shallow.
    let failed = consume(&rig, &only(&batch, &[BASE_OK, BASE_DUPLICATE, UNKNOWN_PAYOUT, TRON_OK])).await;
    assert!(failed.is_empty(), "{failed:?}");
    assert_eq!(rig.status(&paid.base.0).await, "settled");
    assert_eq!(rig.status(&paid.tron.0).await, "verifying");

    // Every provider down: messages about unfinished intents come back; those about a settled
    // intent (or an unknown one) need no chain and are acknowledged.
    rig.proxy(Chain::Base).set(Fault::Close);
    rig.proxy(Chain::Tron).set(Fault::Malformed);
    rig.proxy(Chain::Arbitrum).set(Fault::Http429);
    let base_requests = rig.proxy(Chain::Base).requests();
    let failed = consume(&rig, &only(&batch, &[BASE_OK, BASE_DUPLICATE, UNKNOWN_PAYOUT, TRON_OK, ARBITRUM])).await;
    assert_eq!(failed, sorted(&[TRON_OK, ARBITRUM]));
    assert_eq!(rig.proxy(Chain::Base).requests(), base_requests, "nothing left to ask base");
    assert_eq!(rig.status(&paid.tron.0).await, "verifying");
    assert_eq!(rig.status(&paid.arbitrum.0).await, "verifying");
    assert_eq!(rig.settlements().await.len(), 1);
    // An empty batch is an empty answer.
    assert!(consume(&rig, r#"{"Records":[]}"#).await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduled_handler_sweeps_on_an_eventbridge_scheduled_event() {
    let rig = rig().await;
    let paid = paid_intents(&rig).await;
    let fixture = lambda_fixture("eventbridge-schedule.json");

    // Deserialized as the Lambda runtime does, into the handler's event type.
    let event = serde_json::from_str(&fixture).unwrap();
    let typed: Value = serde_json::to_value(&event).unwrap();
    assert_eq!(typed["detail-type"], "Scheduled Event");
    assert_eq!(typed["source"], "aws.events");
    assert_eq!(typed["detail"], json!({}));
    assert_eq!(typed["id"], "89d1a02d-5ec7-412e-82f5-13505f849b41");
    let report = handle_schedule(&rig.watcher, event).await.unwrap();
    assert_eq!((report.checked, report.changed), (3, 3), "{report:?}");
    assert_eq!(report.published, 3 + 9, "3 × payout.verifying at once, then the API's 9 events from the outbox: {report:?}");
    for (id, _) in [&paid.base, &paid.arbitrum, &paid.tron] {
        assert_eq!(rig.status(id).await, "verifying");
    }

    // A sweep with one chain down is no error: the others progress, the next schedule retries.
    rig.anvil.mine(BASE_CONFIRMATIONS.max(ARBITRUM_CONFIRMATIONS).max(TRON_CONFIRMATIONS)).await;
    rig.proxy(Chain::Arbitrum).set(Fault::Hang);
    let report = handle_schedule(&rig.watcher, serde_json::from_str(&fixture).unwrap()).await.unwrap();
    assert_eq!(report.unavailable, vec![(Environment::Sandbox, Chain::Arbitrum)]);
    assert_eq!(rig.status(&paid.base.0).await, "settled");
    assert_eq!(rig.status(&paid.tron.0).await, "settled");
    assert_eq!(rig.status(&paid.arbitrum.0).await, "verifying");

    rig.proxy(Chain::Arbitrum).set(Fault::Pass);
    let report = handle_schedule(&rig.watcher, serde_json::from_str(&fixture).unwrap()).await.unwrap();
    assert!(report.unavailable.is_empty());
    assert_eq!(rig.status(&paid.arbitrum.0).await, "settled");
    assert_eq!(rig.settlements().await.len(), 3);
    assert!(rig.outbox().await.is_empty());
}
