//! Process wiring: builds the [`App`] once from configuration, for Lambda (DynamoDB + SQS) or for
//! local runs (embedded store + in-process queue). Binaries call these and nothing else.

use crate::adapters::dynamodb::DynamoDbStore;
use crate::adapters::embedded_store::EmbeddedStore;
use crate::adapters::memory_queue::InProcessQueue;
use crate::adapters::sqs::SqsTxQueue;
use crate::config::{required, ChainRegistry, ConfigError, ProcessEnv, StoreChoice, Vars};
use crate::http::routes::Route;
use crate::ports::queue::{QueueError, TxMessage, TxQueue};
use crate::ports::{Store, SystemClock};
use crate::service::App;
use async_trait::async_trait;
use std::sync::Arc;

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
        Route::CreatePayout | Route::ListPayouts | Route::GetPayout | Route::UpdatePayout | Route::OpenApi => Arc::new(NoQueue),
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
    let app = App { store: open_store(&choice).await?, tx_queue: Arc::new(queue), clock: Arc::new(SystemClock), chains: Arc::new(ChainRegistry::from_vars(vars)?) };
    Ok((app, receiver))
}
