//! JSON-RPC adapter of the chain port, for every supported chain (tron's `/jsonrpc` endpoint
//! speaks the same dialect as the EVM L2s, with a few quirks handled here).
//!
//! One [`ChainReader::snapshot`] is one JSON-RPC batch per `max_batch` calls: one
//! `eth_getTransactionReceipt` per hash, then `eth_blockNumber` and (when asked for)
//! `eth_getBlockByNumber("finalized", false)`. The head calls go last, in the last chunk, so the
//! head is never read before a receipt it is compared with.
//!
//! Everything is read as raw JSON and checked field by field rather than through alloy's typed
//! `Block`/`TransactionReceipt`: tron blocks carry `"stateRoot":"0x"` (the typed block refuses
//! it), L2 receipts carry chain-specific types and fields, and all this adapter needs is a few
//! fields of each answer. Any trouble — transport, HTTP status, JSON-RPC error entry, missing
//! batch entry, malformed answer — is a [`ChainError`], never "receipt not found": only a JSON
//! `null` receipt is `None`.
//!
//! The provider's headers (e.g. `TRON-PRO-API-KEY`) and the endpoint URL (which may embed a key
//! in its path) never appear in errors or logs.

use crate::config::{ChainRegistry, ChainSettings};
use crate::domain::address::TxHash;
use crate::domain::chain::{Chain, Environment};
use crate::domain::wallet::EIP1271_MAGIC_VALUE;
use crate::metrics::{self, Metric};
use crate::ports::chain::{
    BlockHeader, ChainError, ChainReader, ChainSnapshot, ContractWallets, LoggedTransfer, LogsError, TransferLog, TransferQuery, TxReceipt,
};
use alloy::rpc::client::{ClientBuilder, RpcClient};
use alloy::transports::{RpcError, TransportError, TransportErrorKind};
use async_trait::async_trait;
use rand::Rng;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Tron's JSON-RPC refuses batches of more than 100 calls.
pub const TRON_MAX_BATCH: usize = 100;

/// Longest `Retry-After` honoured: beyond it the snapshot fails at once (the watcher looks again
/// later) rather than holding the caller.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(5);

/// Longest pause between two attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Longest piece of a provider's answer quoted in an error.
const MAX_QUOTED: usize = 300;

/// `keccak256("Transfer(address,address,uint256)")`, topic0 of every ERC-20 (and TRC-20) transfer.
pub fn transfer_topic() -> [u8; 32] {
    alloy::primitives::keccak256(b"Transfer(address,address,uint256)").0
}

/// How the adapter talks to the provider.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcOptions {
    /// Whole-request timeout (connect + send + answer), per attempt.
    pub request_timeout: Duration,
    /// Calls per HTTP request (tron accepts at most [`TRON_MAX_BATCH`]).
    pub max_batch: usize,
    /// Further attempts of a failed batch request before giving up.
    pub retries: u32,
    /// First pause between attempts; doubled at each retry, with jitter.
    pub retry_base_delay: Duration,
}

impl Default for RpcOptions {
    fn default() -> Self {
        RpcOptions { request_timeout: Duration::from_secs(10), max_batch: 50, retries: 2, retry_base_delay: Duration::from_millis(200) }
    }
}

/// The chain port over a provider's JSON-RPC endpoint (alloy's RPC client, HTTP batches).
pub struct RpcChainReader {
    chain: Chain,
    /// The metrics' `Environment` dimension.
    environment: Environment,
    client: LazyRpcClient,
    options: RpcOptions,
    /// `scheme://host:port` of the endpoint: what errors may name.
    endpoint: String,
    /// Texts that must never appear in an error (the URL with its path, the header values).
    secrets: Vec<String>,
}

/// A reader's JSON-RPC client, built on its first request: building the HTTP client loads the
/// system's root certificates (milliseconds each time), the watcher holds a reader per chain and
/// environment, and a sweep or a scan asks only the chains it has work on. The URL and headers
/// are checked when the reader is made, so a configuration fault still fails at start.
struct LazyRpcClient {
    url: reqwest::Url,
    headers: reqwest::header::HeaderMap,
    timeout: Duration,
    built: OnceLock<Result<RpcClient, String>>,
}

impl LazyRpcClient {
    fn get(&self) -> Result<&RpcClient, String> {
        self.built
            .get_or_init(|| {
                let http = reqwest::Client::builder()
                    .timeout(self.timeout)
                    .connect_timeout(self.timeout)
                    .default_headers(self.headers.clone())
                    .redirect(reqwest::redirect::Policy::none())
                    // The endpoint is dialled directly: no proxy from the environment sees the API key.
                    .no_proxy()
                    .build()
                    .map_err(|e| e.to_string())?;
                Ok(ClientBuilder::default().http_with_client(http, self.url.clone()))
            })
            .as_ref()
            .map_err(Clone::clone)
    }
}

impl std::fmt::Debug for RpcChainReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RpcChainReader").field("chain", &self.chain).field("endpoint", &self.endpoint).field("options", &self.options).finish_non_exhaustive()
    }
}

/// One call of a snapshot and what its answer is for.
#[derive(Clone, Copy, Debug)]
enum Purpose {
    Receipt(usize),
    Head,
    Finalized,
    Block(usize),
    /// EIP-1271 `isValidSignature` through `eth_call`: a JSON-RPC error (a revert) is "no".
    Eip1271,
    /// `eth_getLogs` of token transfers.
    Logs,
}

struct PlannedCall {
    purpose: Purpose,
    method: &'static str,
    params: Value,
}

enum Answer {
    Receipt(usize, Option<TxReceipt>),
    Head(u64),
    Finalized(Option<u64>),
    Block(usize, Option<BlockHeader>),
    Eip1271(bool),
    Logs(Vec<LoggedTransfer>),
}

/// A failed attempt: what to say, and the pause the server asked for (HTTP `Retry-After`).
struct AttemptError {
    message: String,
    retry_after: Option<Duration>,
    /// The provider refused the work as too large (a smaller `eth_getLogs` range may pass).
    too_large: bool,
}

impl AttemptError {
    fn new(message: impl Into<String>) -> AttemptError {
        AttemptError { message: message.into(), retry_after: None, too_large: false }
    }
}

/// A chunk that failed for good: why, and whether it was refused as too large.
struct ChunkError {
    error: ChainError,
    too_large: bool,
}

impl RpcChainReader {
    pub fn new(settings: &ChainSettings, options: RpcOptions) -> Result<RpcChainReader, ChainError> {
        let chain = settings.chain;
        if options.max_batch == 0 {
            return Err(ChainError(format!("{chain}: max_batch must be at least 1")));
        }
        if chain == Chain::Tron && options.max_batch > TRON_MAX_BATCH {
            return Err(ChainError(format!("{chain}: max_batch {} exceeds tron's batch limit of {TRON_MAX_BATCH}", options.max_batch)));
        }
        if options.request_timeout.is_zero() {
            return Err(ChainError(format!("{chain}: request_timeout must not be zero")));
        }
        let url: reqwest::Url = settings.rpc_url.trim().parse().map_err(|_| ChainError(format!("{chain}: the RPC URL is not a valid URL")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ChainError(format!("{chain}: the RPC URL must be http or https")));
        }
        let endpoint = match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
            (Some(host), None) => format!("{}://{host}", url.scheme()),
            (None, _) => return Err(ChainError(format!("{chain}: the RPC URL has no host"))),
        };

        let mut secrets = vec![url.as_str().to_owned(), settings.rpc_url.trim().to_owned()];
        if !matches!(url.path(), "" | "/") {
            secrets.push(url.path().to_owned());
        }
        if let Some(query) = url.query() {
            secrets.push(query.to_owned());
        }
        let mut headers = reqwest::header::HeaderMap::new();
        for (name, value) in &settings.rpc_headers {
            let name = reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| ChainError(format!("{chain}: invalid RPC header name {:?}", name.trim())))?;
            let mut header_value =
                reqwest::header::HeaderValue::from_str(value.trim()).map_err(|_| ChainError(format!("{chain}: invalid value for RPC header {name}")))?;
            header_value.set_sensitive(true);
            headers.insert(name, header_value);
            // Too short a value would blank out unrelated text; such a value is no secret anyway.
            if value.trim().len() >= 4 {
                secrets.push(value.trim().to_owned());
            }
        }
        // Longest first, so that a secret containing another one is scrubbed whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();

        let client = LazyRpcClient { url, headers, timeout: options.request_timeout, built: OnceLock::new() };
        Ok(RpcChainReader { chain, environment: settings.environment, client, options, endpoint, secrets })
    }

    pub fn chain(&self) -> Chain {
        self.chain
    }

    pub fn options(&self) -> &RpcOptions {
        &self.options
    }

    /// The calls of one snapshot, receipts first and the head last.
    fn plan(tx_hashes: &[TxHash], with_finalized: bool) -> Vec<PlannedCall> {
        let mut calls = Vec::with_capacity(tx_hashes.len() + 2);
        for (index, hash) in tx_hashes.iter().enumerate() {
            // Tron accepts hashes with or without 0x; every chain gets the 0x form.
            let param = format!("0x{}", hash.bare_hex().to_ascii_lowercase());
            calls.push(PlannedCall { purpose: Purpose::Receipt(index), method: "eth_getTransactionReceipt", params: Value::Array(vec![Value::String(param)]) });
        }
        // An explicit empty array: alloy omits `params` altogether for `()`, which some servers refuse.
        calls.push(PlannedCall { purpose: Purpose::Head, method: "eth_blockNumber", params: Value::Array(Vec::new()) });
        if with_finalized {
            calls.push(PlannedCall {
                purpose: Purpose::Finalized,
                method: "eth_getBlockByNumber",
                params: Value::Array(vec![Value::String("finalized".to_owned()), Value::Bool(false)]),
            });
        }
        calls
    }

    /// One chunk, retried with exponential backoff and jitter.
    async fn run_chunk(&self, chunk: &[PlannedCall], tx_hashes: &[TxHash]) -> Result<Vec<Answer>, ChainError> {
        self.run_chunk_classified(chunk, tx_hashes, false).await.map_err(|failed| failed.error)
    }

    /// [`Self::run_chunk`]; with `sized`, a refusal as too large is not retried at the same size
    /// but returned as such (the caller asks for less).
    async fn run_chunk_classified(&self, chunk: &[PlannedCall], tx_hashes: &[TxHash], sized: bool) -> Result<Vec<Answer>, ChunkError> {
        let mut attempt: u32 = 0;
        loop {
            let error = match self.attempt(chunk, tx_hashes).await {
                Ok(answers) => return Ok(answers),
                Err(error) => error,
            };
            let message = self.scrub(&error.message);
            if sized && error.too_large {
                return Err(ChunkError { error: ChainError(format!("{} ({}): {message}", self.chain, self.endpoint)), too_large: true });
            }
            let give_up = |error: ChainError| ChunkError { error, too_large: false };
            if attempt >= self.options.retries {
                return Err(give_up(ChainError(format!(
                    "{} ({}): {message} (after {} attempt{})",
                    self.chain,
                    self.endpoint,
                    attempt + 1,
                    if attempt == 0 { "" } else { "s" }
                ))));
            }
            let mut pause = self.backoff(attempt);
            if let Some(asked) = error.retry_after {
                if asked > MAX_RETRY_AFTER {
                    return Err(give_up(ChainError(format!(
                        "{} ({}): {message} (the provider asks to wait {} s)",
                        self.chain,
                        self.endpoint,
                        asked.as_secs()
                    ))));
                }
                pause = pause.max(asked);
            }
            tracing::warn!(chain = %self.chain, endpoint = %self.endpoint, attempt = attempt + 1, pause_ms = pause.as_millis() as u64, error = %message, "chain RPC batch failed; retrying");
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    /// `base · 2^attempt`, capped, then a random point in its upper half.
    fn backoff(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.min(16));
        let full = self.options.retry_base_delay.saturating_mul(factor).min(MAX_BACKOFF);
        let half = full / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        let jitter = if jitter_ms == 0 { Duration::ZERO } else { Duration::from_millis(rand::rng().random_range(0..=jitter_ms)) };
        half + jitter
    }

    /// One HTTP request carrying the chunk's calls, and its answers checked; counted in the
    /// `RpcRequests`/`RpcErrors` metrics. A refusal of an `eth_getLogs` range as too large is
    /// the provider's normal answer (the scanner halves the range), not an error.
    async fn attempt(&self, chunk: &[PlannedCall], tx_hashes: &[TxHash]) -> Result<Vec<Answer>, AttemptError> {
        let result = self.attempt_unmetered(chunk, tx_hashes).await;
        let dimensions = [("Environment", self.environment.as_str()), ("Chain", self.chain.as_str())];
        metrics::count(Metric::RpcRequests, &dimensions, 1);
        metrics::count(Metric::RpcErrors, &dimensions, u64::from(result.as_ref().is_err_and(|e| !e.too_large)));
        result
    }

    async fn attempt_unmetered(&self, chunk: &[PlannedCall], tx_hashes: &[TxHash]) -> Result<Vec<Answer>, AttemptError> {
        let client = self.client.get().map_err(|e| AttemptError::new(format!("cannot build the HTTP client: {e}")))?;
        let mut batch = client.new_batch();
        let mut waiters = Vec::with_capacity(chunk.len());
        for call in chunk {
            let waiter =
                batch.add_call::<Value, Value>(call.method, &call.params).map_err(|e| AttemptError::new(format!("cannot encode {}: {e}", call.method)))?;
            waiters.push(waiter);
        }
        // The batch must be sent (and its answer dispatched) before any waiter resolves.
        batch.send().await.map_err(|e| transport_error(&e))?;

        let mut answers = Vec::with_capacity(chunk.len());
        for (call, waiter) in chunk.iter().zip(waiters) {
            let value = match (call.purpose, waiter.await) {
                // The wallet answered, by reverting: not a valid signature (or not a contract).
                (Purpose::Eip1271, Err(RpcError::ErrorResp(_))) => {
                    answers.push(Answer::Eip1271(false));
                    continue;
                }
                (_, result) => result.map_err(|e| {
                    let mut error = transport_error(&e);
                    error.message = format!("{}: {}", call.method, error.message);
                    error
                })?,
            };
            let answer = match call.purpose {
                Purpose::Head => Answer::Head(parse_quantity(&value).map_err(|e| AttemptError::new(format!("eth_blockNumber: {e}")))?),
                Purpose::Finalized => Answer::Finalized(parse_block_number(&value).map_err(|e| AttemptError::new(format!("finalized block: {e}")))?),
                Purpose::Block(index) => Answer::Block(index, parse_block_header(&value).map_err(|e| AttemptError::new(format!("block: {e}")))?),
                Purpose::Eip1271 => {
                    let text = value.as_str().ok_or_else(|| AttemptError::new("eth_call: expected hex data"))?;
                    let data = parse_hex(text).map_err(|e| AttemptError::new(format!("eth_call: {e}")))?;
                    // `bytes4` is ABI-encoded left-aligned in one word.
                    Answer::Eip1271(data.len() == 32 && data[..4] == EIP1271_MAGIC_VALUE && data[4..].iter().all(|b| *b == 0))
                }
                Purpose::Logs => Answer::Logs(parse_logs(self.chain, &value).map_err(|e| AttemptError::new(format!("eth_getLogs: {e}")))?),
                Purpose::Receipt(index) => {
                    let hash = tx_hashes.get(index).ok_or_else(|| AttemptError::new("internal: receipt index out of range"))?;
                    let receipt = parse_receipt(self.chain, hash, &value).map_err(|e| AttemptError::new(format!("receipt of {}: {e}", hash.as_str())))?;
                    Answer::Receipt(index, receipt)
                }
            };
            answers.push(answer);
        }
        Ok(answers)
    }

    /// Removes the URL (path and query may hold a key) and header values from a message, and
    /// keeps it short.
    fn scrub(&self, message: &str) -> String {
        let mut text = message.to_owned();
        for secret in &self.secrets {
            if !secret.is_empty() {
                text = text.replace(secret.as_str(), "<redacted>");
            }
        }
        truncate(&text, MAX_QUOTED * 2)
    }
}

#[async_trait]
impl ChainReader for RpcChainReader {
    async fn snapshot(&self, tx_hashes: &[TxHash], with_finalized: bool) -> Result<ChainSnapshot, ChainError> {
        let calls = Self::plan(tx_hashes, with_finalized);
        let mut receipts: Vec<Option<Option<TxReceipt>>> = vec![None; tx_hashes.len()];
        let mut head = None;
        let mut finalized = None;
        // Chunks go one after the other, in order: the head (last chunk) is read after every receipt.
        for chunk in calls.chunks(self.options.max_batch) {
            for answer in self.run_chunk(chunk, tx_hashes).await? {
                match answer {
                    Answer::Receipt(index, receipt) => {
                        if let Some(slot) = receipts.get_mut(index) {
                            *slot = Some(receipt);
                        }
                    }
                    Answer::Head(number) => head = Some(number),
                    Answer::Finalized(number) => finalized = Some(number),
                    Answer::Block(..) | Answer::Eip1271(_) | Answer::Logs(_) => {}
                }
            }
        }
        let head = head.ok_or_else(|| ChainError(format!("{}: no eth_blockNumber answer", self.chain)))?;
        let finalized = if with_finalized { finalized.ok_or_else(|| ChainError(format!("{}: no finalized block answer", self.chain)))? } else { None };
        let receipts = receipts
            .into_iter()
            .enumerate()
            .map(|(index, receipt)| receipt.ok_or_else(|| ChainError(format!("{}: no answer for receipt #{index}", self.chain))))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ChainSnapshot { head, finalized, receipts })
    }

    async fn blocks(&self, numbers: &[u64]) -> Result<Vec<Option<BlockHeader>>, ChainError> {
        let calls: Vec<PlannedCall> = numbers
            .iter()
            .enumerate()
            .map(|(index, number)| PlannedCall {
                purpose: Purpose::Block(index),
                method: "eth_getBlockByNumber",
                params: Value::Array(vec![Value::String(format!("0x{number:x}")), Value::Bool(false)]),
            })
            .collect();
        let mut blocks: Vec<Option<Option<BlockHeader>>> = vec![None; numbers.len()];
        for chunk in calls.chunks(self.options.max_batch) {
            for answer in self.run_chunk(chunk, &[]).await? {
                if let Answer::Block(index, block) = answer
                    && let Some(slot) = blocks.get_mut(index)
                {
                    *slot = Some(block);
                }
            }
        }
        blocks.into_iter().enumerate().map(|(index, block)| block.ok_or_else(|| ChainError(format!("{}: no answer for block #{index}", self.chain)))).collect()
    }

    async fn transfers(&self, query: &TransferQuery) -> Result<Vec<LoggedTransfer>, LogsError> {
        let word = |account: &[u8; 20]| format!("0x{}{}", "00".repeat(12), hex::encode(account));
        let filter = serde_json::json!({
            "fromBlock": format!("0x{:x}", query.from_block),
            "toBlock": format!("0x{:x}", query.to_block),
            "address": query.token_contracts.iter().map(|contract| format!("0x{}", hex::encode(contract))).collect::<Vec<_>>(),
            // topic0 the Transfer signature, topic1 (`from`) any of the senders.
            "topics": [format!("0x{}", hex::encode(transfer_topic())), query.senders.iter().map(word).collect::<Vec<_>>()],
        });
        let planned = [PlannedCall { purpose: Purpose::Logs, method: "eth_getLogs", params: Value::Array(vec![filter]) }];
        let answers = self
            .run_chunk_classified(&planned, &[], true)
            .await
            .map_err(|failed| if failed.too_large { LogsError::RangeRefused(failed.error.0) } else { LogsError::Unavailable(failed.error) })?;
        for answer in answers {
            if let Answer::Logs(logs) = answer {
                return Ok(logs);
            }
        }
        Err(LogsError::Unavailable(ChainError(format!("{}: no answer to eth_getLogs", self.chain))))
    }
}

impl RpcChainReader {
    /// `isValidSignature(hash, signature)` of the contract at `wallet` (EIP-1271), at the latest block.
    pub async fn accepts_signature(&self, wallet: [u8; 20], hash: [u8; 32], signature: &[u8]) -> Result<bool, ChainError> {
        let mut data = Vec::with_capacity(4 + 32 * 4 + signature.len());
        data.extend_from_slice(&EIP1271_MAGIC_VALUE);
        data.extend_from_slice(&hash);
        data.extend_from_slice(&abi_word(0x40));
        data.extend_from_slice(&abi_word(signature.len() as u64));
        data.extend_from_slice(signature);
        // The bytes are padded to a whole number of words.
        data.resize(4 + 3 * 32 + signature.len().div_ceil(32) * 32, 0);
        let call = serde_json::json!({ "to": format!("0x{}", hex::encode(wallet)), "data": format!("0x{}", hex::encode(&data)) });
        let planned = [PlannedCall { purpose: Purpose::Eip1271, method: "eth_call", params: Value::Array(vec![call, Value::String("latest".into())]) }];
        for answer in self.run_chunk(&planned, &[]).await? {
            if let Answer::Eip1271(valid) = answer {
                return Ok(valid);
            }
        }
        Err(ChainError(format!("{}: no answer to eth_call", self.chain)))
    }
}

fn abi_word(value: u64) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[24..].copy_from_slice(&value.to_be_bytes());
    word
}

/// EIP-1271 checks over each (environment, chain)'s JSON-RPC endpoint. Clients are made on first
/// use, so API functions that never verify a contract wallet never build one.
pub struct RpcContractWallets {
    chains: Arc<ChainRegistry>,
    options: RpcOptions,
    readers: Mutex<HashMap<(Environment, Chain), Arc<RpcChainReader>>>,
}

impl RpcContractWallets {
    pub fn new(chains: Arc<ChainRegistry>, options: RpcOptions) -> RpcContractWallets {
        RpcContractWallets { chains, options, readers: Mutex::new(HashMap::new()) }
    }

    fn reader(&self, environment: Environment, chain: Chain) -> Result<Arc<RpcChainReader>, ChainError> {
        let mut readers = self.readers.lock().map_err(|_| ChainError("reader cache poisoned".into()))?;
        if let Some(reader) = readers.get(&(environment, chain)) {
            return Ok(reader.clone());
        }
        let settings = self.chains.get(environment, chain).ok_or_else(|| ChainError(format!("{environment} {chain} is not configured")))?;
        let reader = Arc::new(RpcChainReader::new(settings, self.options.clone())?);
        readers.insert((environment, chain), reader.clone());
        Ok(reader)
    }
}

#[async_trait]
impl ContractWallets for RpcContractWallets {
    async fn accepts_signature(&self, environment: Environment, chain: Chain, wallet: [u8; 20], hash: [u8; 32], signature: &[u8]) -> Result<bool, ChainError> {
        let reader = self.reader(environment, chain)?;
        reader.accepts_signature(wallet, hash, signature).await
    }
}

/// A block's hash and timestamp, read as raw JSON (`null`: not known yet). Timestamps are
/// seconds on every supported chain; a value only milliseconds can reach is read as such.
fn parse_block_header(value: &Value) -> Result<Option<BlockHeader>, String> {
    let block = match value {
        Value::Null => return Ok(None),
        Value::Object(block) => block,
        other => return Err(format!("expected a block object, got {}", truncate(&other.to_string(), 80))),
    };
    let hash: [u8; 32] = parse_fixed(block.get("hash"), "hash")?;
    let raw = parse_quantity(block.get("timestamp").unwrap_or(&Value::Null)).map_err(|e| format!("timestamp: {e}"))?;
    let timestamp = if raw > 100_000_000_000 { raw / 1000 } else { raw };
    Ok(Some(BlockHeader { hash: format!("0x{}", hex::encode(hash)), timestamp }))
}

fn transport_error(error: &TransportError) -> AttemptError {
    let retry_after = match error {
        RpcError::Transport(TransportErrorKind::HttpErrorWithRetryAfter { retry_after, .. }) => Some(*retry_after),
        _ => None,
    };
    let message = match error {
        RpcError::Transport(TransportErrorKind::HttpError(http)) | RpcError::Transport(TransportErrorKind::HttpErrorWithRetryAfter { error: http, .. }) => {
            if (300..400).contains(&http.status) {
                format!("HTTP {} (redirects are not followed)", http.status)
            } else {
                format!("HTTP {}: {}", http.status, truncate(&http.body, MAX_QUOTED))
            }
        }
        RpcError::ErrorResp(payload) => format!("JSON-RPC error {}: {}", payload.code, truncate(&payload.message, MAX_QUOTED)),
        RpcError::DeserError { err, text } => format!("malformed answer ({err}): {}", truncate(text, MAX_QUOTED)),
        RpcError::Transport(TransportErrorKind::Custom(inner)) => {
            // reqwest's own error chain says "timed out", "connection refused", … one level down.
            let mut text = inner.to_string();
            let mut source = std::error::Error::source(inner.as_ref());
            while let Some(cause) = source {
                text.push_str(": ");
                text.push_str(&cause.to_string());
                source = cause.source();
            }
            text
        }
        other => other.to_string(),
    };
    let too_large = match error {
        RpcError::ErrorResp(payload) => refuses_as_too_large(payload.code, &payload.message),
        RpcError::Transport(TransportErrorKind::HttpError(http)) => http.status == 413 || (http.status == 400 && refuses_as_too_large(0, &http.body)),
        // A range too heavy for the provider often ends in a timeout rather than an answer.
        RpcError::Transport(TransportErrorKind::Custom(_)) => message.contains("timed out") || message.contains("operation timed out"),
        _ => false,
    };
    AttemptError { message, retry_after, too_large }
}

/// How providers say "ask for less": Infura's -32005 "query returned more than 10000 results",
/// Alchemy's "Log response size exceeded", QuickNode's "eth_getLogs is limited to a 10,000
/// range", tron's "exceed max block range", geth's "query timeout exceeded".
fn refuses_as_too_large(code: i64, message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    code == -32005 || ["range", "too many", "more than", "limit", "exceed", "too large", "size", "timeout"].iter().any(|needle| message.contains(needle))
}

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

/// A JSON-RPC QUANTITY (`"0x1b4"`) as u64.
fn parse_quantity(value: &Value) -> Result<u64, String> {
    let text = value.as_str().ok_or_else(|| format!("expected a hex quantity, got {}", truncate(&value.to_string(), 80)))?;
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).ok_or_else(|| format!("expected a 0x-prefixed quantity, got {text:?}"))?;
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("invalid quantity {:?}", truncate(text, 80)));
    }
    u64::from_str_radix(digits, 16).map_err(|_| format!("invalid quantity {text:?}"))
}

/// The number of a block read as raw JSON (`null`: the node knows no such block yet).
fn parse_block_number(value: &Value) -> Result<Option<u64>, String> {
    match value {
        Value::Null => Ok(None),
        Value::Object(block) => parse_quantity(block.get("number").unwrap_or(&Value::Null)).map(Some).map_err(|e| format!("number: {e}")),
        other => Err(format!("expected a block object, got {}", truncate(&other.to_string(), 80))),
    }
}

/// Hex bytes of an exact length, with or without `0x` (tron omits it in places), any case.
fn parse_fixed<const N: usize>(value: Option<&Value>, field: &str) -> Result<[u8; N], String> {
    let text = value.and_then(Value::as_str).ok_or_else(|| format!("{field}: missing or not a string"))?;
    let bytes = parse_hex(text).map_err(|e| format!("{field}: {e}"))?;
    bytes.try_into().map_err(|bytes: Vec<u8>| format!("{field}: expected {N} bytes, got {}", bytes.len()))
}

fn parse_hex(text: &str) -> Result<Vec<u8>, String> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
    hex::decode(digits).map_err(|_| format!("invalid hex {:?}", truncate(text, 80)))
}

/// A log's emitting contract: 20 bytes (tron: also accepted with its 0x41 prefix).
fn parse_log_address(chain: Chain, value: Option<&Value>) -> Result<[u8; 20], String> {
    let text = value.and_then(Value::as_str).ok_or_else(|| "address: missing or not a string".to_owned())?;
    let bytes = parse_hex(text).map_err(|e| format!("address: {e}"))?;
    match bytes.len() {
        20 => bytes.try_into().map_err(|_| "address: expected 20 bytes".to_owned()),
        21 if chain == Chain::Tron && bytes.first() == Some(&0x41) => {
            bytes.get(1..).and_then(|b| b.try_into().ok()).ok_or_else(|| "address: expected 20 bytes".to_owned())
        }
        n => Err(format!("address: expected 20 bytes, got {n}")),
    }
}

/// A receipt read as raw JSON: `null` is "not found"; anything else must have every field
/// verification needs, and be the receipt of `hash`.
fn parse_receipt(chain: Chain, hash: &TxHash, value: &Value) -> Result<Option<TxReceipt>, String> {
    let receipt = match value {
        Value::Null => return Ok(None),
        Value::Object(receipt) => receipt,
        other => return Err(format!("expected a receipt object or null, got {}", truncate(&other.to_string(), 80))),
    };
    let answered: [u8; 32] = parse_fixed(receipt.get("transactionHash"), "transactionHash")?;
    if !hex::encode(answered).eq_ignore_ascii_case(hash.bare_hex()) {
        return Err(format!("the node answered the receipt of another transaction (0x{})", hex::encode(answered)));
    }
    let succeeded = match parse_quantity(receipt.get("status").unwrap_or(&Value::Null)).map_err(|e| format!("status: {e}"))? {
        1 => true,
        0 => false,
        other => return Err(format!("status: unexpected value {other}")),
    };
    let block_number = parse_quantity(receipt.get("blockNumber").unwrap_or(&Value::Null)).map_err(|e| format!("blockNumber: {e}"))?;
    let block_hash: [u8; 32] = parse_fixed(receipt.get("blockHash"), "blockHash")?;
    let logs = receipt.get("logs").and_then(Value::as_array).ok_or_else(|| "logs: missing or not an array".to_owned())?;

    let mut transfers = Vec::new();
    for (position, log) in logs.iter().enumerate() {
        let log = log.as_object().ok_or_else(|| format!("logs[{position}]: not an object"))?;
        transfers.extend(parse_transfer_log(chain, position, log)?);
    }
    Ok(Some(TxReceipt { succeeded, block_number, block_hash: format!("0x{}", hex::encode(block_hash)), block_timestamp: None, transfers }))
}

/// One log: an ERC-20 `Transfer`, or `None` for any other event.
fn parse_transfer_log(chain: Chain, position: usize, log: &serde_json::Map<String, Value>) -> Result<Option<TransferLog>, String> {
    let address = parse_log_address(chain, log.get("address")).map_err(|e| format!("logs[{position}].{e}"))?;
    let topics = log.get("topics").and_then(Value::as_array).ok_or_else(|| format!("logs[{position}].topics: missing or not an array"))?;
    let topics = topics.iter().enumerate().map(|(i, t)| parse_fixed::<32>(Some(t), &format!("logs[{position}].topics[{i}]"))).collect::<Result<Vec<_>, _>>()?;
    let data = parse_hex(log.get("data").and_then(Value::as_str).ok_or_else(|| format!("logs[{position}].data: missing or not a string"))?)
        .map_err(|e| format!("logs[{position}].data: {e}"))?;
    let log_index = parse_quantity(log.get("logIndex").unwrap_or(&Value::Null)).map_err(|e| format!("logs[{position}].logIndex: {e}"))?;

    // ERC-20 shape only: topic0, from, to indexed; the value as the one data word. ERC-721
    // transfers (4 topics, no data) and anything else are not token transfers.
    let [topic0, from_word, to_word] = topics.as_slice() else { return Ok(None) };
    if *topic0 != transfer_topic() || data.len() != 32 {
        return Ok(None);
    }
    // An address topic is 12 zero bytes and the address: anything else in them is not an
    // ERC-20 transfer of the address in the low bytes (a contract may emit such a log on purpose).
    let (Some(from), Some(to)) = (word_address(from_word), word_address(to_word)) else { return Ok(None) };
    Ok(Some(TransferLog { log_index, token_contract: address, from, to, amount: word_amount(&data) }))
}

/// An `eth_getLogs` answer: every ERC-20 transfer log, with its transaction and block.
fn parse_logs(chain: Chain, value: &Value) -> Result<Vec<LoggedTransfer>, String> {
    let logs = value.as_array().ok_or_else(|| format!("expected an array of logs, got {}", truncate(&value.to_string(), 80)))?;
    let mut transfers = Vec::with_capacity(logs.len());
    for (position, log) in logs.iter().enumerate() {
        let log = log.as_object().ok_or_else(|| format!("logs[{position}]: not an object"))?;
        let Some(transfer) = parse_transfer_log(chain, position, log)? else { continue };
        let tx: [u8; 32] = parse_fixed(log.get("transactionHash"), &format!("logs[{position}].transactionHash"))?;
        let tx_hash = TxHash::parse(chain, &format!("0x{}", hex::encode(tx))).map_err(|_| format!("logs[{position}].transactionHash: invalid"))?;
        let block_number = parse_quantity(log.get("blockNumber").unwrap_or(&Value::Null)).map_err(|e| format!("logs[{position}].blockNumber: {e}"))?;
        let block_hash: [u8; 32] = parse_fixed(log.get("blockHash"), &format!("logs[{position}].blockHash"))?;
        let removed = log.get("removed").and_then(Value::as_bool).unwrap_or(false);
        transfers.push(LoggedTransfer { tx_hash, block_number, block_hash: format!("0x{}", hex::encode(block_hash)), transfer, removed });
    }
    Ok(transfers)
}

/// The address in an indexed topic: its last 20 bytes, when the 12 before them are zero.
fn word_address(word: &[u8; 32]) -> Option<[u8; 20]> {
    let (padding, account) = word.split_at(12);
    if padding.iter().any(|b| *b != 0) {
        return None;
    }
    let mut address = [0u8; 20];
    address.copy_from_slice(account);
    Some(address)
}

/// A uint256 data word as u128 (`None` when it does not fit).
fn word_amount(data: &[u8]) -> Option<u128> {
    let (high, low) = data.split_at_checked(16)?;
    if high.iter().any(|b| *b != 0) {
        return None;
    }
    Some(u128::from_be_bytes(low.try_into().ok()?))
}

#[cfg(test)]
mod tests;
