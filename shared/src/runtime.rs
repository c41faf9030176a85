//! Process wiring: builds the [`App`] once from configuration, for Lambda (DynamoDB + SQS) or for
//! local runs (embedded store + in-process queue). Binaries call these and nothing else.

use crate::adapters::dynamodb::DynamoDbStore;
use crate::adapters::embedded_store::EmbeddedStore;
use crate::adapters::eventbridge::EventBridgeBus;
use crate::adapters::memory_queue::InProcessQueue;
use crate::adapters::rpc_chain::{RpcChainReader, RpcOptions};
use crate::adapters::sqs::SqsTxQueue;
use crate::adapters::webhook_sender::{HttpWebhookSender, WebhookSenderOptions};
use crate::config::{ChainRegistry, ConfigError, ProcessEnv, StoreChoice, Vars, parse_var, required};
use crate::domain::chain::{Chain, Environment};
use crate::domain::webhook::RetrySchedule;
use crate::http::routes::Route;
use crate::ports::bus::EventBus;
use crate::ports::chain::ChainReader;
use crate::ports::queue::{QueueError, TxMessage, TxQueue};
use crate::ports::webhook::WebhookSender;
use crate::ports::{Store, SystemClock};
use crate::service::App;
use crate::service::dispatcher::Dispatcher;
use crate::service::watcher::{Watcher, WatcherConfig};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
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

/// A queue for processes that never enqueue (read-only routes, the admin CLI).
struct NoQueue;

#[async_trait]
impl TxQueue for NoQueue {
    async fn enqueue(&self, _: &TxMessage) -> Result<(), QueueError> {
        Err(QueueError("this process has no tx queue configured".into()))
    }
}

/// The app of an API Lambda: DynamoDB, plus SQS for the routes that enqueue.
pub async fn lambda_app(route: Route) -> Result<App, ConfigError> {
    let vars = ProcessEnv;
    let table = required(&vars, "PAYOUTS_TABLE_NAME")?;
    let config = aws_sdk_config().await;
    let tx_queue: Arc<dyn TxQueue> = match route {
        Route::ExecutePayout => Arc::new(SqsTxQueue::new(aws_sdk_sqs::Client::new(&config), required(&vars, "PAYOUTS_TX_QUEUE_URL")?)),
        Route::CreatePayout
        | Route::ListPayouts
        | Route::ListSettlements
        | Route::GetPayout
        | Route::UpdatePayout
        | Route::CreateWebhook
        | Route::ListWebhooks
        | Route::GetWebhook
        | Route::DeleteWebhook
        | Route::ListDeliveries
        | Route::RetryDelivery
        | Route::ListEvents
        | Route::GetEvent
        | Route::OpenApi => Arc::new(NoQueue),
    };
    Ok(App {
        store: Arc::new(DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&config), table)),
        tx_queue,
        clock: Arc::new(SystemClock),
        chains: Arc::new(ChainRegistry::from_vars(&vars)?),
    })
}

/// Runs one API route as a Lambda function. Fails fast on missing configuration.
pub async fn run_api_route(route: Route) -> Result<(), lambda_http::Error> {
    crate::telemetry::init();
    let app = lambda_app(route).await.inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    crate::http::lambda::run_route(app, route).await
}

/// An app on the configured store with no queue: for operator tools.
pub async fn admin_app(vars: &dyn Vars) -> Result<App, ConfigError> {
    let choice = StoreChoice::from_vars(vars, true)?;
    Ok(App { store: open_store(&choice).await?, tx_queue: Arc::new(NoQueue), clock: Arc::new(SystemClock), chains: Arc::new(ChainRegistry::from_vars(vars)?) })
}

/// The local runner's app: embedded (or configured) store, in-process queue.
pub async fn local_app(vars: &dyn Vars) -> Result<(App, tokio::sync::mpsc::UnboundedReceiver<TxMessage>), ConfigError> {
    let choice = StoreChoice::from_vars(vars, true)?;
    let (queue, receiver) = InProcessQueue::new();
    let app =
        App { store: open_store(&choice).await?, tx_queue: Arc::new(queue), clock: Arc::new(SystemClock), chains: Arc::new(ChainRegistry::from_vars(vars)?) };
    Ok((app, receiver))
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

/// The chain-watcher of a Lambda: DynamoDB, EventBridge (`PAYOUTS_EVENT_BUS_NAME`), JSON-RPC.
pub async fn lambda_watcher() -> Result<Watcher, ConfigError> {
    let vars = ProcessEnv;
    let table = required(&vars, "PAYOUTS_TABLE_NAME")?;
    let bus_name = required(&vars, "PAYOUTS_EVENT_BUS_NAME")?;
    let config = aws_sdk_config().await;
    let chains = ChainRegistry::from_vars(&vars)?;
    let readers = chain_readers(&chains, &rpc_options(&vars)?)?;
    let app = App {
        store: Arc::new(DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&config), table)),
        tx_queue: Arc::new(NoQueue),
        clock: Arc::new(SystemClock),
        chains: Arc::new(chains),
    };
    let bus: Arc<dyn EventBus> = Arc::new(EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&config), bus_name));
    Ok(Watcher::new(app, bus, readers, watcher_config(&vars)?))
}

/// The tx-queue consumer Lambda (SQS event source with `ReportBatchItemFailures`).
pub async fn run_watcher_queue() -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    let watcher = lambda_watcher().await.inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let watcher = &watcher;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
        Ok::<_, std::convert::Infallible>(crate::jobs::watcher::handle_tx_queue(watcher, event.payload).await)
    }))
    .await
}

/// The scheduled sweep Lambda (EventBridge schedule).
pub async fn run_watcher_sweep() -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    let watcher = lambda_watcher().await.inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let watcher = &watcher;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<aws_lambda_events::event::eventbridge::EventBridgeEvent<serde_json::Value>>| async move {
            crate::jobs::watcher::handle_schedule(watcher, event.payload)
                .await
                .map(|report| serde_json::json!({ "checked": report.checked, "changed": report.changed, "published": report.published }))
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))
        },
    ))
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

fn sender(options: WebhookSenderOptions) -> Result<Arc<dyn WebhookSender>, ConfigError> {
    let sender = HttpWebhookSender::new(options).map_err(|e| ConfigError { variable: "PAYOUTS_WEBHOOK_TIMEOUT_MS".into(), problem: e.to_string() })?;
    Ok(Arc::new(sender))
}

/// The dispatcher the API uses for a manual replay (`POST …/deliveries/{id}/retry`).
pub fn api_dispatcher(app: &App) -> Result<Dispatcher, ConfigError> {
    let in_lambda = std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok();
    let (options, schedule) = webhook_settings(&ProcessEnv, !in_lambda)?;
    Ok(Dispatcher { app: app.clone(), sender: sender(options)?, schedule, retry_queue: None })
}

/// The dispatcher of a Lambda: DynamoDB, the HTTP sender, the SQS retry queue
/// (`PAYOUTS_WEBHOOK_RETRY_QUEUE_URL`).
pub async fn lambda_dispatcher() -> Result<Dispatcher, ConfigError> {
    let vars = ProcessEnv;
    let table = required(&vars, "PAYOUTS_TABLE_NAME")?;
    let retry_queue_url = required(&vars, "PAYOUTS_WEBHOOK_RETRY_QUEUE_URL")?;
    let config = aws_sdk_config().await;
    let (options, schedule) = webhook_settings(&vars, false)?;
    let app = App {
        store: Arc::new(DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&config), table)),
        tx_queue: Arc::new(NoQueue),
        clock: Arc::new(SystemClock),
        chains: Arc::new(ChainRegistry::from_vars(&vars)?),
    };
    let retry_queue = Arc::new(crate::adapters::sqs::SqsRetryQueue::new(aws_sdk_sqs::Client::new(&config), retry_queue_url));
    Ok(Dispatcher { app, sender: sender(options)?, schedule, retry_queue: Some(retry_queue) })
}

async fn dispatcher_or_exit() -> Result<Dispatcher, lambda_runtime::Error> {
    crate::telemetry::init();
    Ok(lambda_dispatcher().await.inspect_err(|e| tracing::error!(error = %e, "cannot start"))?)
}

/// The dispatcher Lambda, target of the EventBridge rule on the service's bus.
pub async fn run_webhook_dispatcher() -> Result<(), lambda_runtime::Error> {
    let dispatcher = dispatcher_or_exit().await?;
    let dispatcher = &dispatcher;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<aws_lambda_events::event::eventbridge::EventBridgeEvent<crate::domain::event::Event>>| async move {
            crate::jobs::webhooks::handle_bus_event(dispatcher, event.payload)
                .await
                .map(|r| serde_json::json!({ "deliveries": r.deliveries_created, "succeeded": r.succeeded }))
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))
        },
    ))
    .await
}

/// The retry-queue consumer Lambda.
pub async fn run_webhook_retries() -> Result<(), lambda_runtime::Error> {
    let dispatcher = dispatcher_or_exit().await?;
    let dispatcher = &dispatcher;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| async move {
        Ok::<_, std::convert::Infallible>(crate::jobs::webhooks::handle_retry_queue(dispatcher, event.payload).await)
    }))
    .await
}

/// The due-deliveries sweep Lambda (schedule).
pub async fn run_webhook_due_sweep() -> Result<(), lambda_runtime::Error> {
    let dispatcher = dispatcher_or_exit().await?;
    let dispatcher = &dispatcher;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<aws_lambda_events::event::eventbridge::EventBridgeEvent<serde_json::Value>>| async move {
            crate::jobs::webhooks::handle_due_sweep(dispatcher, event.payload)
                .await
                .map(|r| serde_json::json!({ "attempts": r.attempts }))
                .map_err(|e| lambda_runtime::Error::from(e.to_string()))
        },
    ))
    .await
}

/// The local runner's dispatcher: same code, in-process retries (the due loop).
pub fn local_dispatcher(app: &App, vars: &dyn Vars) -> Result<Dispatcher, ConfigError> {
    let (options, schedule) = webhook_settings(vars, true)?;
    Ok(Dispatcher { app: app.clone(), sender: sender(options)?, schedule, retry_queue: None })
}

/// The event relay Lambda (DynamoDB stream of the table, event records only).
pub async fn run_event_relay() -> Result<(), lambda_runtime::Error> {
    crate::telemetry::init();
    let watcher = lambda_watcher().await.inspect_err(|e| tracing::error!(error = %e, "cannot start"))?;
    let watcher = &watcher;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| async move {
        let records = event.payload.get("Records").and_then(serde_json::Value::as_array).map(Vec::len).unwrap_or(0);
        crate::jobs::watcher::handle_stream(watcher, records)
            .await
            .map(|published| serde_json::json!({ "published": published }))
            .map_err(|e| lambda_runtime::Error::from(e.to_string()))
    }))
    .await
}
