//! Cold start of the release Lambda binaries, next to a hello-world `lambda_http` function
//! (`bench-hello-lambda`) built and run the same way: each as its own process under the Runtime
//! API emulator (`payouts_tests::lambda_runtime`), alternating, fed one invocation:
//! - init: process start to its first `invocation/next`;
//! - first response: process start to its first posted response;
//! - peak RSS (`VmHWM`) after that response;
//! - the stripped binary's size.
//!
//! ```sh
//! cargo build --release -p payouts-functions --bin api-get-payout --bin api-create-payout --bin watcher-sweep --bin webhook-dispatcher
//! cargo build --release -p payouts-tests --bin bench-hello-lambda --bin bench-cold-start
//! infra/test-env/moto.sh start --port 5055 --dir /tmp/moto-bench
//! PAYOUTS_TEST_AWS_ENDPOINT=http://127.0.0.1:5055 target/release/bench-cold-start [runs, default 7]
//! ```
//!
//! The functions reach the AWS emulator on loopback; they load the machine's TLS roots at start
//! as they do in Lambda (the SDK's clients are built at init).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts_tests::lambda_runtime::{FunctionProcess, Outcome};
use payouts_tests::watch::lambda_fixture;
use payouts_tests::{Harness, aws, guide_body};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

const BASELINE: &str = "bench-hello-lambda";
const MEASURED: [&str; 4] = ["api-get-payout", "api-create-payout", "watcher-sweep", "webhook-dispatcher"];

fn release_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let path = exe.parent().unwrap().join(name);
    assert!(path.exists(), "{} is not built: see this benchmark's usage", path.display());
    path
}

fn api_event(method: &str, path: &str, key: &str, body: Option<&Value>) -> Value {
    let mut event: Value = serde_json::from_str(&lambda_fixture("apigw-v2-list-payouts.json")).unwrap();
    event["rawPath"] = json!(path);
    event["rawQueryString"] = json!("");
    event["queryStringParameters"] = Value::Null;
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(path);
    event["headers"] = json!({"authorization": format!("Bearer {key}"), "content-type": "application/json"});
    if let Some(body) = body {
        event["body"] = json!(body.to_string());
    }
    event
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|line| line.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

#[derive(Default)]
struct Samples {
    init_ms: Vec<f64>,
    first_ms: Vec<f64>,
    rss_kib: Vec<u64>,
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    sorted[sorted.len() / 2]
}

#[tokio::main]
async fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(7);
    let endpoint = std::env::var("PAYOUTS_TEST_AWS_ENDPOINT").expect("PAYOUTS_TEST_AWS_ENDPOINT (the AWS emulator)");
    let h = Harness::dynamodb().await;
    let table = h.table_name.clone().unwrap();
    let key = h.tenant.sandbox.clone();
    let payout_id = h.create(&key, &guide_body()).await.id();
    let event = h.outbox().await.remove(0);

    let config = aws::sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let retry_queue = sqs.create_queue().queue_name(aws::unique_name("bench-retry")).send().await.unwrap().queue_url().unwrap().to_owned();
    let bus = aws::unique_name("bench-bus");
    aws_sdk_eventbridge::Client::new(&config).create_event_bus().name(&bus).send().await.unwrap();
    let kms_key = aws_sdk_kms::Client::new(&config).create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();

    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in [
        ("PAYOUTS_TABLE_NAME", table.as_str()),
        ("PAYOUTS_EVENT_BUS_NAME", bus.as_str()),
        ("PAYOUTS_WEBHOOK_RETRY_QUEUE_URL", retry_queue.as_str()),
        ("PAYOUTS_WEBHOOK_KMS_KEY_ID", kms_key.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_SESSION_TOKEN", "test"),
        ("RUST_LOG", "info"),
    ] {
        env.insert(name.into(), value.into());
    }
    for chain in ["TRON", "ARBITRUM", "BASE"] {
        for environment in ["LIVE", "SANDBOX"] {
            env.insert(format!("PAYOUTS_{environment}_{chain}_RPC_URL"), "http://127.0.0.1:9".into());
        }
    }
    let schedule: Value = serde_json::from_str(&lambda_fixture("eventbridge-schedule.json")).unwrap();
    let bus_event = json!({"version": "0", "id": "b1", "detail-type": event.event_type.as_str(), "source": "payouts", "account": "123456789012",
        "time": "2026-12-02T00:00:00Z", "region": "us-east-1", "resources": [], "detail": serde_json::to_value(&event).unwrap()});
    let invocation = |name: &str| -> Value {
        match name {
            "api-get-payout" => api_event("GET", &format!("/v1/payouts/{payout_id}"), &key, None),
            "api-create-payout" => api_event("POST", "/v1/payouts", &key, Some(&guide_body())),
            "watcher-sweep" => schedule.clone(),
            "webhook-dispatcher" => bus_event.clone(),
            _ => api_event("GET", "/hello", &key, None),
        }
    };

    let mut samples: BTreeMap<&str, Samples> = BTreeMap::new();
    for _ in 0..runs {
        for name in std::iter::once(BASELINE).chain(MEASURED) {
            let process = FunctionProcess::start(&release_binary(name), name, 256, &env).await;
            process.wait_ready(Duration::from_secs(30)).await.unwrap_or_else(|f| panic!("{name}: {f}\n{}", process.logs().join("\n")));
            match process.invoke(&invocation(name), Duration::from_secs(30)).await {
                Ok(Outcome::Response(answer)) => {
                    let status = answer["statusCode"].as_u64().unwrap_or(200);
                    assert!(status < 300, "{name} answered {answer}");
                }
                other => panic!("{name}: {other:?}\n{}", process.logs().join("\n")),
            }
            let (ready, answered) = process.api.milestones();
            let entry = samples.entry(name).or_default();
            entry.init_ms.push((ready.unwrap() - process.started_at).as_secs_f64() * 1000.0);
            entry.first_ms.push((answered.unwrap() - process.started_at).as_secs_f64() * 1000.0);
            entry.rss_kib.push(peak_rss_kib(process.pid().unwrap()));
            process.stop();
        }
    }

    let base = &samples[BASELINE];
    let (base_init, base_first) = (median(&base.init_ms), median(&base.first_ms));
    let base_rss = median(&base.rss_kib.iter().map(|&k| k as f64).collect::<Vec<_>>()) / 1024.0;
    let base_size = std::fs::metadata(release_binary(BASELINE)).unwrap().len() as f64 / 1_048_576.0;
    println!("medians of {runs} alternating runs; ratio to {BASELINE} in brackets\n");
    println!("| binary | init ms | first response ms | peak RSS MB | stripped size MB |");
    println!("|---|---|---|---|---|");
    println!("| {BASELINE} | {base_init:.1} | {base_first:.1} | {base_rss:.1} | {base_size:.1} |");
    for name in MEASURED {
        let s = &samples[name];
        let (init, first) = (median(&s.init_ms), median(&s.first_ms));
        let rss = median(&s.rss_kib.iter().map(|&k| k as f64).collect::<Vec<_>>()) / 1024.0;
        let size = std::fs::metadata(release_binary(name)).unwrap().len() as f64 / 1_048_576.0;
        println!(
            "| {name} | {init:.1} ({:.2}×) | {first:.1} ({:.2}×) | {rss:.1} ({:.2}×) | {size:.1} ({:.1}×) |",
            init / base_init,
            first / base_first,
            rss / base_rss,
            size / base_size
        );
    }
}
