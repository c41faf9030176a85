//! Benchmark: webhook deliveries per second from one dispatcher to a local receiver that
//! answers at once, and the added latency from event commit to delivery on the local runner
//! binary (p50, p99). Usage: `cargo run --release -p payouts-tests --bin bench-webhooks --
//! [deliveries=2000] [concurrency=16] [latency_samples=200]` (after `cargo build --release -p
//! payouts-functions --bin payouts-local`, which it starts from the same target directory).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts::adapters::webhook_sender::{HttpWebhookSender, WebhookSenderOptions};
use payouts::domain::chain::Environment;
use payouts::domain::endpoint::{EndpointStatus, WebhookEndpoint};
use payouts::domain::event::{Event, EventType};
use payouts::domain::ids::{PayoutId, WebhookId};
use payouts::domain::org::Plan;
use payouts::domain::webhook::{RetrySchedule, WebhookSecret};
use payouts::ports::store::{Condition, WriteOp};
use payouts::service::dispatcher::Dispatcher;
use payouts::service::{admin, records};
use payouts_tests::receiver::Receiver;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let deliveries = args.first().copied().unwrap_or(2_000);
    let concurrency = args.get(1).copied().unwrap_or(16);
    let samples = args.get(2).copied().unwrap_or(200);

    // A. Throughput of one dispatcher.
    let (app, _dir) = payouts_tests::embedded_app();
    let org = admin::create_org(&app, "bench", Plan::Enterprise).await.unwrap();
    let receiver = Receiver::start().await;
    let now = app.now();
    let id = WebhookId::generate();
    let secret = app.vault.seal_endpoint_secret(&id, &WebhookSecret::generate()).await.unwrap();
    let endpoint = WebhookEndpoint {
        id,
        org_id: org.id.clone(),
        environment: Environment::Sandbox,
        url: receiver.url.clone(),
        events: vec![EventType::PayoutSettled],
        description: None,
        secret,
        status: EndpointStatus::Active,
        disabled_reason: None,
        retiring_secret: None,
        backfill: None,
        created_at: now,
    };
    app.store
        .write(vec![WriteOp::Put { item: records::endpoint_item(&endpoint, 1).unwrap(), condition: Some(Condition::Absent { now_unix: now.timestamp() }) }])
        .await
        .unwrap();
    let mut events = Vec::with_capacity(deliveries);
    for chunk in 0..deliveries.div_ceil(50) {
        let mut ops = Vec::new();
        for _ in 0..50.min(deliveries - chunk * 50) {
            let data = json!({"id": PayoutId::generate().to_string(), "status": "settled"});
            let event =
                Event::new(EventType::PayoutSettled, org.id.clone(), Environment::Sandbox, data["id"].as_str().unwrap().to_owned(), &data, app.now()).unwrap();
            ops.push(WriteOp::Put { item: records::event_item(&event, 1).unwrap(), condition: None });
            events.push(event);
        }
        app.store.write(ops).await.unwrap();
    }
    let dispatcher = Arc::new(Dispatcher {
        app: app.clone(),
        sender: Arc::new(HttpWebhookSender::new(WebhookSenderOptions::default()).unwrap()),
        schedule: RetrySchedule::default(),
        retry_queue: None,
    });
    let events = Arc::new(events);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|_| {
            let (dispatcher, events, next) = (dispatcher.clone(), events.clone(), next.clone());
            tokio::spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(event) = events.get(i) else { return };
                    let report = dispatcher.dispatch_event(event).await.unwrap();
                    assert_eq!(report.succeeded, 1);
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(receiver.received().len(), deliveries);

    // B. Commit → delivery latency on the local runner binary.
    let runner = std::env::current_exe().unwrap().with_file_name("payouts-local");
    let data_dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(&runner)
        .env("PAYOUTS_DATA_DIR", data_dir.path())
        .env("PAYOUTS_PORT", port.to_string())
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("start {}: {e} (build it with cargo build --release -p payouts-functions --bin payouts-local)", runner.display()));
    let mut key = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line.contains("sandbox key") {
            key = line.split_whitespace().last().unwrap().to_owned();
        }
        if line.contains("listening on") {
            break;
        }
    }
    let base = format!("http://127.0.0.1:{port}/v1");
    let client = reqwest::Client::new();
    let hooks = Receiver::start().await;
    client.post(format!("{base}/webhooks")).bearer_auth(&key).json(&json!({"url": hooks.url, "events": ["payout.created"]})).send().await.unwrap();
    let body = json!({"recipient_address": payouts_tests::TRON_RECIPIENT, "chain": "tron", "token": "USDT", "amount": 1.00, "currency": "USD"});
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples {
        let sent = Instant::now();
        let response = client.post(format!("{base}/payouts")).bearer_auth(&key).json(&body).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 201);
        while hooks.received().len() <= i {
            tokio::time::sleep(Duration::from_micros(200)).await;
            assert!(sent.elapsed() < Duration::from_secs(30), "webhook never arrived");
        }
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    let _ = child.kill();
    let _ = child.wait();
    latencies.sort_by(|a, b| a.total_cmp(b));

    println!("| measure | value |");
    println!("|---|---:|");
    println!("| deliveries (signed POST + 3 store writes each), {concurrency} concurrent | {deliveries} in {elapsed:.2} s |");
    println!("| deliveries per second, one dispatcher | {:.0} |", deliveries as f64 / elapsed);
    println!("| commit → delivery on payouts-local, p50 ({samples} samples) | {:.1} ms |", percentile(&latencies, 0.50));
    println!("| commit → delivery on payouts-local, p99 | {:.1} ms |", percentile(&latencies, 0.99));
}
