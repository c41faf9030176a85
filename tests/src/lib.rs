//! Test harness shared by the integration tests: an [`App`] on either store, keys for a few
//! organizations, a manual clock, a recording tx queue, and a request helper that goes through
//! the very same `serve` as the Lambdas and the local runner.
//!
//! DynamoDB/SQS tests need the emulator the test command starts (`PAYOUTS_TEST_AWS_ENDPOINT`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod anvil;
pub mod aws;
pub mod aws_proxy;
pub mod lambda_runtime;
pub mod lambda_stack;
pub mod raw_http;
pub mod receiver;
pub mod template;
pub mod wallets;
pub mod watch;

use async_trait::async_trait;
use chrono::{Duration, SubsecRound, Utc};
use http::{HeaderMap, HeaderValue, Method};
use payouts::adapters::embedded_store::EmbeddedStore;
use payouts::adapters::local_keys::LocalKeyFile;
use payouts::config::ChainRegistry;
use payouts::domain::chain::Environment;
use payouts::domain::event::Event;
use payouts::domain::ids::OrgId;
use payouts::domain::org::Plan;
use payouts::domain::time::Timestamp;
use payouts::http::{ApiRequest, serve};
use payouts::ports::chain::{ChainError, ContractWallets};
use payouts::ports::queue::{QueueError, TxMessage, TxQueue};
use payouts::ports::store::{IndexName, IndexQuery, read_all};
use payouts::ports::{Clock, Store};
use payouts::service::pagination::Cursors;
use payouts::service::rate_limit::RateLimiter;
use payouts::service::secrets::SecretVault;
use payouts::service::{App, admin, records};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A clock tests move by hand.
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    pub fn new() -> ManualClock {
        ManualClock(Mutex::new(Utc::now().trunc_subsecs(6)))
    }
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap();
        *now += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    /// Each reading is a microsecond later than the last, so records made in one test keep
    /// their order as in real time.
    fn now(&self) -> Timestamp {
        let mut now = self.0.lock().unwrap();
        *now += Duration::microseconds(1);
        *now
    }
}

/// A tx queue that keeps what was sent.
#[derive(Default)]
pub struct RecordingQueue(pub Mutex<Vec<TxMessage>>);

#[async_trait]
impl TxQueue for RecordingQueue {
    async fn enqueue(&self, message: &TxMessage) -> Result<(), QueueError> {
        self.0.lock().unwrap().push(message.clone());
        Ok(())
    }
}

/// No chain to ask: every address is taken for a plain account (no EIP-1271 wallet accepts
/// anything). API tests use it so nothing leaves the machine; the chain tests use the real
/// JSON-RPC adapter on anvil.
pub struct NoContractWallets;

#[async_trait]
impl ContractWallets for NoContractWallets {
    async fn accepts_signature(&self, _: Environment, _: payouts::domain::chain::Chain, _: [u8; 20], _: [u8; 32], _: &[u8]) -> Result<bool, ChainError> {
        Ok(false)
    }
}

/// An organization with one key per environment.
#[derive(Clone, Debug)]
pub struct Tenant {
    pub org: OrgId,
    pub live: String,
    pub sandbox: String,
    pub live_key_id: String,
}

pub struct Harness {
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub queue: Arc<RecordingQueue>,
    /// Plan enterprise.
    pub tenant: Tenant,
    /// The emulator's table, for a harness on DynamoDB.
    pub table_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
    _keys_dir: tempfile::TempDir,
}

/// A response as a client sees it.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub json: Value,
    /// The body exactly as sent.
    pub raw: String,
    pub headers: Vec<(String, String)>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    /// `(type, code, param)` of an error body.
    pub fn error(&self) -> (String, String, Option<String>) {
        let error = &self.json["error"];
        (error["type"].as_str().unwrap_or("?").to_owned(), error["code"].as_str().unwrap_or("?").to_owned(), error["param"].as_str().map(str::to_owned))
    }
    pub fn id(&self) -> String {
        self.json["id"].as_str().unwrap_or_else(|| panic!("no id in {}", self.json)).to_owned()
    }
}

pub fn chains() -> ChainRegistry {
    ChainRegistry::from_vars(&BTreeMap::new()).unwrap()
}

impl Harness {
    pub async fn on_store(store: Arc<dyn Store>, dir: Option<tempfile::TempDir>) -> Harness {
        Self::on_store_with_queue(store, dir, Arc::new(RecordingQueue::default())).await
    }

    pub async fn on_store_with_queue(store: Arc<dyn Store>, dir: Option<tempfile::TempDir>, queue: Arc<RecordingQueue>) -> Harness {
        let clock = Arc::new(ManualClock::new());
        // Webhook secrets are sealed with the real local key file: in the embedded store's data
        // directory, as the local runner keeps it, else in a directory of the harness.
        let keys_dir = tempfile::tempdir().unwrap();
        let keys = Arc::new(LocalKeyFile::open(dir.as_ref().map(tempfile::TempDir::path).unwrap_or(keys_dir.path())).unwrap());
        let app = App {
            store,
            tx_queue: queue.clone(),
            clock: clock.clone(),
            chains: Arc::new(chains()),
            contract_wallets: Arc::new(NoContractWallets),
            vault: Arc::new(SecretVault::new(keys.clone())),
            cursors: Arc::new(Cursors::new(keys)),
            rate_limiter: Arc::new(RateLimiter::new()),
            meter: None,
            limits: Default::default(),
        };
        let mut harness = Harness {
            app,
            clock,
            queue,
            tenant: Tenant { org: OrgId::generate(), live: String::new(), sandbox: String::new(), live_key_id: String::new() },
            table_name: None,
            _dir: dir,
            _keys_dir: keys_dir,
        };
        harness.tenant = harness.tenant(Plan::Enterprise).await;
        harness
    }

    /// The embedded store's data directory (`None` on DynamoDB).
    pub fn data_dir(&self) -> Option<&std::path::Path> {
        self._dir.as_ref().map(tempfile::TempDir::path)
    }

    pub async fn embedded() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        Self::on_store(Arc::new(store), Some(dir)).await
    }

    pub async fn dynamodb() -> Harness {
        let (store, _, table_name) = aws::fresh_table().await;
        let mut harness = Self::on_store(Arc::new(store), None).await;
        harness.table_name = Some(table_name);
        harness
    }

    /// A new organization on `plan` with a live and a sandbox key.
    pub async fn tenant(&self, plan: Plan) -> Tenant {
        let org = admin::create_org(&self.app, "Test org", plan).await.unwrap();
        let (live_key, live) = admin::create_key(&self.app, &org.id, Environment::Live).await.unwrap();
        let (_, sandbox) = admin::create_key(&self.app, &org.id, Environment::Sandbox).await.unwrap();
        Tenant { org: org.id, live: live.reveal().to_owned(), sandbox: sandbox.reveal().to_owned(), live_key_id: live_key.id.to_string() }
    }

    pub async fn call(&self, method: Method, path: &str, key: Option<&str>, body: Option<&str>) -> Response {
        self.call_with(method, path, key, body, &[]).await
    }

    pub async fn call_with(&self, method: Method, path: &str, key: Option<&str>, body: Option<&str>, headers: &[(&str, &str)]) -> Response {
        let (path, query) = match path.split_once('?') {
            Some((path, query)) => (path, Some(query)),
            None => (path, None),
        };
        let mut header_map = HeaderMap::new();
        if let Some(key) = key {
            header_map.insert("authorization", HeaderValue::from_str(&format!("Bearer {key}")).unwrap());
        }
        if body.is_some() {
            header_map.insert("content-type", HeaderValue::from_static("application/json"));
        }
        for (name, value) in headers {
            header_map.insert(http::HeaderName::from_bytes(name.as_bytes()).unwrap(), HeaderValue::from_str(value).unwrap());
        }
        let request = ApiRequest {
            method,
            path: path.to_owned(),
            query: ApiRequest::parse_query(query),
            headers: header_map,
            body: bytes::Bytes::from(body.unwrap_or("").to_owned()),
            request_id: payouts::http::new_request_id(),
        };
        let response = serve(&self.app, request, None).await;
        let is_json = response.headers.iter().any(|(name, value)| *name == "content-type" && value.starts_with("application/json"));
        let json = if response.body.is_empty() || !is_json {
            Value::Null
        } else {
            serde_json::from_slice(&response.body).unwrap_or_else(|e| panic!("non-JSON body ({e}): {:?}", response.body))
        };
        Response {
            status: response.status.as_u16(),
            json,
            raw: String::from_utf8_lossy(&response.body).into_owned(),
            headers: response.headers.iter().map(|(n, v)| (n.to_string(), v.clone())).collect(),
        }
    }

    /// Creates a draft with the given JSON body (as the live key of the default tenant).
    /// A request exactly as given (headers a client may send that `call_with` cannot build, such
    /// as non-ASCII bytes), served as the Lambda of `only` would (`None`: every route).
    pub async fn serve_raw(&self, method: Method, path: &str, headers: HeaderMap, body: &str, only: Option<payouts::http::routes::Route>) -> (u16, Value) {
        let request = ApiRequest {
            method,
            path: path.to_owned(),
            query: Vec::new(),
            headers,
            body: bytes::Bytes::from(body.to_owned()),
            request_id: payouts::http::new_request_id(),
        };
        let response = serve(&self.app, request, only).await;
        (response.status.as_u16(), serde_json::from_slice(&response.body).unwrap_or(Value::Null))
    }

    pub async fn create(&self, key: &str, body: &Value) -> Response {
        self.call(Method::POST, "/v1/payouts", Some(key), Some(&body.to_string())).await
    }

    pub async fn patch(&self, key: &str, id: &str, body: &Value) -> Response {
        self.call(Method::PATCH, &format!("/v1/payouts/{id}"), Some(key), Some(&body.to_string())).await
    }

    pub async fn execute(&self, key: &str, id: &str, tx_hash: &str) -> Response {
        self.call(Method::POST, &format!("/v1/payouts/{id}/execute"), Some(key), Some(&serde_json::json!({ "tx_hash": tx_hash }).to_string())).await
    }

    /// Every record of one index partition, oldest first (inspecting the store directly).
    pub async fn records<T: serde::de::DeserializeOwned>(&self, index: IndexName, pk: String) -> Vec<T> {
        let query = IndexQuery::partition(index, pk, false, self.app.now().timestamp());
        read_all(self.app.store.as_ref(), query).await.unwrap().iter().map(|item| records::decode(item).unwrap()).collect()
    }

    /// The events not yet on the bus, oldest first.
    pub async fn outbox(&self) -> Vec<Event> {
        self.outbox_entries().await.into_iter().filter(|event| event.published_at.is_none()).collect()
    }

    /// Everything in the outbox index: unpublished events, and published ones the dispatcher has
    /// not fanned out yet (which the relay publishes again when due).
    pub async fn outbox_entries(&self) -> Vec<Event> {
        self.records(IndexName::Gsi3, records::OUTBOX_PARTITION.into()).await
    }

    /// The default tenant's event records about one payout in one environment, oldest first.
    pub async fn events_of(&self, environment: Environment, payout_id: &str) -> Vec<Event> {
        let events: Vec<Event> = self.records(IndexName::Gsi1, records::events_of(&self.tenant.org, environment)).await;
        events.into_iter().filter(|event| event.subject_id == payout_id).collect()
    }

    pub async fn get(&self, key: &str, id: &str) -> Response {
        self.call(Method::GET, &format!("/v1/payouts/{id}"), Some(key), None).await
    }
}

/// An app on a fresh embedded store and the system clock (for benchmarks); keep the directory.
pub fn embedded_app() -> (App, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path()).expect("embedded store");
    let keys = Arc::new(LocalKeyFile::open(dir.path()).expect("key file"));
    (App::new(Arc::new(store), Arc::new(RecordingQueue::default()), Arc::new(chains()), Arc::new(NoContractWallets), keys.clone(), keys), dir)
}

/// A valid tron recipient (not a token contract).
pub const TRON_RECIPIENT: &str = "TLEaY8XoqpBmndLsjcfThgdKLN1ssNuUcF";
/// A valid EVM recipient (EIP-55 checksummed).
pub const EVM_RECIPIENT: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

/// The guide's step 1 request, byte for byte but for a valid tron address ([`TRON_RECIPIENT`]).
pub const GUIDE_REQUEST: &str = r#"{
    "recipient_address": "TLEaY8XoqpBmndLsjcfThgdKLN1ssNuUcF",
    "chain": "tron",
    "token": "USDT",
    "amount": 500.00,
    "currency": "USD",
    "description": "Contractor payment - June 2025",
    "reference_type": "invoice",
    "reference_id": "inv_a1b2c3d4",
    "due_date": "2025-06-30T00:00:00Z"
  }"#;

/// [`GUIDE_REQUEST`] as a value to edit (re-serialized, its amount reads 500.0).
/// A record that does not decode (a truncated body, as a hand edit or a newer writer may leave),
/// keyed `pk`/`X`, sorted first (`sk`) in one index partition so a sweep meets it before anything
/// else.
pub fn undecodable_item(pk: &str, index: IndexName, partition: String, sk: &str) -> payouts::ports::store::Item {
    let mut indexes = [None, None, None, None];
    indexes[index.position()] = Some(payouts::ports::store::IndexKey { pk: partition, sk: sk.to_owned() });
    payouts::ports::store::Item {
        key: payouts::ports::store::ItemKey::new(pk, "X"),
        version: 1,
        expires_at: None,
        indexes,
        attrs: Default::default(),
        body: "{\"status\": \"from-the-future\"".to_owned(),
    }
}

pub fn guide_body() -> Value {
    serde_json::from_str(GUIDE_REQUEST).expect("the guide request is JSON")
}

/// A random 64-hex tx hash.
pub fn random_tx_hash() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs each listed `async fn(Harness)` against the embedded store and against DynamoDB (moto).
#[macro_export]
macro_rules! on_both_stores {
    ($($test:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test($crate::Harness::embedded().await).await
                }
            )*
        }
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $test() {
                    super::$test($crate::Harness::dynamodb().await).await
                }
            )*
        }
    };
}
