//! Benchmark: requests per second of the local runner's HTTP stack on the embedded store
//! (create and get-by-id), next to a bare hyper hello-world server, in the same process and
//! run, with the same load generator. Usage: `cargo run --release -p payouts-tests --bin
//! bench-local-http -- [seconds] [connections]`. Prints a Markdown table for BENCHMARKS.md.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use payouts::domain::chain::Environment;
use payouts::domain::org::Plan;
use payouts::service::admin;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

async fn hello_world(listener: TcpListener) {
    loop {
        let (stream, _) = listener.accept().await.unwrap();
        tokio::spawn(async move {
            let service = service_fn(|_request| async { Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(b"{\"hello\":\"world\"}")))) });
            let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

/// Runs `connections` clients for `seconds`, each sending requests made by `make` back to back.
async fn load<F, Fut>(seconds: u64, connections: usize, make: F) -> (f64, u64)
where
    F: Fn(reqwest::Client, u64) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = bool> + Send,
{
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let tasks: Vec<_> = (0..connections)
        .map(|worker| {
            let (done, failed, make) = (done.clone(), failed.clone(), make.clone());
            tokio::spawn(async move {
                let client = reqwest::Client::builder().pool_max_idle_per_host(1).build().unwrap();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    if make(client.clone(), worker as u64 * 1_000_000 + n).await {
                        done.fetch_add(1, Ordering::Relaxed);
                    } else {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 1;
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    (done.load(Ordering::Relaxed) as f64 / elapsed, failed.load(Ordering::Relaxed))
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let seconds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(5);
    let connections: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16);

    let (app, _dir) = payouts_tests::embedded_app();
    let org = admin::create_org(&app, "bench", Plan::Enterprise).await.unwrap();
    let (_, key) = admin::create_key(&app, &org.id, Environment::Live).await.unwrap();
    let key = key.reveal().to_owned();

    let api_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api = format!("http://{}/v1", api_listener.local_addr().unwrap());
    tokio::spawn(payouts::http::local_server::run(app, api_listener));
    let hello_listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hello = format!("http://{}/", hello_listener.local_addr().unwrap());
    tokio::spawn(hello_world(hello_listener));

    let body = serde_json::json!({"recipient_address": payouts_tests::TRON_RECIPIENT, "chain": "tron", "token": "USDT", "amount": 500.00, "currency": "USD"})
        .to_string();
    let created: serde_json::Value = reqwest::Client::new()
        .post(format!("{api}/payouts"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_owned();

    let hello_url = hello.clone();
    let (hello_rps, hello_failed) = load(seconds, connections, move |client, _| {
        let url = hello_url.clone();
        async move { client.get(url).send().await.is_ok_and(|r| r.status().is_success()) }
    })
    .await;
    let (get_url, get_key) = (format!("{api}/payouts/{id}"), key.clone());
    let (get_rps, get_failed) = load(seconds, connections, move |client, _| {
        let (url, key) = (get_url.clone(), get_key.clone());
        async move { client.get(url).bearer_auth(key).send().await.is_ok_and(|r| r.status().as_u16() == 200) }
    })
    .await;
    let (create_url, create_key) = (format!("{api}/payouts"), key.clone());
    let (create_rps, create_failed) =
        load(seconds, connections, move |client, _| {
            let (url, key, body) = (create_url.clone(), create_key.clone(), body.clone());
            async move {
                client.post(url).bearer_auth(key).header("content-type", "application/json").body(body).send().await.is_ok_and(|r| r.status().as_u16() == 201)
            }
        })
        .await;

    println!("| workload ({connections} connections, {seconds} s each) | requests/s | ratio to hello-world | failed |");
    println!("|---|---:|---:|---:|");
    println!("| bare hyper hello-world | {hello_rps:.0} | 1.00 | {hello_failed} |");
    println!("| GET /v1/payouts/{{id}} (auth + read) | {get_rps:.0} | {:.3} | {get_failed} |", get_rps / hello_rps);
    println!("| POST /v1/payouts (auth + validate + transactional write, fsync) | {create_rps:.0} | {:.3} | {create_failed} |", create_rps / hello_rps);
}
