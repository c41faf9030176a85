//! The stack as `template.yaml` deploys it, run here: every Lambda binary as its own process
//! under the Runtime API emulator ([`crate::lambda_runtime`]), with the environment the template
//! gives its function (references resolved to resources made on the AWS emulator), reaching the
//! emulator through the [`RecordingAwsProxy`], which notes every call. The Lambda runtime test
//! and the cost benchmark (`bench-cost`) both run payouts through it.
//!
//! What [`deploy`] adds to the template's environment, and why:
//! - the AWS emulator's endpoint and dummy credentials (`AWS_ENDPOINT_URL`, …), as Lambda gives
//!   a function its role's credentials; each function signs with its own access key id
//!   ([`access_key_of`]), so the proxy tells their calls apart;
//! - the devnet's token contracts and confirmation counts (`PAYOUTS_SANDBOX_*_CONTRACT`,
//!   `…_CONFIRMATIONS`), which a deployment takes from the code's defaults for the public
//!   testnets; RPC URLs come through the template's own parameters, from SSM;
//! - `PAYOUTS_WEBHOOK_SANDBOX_LOCAL=true` for the functions that send webhooks, because the
//!   receivers listen on loopback, which the template rightly refuses in Lambda.

use crate::aws;
use crate::aws_proxy::RecordingAwsProxy;
use crate::lambda_runtime::{FunctionProcess, Outcome};
use crate::template::{FunctionSpec, Resolver, Template};
use crate::watch::{WatchRig, lambda_fixture};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const STACK: &str = "payouts-rt";
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The emulator's queues and bus, named like the stack's.
pub struct Emulated {
    pub sqs: aws_sdk_sqs::Client,
    pub tx_queue: String,
    pub retry_queue: String,
    /// An SQS target of a rule on the bus (`source: payouts`): what the dispatcher's rule gets.
    pub bus_tap: String,
    pub bus: String,
    /// The KMS key of the webhook secrets: (id, ARN).
    pub secrets_key: (String, String),
    /// The KMS HMAC key of the list cursors: (id, ARN).
    pub cursor_key: (String, String),
}

pub async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> String {
    let attributes = sqs.get_queue_attributes().queue_url(url).attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn).send().await.unwrap();
    attributes.attributes().unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn].clone()
}

pub async fn emulated() -> Emulated {
    let config = aws::sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let events = aws_sdk_eventbridge::Client::new(&config);
    let mut urls = Vec::new();
    for name in ["tx", "webhook-retry", "bus-tap"] {
        urls.push(sqs.create_queue().queue_name(aws::unique_name(name)).send().await.unwrap().queue_url().unwrap().to_owned());
    }
    let bus = aws::unique_name("events");
    events.create_event_bus().name(&bus).send().await.unwrap();
    events.put_rule().name("dispatch").event_bus_name(&bus).event_pattern(json!({"source": ["payouts"]}).to_string()).send().await.unwrap();
    let tap_arn = queue_arn(&sqs, &urls[2]).await;
    let target = aws_sdk_eventbridge::types::Target::builder().id("tap").arn(tap_arn).build().unwrap();
    events.put_targets().rule("dispatch").event_bus_name(&bus).targets(target).send().await.unwrap();
    let bus_tap = urls.pop().unwrap();
    let retry_queue = urls.pop().unwrap();
    let tx_queue = urls.pop().unwrap();
    let kms = aws_sdk_kms::Client::new(&config);
    let key = kms.create_key().description("webhook secrets").send().await.unwrap();
    let key = key.key_metadata().unwrap();
    let secrets_key = (key.key_id().to_owned(), key.arn().unwrap().to_owned());
    let key = kms
        .create_key()
        .description("list cursors")
        .key_spec(aws_sdk_kms::types::KeySpec::Hmac256)
        .key_usage(aws_sdk_kms::types::KeyUsageType::GenerateVerifyMac)
        .send()
        .await
        .unwrap();
    let key = key.key_metadata().unwrap();
    let cursor_key = (key.key_id().to_owned(), key.arn().unwrap().to_owned());
    Emulated { sqs, tx_queue, retry_queue, bus_tap, bus, secrets_key, cursor_key }
}

impl Emulated {
    /// Message bodies received from `queue` within `wait` (at least one, unless none came).
    pub async fn receive(&self, queue: &str, wait: Duration) -> Vec<(String, String)> {
        let deadline = std::time::Instant::now() + wait;
        let mut got = Vec::new();
        loop {
            let received = self.sqs.receive_message().queue_url(queue).max_number_of_messages(10).wait_time_seconds(1).send().await.unwrap();
            for message in received.messages() {
                got.push((message.message_id().unwrap_or_default().to_owned(), message.body().unwrap_or_default().to_owned()));
                self.sqs.delete_message().queue_url(queue).receipt_handle(message.receipt_handle().unwrap()).send().await.unwrap();
            }
            if (!got.is_empty() && received.messages().is_empty()) || std::time::Instant::now() >= deadline {
                return got;
            }
        }
    }
}

/// The deployed functions, each running as its own process.
pub struct Stack {
    pub functions: BTreeMap<String, (FunctionSpec, FunctionProcess)>,
    pub invoked: Mutex<BTreeSet<String>>,
    /// Every invocation, in order: which function, and how long it took to answer.
    pub invocations: Mutex<Vec<Invocation>>,
}

/// One invocation of a function, as Lambda would bill it (its duration).
#[derive(Clone, Debug)]
pub struct Invocation {
    pub binary: String,
    pub duration: Duration,
}

impl Stack {
    /// Starts every function of `template` from the binaries in `binaries` (a cargo target
    /// profile directory), each as its own process, and waits until each has finished its init.
    pub async fn start(template: &Template, resolver: &Resolver, extra: &BTreeMap<String, String>, endpoint: &str, binaries: &Path) -> Stack {
        let mut functions = BTreeMap::new();
        for spec in template.functions() {
            let mut env = template.environment(&spec, resolver);
            for (name, value) in extra {
                env.entry(name.clone()).or_insert_with(|| value.clone());
            }
            if env.contains_key("PAYOUTS_WEBHOOK_SANDBOX_LOCAL") {
                env.insert("PAYOUTS_WEBHOOK_SANDBOX_LOCAL".into(), "true".into());
            }
            for (name, value) in [
                ("AWS_ENDPOINT_URL", endpoint),
                ("AWS_REGION", "us-east-1"),
                ("AWS_DEFAULT_REGION", "us-east-1"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_SESSION_TOKEN", "test"),
            ] {
                env.insert(name.into(), value.into());
            }
            // Its own access key id, as each function has its own role: the proxy tells the
            // functions' calls apart by it.
            env.insert("AWS_ACCESS_KEY_ID".into(), access_key_of(&spec.binary));
            let name = format!("{STACK}-{}", spec.binary);
            let binary = binaries.join(&spec.binary);
            assert!(binary.exists(), "{} is not built", binary.display());
            let process = FunctionProcess::start(&binary, &name, spec.memory_mb, &env).await;
            functions.insert(spec.binary.clone(), (spec, process));
        }
        for (binary, (spec, process)) in &functions {
            if let Err(failure) = process.wait_ready(Duration::from_secs(30)).await {
                panic!(
                    "{binary} (template.yaml {}) did not start under the Lambda runtime: {failure}\nits environment: {:?}\nits log:\n{}",
                    spec.logical_id,
                    spec.environment.keys().collect::<Vec<_>>(),
                    process.logs().join("\n")
                );
            }
        }
        Stack { functions, invoked: Mutex::default(), invocations: Mutex::default() }
    }

    pub fn spec(&self, binary: &str) -> &FunctionSpec {
        &self.functions.get(binary).unwrap_or_else(|| panic!("template.yaml deploys no {binary}")).0
    }

    /// What the function answered; panics with its log when it failed.
    pub async fn invoke(&self, binary: &str, payload: &Value) -> Outcome {
        let (spec, process) = self.functions.get(binary).unwrap_or_else(|| panic!("template.yaml deploys no {binary}"));
        self.invoked.lock().unwrap().insert(binary.to_owned());
        let started = Instant::now();
        let outcome = process
            .invoke(payload, INVOKE_TIMEOUT)
            .await
            .unwrap_or_else(|failure| panic!("{binary} (template.yaml {}): {failure}\nits log:\n{}", spec.logical_id, process.logs().join("\n")));
        self.invocations.lock().unwrap().push(Invocation { binary: binary.to_owned(), duration: started.elapsed() });
        outcome
    }

    /// The function's response; panics when it reported an error.
    pub async fn ok(&self, binary: &str, payload: &Value) -> Value {
        match self.invoke(binary, payload).await {
            Outcome::Response(value) => value,
            Outcome::Error { error_type, body } => panic!("{binary} failed: {error_type} {body}\n{}", self.functions[binary].1.logs().join("\n")),
        }
    }

    /// One HTTP request through API Gateway's payload v2 to the route's function; (status, JSON
    /// body or the text as a JSON string, headers).
    pub async fn api(&self, binary: &str, method: &str, path_and_query: &str, key: Option<&str>, body: Option<Value>) -> (u16, Value, Value) {
        self.api_with(binary, method, path_and_query, key, body, &[]).await
    }

    /// [`Self::api`] with more request headers.
    pub async fn api_with(
        &self,
        binary: &str,
        method: &str,
        path_and_query: &str,
        key: Option<&str>,
        body: Option<Value>,
        extra: &[(&str, &str)],
    ) -> (u16, Value, Value) {
        let api_event = self.spec(binary).events.as_object().and_then(|events| events.values().find(|e| e["Type"] == "HttpApi")).cloned();
        let api_event = api_event.unwrap_or_else(|| panic!("{binary} has no HttpApi event"));
        let route_path = api_event["Properties"]["Path"].as_str().unwrap_or("$default");
        let route_method = api_event["Properties"]["Method"].as_str().unwrap_or("ANY");
        let route_key = if route_path == "$default" { "$default".to_owned() } else { format!("{route_method} {route_path}") };
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let mut event: Value = serde_json::from_str(&lambda_fixture("apigw-v2-list-payouts.json")).unwrap();
        event["routeKey"] = json!(route_key);
        event["requestContext"]["routeKey"] = json!(route_key);
        event["rawPath"] = json!(path);
        event["rawQueryString"] = json!(query);
        event["requestContext"]["http"]["method"] = json!(method);
        event["requestContext"]["http"]["path"] = json!(path);
        event["requestContext"]["requestId"] = json!(format!("rt{:016x}", rand::random::<u64>()));
        let parameters: serde_json::Map<String, Value> = form_pairs(query).into_iter().map(|(k, v)| (k, json!(v))).collect();
        event["queryStringParameters"] = if parameters.is_empty() { Value::Null } else { Value::Object(parameters) };
        let mut headers = json!({ "host": "abc123.execute-api.us-east-1.amazonaws.com" });
        if let Some(key) = key {
            headers["authorization"] = json!(format!("Bearer {key}"));
        }
        if let Some(body) = &body {
            headers["content-type"] = json!("application/json");
            event["body"] = json!(body.to_string());
        }
        for (name, value) in extra {
            headers[name.to_ascii_lowercase()] = json!(value);
        }
        event["headers"] = headers;
        let response = self.ok(binary, &event).await;
        let status = response["statusCode"].as_u64().unwrap_or_else(|| panic!("{binary} answered no statusCode: {response}")) as u16;
        let text = response["body"].as_str().unwrap_or("");
        let json = serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()));
        (status, json, response["headers"].clone())
    }

    /// A scheduled event, as the function's `Schedule` event sends it.
    pub async fn scheduled(&self, binary: &str) -> Value {
        let mut event: Value = serde_json::from_str(&lambda_fixture("eventbridge-schedule.json")).unwrap();
        event["resources"] = json!([format!("arn:aws:events:us-east-1:123456789012:rule/{STACK}-{binary}")]);
        let wiring = self.spec(binary).events.as_object().map(|events| events.values().any(|e| e["Type"] == "Schedule")).unwrap_or(false);
        assert!(wiring, "{binary} is not on a schedule in template.yaml");
        self.ok(binary, &event).await
    }

    /// The embedded-metric-format documents for `metric` in the function's log.
    pub fn metric_lines(&self, binary: &str, metric: &str) -> Vec<Value> {
        self.functions[binary]
            .1
            .logs()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|document| document["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] == metric)
            .collect()
    }

    /// Registers the devnet treasury as a base source wallet and proves it (an EIP-191 signature
    /// by foundry's `cast`), through the wallet routes' functions: the wallet as verified.
    pub async fn prove_treasury_wallet(&self, rig: &WatchRig, key: Option<&str>) -> Value {
        let treasury = rig.evm(rig.treasury);
        let (status, wallet, _) =
            self.api("api-create-wallet", "POST", "/v1/payouts/wallets", key, Some(json!({"chain": "base", "address": treasury, "label": "treasury"}))).await;
        assert_eq!(status, 201, "{wallet}");
        let wallet_id = wallet["id"].as_str().unwrap().to_owned();
        let signature = crate::wallets::cast_sign(crate::wallets::DEV_KEYS[0], wallet["challenge"].as_str().unwrap());
        let (status, verified, _) =
            self.api("api-verify-wallet", "POST", &format!("/v1/payouts/wallets/{wallet_id}/verify"), key, Some(json!({"signature": signature}))).await;
        assert_eq!((status, verified["status"].clone()), (200, json!("verified")), "{verified}");
        verified
    }

    pub fn stop(&self) {
        for (_, process) in self.functions.values() {
            process.stop();
        }
    }
}

pub fn access_key_of(binary: &str) -> String {
    format!("fn-{binary}")
}

pub fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).unwrap_or((pair.to_owned(), String::new())))
        .collect()
}

pub fn sqs_batch(queue_arn: &str, messages: &[(String, String)]) -> Value {
    let pairs: Vec<(&str, String)> = messages.iter().map(|(id, body)| (id.as_str(), body.clone())).collect();
    let mut event = crate::watch::sqs_event(&pairs);
    for record in event["Records"].as_array_mut().unwrap() {
        record["eventSourceARN"] = json!(queue_arn);
    }
    event
}

/// The stack running on the AWS emulator: its resources, the functions, the proxy that saw
/// their calls.
pub struct Deployment {
    pub template: Template,
    pub resolver: Resolver,
    pub aws: Emulated,
    pub table: String,
    pub stack: Stack,
    pub proxy: RecordingAwsProxy,
    /// The provider secrets put in SSM (an RPC URL's key, the TronGrid key): no log may show them.
    pub provider_secrets: Vec<String>,
}

/// Deploys `template.yaml` on the AWS emulator around `rig`'s DynamoDB table and devnet: queues,
/// bus and KMS key made, the RPC URLs and the provider key put in SSM as SecureStrings the
/// template's parameters name, every function started from `binaries`.
pub async fn deploy(rig: &WatchRig, binaries: &Path) -> Deployment {
    let aws = emulated().await;
    let table = rig.h.table_name.clone().expect("a DynamoDB harness");
    let template = Template::load();

    let mut resolver = Resolver { stack_name: STACK.into(), region: "us-east-1".into(), ..Resolver::default() };
    for (logical_id, value) in [
        ("PayoutsTable", table.clone()),
        ("TxQueue", aws.tx_queue.clone()),
        ("WebhookRetryQueue", aws.retry_queue.clone()),
        ("EventBus", aws.bus.clone()),
        ("WebhookSecretsKey", aws.secrets_key.0.clone()),
        ("CursorKey", aws.cursor_key.0.clone()),
    ] {
        resolver.refs.insert(logical_id.into(), value);
    }
    resolver.attributes.insert("WebhookSecretsKey.Arn".into(), aws.secrets_key.1.clone());
    resolver.attributes.insert("CursorKey.Arn".into(), aws.cursor_key.1.clone());
    resolver.attributes.insert("PayoutsTable.Arn".into(), format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}"));
    for (logical_id, url) in [("TxQueue", &aws.tx_queue), ("WebhookRetryQueue", &aws.retry_queue)] {
        resolver.attributes.insert(format!("{logical_id}.QueueName"), url.rsplit('/').next().unwrap().to_owned());
    }
    // The RPC URLs and the provider key come from SSM SecureStrings the template's parameters
    // name, as in a deployment; the URLs carry a fake key, which no log may show.
    let ssm = aws_sdk_ssm::Client::new(&aws::sdk_config().await);
    let path = format!("/payouts/{}", aws::unique_name("rt"));
    let rpc_key = format!("rpc-secret-{:08x}", rand::random::<u32>());
    let rpc_with_key = format!("{}/?key={rpc_key}", rig.anvil.url().trim_end_matches('/'));
    let tron_key = format!("tron-secret-{:08x}", rand::random::<u32>());
    let mut secure = vec![(format!("{path}/tron-api-key"), "TronProApiKeyParameter".to_owned(), tron_key.clone())];
    for chain in ["Base", "Arbitrum", "Tron"] {
        secure.push((format!("{path}/sandbox-{}-rpc-url", chain.to_lowercase()), format!("Sandbox{chain}RpcUrlParameter"), rpc_with_key.clone()));
        // Live chains are never asked: a closed local port, so nothing can leave the machine.
        secure.push((format!("{path}/live-{}-rpc-url", chain.to_lowercase()), format!("Live{chain}RpcUrlParameter"), "http://127.0.0.1:9".to_owned()));
    }
    for (name, parameter, value) in &secure {
        ssm.put_parameter().name(name).value(value).r#type(aws_sdk_ssm::types::ParameterType::SecureString).send().await.unwrap();
        resolver.parameters.insert(parameter.clone(), name.clone());
    }
    let devnet_facts: BTreeMap<String, String> =
        rig.vars.iter().filter(|(name, _)| name.ends_with("_CONTRACT") || name.ends_with("_CONFIRMATIONS")).map(|(k, v)| (k.clone(), v.clone())).collect();
    let endpoint = std::env::var("PAYOUTS_TEST_AWS_ENDPOINT").expect("PAYOUTS_TEST_AWS_ENDPOINT");
    let proxy = RecordingAwsProxy::start(&endpoint).await;
    let stack = Stack::start(&template, &resolver, &devnet_facts, &proxy.url, binaries).await;
    Deployment { template, resolver, aws, table, stack, proxy, provider_secrets: vec![rpc_key, tron_key] }
}

/// The cargo profile directory holding the binary that is running (`target/debug` for a test,
/// whose executable sits in `target/debug/deps`; `target/release` for a release bench binary).
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap();
    if dir.ends_with("deps") { dir.parent().unwrap().to_path_buf() } else { dir.to_path_buf() }
}
