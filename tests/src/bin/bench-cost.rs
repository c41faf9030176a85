//! What a payout costs on AWS, from counted calls: the stack as `template.yaml` deploys it
//! (`payouts_tests::lambda_stack`: every release binary as its own process under the Runtime API
//! emulator, its AWS calls through a recording proxy to moto), one idle pass of every schedule,
//! then payouts through their whole life (create → approve → execute → verifying → settled) with
//! two webhook endpoints subscribed to every payout event. It prints the counts and the bill at
//! on-demand list prices (`PRICES`) as the Markdown tables of BENCHMARKS.md.
//!
//! ```sh
//! cargo build --release -p payouts-functions --bins
//! cargo build --release -p payouts-tests --bin bench-cost
//! infra/test-env/moto.sh start --port 5055 --dir /tmp/moto-bench
//! infra/test-env/template-json.sh > /tmp/template.json
//! PAYOUTS_TEST_AWS_ENDPOINT=http://127.0.0.1:5055 PAYOUTS_TEST_TEMPLATE_JSON=/tmp/template.json \
//!   target/release/bench-cost [payouts, default 3]
//! ```
//!
//! What is counted, and how (each also said in the printed notes):
//! - DynamoDB request units from each call's request and answer: item sizes by DynamoDB's rule
//!   (names plus values), reads per 4 KB (half for eventually consistent), writes per 1 KB, both
//!   doubled in transactions, plus one write per global secondary index a written item is on;
//!   an update or condition check is sized by the item as the table holds it at the end;
//! - Lambda invocations and GB-seconds at each function's configured memory, with the duration
//!   measured here (against moto on loopback), rounded up to the millisecond;
//! - the stream relay invoked once per event record, as the stream's filter lets through;
//! - SQS requests the functions make, plus the Lambda poller's receive and delete per batch;
//! - EventBridge entries put; KMS calls; CloudWatch log bytes the functions wrote.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts_tests::aws;
use payouts_tests::aws_proxy::RecordedCall;
use payouts_tests::lambda_stack::{Deployment, Invocation, Stack, deploy, profile_dir, queue_arn, sqs_batch};
use payouts_tests::receiver::Receiver;
use payouts_tests::watch::{BASE_CONFIRMATIONS, RigConfig, StoreKind, WatchRig, amount_text};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// On-demand list prices, US East (N. Virginia), as AWS's pricing pages gave them when this was
/// written (2026-12); dollars.
struct Prices;
impl Prices {
    const DYNAMODB_PER_MILLION_WRITE_UNITS: f64 = 0.625;
    const DYNAMODB_PER_MILLION_READ_UNITS: f64 = 0.125;
    const DYNAMODB_STORAGE_PER_GB_MONTH: f64 = 0.25;
    const DYNAMODB_PITR_PER_GB_MONTH: f64 = 0.20;
    const LAMBDA_PER_MILLION_REQUESTS: f64 = 0.20;
    /// arm64, the production architecture (x86_64: 0.0000166667).
    const LAMBDA_PER_GB_SECOND_ARM64: f64 = 0.000_013_333_4;
    const HTTP_API_PER_MILLION_REQUESTS: f64 = 1.00;
    const SQS_PER_MILLION_REQUESTS: f64 = 0.40;
    const EVENTBRIDGE_PER_MILLION_CUSTOM_EVENTS: f64 = 1.00;
    const KMS_PER_10K_REQUESTS: f64 = 0.03;
    const KMS_KEY_PER_MONTH: f64 = 1.00;
    const LOGS_INGESTION_PER_GB: f64 = 0.50;
    const LOGS_STORAGE_PER_GB_MONTH: f64 = 0.03;
    const CUSTOM_METRIC_PER_MONTH: f64 = 0.30;
    const ALARM_METRIC_PER_MONTH: f64 = 0.10;
}

/// Lambda's own log records per invocation in JSON log format (`platform.start`,
/// `platform.report`), which the functions' stdout does not show: an estimate, in bytes.
const PLATFORM_LOG_BYTES_PER_INVOCATION: usize = 600;
/// The SQS event source mapping's long polling with no messages: five pollers (Lambda's
/// starting number), each a 20 s `ReceiveMessage`, all month (30 days).
const IDLE_POLLER_REQUESTS_PER_MONTH: f64 = 5.0 * 3.0 * 60.0 * 24.0 * 30.0;
const MINUTES_PER_MONTH: f64 = 60.0 * 24.0 * 30.0;

/// DynamoDB's item size: each attribute's name plus its value.
fn item_size(item: &Value) -> usize {
    item.as_object().map(|attributes| attributes.iter().map(|(name, value)| name.len() + value_size(value)).sum()).unwrap_or(0)
}

fn value_size(value: &Value) -> usize {
    let Some((kind, inner)) = value.as_object().and_then(|v| v.iter().next()) else { return 0 };
    match kind.as_str() {
        "S" => inner.as_str().map(str::len).unwrap_or(0),
        // Numbers: about one byte per two significant digits, plus one.
        "N" => inner.as_str().map(|n| n.trim_start_matches('-').replace('.', "").trim_start_matches('0').len().div_ceil(2) + 1).unwrap_or(1),
        "B" => inner.as_str().map(|b| b.len() * 3 / 4).unwrap_or(0),
        "BOOL" | "NULL" => 1,
        "SS" | "NS" | "BS" => inner.as_array().map(|items| items.iter().map(|i| i.as_str().map(str::len).unwrap_or(0)).sum()).unwrap_or(0),
        "L" => 3 + inner.as_array().map(|items| items.iter().map(|i| 1 + value_size(i)).sum::<usize>()).unwrap_or(0),
        "M" => 3 + inner.as_object().map(|m| m.iter().map(|(k, v)| 1 + k.len() + value_size(v)).sum::<usize>()).unwrap_or(0),
        _ => 0,
    }
}

fn key_of(item: &Value) -> (String, String) {
    (item["pk"]["S"].as_str().unwrap_or("").to_owned(), item["sk"]["S"].as_str().unwrap_or("").to_owned())
}

/// Request units of DynamoDB calls, priced.
#[derive(Default, Clone, Copy)]
struct Units {
    read: f64,
    write: f64,
}

/// The table's items at the end, by key: the size an update or a condition check is charged.
struct TableImage {
    sizes: BTreeMap<(String, String), usize>,
}

impl TableImage {
    fn size(&self, key: &Value) -> usize {
        self.sizes.get(&key_of(key)).copied().unwrap_or(1024)
    }
}

const INDEXES: [&str; 3] = ["gsi1pk", "gsi2pk", "gsi3pk"];

/// The global secondary indexes a write touches: those whose key the item carries or the update
/// names.
fn indexes_written(item_or_update: &Value) -> usize {
    let text = item_or_update.to_string();
    INDEXES.iter().filter(|index| text.contains(*index)).count()
}

fn write_units(size: usize) -> f64 {
    size.max(1).div_ceil(1024) as f64
}

fn read_units(size: usize, consistent: bool) -> f64 {
    let units = size.max(1).div_ceil(4096) as f64;
    if consistent { units } else { units / 2.0 }
}

/// The request units one DynamoDB call consumed.
fn dynamodb_units(call: &RecordedCall, image: &TableImage) -> Units {
    let operation = call.target.rsplit('.').next().unwrap_or("");
    let request: Value = serde_json::from_slice(&call.request).unwrap_or_default();
    let answer: Value = serde_json::from_slice(&call.response).unwrap_or_default();
    let consistent = request["ConsistentRead"].as_bool().unwrap_or(false);
    let write_of = |item: &Value, size: usize| write_units(size) * (1 + indexes_written(item)) as f64;
    match operation {
        "GetItem" => Units { read: read_units(item_size(&answer["Item"]), consistent), write: 0.0 },
        "BatchGetItem" => {
            let mut read = 0.0;
            for (table, wanted) in request["RequestItems"].as_object().into_iter().flatten() {
                let consistent = wanted["ConsistentRead"].as_bool().unwrap_or(false);
                let found: Vec<usize> = answer["Responses"][table].as_array().into_iter().flatten().map(item_size).collect();
                let asked = wanted["Keys"].as_array().map(Vec::len).unwrap_or(0);
                read += found.iter().map(|size| read_units(*size, consistent)).sum::<f64>();
                read += asked.saturating_sub(found.len()) as f64 * read_units(1, consistent);
            }
            Units { read, write: 0.0 }
        }
        "Query" | "Scan" => {
            let total: usize = answer["Items"].as_array().into_iter().flatten().map(item_size).sum();
            Units { read: read_units(total, consistent), write: 0.0 }
        }
        "PutItem" => Units { read: 0.0, write: write_of(&request["Item"], item_size(&request["Item"])) },
        "UpdateItem" => Units { read: 0.0, write: write_of(&request, image.size(&request["Key"])) },
        "DeleteItem" => Units { read: 0.0, write: write_units(image.size(&request["Key"])) },
        "TransactWriteItems" => {
            let mut write = 0.0;
            for item in request["TransactItems"].as_array().into_iter().flatten() {
                write += 2.0
                    * if let Some(put) = item.get("Put") {
                        write_of(&put["Item"], item_size(&put["Item"]))
                    } else if let Some(update) = item.get("Update") {
                        write_of(update, image.size(&update["Key"]))
                    } else if let Some(check) = item.get("ConditionCheck") {
                        write_units(image.size(&check["Key"]))
                    } else if let Some(delete) = item.get("Delete") {
                        write_units(image.size(&delete["Key"]))
                    } else {
                        0.0
                    };
            }
            Units { read: 0.0, write }
        }
        "TransactGetItems" => {
            let read = answer["Responses"].as_array().into_iter().flatten().map(|r| 2.0 * read_units(item_size(&r["Item"]), true)).sum();
            Units { read, write: 0.0 }
        }
        _ => Units::default(),
    }
}

/// Everything one phase of the run used.
#[derive(Default)]
struct Ledger {
    units: Units,
    /// Items written (each a stream record).
    stream_records: usize,
    dynamodb_calls: BTreeMap<String, usize>,
    /// Write units by operation.
    dynamodb_writes: BTreeMap<String, f64>,
    invocations: BTreeMap<String, (usize, f64)>,
    gb_seconds: f64,
    api_requests: usize,
    sqs_requests: usize,
    bus_entries: usize,
    kms_requests: usize,
    log_bytes: usize,
}

impl Ledger {
    fn of(calls: &[RecordedCall], invocations: &[Invocation], log_bytes: usize, stack: &Stack, image: &TableImage) -> Ledger {
        let mut ledger = Ledger { log_bytes, ..Ledger::default() };
        for call in calls {
            let (service, operation) = call.target.split_once('.').unwrap_or(("", ""));
            if service.starts_with("DynamoDB") {
                let units = dynamodb_units(call, image);
                ledger.units.read += units.read;
                ledger.units.write += units.write;
                *ledger.dynamodb_writes.entry(operation.to_owned()).or_default() += units.write;
                *ledger.dynamodb_calls.entry(operation.to_owned()).or_default() += 1;
                let request: Value = serde_json::from_slice(&call.request).unwrap_or_default();
                ledger.stream_records += match operation {
                    "PutItem" | "UpdateItem" | "DeleteItem" => 1,
                    "TransactWriteItems" => {
                        request["TransactItems"].as_array().map(|items| items.iter().filter(|i| i.get("ConditionCheck").is_none()).count()).unwrap_or(0)
                    }
                    _ => 0,
                };
            } else if service == "AmazonSQS" {
                ledger.sqs_requests += 1;
            } else if service == "AWSEvents" && operation == "PutEvents" {
                let request: Value = serde_json::from_slice(&call.request).unwrap_or_default();
                ledger.bus_entries += request["Entries"].as_array().map(Vec::len).unwrap_or(0);
            } else if service == "TrentService" {
                ledger.kms_requests += 1;
            }
        }
        for invocation in invocations {
            let memory_mb = stack.spec(&invocation.binary).memory_mb as f64;
            let billed_ms = (invocation.duration.as_secs_f64() * 1000.0).ceil();
            let entry = ledger.invocations.entry(invocation.binary.clone()).or_default();
            entry.0 += 1;
            entry.1 += billed_ms;
            ledger.gb_seconds += memory_mb / 1024.0 * billed_ms / 1000.0;
            if invocation.binary.starts_with("api-") {
                ledger.api_requests += 1;
            }
        }
        ledger.log_bytes += invocations.len() * PLATFORM_LOG_BYTES_PER_INVOCATION;
        ledger
    }

    fn invocation_count(&self) -> usize {
        self.invocations.values().map(|(count, _)| count).sum()
    }

    /// Dollars, by line.
    fn bill(&self) -> Vec<(&'static str, f64)> {
        let million = 1_000_000.0;
        vec![
            ("DynamoDB writes", self.units.write * Prices::DYNAMODB_PER_MILLION_WRITE_UNITS / million),
            ("DynamoDB reads", self.units.read * Prices::DYNAMODB_PER_MILLION_READ_UNITS / million),
            ("Lambda requests", self.invocation_count() as f64 * Prices::LAMBDA_PER_MILLION_REQUESTS / million),
            ("Lambda duration", self.gb_seconds * Prices::LAMBDA_PER_GB_SECOND_ARM64),
            ("HTTP API requests", self.api_requests as f64 * Prices::HTTP_API_PER_MILLION_REQUESTS / million),
            ("SQS requests", self.sqs_requests as f64 * Prices::SQS_PER_MILLION_REQUESTS / million),
            ("EventBridge events", self.bus_entries as f64 * Prices::EVENTBRIDGE_PER_MILLION_CUSTOM_EVENTS / million),
            ("KMS requests", self.kms_requests as f64 * Prices::KMS_PER_10K_REQUESTS / 10_000.0),
            ("CloudWatch Logs", self.log_bytes as f64 / 1e9 * (Prices::LOGS_INGESTION_PER_GB + Prices::LOGS_STORAGE_PER_GB_MONTH)),
        ]
    }
}

/// Where each process's log stood: how many lines it had written.
fn log_marks(stack: &Stack) -> BTreeMap<String, usize> {
    stack.functions.iter().map(|(binary, (_, process))| (binary.clone(), process.logs().len())).collect()
}

/// Bytes the processes logged since `marks`, and the embedded-metric-format metrics they
/// published: (namespace, name, dimensions with their values).
fn logged_since(stack: &Stack, marks: &BTreeMap<String, usize>) -> (usize, BTreeSet<String>) {
    let mut bytes = 0;
    let mut metrics = BTreeSet::new();
    for (binary, (_, process)) in &stack.functions {
        for line in process.logs().iter().skip(marks.get(binary).copied().unwrap_or(0)) {
            bytes += line.len() + 1;
            let Ok(document) = serde_json::from_str::<Value>(line) else { continue };
            for directive in document["_aws"]["CloudWatchMetrics"].as_array().into_iter().flatten() {
                let dimensions: Vec<String> = directive["Dimensions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .flat_map(|set| set.as_array().cloned().unwrap_or_default())
                    .map(|d| format!("{}={}", d.as_str().unwrap_or(""), document[d.as_str().unwrap_or("")].as_str().unwrap_or("")))
                    .collect();
                for metric in directive["Metrics"].as_array().into_iter().flatten() {
                    metrics.insert(format!(
                        "{} {} [{}]",
                        directive["Namespace"].as_str().unwrap_or(""),
                        metric["Name"].as_str().unwrap_or(""),
                        dimensions.join(",")
                    ));
                }
            }
        }
    }
    (bytes, metrics)
}

/// Where the run stood: calls, invocations and log lines so far.
struct Mark {
    calls: usize,
    invocations: usize,
    logs: BTreeMap<String, usize>,
}

/// What the stack did after a [`Mark`].
struct Since {
    calls: Vec<RecordedCall>,
    invocations: Vec<Invocation>,
    log_bytes: usize,
    metrics: BTreeSet<String>,
}

impl Mark {
    fn now(deployment: &Deployment) -> Mark {
        let stack = &deployment.stack;
        Mark { calls: deployment.proxy.calls().len(), invocations: stack.invocations.lock().unwrap().len(), logs: log_marks(stack) }
    }

    /// Waits a moment for the last log lines, then takes everything after the mark.
    async fn since(&self, deployment: &Deployment) -> Since {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stack = &deployment.stack;
        let (log_bytes, metrics) = logged_since(stack, &self.logs);
        Since {
            calls: deployment.proxy.calls()[self.calls..].to_vec(),
            invocations: stack.invocations.lock().unwrap()[self.invocations..].to_vec(),
            log_bytes,
            metrics,
        }
    }
}

/// The table as it stands, read straight from the emulator (not through the proxy).
async fn table_image(table: &str) -> (TableImage, Vec<Value>) {
    let client = aws_sdk_dynamodb::Client::new(&aws::sdk_config().await);
    let mut items = Vec::new();
    let mut start = None;
    loop {
        let page = client.scan().table_name(table).set_exclusive_start_key(start).send().await.unwrap();
        for item in page.items() {
            items.push(attribute_map_json(item));
        }
        start = page.last_evaluated_key().cloned();
        if start.is_none() {
            break;
        }
    }
    let sizes = items.iter().map(|item| (key_of(item), item_size(item))).collect();
    (TableImage { sizes }, items)
}

/// An SDK item as DynamoDB's JSON (`{"S": …}`), the shape the proxy records.
fn attribute_map_json(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    fn one(value: &A) -> Value {
        match value {
            A::S(s) => json!({"S": s}),
            A::N(n) => json!({"N": n}),
            A::Bool(b) => json!({"BOOL": b}),
            A::Null(_) => json!({"NULL": true}),
            A::B(b) => json!({"B": base64_len_placeholder(b.as_ref().len())}),
            A::Ss(items) => json!({"SS": items}),
            A::Ns(items) => json!({"NS": items}),
            A::L(items) => json!({"L": items.iter().map(one).collect::<Vec<_>>()}),
            A::M(map) => json!({"M": map.iter().map(|(k, v)| (k.clone(), one(v))).collect::<serde_json::Map<_, _>>()}),
            _ => Value::Null,
        }
    }
    Value::Object(item.iter().map(|(k, v)| (k.clone(), one(v))).collect())
}

/// A string as long as the base64 text of `len` bytes: [`value_size`] only needs the length.
fn base64_len_placeholder(len: usize) -> String {
    "A".repeat(len.div_ceil(3) * 4)
}

fn event_records(items: &[Value]) -> usize {
    items.iter().filter(|item| key_of(item).0.starts_with("EVT#")).count()
}

/// The stream batch the relay's filter lets through for one new event record.
fn stream_batch(table: &str, n: usize) -> Value {
    json!({"Records": [{"eventID": format!("{n}"), "eventName": "INSERT", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "eventSourceARN": format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-12-02T00:00:00.000"),
        "dynamodb": {"Keys": {"pk": {"S": format!("EVT#{n}")}, "sk": {"S": format!("EVT#{n}")}}, "SequenceNumber": format!("{n}"), "SizeBytes": 10, "StreamViewType": "NEW_IMAGE"}}]})
}

/// The scheduled functions and how often each runs, from the template's `Schedule` events
/// (parameters at their defaults).
fn schedules(deployment: &Deployment) -> Vec<(String, f64)> {
    let template = &deployment.template.0;
    let mut out = Vec::new();
    for spec in deployment.template.functions() {
        for event in spec.events.as_object().into_iter().flatten().map(|(_, e)| e) {
            if event["Type"] != "Schedule" {
                continue;
            }
            let expression = &event["Properties"]["Schedule"];
            let text = match expression.get("Ref").and_then(Value::as_str) {
                Some(parameter) => template["Parameters"][parameter]["Default"].as_str().unwrap_or("").to_owned(),
                None => expression.as_str().unwrap_or("").to_owned(),
            };
            let minutes: f64 = text
                .trim_start_matches("rate(")
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{}: a schedule this bench cannot read: {text}", spec.binary));
            let per_minute = if text.contains("hour") { 1.0 / (60.0 * minutes) } else { 1.0 / minutes };
            out.push((spec.binary.clone(), per_minute * MINUTES_PER_MONTH));
        }
    }
    out
}

/// Alarm metrics the template creates: (always, only with `FunctionAlarms=true`).
fn alarm_metrics(deployment: &Deployment) -> (usize, usize) {
    let (mut always, mut per_function) = (0, 0);
    for resource in deployment.template.0["Resources"].as_object().into_iter().flatten().map(|(_, r)| r) {
        if resource["Type"] != "AWS::CloudWatch::Alarm" {
            continue;
        }
        let metrics = resource["Properties"]["Metrics"].as_array().map(|m| m.iter().filter(|q| q.get("MetricStat").is_some()).count()).unwrap_or(1);
        if resource["Condition"].as_str().is_some() {
            per_function += metrics;
        } else {
            always += metrics;
        }
    }
    (always, per_function)
}

fn dollars(amount: f64) -> String {
    if amount == 0.0 {
        "$0".into()
    } else if amount < 0.01 {
        format!("${amount:.7}")
    } else {
        format!("${amount:.2}")
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 4)]
async fn main() {
    let payouts: usize = std::env::args().nth(1).and_then(|n| n.parse().ok()).unwrap_or(3);
    let rig = WatchRig::start_with(RigConfig { store: StoreKind::DynamoDb, ..RigConfig::default() }).await;
    let deployment = deploy(&rig, &profile_dir()).await;
    let Deployment { stack, table, .. } = &deployment;
    let key = rig.h.tenant.sandbox.clone();
    let key = Some(key.as_str());

    // -- idle: every schedule once to warm it, then once measured, with nothing to do -----------
    let scheduled = schedules(&deployment);
    for (binary, _) in &scheduled {
        stack.scheduled(binary).await;
    }
    let mark = Mark::now(&deployment);
    for (binary, _) in &scheduled {
        stack.scheduled(binary).await;
    }
    let idle_run = mark.since(&deployment).await;
    let (image, _) = table_image(table).await;

    // -- set-up, not priced: two endpoints on every payout event, a proven source wallet --------
    let receivers = [Receiver::start().await, Receiver::start().await];
    let every_payout_event =
        ["payout.created", "payout.approved", "payout.executed", "payout.verifying", "payout.settled", "payout.failed", "payout.canceled", "payout.updated"];
    for receiver in &receivers {
        let (status, body, _) =
            stack.api("api-create-webhook", "POST", "/v1/webhooks", key, Some(json!({"url": receiver.url, "events": every_payout_event}))).await;
        assert_eq!(status, 201, "{body}");
    }
    stack.prove_treasury_wallet(&rig, key).await;
    // The dispatcher's first invocation opens the endpoints' secrets (KMS, once per instance):
    // a payout first, unpriced, so the priced ones see warm functions.
    let mut lifecycle = Lifecycle { rig: &rig, deployment: &deployment, key, relayed: event_records(&table_image(table).await.1), poller_requests: 0 };
    lifecycle.run(0).await;
    let delivered_before = receivers.iter().map(|r| r.received().len()).sum::<usize>();

    // -- the priced payouts ----------------------------------------------------------------------
    let mark = Mark::now(&deployment);
    lifecycle.poller_requests = 0;
    for n in 1..=payouts {
        lifecycle.run(n).await;
    }
    let priced = mark.since(&deployment).await;
    let (image_after, items_after) = table_image(table).await;
    let mut ledger = Ledger::of(&priced.calls, &priced.invocations, priced.log_bytes, stack, &image_after);
    ledger.sqs_requests += lifecycle.poller_requests;
    let delivered = receivers.iter().map(|r| r.received().len()).sum::<usize>() - delivered_before;
    let stored_bytes: usize = {
        let before: BTreeSet<(String, String)> = image.sizes.keys().cloned().collect();
        items_after.iter().filter(|item| !before.contains(&key_of(item))).map(item_size).sum::<usize>()
    };

    let idle = Ledger::of(&idle_run.calls, &idle_run.invocations, idle_run.log_bytes, stack, &image);
    print_report(&deployment, payouts, delivered, &ledger, stored_bytes, &idle, &idle_run.invocations, &scheduled, &idle_run.metrics, &priced.metrics);
    deployment.stack.stop();
}

/// One payout's life through the stack, each trigger fired as the template wires it.
struct Lifecycle<'a> {
    rig: &'a WatchRig,
    deployment: &'a Deployment,
    key: Option<&'a str>,
    /// Event records already handed to the relay.
    relayed: usize,
    /// The SQS poller's requests (receive + delete per batch), which moto's client made for it.
    poller_requests: usize,
}

impl Lifecycle<'_> {
    /// Hands each new event record to the relay, as the stream does, then each event the bus
    /// routed to the dispatcher.
    async fn relay_and_dispatch(&mut self) {
        let Deployment { stack, aws, table, .. } = self.deployment;
        let events = event_records(&table_image(table).await.1);
        for n in self.relayed..events {
            stack.ok("event-relay", &stream_batch(table, n)).await;
        }
        self.relayed = events;
        for (_, body) in aws.receive(&aws.bus_tap, Duration::from_secs(3)).await {
            stack.ok("webhook-dispatcher", &serde_json::from_str(&body).unwrap()).await;
        }
    }

    async fn run(&mut self, n: usize) {
        let Deployment { stack, aws, .. } = self.deployment;
        let rig = self.rig;
        let recipient = rig.account(3 + n % 3);
        let amount: u128 = 100_000_000 + n as u128 * 10_000; // 100.01… USDC
        let body = json!({"recipient_address": rig.evm(recipient), "chain": "base", "token": "USDC", "amount": serde_json::from_str::<Value>(&amount_text(amount)).unwrap(), "currency": "USD", "description": format!("cost {n}"), "reference_type": "manual"});
        let (status, created, _) = stack.api("api-create-payout", "POST", "/v1/payouts", self.key, Some(body)).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        self.relay_and_dispatch().await;
        let (status, approved, _) = stack.api("api-update-payout", "PATCH", &format!("/v1/payouts/{id}"), self.key, Some(json!({"status": "approved"}))).await;
        assert_eq!(status, 200, "{approved}");
        self.relay_and_dispatch().await;
        let tx_hash = rig.pay(rig.usdc, recipient, amount).await;
        let (status, executed, _) =
            stack.api("api-execute-payout", "POST", &format!("/v1/payouts/{id}/execute"), self.key, Some(json!({"tx_hash": tx_hash}))).await;
        assert_eq!(status, 200, "{executed}");
        // The queue consumer sees the transfer unconfirmed (verifying)...
        let messages = aws.receive(&aws.tx_queue, Duration::from_secs(10)).await;
        assert_eq!(messages.len(), 1);
        self.poller_requests += 2;
        let consumed = stack.ok("watcher-queue", &sqs_batch(&queue_arn(&aws.sqs, &aws.tx_queue).await, &messages)).await;
        assert_eq!(consumed["batchItemFailures"], json!([]), "{consumed}");
        self.relay_and_dispatch().await;
        // ...and the sweep settles it once it has its confirmations.
        rig.anvil.mine(BASE_CONFIRMATIONS + 1).await;
        stack.scheduled("watcher-sweep").await;
        self.relay_and_dispatch().await;
        // Checked in-process, straight on the emulator: not a call of the stack's.
        let got = rig.h.get(self.key.unwrap(), &id).await;
        assert_eq!(got.json["status"], json!("settled"), "{}", got.json);
    }
}

#[allow(clippy::too_many_arguments)]
fn print_report(
    deployment: &Deployment,
    payouts: usize,
    delivered: usize,
    ledger: &Ledger,
    stored_bytes: usize,
    idle: &Ledger,
    idle_invocations: &[Invocation],
    scheduled: &[(String, f64)],
    idle_metrics: &BTreeSet<String>,
    busy_metrics: &BTreeSet<String>,
) {
    let per = |x: f64| x / payouts as f64;
    println!("### One payout's life ({payouts} payouts measured, {delivered} webhooks delivered)\n");
    println!("| what | per payout |");
    println!("|---|---|");
    println!("| DynamoDB write request units | {:.1} |", per(ledger.units.write));
    println!("| DynamoDB read request units | {:.1} |", per(ledger.units.read));
    let calls: Vec<String> = ledger.dynamodb_calls.iter().map(|(op, n)| format!("{op} {:.1}", per(*n as f64))).collect();
    println!("| DynamoDB calls | {} |", calls.join(", "));
    let writes: Vec<String> = ledger.dynamodb_writes.iter().filter(|(_, w)| **w > 0.0).map(|(op, w)| format!("{op} {:.1}", per(*w))).collect();
    println!("| DynamoDB write units by call | {} |", writes.join(", "));
    println!("| stream records (free to Lambda triggers) | {:.1} |", per(ledger.stream_records as f64));
    let invocations: Vec<String> =
        ledger.invocations.iter().map(|(binary, (n, ms))| format!("{binary} {:.1} ({:.0} ms each)", per(*n as f64), ms / *n as f64)).collect();
    println!("| Lambda invocations | {:.1}: {} |", per(ledger.invocation_count() as f64), invocations.join(", "));
    println!("| Lambda GB-seconds | {:.4} |", per(ledger.gb_seconds));
    println!("| HTTP API requests | {:.1} |", per(ledger.api_requests as f64));
    println!("| SQS requests | {:.1} |", per(ledger.sqs_requests as f64));
    println!("| EventBridge events | {:.1} |", per(ledger.bus_entries as f64));
    println!("| KMS requests | {:.1} |", per(ledger.kms_requests as f64));
    println!("| CloudWatch log bytes | {:.0} |", per(ledger.log_bytes as f64));
    println!("| bytes stored | {:.0} |", per(stored_bytes as f64));
    println!();
    println!("| line | per payout | per 1,000 payouts |");
    println!("|---|---|---|");
    let mut total = 0.0;
    for (line, amount) in ledger.bill() {
        total += per(amount);
        println!("| {line} | {} | {} |", dollars(per(amount)), dollars(per(amount) * 1000.0));
    }
    println!("| **total** | **{}** | **{}** |", dollars(total), dollars(total * 1000.0));
    let storage = per(stored_bytes as f64) / 1e9 * (Prices::DYNAMODB_STORAGE_PER_GB_MONTH + Prices::DYNAMODB_PITR_PER_GB_MONTH);
    println!("| storage kept (table + PITR), per month | {} | {} |", dollars(storage), dollars(storage * 1000.0));
    println!();

    println!("### Idle, per month (30 days, no payouts)\n");
    println!("| line | count per month | per month |");
    println!("|---|---|---|");
    let mut idle_total = 0.0;
    for (binary, per_month) in scheduled {
        let runs: Vec<&Invocation> = idle_invocations.iter().filter(|i| &i.binary == binary).collect();
        let ms = runs.iter().map(|i| (i.duration.as_secs_f64() * 1000.0).ceil()).sum::<f64>() / runs.len().max(1) as f64;
        let memory_gb = deployment.stack.spec(binary).memory_mb as f64 / 1024.0;
        let compute = per_month * (Prices::LAMBDA_PER_MILLION_REQUESTS / 1e6 + memory_gb * ms / 1000.0 * Prices::LAMBDA_PER_GB_SECOND_ARM64);
        idle_total += compute;
        println!("| {binary} runs ({ms:.0} ms each) | {per_month:.0} | {} |", dollars(compute));
    }
    let runs_per_pass = idle.invocation_count().max(1) as f64;
    let runs_per_month: f64 = scheduled.iter().map(|(_, n)| n).sum();
    let scale = runs_per_month / runs_per_pass;
    let table = (idle.units.read * Prices::DYNAMODB_PER_MILLION_READ_UNITS + idle.units.write * Prices::DYNAMODB_PER_MILLION_WRITE_UNITS) / 1e6 * scale;
    idle_total += table;
    println!(
        "| DynamoDB units of those runs ({:.1} read, {:.1} write per pass) | {:.0} | {} |",
        idle.units.read,
        idle.units.write,
        (idle.units.read + idle.units.write) * scale,
        dollars(table)
    );
    let logs = idle.log_bytes as f64 * scale / 1e9 * (Prices::LOGS_INGESTION_PER_GB + Prices::LOGS_STORAGE_PER_GB_MONTH);
    idle_total += logs;
    println!("| CloudWatch log bytes of those runs | {:.0} | {} |", idle.log_bytes as f64 * scale, dollars(logs));
    let pollers =
        deployment.template.functions().iter().filter(|f| f.events.as_object().is_some_and(|events| events.values().any(|e| e["Type"] == "SQS"))).count()
            as f64;
    let polling = pollers * IDLE_POLLER_REQUESTS_PER_MONTH * Prices::SQS_PER_MILLION_REQUESTS / 1e6;
    idle_total += polling;
    println!("| SQS long polls of {pollers:.0} queue triggers | {:.0} | {} |", pollers * IDLE_POLLER_REQUESTS_PER_MONTH, dollars(polling));
    let metrics = idle_metrics.len() as f64 * Prices::CUSTOM_METRIC_PER_MONTH;
    idle_total += metrics;
    println!("| custom metrics the idle sweeps publish | {} | {} |", idle_metrics.len(), dollars(metrics));
    // The webhook secrets' key and the list cursors' HMAC key.
    let keys = deployment.template.0["Resources"].as_object().into_iter().flatten().filter(|(_, r)| r["Type"] == "AWS::KMS::Key").count();
    idle_total += keys as f64 * Prices::KMS_KEY_PER_MONTH;
    println!("| KMS keys (webhook secrets, list cursors) | {keys} | {} |", dollars(keys as f64 * Prices::KMS_KEY_PER_MONTH));
    let (always, per_function) = alarm_metrics(deployment);
    let alarms = always as f64 * Prices::ALARM_METRIC_PER_MONTH;
    idle_total += alarms;
    println!("| alarm metrics (DLQs, service metrics) | {always} | {} |", dollars(alarms));
    println!("| **total, FunctionAlarms=false** | | **{}** |", dollars(idle_total));
    let function_alarms = per_function as f64 * Prices::ALARM_METRIC_PER_MONTH;
    println!("| per-function Errors/Throttles alarms (FunctionAlarms=true) | {per_function} | {} |", dollars(function_alarms));
    println!("| **total, FunctionAlarms=true** | | **{}** |", dollars(idle_total + function_alarms));
    println!();
    let extra: Vec<&String> = busy_metrics.difference(idle_metrics).collect();
    println!(
        "Custom metrics a busy month adds (each {} a month while published, by the hour): {} more on one chain and environment, seen here: {}.",
        dollars(Prices::CUSTOM_METRIC_PER_MONTH),
        extra.len(),
        extra.iter().map(|m| m.split_whitespace().nth(1).unwrap_or("")).collect::<BTreeSet<_>>().into_iter().collect::<Vec<_>>().join(", ")
    );
}
