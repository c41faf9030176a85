//! The chain-watcher test rig: a throwaway anvil with the test tokens, a [`ChainRegistry`] whose
//! sandbox chains (base, arbitrum, tron) all read that anvil, a [`Harness`] on either store, a
//! recording [`EventBus`], and a [`Watcher`] with a short not-found window on the harness's
//! manual clock. Optionally a [`FaultProxy`] per chain between the watcher and anvil, which a
//! test switches to 500, 429, hang, closed connections or malformed JSON.
//!
//! Helpers read back what a user (or the reconciliation) would look at: the intent through the
//! API, the settlements and events from the store, what the bus received.

use crate::anvil::{Anvil, hex_address};
use crate::raw_http::{json_answer, read_request};
use crate::{Harness, Response};
use async_trait::async_trait;
use http::Method;
use payouts::adapters::rpc_chain::RpcOptions;
use payouts::config::ChainRegistry;
use payouts::domain::address::tron_address_from_account;
use payouts::domain::chain::{Chain, Environment};
use payouts::domain::event::Event;
use payouts::domain::ids::{EventId, PayoutId};
use payouts::domain::payout::PayoutIntent;
use payouts::domain::settlement::{Settlement, display_account};
use payouts::ports::bus::{BusError, EventBus};
use payouts::ports::store::IndexName;
use payouts::service::records;
use payouts::service::scanner::{Scanner, ScannerConfig};
use payouts::service::watcher::{WatchReport, Watcher};
use serde_json::{Value, json};
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Confirmations the rig's registry asks for (small but real).
pub const BASE_CONFIRMATIONS: u64 = 3;
pub const ARBITRUM_CONFIRMATIONS: u64 = 2;
pub const TRON_CONFIRMATIONS: u64 = 4;
/// The rig's `PAYOUTS_TX_NOT_FOUND_WINDOW_SECONDS` (of the manual clock).
pub const NOT_FOUND_WINDOW_SECONDS: i64 = 2;
/// What the treasury (anvil account 0) holds of each test token at start: 1,000,000.000000.
pub const TREASURY_BALANCE: u128 = 1_000_000_000_000;

// ---------------------------------------------------------------------------------------------
// A recording event bus.

/// An [`EventBus`] that keeps every event it accepted, and can be told to fail.
#[derive(Default)]
pub struct RecordingBus {
    published: Mutex<Vec<Event>>,
    fail_next: AtomicUsize,
    attempts: AtomicUsize,
}

impl RecordingBus {
    /// The next `n` publish calls fail as a whole (the bus is "unavailable").
    pub fn fail_next(&self, n: usize) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// Every event accepted, in publish order (an event published twice appears twice).
    pub fn events(&self) -> Vec<Event> {
        self.published.lock().unwrap().clone()
    }

    /// Types of the accepted events about one payout, in publish order.
    pub fn types_of(&self, payout_id: &str) -> Vec<String> {
        self.events().iter().filter(|e| e.subject_id == payout_id).map(|e| e.event_type.as_str().to_owned()).collect()
    }

    pub fn ids(&self) -> Vec<EventId> {
        self.events().into_iter().map(|e| e.id).collect()
    }

    /// Publish calls made, failed ones included.
    pub fn attempts(&self) -> usize {
        self.attempts.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl EventBus for RecordingBus {
    async fn publish(&self, events: &[Event]) -> Result<Vec<EventId>, BusError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        let failing = self.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if failing {
            return Err(BusError("recording bus told to fail".into()));
        }
        self.published.lock().unwrap().extend(events.iter().cloned());
        Ok(events.iter().map(|e| e.id.clone()).collect())
    }
}

// ---------------------------------------------------------------------------------------------
// A fault-injecting JSON-RPC proxy.

/// What the proxy does with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Forward to the node and relay its answer.
    Pass,
    /// HTTP 500 with an HTML body.
    Http500,
    /// HTTP 429 with a JSON-RPC rate-limit error (no `Retry-After`).
    Http429,
    /// Never answer (the connection stays open until the proxy stops or 10 s pass).
    Hang,
    /// Close the connection after reading the request, before any byte of answer.
    Close,
    /// Forward, then send the head and half of the node's answer and close.
    CloseMidAnswer,
    /// HTTP 200 with a truncated JSON body.
    Malformed,
}

impl Fault {
    pub const FAILURES: [Fault; 6] = [Fault::Http500, Fault::Http429, Fault::Hang, Fault::Close, Fault::CloseMidAnswer, Fault::Malformed];
}

struct ProxyState {
    target: SocketAddr,
    mode: Mutex<Fault>,
    script: Mutex<VecDeque<Fault>>,
    requests: AtomicUsize,
    calls: AtomicUsize,
    stop: AtomicBool,
    /// `eth_getLogs` over more blocks than this is refused as providers do (`None`: any range).
    max_log_range: Mutex<Option<u64>>,
    /// `eth_getLogs` requests received, and of those refused.
    log_requests: AtomicUsize,
    refused_log_requests: AtomicUsize,
}

impl ProxyState {
    fn next_fault(&self) -> Fault {
        if let Some(fault) = self.script.lock().unwrap().pop_front() {
            return fault;
        }
        *self.mode.lock().unwrap()
    }
}

/// An HTTP/1.1 proxy on 127.0.0.1 in front of a JSON-RPC node (std threads, one per
/// connection, keep-alive). Counts HTTP requests and JSON-RPC calls; each request gets the
/// next scripted [`Fault`], else the current mode.
pub struct FaultProxy {
    addr: SocketAddr,
    state: Arc<ProxyState>,
}

impl FaultProxy {
    pub fn start(target_url: &str) -> FaultProxy {
        let target: SocketAddr = target_url.trim_start_matches("http://").trim_end_matches('/').parse().unwrap_or_else(|e| panic!("{target_url}: {e}"));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(ProxyState {
            target,
            mode: Mutex::new(Fault::Pass),
            script: Mutex::new(VecDeque::new()),
            requests: AtomicUsize::new(0),
            calls: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            max_log_range: Mutex::new(None),
            log_requests: AtomicUsize::new(0),
            refused_log_requests: AtomicUsize::new(0),
        });
        let accept_state = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if accept_state.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let state = accept_state.clone();
                std::thread::spawn(move || serve_connection(stream, &state));
            }
        });
        FaultProxy { addr, state }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The mode every request gets once the script is used up.
    pub fn set(&self, fault: Fault) {
        *self.state.mode.lock().unwrap() = fault;
    }

    /// The next requests get these, one each, before the mode applies again.
    pub fn script(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.script.lock().unwrap().extend(faults);
    }

    /// HTTP requests received so far.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    /// JSON-RPC calls received so far (a batch counts its entries).
    pub fn calls(&self) -> usize {
        self.state.calls.load(Ordering::SeqCst)
    }

    /// Refuses `eth_getLogs` over more than `blocks` blocks with Infura's error (-32005 "query
    /// returned more than 10000 results"-style), as real providers limit ranges.
    pub fn refuse_log_ranges_over(&self, blocks: Option<u64>) {
        *self.state.max_log_range.lock().unwrap() = blocks;
    }

    /// `eth_getLogs` requests received so far, and how many of them were refused.
    pub fn log_requests(&self) -> (usize, usize) {
        (self.state.log_requests.load(Ordering::SeqCst), self.state.refused_log_requests.load(Ordering::SeqCst))
    }

    pub fn reset_counts(&self) {
        self.state.requests.store(0, Ordering::SeqCst);
        self.state.calls.store(0, Ordering::SeqCst);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve_connection(stream: TcpStream, state: &ProxyState) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader) {
        state.requests.fetch_add(1, Ordering::SeqCst);
        let calls = match serde_json::from_slice::<Value>(&request.body) {
            Ok(Value::Array(calls)) => calls.len(),
            Ok(_) => 1,
            Err(_) => 0,
        };
        state.calls.fetch_add(calls, Ordering::SeqCst);
        if let Some(refusal) = log_range_refusal(state, &request.body) {
            if writer.write_all(&refusal).and_then(|_| writer.flush()).is_err() {
                return;
            }
            continue;
        }
        let answer = match state.next_fault() {
            Fault::Pass => match forward(state.target, &request.body) {
                Ok((status, body)) => json_answer(status, "From node", &body),
                Err(error) => json_answer(502, "Bad Gateway", &format!("{{\"proxy_error\":{:?}}}", error)),
            },
            Fault::Http500 => json_answer(500, "Internal Server Error", "<html><body>upstream exploded</body></html>"),
            Fault::Http429 => json_answer(429, "Too Many Requests", r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate limit exceeded"}}"#),
            Fault::Malformed => json_answer(200, "OK", r#"[{"jsonrpc":"2.0","id":0,"result":{"blockHash":"0x"#),
            Fault::Hang => {
                let until = Instant::now() + Duration::from_secs(10);
                while !state.stop.load(Ordering::SeqCst) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return;
            }
            Fault::Close => {
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
            Fault::CloseMidAnswer => {
                let body = forward(state.target, &request.body).map(|(_, body)| body).unwrap_or_else(|_| "[{\"jsonrpc\":\"2.0\"}]".into());
                let half = &body.as_bytes()[..body.len() / 2];
                let head = format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n", body.len());
                let _ = writer.write_all(head.as_bytes()).and_then(|_| writer.write_all(half)).and_then(|_| writer.flush());
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
        };
        if writer.write_all(&answer).and_then(|_| writer.flush()).is_err() {
            return;
        }
    }
}

/// The JSON-RPC error answer to an `eth_getLogs` over too many blocks (`None`: not one).
fn log_range_refusal(state: &ProxyState, body: &[u8]) -> Option<Vec<u8>> {
    let call: Value = serde_json::from_slice(body).ok()?;
    let call = match &call {
        Value::Array(calls) if calls.len() == 1 => &calls[0],
        other => other,
    };
    if call["method"] != "eth_getLogs" {
        return None;
    }
    state.log_requests.fetch_add(1, Ordering::SeqCst);
    let limit = (*state.max_log_range.lock().unwrap())?;
    let filter = &call["params"][0];
    let number = |v: &Value| u64::from_str_radix(v.as_str().unwrap_or("0x0").trim_start_matches("0x"), 16).unwrap_or(0);
    let range = number(&filter["toBlock"]) - number(&filter["fromBlock"]) + 1;
    if range <= limit {
        return None;
    }
    state.refused_log_requests.fetch_add(1, Ordering::SeqCst);
    let error = json!({"code": -32005, "message": format!("query exceeds max block range {limit}")});
    let answer = if body.first() == Some(&b'[') {
        json!([{"jsonrpc": "2.0", "id": call["id"], "error": error}])
    } else {
        json!({"jsonrpc": "2.0", "id": call["id"], "error": error})
    };
    Some(json_answer(200, "OK", &answer.to_string()))
}

/// One POST to the node (HTTP/1.1, `connection: close`): its status and body.
pub fn forward(to: SocketAddr, body: &[u8]) -> Result<(u16, String), String> {
    let mut stream = TcpStream::connect(to).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(Duration::from_secs(30))).map_err(|e| e.to_string())?;
    let head = format!("POST / HTTP/1.1\r\nhost: {to}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).and_then(|_| stream.write_all(body)).map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(|e| e.to_string())?;
    let text = String::from_utf8(raw).map_err(|e| e.to_string())?;
    let (head, rest) = text.split_once("\r\n\r\n").ok_or("no end of head")?;
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).ok_or("no status")?;
    if !head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        return Ok((status, rest.to_owned()));
    }
    let mut decoded = String::new();
    let mut rest = rest;
    loop {
        let (size, after) = rest.split_once("\r\n").ok_or("bad chunk")?;
        let size = usize::from_str_radix(size.trim(), 16).map_err(|e| e.to_string())?;
        if size == 0 {
            return Ok((status, decoded));
        }
        decoded.push_str(after.get(..size).ok_or("short chunk")?);
        rest = after.get(size + 2..).ok_or("short chunk")?;
    }
}

// ---------------------------------------------------------------------------------------------
// The rig.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreKind {
    Embedded,
    DynamoDb,
}

#[derive(Clone, Debug)]
pub struct RigConfig {
    pub store: StoreKind,
    /// A [`FaultProxy`] in front of anvil for each sandbox chain (else the readers talk to anvil).
    pub proxied: bool,
    pub rpc: RpcOptions,
    /// More configuration variables (`PAYOUTS_…`), applied over the rig's own.
    pub vars: Vec<(String, String)>,
    /// Live base reads the same anvil as sandbox (with the same USDC), as a sandbox pointed at
    /// live's network would.
    pub live_base_on_devnet: bool,
}

impl Default for RigConfig {
    fn default() -> Self {
        RigConfig {
            store: StoreKind::Embedded,
            proxied: false,
            rpc: RpcOptions { request_timeout: Duration::from_secs(10), max_batch: 50, retries: 1, retry_base_delay: Duration::from_millis(10) },
            vars: Vec::new(),
            live_base_on_devnet: false,
        }
    }
}

pub struct WatchRig {
    pub anvil: Anvil,
    pub h: Harness,
    /// Test "USD Coin"/USDC: the sandbox USDC of base and arbitrum.
    pub usdc: [u8; 20],
    /// Test "Tether USD"/USDT: the sandbox USDT of arbitrum and tron.
    pub usdt: [u8; 20],
    /// A second "USD Coin"/USDC contract: a look-alike no chain is configured with.
    pub lookalike: [u8; 20],
    pub bus: Arc<RecordingBus>,
    pub watcher: Arc<Watcher>,
    /// The per-chain proxies when [`RigConfig::proxied`].
    pub proxies: BTreeMap<Chain, FaultProxy>,
    /// Anvil account 0, holding [`TREASURY_BALANCE`] of each token.
    pub treasury: [u8; 20],
    /// The readers' RPC settings.
    pub rpc: RpcOptions,
    /// The configuration variables the rig's chains were made from.
    pub vars: BTreeMap<String, String>,
}

impl WatchRig {
    pub async fn start() -> WatchRig {
        Self::start_with(RigConfig::default()).await
    }

    pub async fn start_on(store: StoreKind) -> WatchRig {
        Self::start_with(RigConfig { store, ..RigConfig::default() }).await
    }

    pub async fn start_with(config: RigConfig) -> WatchRig {
        let anvil = Anvil::start().await;
        let usdt = anvil.deploy_token("Tether USD", "USDT").await;
        let usdc = anvil.deploy_token("USD Coin", "USDC").await;
        let lookalike = anvil.deploy_token("USD Coin", "USDC").await;
        let treasury = anvil.accounts()[0];
        for token in [usdt, usdc, lookalike] {
            anvil.mint(token, treasury, TREASURY_BALANCE).await;
        }

        let mut proxies = BTreeMap::new();
        let mut url_of = BTreeMap::new();
        for chain in Chain::ALL {
            let url = if config.proxied {
                let proxy = FaultProxy::start(anvil.url());
                let url = proxy.url();
                proxies.insert(chain, proxy);
                url
            } else {
                anvil.url().to_owned()
            };
            url_of.insert(chain, url);
        }
        let mut vars: BTreeMap<String, String> = BTreeMap::new();
        let mut set = |name: &str, value: String| {
            vars.insert(name.to_owned(), value);
        };
        set("PAYOUTS_SANDBOX_BASE_RPC_URL", url_of[&Chain::Base].clone());
        set("PAYOUTS_SANDBOX_BASE_USDC_CONTRACT", hex_address(usdc));
        set("PAYOUTS_SANDBOX_BASE_CONFIRMATIONS", BASE_CONFIRMATIONS.to_string());
        set("PAYOUTS_SANDBOX_ARBITRUM_RPC_URL", url_of[&Chain::Arbitrum].clone());
        set("PAYOUTS_SANDBOX_ARBITRUM_USDC_CONTRACT", hex_address(usdc));
        set("PAYOUTS_SANDBOX_ARBITRUM_USDT_CONTRACT", hex_address(usdt));
        set("PAYOUTS_SANDBOX_ARBITRUM_CONFIRMATIONS", ARBITRUM_CONFIRMATIONS.to_string());
        set("PAYOUTS_SANDBOX_TRON_RPC_URL", url_of[&Chain::Tron].clone());
        set("PAYOUTS_SANDBOX_TRON_USDT_CONTRACT", tron_address_from_account(usdt));
        set("PAYOUTS_SANDBOX_TRON_CONFIRMATIONS", TRON_CONFIRMATIONS.to_string());
        // Live chains are never used here: a closed local port, so nothing can leave the machine.
        for chain in ["BASE", "ARBITRUM", "TRON"] {
            set(&format!("PAYOUTS_LIVE_{chain}_RPC_URL"), "http://127.0.0.1:9".into());
        }
        if config.live_base_on_devnet {
            set("PAYOUTS_LIVE_BASE_RPC_URL", anvil.url().to_owned());
            set("PAYOUTS_LIVE_BASE_USDC_CONTRACT", hex_address(usdc));
            set("PAYOUTS_LIVE_BASE_CONFIRMATIONS", BASE_CONFIRMATIONS.to_string());
        }
        set("PAYOUTS_TX_NOT_FOUND_WINDOW_SECONDS", NOT_FOUND_WINDOW_SECONDS.to_string());
        for (name, value) in &config.vars {
            set(name, value.clone());
        }
        let registry = ChainRegistry::from_vars(&vars).unwrap_or_else(|e| panic!("{e}"));
        let readers = payouts::runtime::chain_readers(&registry, &config.rpc).unwrap_or_else(|e| panic!("{e}"));
        let watcher_config = payouts::runtime::watcher_config(&vars).unwrap_or_else(|e| panic!("{e}"));

        let mut h = match config.store {
            StoreKind::Embedded => Harness::embedded().await,
            StoreKind::DynamoDb => Harness::dynamodb().await,
        };
        h.app.chains = Arc::new(registry);
        // Wallet proofs of contract wallets ask the same anvil.
        h.app.contract_wallets = Arc::new(payouts::adapters::rpc_chain::RpcContractWallets::new(h.app.chains.clone(), config.rpc.clone()));
        let bus = Arc::new(RecordingBus::default());
        let watcher = Arc::new(Watcher::new(h.app.clone(), bus.clone(), readers, watcher_config));
        WatchRig { anvil, h, usdc, usdt, lookalike, bus, watcher, proxies, treasury, rpc: config.rpc, vars }
    }

    /// A source-wallet scanner on the rig's store and chains (a fresh one is a restarted process).
    pub fn scanner(&self, config: ScannerConfig) -> Scanner {
        let readers = payouts::runtime::chain_readers(&self.h.app.chains, &self.rpc).unwrap_or_else(|e| panic!("{e}"));
        Scanner::new(self.h.app.clone(), readers, config)
    }

    pub fn proxy(&self, chain: Chain) -> &FaultProxy {
        self.proxies.get(&chain).unwrap_or_else(|| panic!("the rig has no proxy for {chain}: start it with proxied: true"))
    }

    /// Anvil's default account `i` (0 is the treasury).
    pub fn account(&self, i: usize) -> [u8; 20] {
        self.anvil.accounts()[i]
    }

    /// EIP-55 form of an account.
    pub fn evm(&self, account: [u8; 20]) -> String {
        display_account(Chain::Base, account)
    }

    /// Tron base58check form of an account.
    pub fn tron(&self, account: [u8; 20]) -> String {
        tron_address_from_account(account)
    }

    /// `transfer(to, amount)` of `token` from the treasury; the tx hash (0x, lowercase).
    pub async fn pay(&self, token: [u8; 20], to: [u8; 20], amount: u128) -> String {
        self.anvil.transfer(self.treasury, token, to, amount).await
    }

    /// The tx's (block number, block hash) on the node now.
    pub async fn tx_block(&self, tx_hash: &str) -> Option<(u64, String)> {
        let receipt = self.anvil.receipt(tx_hash).await;
        if receipt.is_null() {
            return None;
        }
        Some((crate::anvil::quantity(&receipt["blockNumber"]), receipt["blockHash"].as_str().unwrap().to_ascii_lowercase()))
    }

    /// The signed raw transaction, to send it again after a reorg (same hash).
    pub async fn raw_tx(&self, tx_hash: &str) -> String {
        self.anvil.rpc("eth_getRawTransactionByHash", json!([tx_hash])).await.as_str().expect("raw tx").to_owned()
    }

    pub async fn head(&self) -> u64 {
        self.anvil.block_number().await
    }

    /// Mines blocks until the node's head is `head`.
    pub async fn mine_to(&self, head: u64) {
        let now = self.head().await;
        assert!(head >= now, "head is already {now}");
        if head > now {
            self.anvil.mine(head - now).await;
        }
    }

    /// Moves the harness's manual clock.
    pub fn advance(&self, seconds: i64) {
        self.h.clock.advance(chrono::Duration::seconds(seconds));
    }

    // -- the API, as the customer uses it ------------------------------------------------------

    /// Creates (as the sandbox key) and approves an intent; its id.
    pub async fn approved_payout(&self, chain: Chain, token: &str, recipient: &str, amount_atomic: u128) -> String {
        self.approved_payout_as(&self.h.tenant.sandbox, chain, token, recipient, amount_atomic).await
    }

    /// The same as another organization (its sandbox `key`).
    pub async fn approved_payout_as(&self, key: &str, chain: Chain, token: &str, recipient: &str, amount_atomic: u128) -> String {
        let body = format!(
            r#"{{"recipient_address":"{recipient}","chain":"{chain}","token":"{token}","amount":{},"currency":"USD","description":"watcher test","reference_type":"manual"}}"#,
            amount_text(amount_atomic)
        );
        let created = self.h.call(Method::POST, "/v1/payouts", Some(key), Some(&body)).await;
        assert_eq!(created.status, 201, "create: {}", created.json);
        let id = created.id();
        let approved = self.h.patch(key, &id, &json!({ "status": "approved" })).await;
        assert_eq!(approved.status, 200, "approve: {}", approved.json);
        assert_eq!(approved.json["amount_atomic"], json!(amount_atomic.to_string()));
        id
    }

    /// `POST /v1/payouts/{id}/execute` as the sandbox key.
    pub async fn execute(&self, id: &str, tx_hash: &str) -> Response {
        self.h.execute(&self.h.tenant.sandbox, id, tx_hash).await
    }

    /// Create, approve and execute with `tx_hash`; the id.
    pub async fn executed_payout(&self, chain: Chain, token: &str, recipient: &str, amount_atomic: u128, tx_hash: &str) -> String {
        let id = self.approved_payout(chain, token, recipient, amount_atomic).await;
        let executed = self.execute(&id, tx_hash).await;
        assert_eq!(executed.status, 200, "execute: {}", executed.json);
        assert_eq!(executed.json["status"], "executed");
        id
    }

    /// The intent as `GET /v1/payouts/{id}` shows it.
    pub async fn payout(&self, id: &str) -> Value {
        let got = self.h.get(&self.h.tenant.sandbox, id).await;
        assert_eq!(got.status, 200, "get: {}", got.json);
        got.json
    }

    pub async fn status(&self, id: &str) -> String {
        self.payout(id).await["status"].as_str().unwrap().to_owned()
    }

    /// The intent as stored (with the watcher's bookkeeping).
    pub async fn stored(&self, id: &str) -> PayoutIntent {
        let key = records::payout_key(&PayoutId::parse(id).unwrap());
        let item = self.h.app.store.get(&[key]).await.unwrap().pop().flatten().unwrap_or_else(|| panic!("{id} not stored"));
        records::decode(&item).unwrap()
    }

    // -- the watcher ---------------------------------------------------------------------------

    pub async fn sweep(&self) -> WatchReport {
        self.watcher.sweep().await.unwrap_or_else(|e| panic!("sweep: {e}"))
    }

    pub async fn check(&self, ids: &[&str]) -> WatchReport {
        let ids: Vec<PayoutId> = ids.iter().map(|id| PayoutId::parse(id).unwrap()).collect();
        self.watcher.check_payouts(&ids).await.unwrap_or_else(|e| panic!("check_payouts: {e}"))
    }

    // -- the store, read back ------------------------------------------------------------------

    /// Every sandbox settlement of the rig's organization, oldest first.
    pub async fn settlements(&self) -> Vec<Settlement> {
        self.h.records(IndexName::Gsi1, records::settlements_of(&self.h.tenant.org, Environment::Sandbox)).await
    }

    /// The settlements linked to one intent (through its own index), oldest first.
    pub async fn settlements_of(&self, id: &str) -> Vec<Settlement> {
        self.h.records(IndexName::Gsi2, records::settlements_of_payout(&self.h.tenant.org, Environment::Sandbox, &PayoutId::parse(id).unwrap())).await
    }

    /// The event records about one intent, oldest first.
    pub async fn events_of(&self, id: &str) -> Vec<Event> {
        self.h.events_of(Environment::Sandbox, id).await
    }

    pub async fn event_types(&self, id: &str) -> Vec<String> {
        self.events_of(id).await.iter().map(|e| e.event_type.as_str().to_owned()).collect()
    }

    /// Event records not yet marked published (the gsi3 `OUTBOX` partition).
    pub async fn outbox(&self) -> Vec<Event> {
        self.h.outbox().await
    }
}

/// An atomic amount as the JSON number a customer would send (`25.5` → `25.500000`).
pub fn amount_text(atomic: u128) -> String {
    format!("{}.{:06}", atomic / 1_000_000, atomic % 1_000_000)
}

/// An event's `data` as JSON.
pub fn event_data(event: &Event) -> Value {
    serde_json::from_str(event.data.get()).unwrap()
}

/// A Lambda event fixture of `tests/fixtures/lambda/`, as text.
pub fn lambda_fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("lambda").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// An SQS event (the shape Lambda delivers, from the fixture's first record) holding one record
/// per `(message_id, body)`.
pub fn sqs_event(messages: &[(&str, String)]) -> Value {
    let fixture: Value = serde_json::from_str(&lambda_fixture("sqs-tx-queue.json")).unwrap();
    let template = fixture["Records"][0].clone();
    let records: Vec<Value> = messages
        .iter()
        .map(|(message_id, body)| {
            let mut record = template.clone();
            record["messageId"] = json!(message_id);
            record["body"] = json!(body);
            record
        })
        .collect();
    json!({ "Records": records })
}

/// The `TxMessage` body execute sends for an intent.
pub fn tx_message(payout_id: &str, chain: Chain, tx_hash: &str) -> String {
    json!({ "payout_id": payout_id, "chain": chain.as_str(), "tx_hash": tx_hash }).to_string()
}
