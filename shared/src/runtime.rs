//! Process wiring: builds the [`App`] (and the watcher or dispatcher around it) once per process
//! from configuration, for Lambda (DynamoDB, SQS, EventBridge) or for local runs (embedded store,
//! in-process queue and bus). Binaries call these and nothing else.

use crate::adapters::aws_http::amazon_roots_client;
use crate::adapters::dynamodb::DynamoDbStore;
use crate::adapters::embedded_store::EmbeddedStore;
use crate::adapters::eventbridge::EventBridgeBus;
use crate::adapters::kms::{KmsDataKeys, KmsStackSecrets};
use crate::adapters::local_keys::LocalKeyFile;
use crate::adapters::memory_queue::InProcessQueue;
use crate::adapters::rpc_chain::{RpcChainReader, RpcContractWallets, RpcOptions};
use crate::adapters::sqs::{SqsRetryQueue, SqsTxQueue};
use crate::adapters::ssm::{self, WithParameters};
use crate::adapters::webhook_sender::{HttpWebhookSender, WebhookSenderOptions};
use crate::config::{ChainRegistry, ConfigError, ProcessEnv, StoreChoice, Vars, parse_var, required};
use crate::domain::chain::{Chain, Environment};
use crate::domain::webhook::RetrySchedule;
use crate::http::routes::Route;
use crate::jobs::JobError;
use crate::metrics::{self, Metric};
use crate::ports::Store;
use crate::ports::chain::ChainReader;
use crate::ports::keys::{DataKey, DataKeys, KeyContext, KeyError, StackSecrets};
use crate::ports::queue::{QueueError, TxMessage, TxQueue};
use crate::ports::webhook::WebhookSender;
use crate::service::App;
use crate::service::dispatcher::Dispatcher;
use crate::service::scanner::{Scanner, ScannerConfig};
use crate::service::watcher::{Watcher, WatcherConfig};
use async_trait::async_trait;
use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// The SDK configuration of a Lambda function: credentials and region from the variables Lambda
/// sets (the role's session), endpoint overrides (`AWS_ENDPOINT_URL`) honoured. The default
/// provider chain would also build, at every cold start and for nothing, an STS client for web
/// identity, with a TLS set-up (and root certificate load) of its own.
/// Its HTTP client trusts only the roots AWS endpoints chain to, compiled in
/// ([`crate::adapters::aws_http`]), instead of loading the machine's root store;
/// `PAYOUTS_AWS_TLS_ROOTS=system` takes the system's instead (an egress proxy that re-signs TLS,
/// or a partition whose endpoints chain elsewhere).
pub async fn lambda_sdk_config() -> Result<aws_config::SdkConfig, ConfigError> {
    let loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new())
        .region(aws_config::environment::EnvironmentVariableRegionProvider::new());
    let loader = match std::env::var("PAYOUTS_AWS_TLS_ROOTS").ok().as_deref() {
        None | Some("" | "amazon") => {
            let http_client = amazon_roots_client().map_err(|problem| ConfigError { variable: "PAYOUTS_AWS_TLS_ROOTS".into(), problem })?;
            loader.http_client(http_client)
        }
        Some("system") => loader,
        Some(other) => {
            return Err(ConfigError { variable: "PAYOUTS_AWS_TLS_ROOTS".into(), problem: format!("{other:?} is neither amazon nor system") });
        }
    };
    Ok(loader.load().await)
}

/// The SDK configuration of a process outside Lambda (the local runner, `payouts-admin`): the
/// default chain, profiles included.
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A Lambda's configuration: its environment, with the SSM SecureStrings its `…_SSM` variables
/// name read in (once, at start; no SSM client when it names none).
pub async fn lambda_vars(config: &aws_config::SdkConfig) -> Result<WithParameters<ProcessEnv>, ConfigError> {
    let references = ssm::parameter_references(std::env::vars());
    let parameters = if references.is_empty() { Default::default() } else { ssm::read_parameters(&aws_sdk_ssm::Client::new(config), &references).await? };
    Ok(WithParameters { vars: ProcessEnv, parameters })
}

/// Opens the store a process is configured for (`PAYOUTS_STORE`, `PAYOUTS_DATA_DIR`, `PAYOUTS_TABLE_NAME`).
pub async fn open_store(choice: &StoreChoice) -> Result<Arc<dyn Store>, ConfigError> {
    match choice {
        StoreChoice::Embedded { data_dir } => {
            let store = EmbeddedStore::open(data_dir).map_err(|e| ConfigError { variable: "PAYOUTS_DATA_DIR".into(), problem: e.to_string() })?;
            Ok(Arc::new(store))
        }
        StoreChoice::DynamoDb { table } => {
            let config = aws_sdk_config().await;
            Ok(Arc::new(DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&config), table.clone())))
        }
    }
}

/// A queue for processes that never enqueue (read-only routes, the workers, the admin CLI).
struct NoQueue;

#[async_trait]
impl TxQueue for NoQueue {
    async fn enqueue(&self, _: &TxMessage) -> Result<(), QueueError> {
        Err(QueueError("this process has no tx queue configured".into()))
    }
}

/// Data keys and stack secrets for processes that never seal or open a webhook secret or a list
/// cursor.
pub struct NoDataKeys;

#[async_trait]
impl StackSecrets for NoDataKeys {
    async fn derive(&self, _: &str) -> Result<[u8; 32], KeyError> {
        Err(KeyError::Unavailable("this function has no stack secret configured".into()))
    }
}

#[async_trait]
impl DataKeys for NoDataKeys {
    async fn generate(&self, _: &KeyContext) -> Result<DataKey, KeyError> {
        Err(KeyError::Unavailable("this function has no key service configured".into()))
    }
    async fn unwrap(&self, _: &[u8], _: &KeyContext) -> Result<[u8; 32], KeyError> {
        Err(KeyError::Unavailable("this function has no key service configured".into()))
    }
}

/// The stack's KMS key for webhook secrets (`PAYOUTS_WEBHOOK_KMS_KEY_ID`), for the functions
/// that seal or open them.
fn kms_keys(vars: &dyn Vars, config: &aws_config::SdkConfig) -> Result<Arc<dyn DataKeys>, ConfigError> {
    let key_id = required(vars, "PAYOUTS_WEBHOOK_KMS_KEY_ID")?;
    Ok(Arc::new(KmsDataKeys::new(aws_sdk_kms::Client::new(config), key_id)))
}

/// The stack's KMS HMAC key for list cursors (`PAYOUTS_CURSOR_KMS_KEY_ID`), for the list routes.
fn kms_stack_secrets(vars: &dyn Vars, config: &aws_config::SdkConfig) -> Result<Arc<dyn StackSecrets>, ConfigError> {
    let key_id = required(vars, "PAYOUTS_CURSOR_KMS_KEY_ID")?;
    Ok(Arc::new(KmsStackSecrets::new(aws_sdk_kms::Client::new(config), key_id)))
}

/// Outside Lambda: KMS when `PAYOUTS_WEBHOOK_KMS_KEY_ID` (data keys) or `PAYOUTS_CURSOR_KMS_KEY_ID`
/// (stack secrets) is set, else the key file of the data directory (`PAYOUTS_DATA_DIR`, made on
/// first start).
async fn local_keys(vars: &dyn Vars) -> Result<(Arc<dyn DataKeys>, Arc<dyn StackSecrets>), ConfigError> {
    let data_dir = std::path::PathBuf::from(vars.get("PAYOUTS_DATA_DIR").unwrap_or_else(|| "./.payouts".into()));
    let key_file =
        || LocalKeyFile::open(&data_dir).map(Arc::new).map_err(|e| ConfigError { variable: "PAYOUTS_DATA_DIR".into(), problem: format!("the key file: {e}") });
    let keys: Arc<dyn DataKeys> = if vars.get("PAYOUTS_WEBHOOK_KMS_KEY_ID").is_some() { kms_keys(vars, &aws_sdk_config().await)? } else { key_file()? };
    let secrets: Arc<dyn StackSecrets> =
        if vars.get("PAYOUTS_CURSOR_KMS_KEY_ID").is_some() { kms_stack_secrets(vars, &aws_sdk_config().await)? } else { key_file()? };
    Ok((keys, secrets))
}

/// An app on `store`, with the chains of the configuration; contract-wallet checks read those
/// chains (their clients are made on first use).
fn app_on(store: Arc<dyn Store>, tx_queue: Arc<dyn TxQueue>, keys: (Arc<dyn DataKeys>, Arc<dyn StackSecrets>), vars: &dyn Vars) -> Result<App, ConfigError> {
    let chains = Arc::new(ChainRegistry::from_vars(vars)?);
    let contract_wallets = Arc::new(RpcContractWallets::new(chains.clone(), rpc_options(vars)?));
    let mut app = App::new(store, tx_queue, chains, contract_wallets, keys.0, keys.1);
    app.limits.webhook_endpoints = crate::config::parse_var(vars, "PAYOUTS_MAX_WEBHOOK_ENDPOINTS", crate::service::ServiceLimits::DEFAULT_WEBHOOK_ENDPOINTS)?;
    if !(1..=1_000).contains(&app.limits.webhook_endpoints) {
        return Err(ConfigError { variable: "PAYOUTS_MAX_WEBHOOK_ENDPOINTS".into(), problem: "must be from 1 to 1000".into() });
    }
    Ok(app)
}

/// An app on the DynamoDB table of a Lambda (`PAYOUTS_TABLE_NAME`).
fn aws_app(
    vars: &dyn Vars,
    config: &aws_config::SdkConfig,
    tx_queue: Arc<dyn TxQueue>,
    keys: (Arc<dyn DataKeys>, Arc<dyn StackSecrets>),
) -> Result<App, ConfigError> {
    let table = required(vars, "PAYOUTS_TABLE_NAME")?;
    app_on(Arc::new(DynamoDbStore::new(aws_sdk_dynamodb::Client::new(config), table)), tx_queue, keys, vars)
}

/// The app of an API Lambda: DynamoDB, plus SQS for the route that enqueues.
pub async fn lambda_app(route: Route) -> Result<App, ConfigError> {
    let config = lambda_sdk_config().await?;
    let vars = lambda_vars(&config).await?;
    let tx_queue: Arc<dyn TxQueue> = match route {
        Route::ExecutePayout => Arc::new(SqsTxQueue::new(aws_sdk_sqs::Client::new(&config), required(&vars, "PAYOUTS_TX_QUEUE_URL")?)),
        Route::CreatePayout
        | Route::ListPayouts
        | Route::ListSettlements
        | Route::GetReconciliation
        | Route::ListReconciliationItems
        | Route::CreateWallet
        | Route::ListWallets
        | Route::GetWallet
        | Route::DeleteWallet
        | Route::VerifyWallet
        | Route::GetPayout
        | Route::UpdatePayout
        | Route::CreateWebhook
        | Route::ListWebhooks
        | Route::GetWebhook
        | Route::UpdateWebhook
        | Route::DeleteWebhook
        | Route::RotateWebhookSecret
        | Route::TestWebhook
        | Route::ListDeliveries
        | Route::RetryDelivery
        | Route::ListEvents
        | Route::GetEvent
        | Route::GetAccount
        | Route::Health
        | Route::OpenApi
        | Route::Dashboard
        | Route::Fallback => Arc::new(NoQueue),
    };
    // Only the routes that seal or open a webhook secret get a KMS client.
    let keys: Arc<dyn DataKeys> = match route {
        Route::CreateWebhook | Route::RetryDelivery | Route::RotateWebhookSecret | Route::TestWebhook => kms_keys(&vars, &config)?,
        _ => Arc::new(NoDataKeys),
    };
    // Only the routes that page get the cursor key.
    let stack_secrets: Arc<dyn StackSecrets> = if route.pages() { kms_stack_secrets(&vars, &config)? } else { Arc::new(NoDataKeys) };
    aws_app(&vars, &config, tx_queue, (keys, stack_secrets))
}

/// Runs one API route as a Lambda function. Fails fast on missing configuration.
pub async fn run_api_route(route: Route) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let app = started(lambda_app(route).await).await?;
    crate::http::lambda::run_route(app, route).await
}

/// An app on the configured store with no queue: for operator tools.
pub async fn admin_app(vars: &dyn Vars) -> Result<App, ConfigError> {
    let choice = StoreChoice::from_vars(vars, true)?;
    app_on(open_store(&choice).await?, Arc::new(NoQueue), local_keys(vars).await?, vars)
}

/// The local runner's app: embedded (or configured) store, in-process queue.
pub async fn local_app(vars: &dyn Vars) -> Result<(App, tokio::sync::mpsc::UnboundedReceiver<TxMessage>), ConfigError> {
    let choice = StoreChoice::from_vars(vars, true)?;
    let (queue, receiver) = InProcessQueue::new();
    Ok((app_on(open_store(&choice).await?, Arc::new(queue), local_keys(vars).await?, vars)?, receiver))
}

/// Chain-watcher settings: `PAYOUTS_TX_NOT_FOUND_WINDOW_SECONDS` (86400),
/// `PAYOUTS_WATCH_SWEEP_LIMIT` (5000 per chain and environment).
pub fn watcher_config(vars: &dyn Vars) -> Result<WatcherConfig, ConfigError> {
    let defaults = WatcherConfig::default();
    let window: i64 = parse_var(vars, "PAYOUTS_TX_NOT_FOUND_WINDOW_SECONDS", defaults.not_found_window.num_seconds())?;
    Ok(WatcherConfig {
        not_found_window: chrono::Duration::seconds(window.max(1)),
        sweep_limit: parse_var(vars, "PAYOUTS_WATCH_SWEEP_LIMIT", defaults.sweep_limit)?,
        outbox_limit: defaults.outbox_limit,
    })
}

/// JSON-RPC client settings: `PAYOUTS_RPC_TIMEOUT_MS` (10000), `PAYOUTS_RPC_MAX_BATCH` (50),
/// `PAYOUTS_RPC_RETRIES` (2).
pub fn rpc_options(vars: &dyn Vars) -> Result<RpcOptions, ConfigError> {
    let defaults = RpcOptions::default();
    Ok(RpcOptions {
        request_timeout: Duration::from_millis(parse_var(vars, "PAYOUTS_RPC_TIMEOUT_MS", defaults.request_timeout.as_millis() as u64)?),
        max_batch: parse_var(vars, "PAYOUTS_RPC_MAX_BATCH", defaults.max_batch)?.max(1),
        retries: parse_var(vars, "PAYOUTS_RPC_RETRIES", defaults.retries)?,
        retry_base_delay: defaults.retry_base_delay,
    })
}

/// The chain-watcher's readers, one per (environment, chain).
pub type ChainReaders = HashMap<(Environment, Chain), Arc<dyn ChainReader>>;

/// One reader per (environment, chain) of the registry.
pub fn chain_readers(chains: &ChainRegistry, options: &RpcOptions) -> Result<ChainReaders, ConfigError> {
    let mut readers: ChainReaders = HashMap::new();
    for settings in chains.all() {
        let reader = RpcChainReader::new(settings, options.clone()).map_err(|e| ConfigError {
            variable: format!("PAYOUTS_{}_{}_RPC_URL", settings.environment.as_str().to_uppercase(), settings.chain.as_str().to_uppercase()),
            problem: e.to_string(),
        })?;
        readers.insert((settings.environment, settings.chain), Arc::new(reader));
    }
    Ok(readers)
}

/// What a watcher Lambda reads: the chains (queue consumer, sweep) or only the outbox (relay).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum WatcherRole {
    Chains,
    OutboxOnly,
}

/// The chain-watcher of a Lambda: DynamoDB, EventBridge (`PAYOUTS_EVENT_BUS_NAME`), and JSON-RPC
/// readers unless it only relays the outbox.
pub async fn lambda_watcher(role: WatcherRole) -> Result<Watcher, ConfigError> {
    let config = lambda_sdk_config().await?;
    let vars = lambda_vars(&config).await?;
    let bus_name = required(&vars, "PAYOUTS_EVENT_BUS_NAME")?;
    let app = aws_app(&vars, &config, Arc::new(NoQueue), (Arc::new(NoDataKeys), Arc::new(NoDataKeys)))?;
    let readers = match role {
        WatcherRole::Chains => chain_readers(&app.chains, &rpc_options(&vars)?)?,
        WatcherRole::OutboxOnly => ChainReaders::new(),
    };
    let bus = Arc::new(EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&config), bus_name));
    Ok(Watcher::new(app, bus, readers, watcher_config(&vars)?))
}

/// Source-wallet scanner settings: `PAYOUTS_SCAN_MAX_BLOCK_RANGE` (2000 blocks per
/// `eth_getLogs`), `PAYOUTS_SCAN_MAX_REQUESTS` (200 per chain and environment per run).
pub fn scanner_config(vars: &dyn Vars) -> Result<ScannerConfig, ConfigError> {
    let defaults = ScannerConfig::default();
    Ok(ScannerConfig {
        max_span: parse_var(vars, "PAYOUTS_SCAN_MAX_BLOCK_RANGE", defaults.max_span)?.max(1),
        max_requests: parse_var(vars, "PAYOUTS_SCAN_MAX_REQUESTS", defaults.max_requests)?.max(1),
    })
}

/// The source-wallet scanner of a Lambda: DynamoDB and a JSON-RPC reader per chain.
pub async fn lambda_scanner() -> Result<Scanner, ConfigError> {
    let config = lambda_sdk_config().await?;
    let vars = lambda_vars(&config).await?;
    let app = aws_app(&vars, &config, Arc::new(NoQueue), (Arc::new(NoDataKeys), Arc::new(NoDataKeys)))?;
    let readers = chain_readers(&app.chains, &rpc_options(&vars)?)?;
    Ok(Scanner::new(app, readers, scanner_config(&vars)?))
}

/// The scheduled source-wallet scanner Lambda.
pub async fn run_wallet_scanner() -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    run_job(Some("wallet-scanner"), lambda_scanner().await, |scanner, event: EventBridgeEvent<serde_json::Value>| async move {
        let report = crate::jobs::reconciliation::handle_scan_schedule(&scanner, event).await;
        Ok(serde_json::json!({ "log_requests": report.log_requests, "recorded": report.recorded, "interrupted": report.interrupted.len() }))
    })
    .await
}

/// The scheduled reconciliation Lambda (every organization's summary, stored; new events).
pub async fn run_reconciliation_job() -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    let app = async {
        let config = lambda_sdk_config().await?;
        let vars = lambda_vars(&config).await?;
        aws_app(&vars, &config, Arc::new(NoQueue), (Arc::new(NoDataKeys), Arc::new(NoDataKeys)))
    }
    .await;
    run_job(Some("reconciliation-job"), app, |app, event: EventBridgeEvent<serde_json::Value>| async move {
        let report = crate::jobs::reconciliation::handle_reconciliation_schedule(&app, event).await?;
        Ok(serde_json::json!({ "reports": report.reports, "events": report.events, "failed": report.failed }))
    })
    .await
}

/// Runs a non-HTTP Lambda: `context` is built once (failing fast, reported to the Runtime API's
/// `/init/error`), then each event of type `E` is handed to `handler` with it. A failed
/// invocation reaches Lambda as a [`JobError`]'s `errorType` (`Retryable.…` or `Permanent.…`).
/// The metrics recorded during an invocation are flushed after it; a scheduled job (`Some(name)`)
/// also reports its duration as `SweepDurationMs` with dimension `Job`.
async fn run_job<T, E, R, Fut>(
    schedule: Option<&'static str>,
    context: Result<T, ConfigError>,
    handler: impl Fn(Arc<T>, E) -> Fut,
) -> Result<(), lambda_runtime::Error>
where
    E: serde::de::DeserializeOwned + Send,
    R: serde::Serialize,
    Fut: Future<Output = Result<R, JobError>>,
{
    let context = Arc::new(started(context).await?);
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<E>| {
        let context = Arc::clone(&context);
        async move {
            let started = std::time::Instant::now();
            let result = handler(context, event.payload).await;
            if let Some(job) = schedule {
                metrics::maximum(Metric::SweepDurationMs, &[("Job", job)], started.elapsed().as_secs_f64() * 1000.0);
            }
            metrics::flush();
            result
        }
    }))
    .await
}

/// The context of a function, or its configuration error: logged, and reported to the Runtime
/// API's `/init/error` (so Lambda shows `Runtime.ConfigError` with the variable, not an exit code).
pub async fn started<T>(context: Result<T, ConfigError>) -> Result<T, ConfigError> {
    match context {
        Ok(context) => Ok(context),
        Err(error) => {
            tracing::error!(error = %error, "cannot start");
            report_init_error(&error).await;
            Err(error)
        }
    }
}

/// Posts a configuration error to `/2018-06-01/runtime/init/error` when running under a Lambda
/// runtime (`AWS_LAMBDA_RUNTIME_API`); elsewhere there is nobody to tell but the log.
async fn report_init_error(error: &ConfigError) {
    let Ok(api) = std::env::var("AWS_LAMBDA_RUNTIME_API") else { return };
    let Ok(endpoint) = format!("http://{api}").parse::<http::Uri>() else { return };
    let client = lambda_runtime_api_client::PooledClient::builder().with_endpoint(endpoint).build();
    let body = serde_json::json!({ "errorType": "Runtime.ConfigError", "errorMessage": error.to_string() }).to_string();
    let request = lambda_runtime_api_client::build_request()
        .method(http::Method::POST)
        .uri("/2018-06-01/runtime/init/error")
        .header("Lambda-Runtime-Function-Error-Type", "Runtime.ConfigError")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(lambda_runtime_api_client::body::Body::from(body));
    match request {
        Ok(request) => {
            if let Err(e) = client.call(request).await {
                tracing::error!(error = %e, "could not report the init error to the Runtime API");
            }
        }
        Err(e) => tracing::error!(error = %e, "could not build the init error report"),
    }
}

/// The tx-queue consumer Lambda (SQS event source with `ReportBatchItemFailures`).
pub async fn run_watcher_queue() -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    run_job(None, lambda_watcher(WatcherRole::Chains).await, |watcher, event: SqsEvent| async move {
        Ok(crate::jobs::watcher::handle_tx_queue(&watcher, event).await)
    })
    .await
}

/// The scheduled sweep Lambda (EventBridge schedule).
pub async fn run_watcher_sweep() -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    run_job(Some("watcher-sweep"), lambda_watcher(WatcherRole::Chains).await, |watcher, event: EventBridgeEvent<serde_json::Value>| async move {
        let report = crate::jobs::watcher::handle_schedule(&watcher, event).await?;
        Ok(serde_json::json!({ "checked": report.checked, "changed": report.changed, "published": report.published }))
    })
    .await
}

/// The event relay Lambda (DynamoDB stream of the table, event records only).
pub async fn run_event_relay() -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    run_job(None, lambda_watcher(WatcherRole::OutboxOnly).await, |watcher, event: serde_json::Value| async move {
        let records = event.get("Records").and_then(serde_json::Value::as_array).map(Vec::len).unwrap_or(0);
        let published = crate::jobs::watcher::handle_stream(&watcher, records).await?;
        Ok(serde_json::json!({ "published": published }))
    })
    .await
}

/// Webhook settings: `PAYOUTS_WEBHOOK_SCHEDULE` (default `0,5s,5m,30m,2h,5h,10h,10h`),
/// `PAYOUTS_WEBHOOK_TIMEOUT_MS` (10000), `PAYOUTS_WEBHOOK_SANDBOX_LOCAL` (sandbox endpoints may be
/// local addresses; default true locally, false in Lambda where localhost is the runtime API).
pub fn webhook_settings(vars: &dyn Vars, local_by_default: bool) -> Result<(WebhookSenderOptions, RetrySchedule), ConfigError> {
    let mut options = WebhookSenderOptions::default();
    options.timeout = Duration::from_millis(parse_var(vars, "PAYOUTS_WEBHOOK_TIMEOUT_MS", options.timeout.as_millis() as u64)?);
    options.sandbox_local_addresses = parse_var(vars, "PAYOUTS_WEBHOOK_SANDBOX_LOCAL", local_by_default)?;
    let schedule = match vars.get("PAYOUTS_WEBHOOK_SCHEDULE") {
        None => RetrySchedule::default(),
        Some(text) => RetrySchedule::parse(&text).map_err(|e| ConfigError { variable: "PAYOUTS_WEBHOOK_SCHEDULE".into(), problem: e.to_string() })?,
    };
    Ok((options, schedule))
}

fn dispatcher(app: App, vars: &dyn Vars, local_by_default: bool, retry_queue: Option<Arc<SqsRetryQueue>>) -> Result<Dispatcher, ConfigError> {
    let (options, schedule) = webhook_settings(vars, local_by_default)?;
    let sender = HttpWebhookSender::new(options).map_err(|e| ConfigError { variable: "PAYOUTS_WEBHOOK_TIMEOUT_MS".into(), problem: e.to_string() })?;
    let sender: Arc<dyn WebhookSender> = Arc::new(sender);
    Ok(Dispatcher { app, sender, schedule, retry_queue: retry_queue.map(|queue| queue as Arc<dyn crate::service::dispatcher::RetryQueue>) })
}

/// The dispatcher the API uses for a manual replay (`POST …/deliveries/{id}/retry`). The webhook
/// settings are read from the environment once per process, not per request.
pub fn api_dispatcher(app: &App) -> Result<Dispatcher, String> {
    static SETTINGS: OnceLock<Result<(WebhookSenderOptions, RetrySchedule), String>> = OnceLock::new();
    let settings = SETTINGS.get_or_init(|| {
        let in_lambda = std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok();
        webhook_settings(&ProcessEnv, !in_lambda).map_err(|e| e.to_string())
    });
    let (options, schedule) = settings.clone()?;
    let sender = HttpWebhookSender::new(options).map_err(|e| e.to_string())?;
    Ok(Dispatcher { app: app.clone(), sender: Arc::new(sender), schedule, retry_queue: None })
}

/// The dispatcher of a Lambda: DynamoDB, the HTTP sender, the SQS retry queue
/// (`PAYOUTS_WEBHOOK_RETRY_QUEUE_URL`).
pub async fn lambda_dispatcher() -> Result<Dispatcher, ConfigError> {
    let config = lambda_sdk_config().await?;
    let vars = lambda_vars(&config).await?;
    let retry_queue_url = required(&vars, "PAYOUTS_WEBHOOK_RETRY_QUEUE_URL")?;
    let app = aws_app(&vars, &config, Arc::new(NoQueue), (kms_keys(&vars, &config)?, Arc::new(NoDataKeys)))?;
    let retry_queue = Arc::new(SqsRetryQueue::new(aws_sdk_sqs::Client::new(&config), retry_queue_url));
    dispatcher(app, &vars, false, Some(retry_queue))
}

/// The local runner's dispatcher: same code, in-process retries (the due loop).
pub fn local_dispatcher(app: &App, vars: &dyn Vars) -> Result<Dispatcher, ConfigError> {
    dispatcher(app.clone(), vars, true, None)
}

/// The dispatcher Lambda, target of the EventBridge rule on the service's bus.
pub async fn run_webhook_dispatcher() -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    run_job(None, lambda_dispatcher().await, |dispatcher, event: crate::jobs::webhooks::BusEvent| async move {
        let report = crate::jobs::webhooks::handle_bus_event(&dispatcher, event).await?;
        Ok(serde_json::json!({ "deliveries": report.deliveries_created, "succeeded": report.succeeded }))
    })
    .await
}

/// The retry-queue consumer Lambda.
pub async fn run_webhook_retries() -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    run_job(
        None,
        lambda_dispatcher().await,
        |dispatcher, event: SqsEvent| async move { Ok(crate::jobs::webhooks::handle_retry_queue(&dispatcher, event).await) },
    )
    .await
}

/// The due-deliveries sweep Lambda (schedule).
pub async fn run_webhook_due_sweep() -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    run_job(Some("webhook-due-sweep"), lambda_dispatcher().await, |dispatcher, event: EventBridgeEvent<serde_json::Value>| async move {
        let report = crate::jobs::webhooks::handle_due_sweep(&dispatcher, event).await?;
        Ok(serde_json::json!({ "attempts": report.attempts }))
    })
    .await
}

/// A Lambda binary's run: its handler loop, boxed so that [`drive`] is one function.
type LambdaRun = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), lambda_runtime::Error>>>>;

/// Runs a Lambda binary's handler loop on a current-thread runtime (a function serves one
/// invocation at a time).
fn drive(run: LambdaRun) -> Result<(), lambda_runtime::Error> {
    tokio::runtime::Builder::new_current_thread().enable_all().build()?.block_on(run)
}

// Each Lambda binary's whole `main`. They are not generic and live here, so that a binary's own
// crate compiles to one call: with `#[tokio::main]` in the binary, every binary instantiated the
// runtime around its whole handler future itself, about 20 s of single-threaded code generation
// per binary in a release build (34 of them in `sam build`), against about a second now. One
// function per binary (not one taking an enum), so that each binary links only its own handler.

/// `main` of an API route's function.
pub fn api_route_main(route: Route) -> Result<(), lambda_runtime::Error> {
    drive(Box::pin(run_api_route(route)))
}

/// Writes `pub fn <main>()` driving `<run>()` for each worker binary.
macro_rules! worker_mains {
    ($($main:ident => $run:ident, $binary:literal;)*) => {
        $(
            #[doc = concat!("`main` of `", $binary, "`.")]
            pub fn $main() -> Result<(), lambda_runtime::Error> {
                drive(Box::pin($run()))
            }
        )*
    };
}

worker_mains! {
    watcher_queue_main => run_watcher_queue, "watcher-queue";
    watcher_sweep_main => run_watcher_sweep, "watcher-sweep";
    event_relay_main => run_event_relay, "event-relay";
    webhook_dispatcher_main => run_webhook_dispatcher, "webhook-dispatcher";
    webhook_retries_main => run_webhook_retries, "webhook-retries";
    webhook_due_sweep_main => run_webhook_due_sweep, "webhook-due-sweep";
    wallet_scanner_main => run_wallet_scanner, "wallet-scanner";
    reconciliation_job_main => run_reconciliation_job, "reconciliation-job";
}
