//! End to end on the real local runner binary: a payout created, approved, paid on a real
//! local EVM node (anvil), executed, verified by the in-process chain-watcher, and the
//! merchant's webhook receiver gets `payout.settled` exactly once, signed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts_tests::anvil::{Anvil, hex_address};
use payouts_tests::receiver::Receiver;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Runner(Child);

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn execute_settle_and_receive_payout_settled_once() {
    let anvil = Anvil::start().await;
    let payer = anvil.accounts()[0];
    let recipient = anvil.accounts()[3];
    let usdc = anvil.deploy_token("USD Coin", "USDC").await;
    anvil.mint(usdc, payer, 1_000_000_000).await;

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_payouts-local"))
        .env("PAYOUTS_DATA_DIR", dir.path())
        .env("PAYOUTS_PORT", port.to_string())
        .env("PAYOUTS_SANDBOX_BASE_RPC_URL", anvil.url())
        .env("PAYOUTS_SANDBOX_BASE_USDC_CONTRACT", hex_address(usdc))
        .env("PAYOUTS_SANDBOX_BASE_CONFIRMATIONS", "3")
        .env("PAYOUTS_WATCH_INTERVAL_SECONDS", "1")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _runner = Runner(child);
    let mut key = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("sandbox key") {
            key = line.split_whitespace().last().map(str::to_owned);
        }
        if line.contains("listening on") {
            break;
        }
    }
    let key = key.expect("a sandbox key is printed");
    let base = format!("http://127.0.0.1:{port}/v1");
    let client = reqwest::Client::new();
    let call = |method: reqwest::Method, path: String, body: Option<Value>| {
        let request = client.request(method, format!("{base}{path}")).bearer_auth(&key);
        let request = if let Some(body) = body { request.json(&body) } else { request };
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
        }
    };

    let receiver = Receiver::start().await;
    let (status, endpoint) = call(reqwest::Method::POST, "/webhooks".into(), Some(json!({"url": receiver.url, "events": ["payout.settled"]}))).await;
    assert_eq!(status, 201, "{endpoint}");
    let (status, created) = call(
        reqwest::Method::POST,
        "/payouts".into(),
        Some(json!({"recipient_address": hex_address(recipient), "chain": "base", "token": "USDC", "amount": 125.25, "currency": "USD"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_owned();
    let (status, _) = call(reqwest::Method::PATCH, format!("/payouts/{id}"), Some(json!({"status": "approved"}))).await;
    assert_eq!(status, 200);

    let tx_hash = anvil.transfer(payer, usdc, recipient, 125_250_000).await;
    let (status, executed) = call(reqwest::Method::POST, format!("/payouts/{id}/execute"), Some(json!({"tx_hash": tx_hash}))).await;
    assert_eq!((status, executed["status"].as_str()), (200, Some("executed")));

    // Blocks keep coming; the watcher settles after 3 confirmations.
    let deadline = Instant::now() + Duration::from_secs(60);
    let settled = loop {
        anvil.mine(1).await;
        let (_, intent) = call(reqwest::Method::GET, format!("/payouts/{id}"), None).await;
        if intent["status"] == "settled" || intent["status"] == "failed" || Instant::now() > deadline {
            break intent;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(settled["status"], "settled", "{settled}");
    assert!(settled["verified_at"].is_string());

    // The webhook arrives once; later sweeps and relays send nothing more.
    let deadline = Instant::now() + Duration::from_secs(20);
    while receiver.received().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = receiver.received();
    assert_eq!(got.len(), 1, "payout.settled exactly once");
    let body = got[0].json();
    assert_eq!(body["type"], "payout.settled");
    assert_eq!(body["data"]["id"], json!(id));
    assert_eq!(body["data"]["status"], "settled");
    assert!(got[0].header("x-billing-signature").is_some_and(|s| s.starts_with("t=")));
    assert_eq!(got[0].header("webhook-id"), body["event_id"].as_str());

    let (_, events) = call(reqwest::Method::GET, "/events?type=payout.settled".into(), None).await;
    assert_eq!(events["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(events["data"][0]["event_id"], body["event_id"]);
}
