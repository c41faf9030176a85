//! The JSON-RPC chain reader (`RpcChainReader`) against a real anvil, against a fake tron
//! `/jsonrpc` server answering recorded tron answers (`tests/fixtures/tron`), and against fake
//! servers that misbehave. Everything listens on 127.0.0.1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts::adapters::rpc_chain::{RpcChainReader, RpcOptions, transfer_topic};
use payouts::config::ChainSettings;
use payouts::domain::address::{ChainAddress, TxHash, tron_address_from_account};
use payouts::domain::chain::{Chain, Environment};
use payouts::ports::chain::{ChainError, ChainReader, ChainSnapshot, TransferLog};
use payouts_tests::anvil::{Anvil, from_hex};
use payouts_tests::{TRON_RECIPIENT, chains};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// A tiny HTTP/1.1 server on 127.0.0.1 (std threads, one per connection, keep-alive) whose
// answers a test decides request by request; it records every request it reads.

use payouts_tests::raw_http::{RawRequest as Seen, read_request};

#[derive(Clone)]
enum Reply {
    /// Status, extra headers, body (kept alive).
    Http(u16, Vec<(&'static str, String)>, String),
    /// These bytes as they are, then the connection is closed.
    Raw(Vec<u8>),
    /// No answer at all; the connection stays open.
    Hang,
    /// The connection is closed without a byte of answer.
    Close,
}

fn ok_json(body: String) -> Reply {
    Reply::Http(200, Vec::new(), body)
}

type Handler = dyn Fn(usize, &Seen) -> Reply + Send + Sync;

struct FakeServer {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
}

impl FakeServer {
    /// `handler(n, request)`: the answer to the n-th request (0-based, all connections together).
    fn start(handler: impl Fn(usize, &Seen) -> Reply + Send + Sync + 'static) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let handler: Arc<Handler> = Arc::new(handler);
        let (seen2, stop2) = (seen.clone(), stop.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (handler, seen, stop) = (handler.clone(), seen2.clone(), stop2.clone());
                std::thread::spawn(move || serve_connection(stream, &*handler, &seen, &stop));
            }
        });
        FakeServer { addr, seen, stop }
    }

    fn url(&self) -> String {
        format!("http://{}/jsonrpc", self.addr)
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve_connection(stream: TcpStream, handler: &Handler, seen: &Mutex<Vec<Seen>>, stop: &AtomicBool) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let Ok(read_half) = stream.try_clone() else { return };
    let mut reader = BufReader::new(read_half);
    let mut writer = stream;
    while let Some(request) = read_request(&mut reader) {
        let n = {
            let mut seen = seen.lock().unwrap();
            seen.push(request.clone());
            seen.len() - 1
        };
        match handler(n, &request) {
            Reply::Http(status, headers, body) => {
                let mut head = format!("HTTP/1.1 {status} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n", reason(status), body.len());
                for (name, value) in headers {
                    head.push_str(&format!("{name}: {value}\r\n"));
                }
                head.push_str("\r\n");
                if writer.write_all(head.as_bytes()).and_then(|_| writer.write_all(body.as_bytes())).is_err() {
                    return;
                }
            }
            Reply::Raw(bytes) => {
                let _ = writer.write_all(&bytes);
                let _ = writer.flush();
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
            Reply::Hang => {
                let until = Instant::now() + Duration::from_secs(30);
                while !stop.load(Ordering::SeqCst) && Instant::now() < until {
                    std::thread::sleep(Duration::from_millis(20));
                }
                return;
            }
            Reply::Close => {
                let _ = writer.shutdown(std::net::Shutdown::Both);
                return;
            }
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        307 => "Temporary Redirect",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        _ => "Whatever",
    }
}

/// Answers a JSON-RPC request (single or batch) call by call; `None` leaves a call unanswered.
fn answer_calls(body: &Value, answer: impl Fn(&Value) -> Option<Value>) -> String {
    let reply = |call: &Value| {
        answer(call).map(|mut entry| {
            entry["id"] = call["id"].clone();
            entry["jsonrpc"] = json!("2.0");
            entry
        })
    };
    match body {
        Value::Array(calls) => Value::Array(calls.iter().filter_map(reply).collect()).to_string(),
        single => reply(single).unwrap_or(Value::Null).to_string(),
    }
}

// ---------------------------------------------------------------------------------------------
// A counting proxy in front of anvil.

/// One POST to anvil (HTTP/1.1, `connection: close`): the status and the body.
fn forward(to: SocketAddr, body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(to).unwrap();
    let head = format!("POST / HTTP/1.1\r\nhost: {to}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).unwrap();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        let mut decoded = String::new();
        let mut rest = rest;
        loop {
            let (size, after) = rest.split_once("\r\n").unwrap();
            let size = usize::from_str_radix(size.trim(), 16).unwrap();
            if size == 0 {
                break;
            }
            decoded.push_str(&after[..size]);
            rest = &after[size + 2..];
        }
        decoded
    } else {
        rest.to_owned()
    };
    (status, body)
}

fn counting_proxy(anvil: &Anvil) -> FakeServer {
    let target: SocketAddr = anvil.url().trim_start_matches("http://").parse().unwrap();
    FakeServer::start(move |_, request| {
        let (status, body) = forward(target, &request.body);
        Reply::Http(status, Vec::new(), body)
    })
}

// ---------------------------------------------------------------------------------------------
// Readers.

const API_KEY: &str = "tron-pro-api-key-5f1e0c7a";

fn settings(chain: Chain, url: &str, headers: &[(&str, &str)]) -> ChainSettings {
    let mut settings = chains().get(Environment::Sandbox, chain).unwrap().clone();
    settings.rpc_url = url.to_owned();
    settings.rpc_headers = headers.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect();
    settings
}

fn reader_with(chain: Chain, url: &str, options: RpcOptions) -> RpcChainReader {
    RpcChainReader::new(&settings(chain, url, &[("TRON-PRO-API-KEY", API_KEY)]), options).unwrap()
}

fn reader(chain: Chain, url: &str) -> RpcChainReader {
    reader_with(chain, url, RpcOptions::default())
}

/// Short delays and timeouts for the fault tests.
fn fast(retries: u32) -> RpcOptions {
    RpcOptions { request_timeout: Duration::from_millis(300), max_batch: 50, retries, retry_base_delay: Duration::from_millis(10) }
}

fn evm_hash(text: &str) -> TxHash {
    TxHash::parse(Chain::Base, text).unwrap()
}

fn receipt_block(anvil_receipt: &Value) -> (u64, String) {
    (payouts_tests::anvil::quantity(&anvil_receipt["blockNumber"]), anvil_receipt["blockHash"].as_str().unwrap().to_ascii_lowercase())
}

/// A token deployed and 1,000,000.000000 of it minted to account 0.
async fn funded_token(anvil: &Anvil) -> [u8; 20] {
    let token = anvil.deploy_token("Tether USD", "USDT").await;
    anvil.mint(token, anvil.accounts()[0], 1_000_000_000_000).await;
    token
}

// ---------------------------------------------------------------------------------------------
// 1. anvil: a transfer, the head and the finalized block.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anvil_transfer_is_read_with_head_and_finalized() {
    let anvil = Anvil::start().await;
    let token = funded_token(&anvil).await;
    let [sender, _, recipient, ..] = anvil.accounts()[..] else { panic!("accounts") };
    let hash = anvil.transfer(sender, token, recipient, 500_000_000).await;
    let (block, block_hash) = receipt_block(&anvil.receipt(&hash).await);
    let reader = reader(Chain::Base, anvil.url());

    let snapshot = reader.snapshot(&[evm_hash(&hash)], true).await.unwrap();
    let receipt = snapshot.receipts[0].clone().expect("the receipt");
    assert!(receipt.succeeded);
    assert_eq!((receipt.block_number, receipt.block_hash.clone()), (block, block_hash.clone()));
    assert_eq!(receipt.transfers, vec![TransferLog { log_index: 0, token_contract: token, from: sender, to: recipient, amount: Some(500_000_000) }]);
    // Automine: the transfer's block is the head (deploy, mint, transfer = blocks 1, 2, 3).
    assert_eq!(snapshot.head, block);
    assert_eq!(block, 3);
    // anvil --slots-in-an-epoch 1: finalized = head − 2 (and `safe` = head − 1).
    assert_eq!(snapshot.finalized, Some(snapshot.head - 2));

    anvil.mine(5).await;
    let later = reader.snapshot(&[evm_hash(&hash)], true).await.unwrap();
    assert_eq!(later.head, block + 5);
    assert_eq!(later.finalized, Some(block + 3));
    assert_eq!(later.receipts, snapshot.receipts, "the same receipt, deeper");
    // Without asking, no finalized block.
    let without = reader.snapshot(&[evm_hash(&hash)], false).await.unwrap();
    assert_eq!((without.head, without.finalized), (block + 5, None));
    // No hash at all: just the head.
    assert_eq!(reader.snapshot(&[], true).await.unwrap(), ChainSnapshot { head: block + 5, finalized: Some(block + 3), receipts: Vec::new() });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anvil_finalized_is_genesis_until_the_chain_is_two_blocks_long() {
    let anvil = Anvil::start().await;
    let reader = reader(Chain::Arbitrum, anvil.url());
    assert_eq!(reader.snapshot(&[], true).await.unwrap(), ChainSnapshot { head: 0, finalized: Some(0), receipts: Vec::new() });
    anvil.mine(1).await;
    assert_eq!(reader.snapshot(&[], true).await.unwrap().finalized, Some(0));
    anvil.mine(1).await;
    assert_eq!(reader.snapshot(&[], true).await.unwrap().finalized, Some(0));
    anvil.mine(1).await;
    assert_eq!(reader.snapshot(&[], true).await.unwrap(), ChainSnapshot { head: 3, finalized: Some(1), receipts: Vec::new() });
}

// ---------------------------------------------------------------------------------------------
// 2. Unknown hashes, order, batching.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anvil_unknown_hashes_are_none_and_order_is_kept() {
    let anvil = Anvil::start().await;
    let token = funded_token(&anvil).await;
    let accounts = anvil.accounts().to_vec();
    let first = anvil.transfer(accounts[0], token, accounts[1], 1_000_000).await;
    let second = anvil.transfer(accounts[0], token, accounts[2], 2_000_000).await;
    let unknown = format!("0x{}", "5a".repeat(32));
    let reader = reader(Chain::Base, anvil.url());

    let only_unknown = reader.snapshot(&[evm_hash(&unknown)], false).await.unwrap();
    assert_eq!(only_unknown.receipts, vec![None]);

    let snapshot = reader.snapshot(&[evm_hash(&first), evm_hash(&unknown), evm_hash(&second)], false).await.unwrap();
    assert_eq!(snapshot.receipts.len(), 3);
    let (a, b) = (snapshot.receipts[0].clone().unwrap(), snapshot.receipts[2].clone().unwrap());
    assert!(snapshot.receipts[1].is_none());
    assert_eq!((a.transfers[0].to, a.transfers[0].amount), (accounts[1], Some(1_000_000)));
    assert_eq!((b.transfers[0].to, b.transfers[0].amount), (accounts[2], Some(2_000_000)));
    assert_eq!(b.block_number, a.block_number + 1);

    // Reversed order, reversed answers.
    let reversed = reader.snapshot(&[evm_hash(&second), evm_hash(&unknown), evm_hash(&first)], false).await.unwrap();
    assert_eq!(reversed.receipts, snapshot.receipts.iter().rev().cloned().collect::<Vec<_>>());
    // A hash given without 0x or in upper case is the same hash.
    let upper = evm_hash(&first[2..].to_ascii_uppercase());
    assert_eq!(reader.snapshot(&[upper], false).await.unwrap().receipts[0], snapshot.receipts[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anvil_pending_transfer_has_no_receipt_until_mined() {
    let anvil = Anvil::start().await;
    let token = funded_token(&anvil).await;
    let accounts = anvil.accounts().to_vec();
    let reader = reader(Chain::Base, anvil.url());
    anvil.set_automine(false).await;
    let hash = anvil.transfer(accounts[0], token, accounts[1], 1_000_000).await;
    let pending = reader.snapshot(&[evm_hash(&hash)], true).await.unwrap();
    assert_eq!((pending.head, pending.receipts.clone()), (2, vec![None]), "broadcast, not mined: not found yet");
    anvil.mine(1).await;
    let mined = reader.snapshot(&[evm_hash(&hash)], true).await.unwrap();
    assert_eq!(mined.head, 3);
    assert_eq!(mined.receipts[0].as_ref().map(|r| (r.block_number, r.transfers.len())), Some((3, 1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anvil_one_http_request_per_max_batch_calls() {
    let anvil = Anvil::start().await;
    let token = funded_token(&anvil).await;
    let accounts = anvil.accounts().to_vec();
    let mut hashes = Vec::new();
    for (i, to) in accounts[1..4].iter().enumerate() {
        hashes.push(evm_hash(&anvil.transfer(accounts[0], token, *to, 1_000_000 * (i as u128 + 1)).await));
    }
    hashes.insert(1, evm_hash(&format!("0x{}", "01".repeat(32))));
    hashes.push(evm_hash(&format!("0x{}", "02".repeat(32))));
    assert_eq!(hashes.len(), 5);
    let direct = reader(Chain::Base, anvil.url()).snapshot(&hashes, true).await.unwrap();

    let proxy = counting_proxy(&anvil);
    let small = reader_with(Chain::Base, &proxy.url(), RpcOptions { max_batch: 2, ..RpcOptions::default() });
    // 5 receipts + eth_blockNumber = 6 calls: ceil(6 / 2) = 3 requests.
    let snapshot = small.snapshot(&hashes, false).await.unwrap();
    let requests = proxy.requests();
    assert_eq!(requests.len(), 3);
    let (head, receipts) = (snapshot.head, snapshot.receipts.clone());
    assert_eq!((head, receipts), (direct.head, direct.receipts.clone()));
    for request in &requests {
        let calls = request.json();
        assert_eq!(calls.as_array().map(Vec::len), Some(2), "a JSON-RPC batch of max_batch calls: {calls}");
    }
    // The receipts go first and the head last: the head is never read before a receipt.
    let last = requests[2].json();
    assert_eq!(last[0]["method"], "eth_getTransactionReceipt");
    assert_eq!(last[1]["method"], "eth_blockNumber");
    assert_eq!(last[1]["params"], json!([]), "explicit empty params");
    assert_eq!(requests[0].json()[0]["params"], json!([hashes[0].as_str()]));

    // With the finalized block: 7 calls, ceil(7 / 2) = 4 requests.
    let with_finalized = small.snapshot(&hashes, true).await.unwrap();
    assert_eq!(proxy.requests().len(), 3 + 4);
    assert_eq!(with_finalized, direct);
    let last = proxy.requests()[6].json();
    assert_eq!(last, json!([{ "jsonrpc": "2.0", "id": last[0]["id"], "method": "eth_getBlockByNumber", "params": ["finalized", false] }]));

    // The default batch size: the whole snapshot in one request.
    let big = reader_with(Chain::Base, &proxy.url(), RpcOptions::default());
    assert_eq!(big.snapshot(&hashes, true).await.unwrap(), direct);
    assert_eq!(proxy.requests().len(), 3 + 4 + 1);
    assert_eq!(proxy.requests()[7].json().as_array().map(Vec::len), Some(7));
}

// ---------------------------------------------------------------------------------------------
// 3. Reverted transfers, several transfers in one receipt.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anvil_reverted_transfer_and_transfer_many() {
    let anvil = Anvil::start().await;
    let token = funded_token(&anvil).await;
    let accounts = anvil.accounts().to_vec();
    let reader = reader(Chain::Arbitrum, anvil.url());

    // Account 3 holds no token: the transfer reverts (mined, status 0, no logs).
    let reverted = anvil.transfer_with_gas(accounts[3], token, accounts[1], 1_000_000, 200_000).await;
    assert_eq!(anvil.receipt(&reverted).await["status"], "0x0");
    let snapshot = reader.snapshot(&[evm_hash(&reverted)], false).await.unwrap();
    let receipt = snapshot.receipts[0].clone().unwrap();
    assert!(!receipt.succeeded);
    assert!(receipt.transfers.is_empty());
    assert_eq!(receipt.block_number, snapshot.head);

    let payments = [(accounts[1], 1_000_000u128), (accounts[2], 2_500_000), (accounts[1], 3_000_000)];
    let many = anvil.transfer_many(accounts[0], token, &payments).await;
    let receipt = reader.snapshot(&[evm_hash(&many)], false).await.unwrap().receipts[0].clone().unwrap();
    assert!(receipt.succeeded);
    let expected: Vec<TransferLog> = payments
        .iter()
        .enumerate()
        .map(|(i, (to, amount))| TransferLog { log_index: i as u64, token_contract: token, from: accounts[0], to: *to, amount: Some(*amount) })
        .collect();
    assert_eq!(receipt.transfers, expected);
    assert_eq!(anvil.balance_of(token, accounts[1]).await, 4_000_000);
}

// ---------------------------------------------------------------------------------------------
// 4. Reorgs.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anvil_revert_makes_the_receipt_vanish() {
    let anvil = Anvil::start().await;
    let token = funded_token(&anvil).await;
    let accounts = anvil.accounts().to_vec();
    let reader = reader(Chain::Base, anvil.url());

    let before = anvil.snapshot().await;
    let hash = anvil.transfer(accounts[0], token, accounts[1], 7_000_000).await;
    anvil.mine(3).await;
    let seen = reader.snapshot(&[evm_hash(&hash)], true).await.unwrap();
    assert!(seen.receipts[0].is_some());
    assert_eq!(seen.head, 6);

    assert!(anvil.revert(&before).await);
    let after = reader.snapshot(&[evm_hash(&hash)], true).await.unwrap();
    assert_eq!(after.receipts, vec![None], "the tx is in no block the node knows");
    assert_eq!((after.head, after.finalized), (2, Some(0)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anvil_reorg_replaces_the_block_and_drops_the_transfer() {
    let anvil = Anvil::start().await;
    let token = funded_token(&anvil).await;
    let accounts = anvil.accounts().to_vec();
    let reader = reader(Chain::Base, anvil.url());

    let hash = anvil.transfer(accounts[0], token, accounts[1], 7_000_000).await;
    anvil.mine(2).await;
    let before = reader.snapshot(&[evm_hash(&hash)], true).await.unwrap();
    let first = before.receipts[0].clone().unwrap();
    assert_eq!((first.block_number, before.head, before.finalized), (3, 5, Some(3)));

    // A reorg above the transfer's block: the receipt stays, same block, same hash.
    let hash_of_4 = anvil.block_hash(4).await;
    anvil.reorg(2).await;
    assert_ne!(anvil.block_hash(4).await, hash_of_4, "block 4 was replaced");
    let shallow = reader.snapshot(&[evm_hash(&hash)], true).await.unwrap();
    assert_eq!(shallow.head, 5, "anvil_reorg keeps the height");
    assert_eq!(shallow.receipts[0], Some(first.clone()));

    // A reorg reaching the transfer's block (depth 3: blocks 3..=5 replaced by empty blocks):
    // the transfer is in none of the new blocks and its receipt is gone.
    anvil.reorg(3).await;
    assert_ne!(anvil.block_hash(3).await, first.block_hash, "block 3 was replaced");
    let deep = reader.snapshot(&[evm_hash(&hash)], true).await.unwrap();
    assert_eq!(deep.head, 5);
    assert_eq!(deep.receipts, vec![None]);
    assert_eq!(anvil.balance_of(token, accounts[1]).await, 0, "its effect is undone too");
    // Block 3 was `finalized` (head 5 − 2) and anvil still replaced it: anvil's finalized is just
    // head − 2, not a guarantee. Only real chains make finalized blocks final.
    assert!(before.finalized >= Some(first.block_number));
    assert_eq!(deep.finalized, Some(3));
}

// ---------------------------------------------------------------------------------------------
// 5. Tron: recorded answers from a fake `/jsonrpc`.

const TRON_TRANSFER_TX: &str = "5991e579f7bbe63b643139fa32959da04b41595daa0d06899cb22cfbf19d95d4";
const TRON_OUT_OF_ENERGY_TX: &str = "92bb9b9c012b487b3554b5fef4e125f4ef92c917f7f38b7a5b99e9f69ab9314b";
const TRON_TX_BLOCK: u64 = 73_421_829;
const TRON_TX_BLOCK_HASH: &str = "0x0000000004605405c25ee6e476bd426c25714e0a2692a41ebce3ce997350c56d";
const TRON_SENDER: &str = "52f22665a60c12d289185d950ee8813609166f6b";

fn fixture(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures").join("tron").join(format!("{name}.json"));
    serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// What tron's `/jsonrpc` answers to one call, from the fixtures. Receipt hashes are accepted
/// with or without 0x, in any case, as tron does; `safe` is refused as tron does.
fn tron_answer(call: &Value, receipts: &HashMap<String, &'static str>) -> Value {
    let params = &call["params"];
    match call["method"].as_str().unwrap_or("") {
        "eth_blockNumber" => fixture("eth_blockNumber"),
        "eth_getBlockByNumber" => match params[0].as_str() {
            Some("finalized") => fixture("eth_getBlockByNumber_finalized"),
            Some("safe") => fixture("eth_getBlockByNumber_safe"),
            _ => json!({ "error": { "code": -32602, "message": "unexpected block in this fixture server" } }),
        },
        "eth_getTransactionReceipt" => {
            let text = params[0].as_str().unwrap_or("");
            let bare = text.strip_prefix("0x").unwrap_or(text).to_ascii_lowercase();
            if bare.len() != 64 || !bare.bytes().all(|b| b.is_ascii_hexdigit()) {
                return json!({ "error": { "code": -32602, "message": "invalid hash value" } });
            }
            fixture(receipts.get(&bare).copied().unwrap_or("eth_getTransactionReceipt_unknown"))
        }
        other => json!({ "error": { "code": -32601, "message": format!("the method {other} does not exist/is not available") } }),
    }
}

fn tron_receipts() -> HashMap<String, &'static str> {
    HashMap::from([
        (TRON_TRANSFER_TX.to_owned(), "eth_getTransactionReceipt_usdt_transfer"),
        (TRON_OUT_OF_ENERGY_TX.to_owned(), "eth_getTransactionReceipt_out_of_energy"),
    ])
}

/// A fake tron node: answers from the fixtures; a request without the API key is refused (401).
fn tron_server(receipts: HashMap<String, &'static str>) -> FakeServer {
    FakeServer::start(move |_, request| {
        if request.header("TRON-PRO-API-KEY") != Some(API_KEY) {
            return Reply::Http(401, Vec::new(), r#"{"Error":"ApiKey not exists"}"#.to_owned());
        }
        ok_json(answer_calls(&request.json(), |call| Some(tron_answer(call, &receipts))))
    })
}

fn tron_hash(text: &str) -> TxHash {
    TxHash::parse(Chain::Tron, text).unwrap()
}

fn account(address: &str) -> [u8; 20] {
    ChainAddress::parse(Chain::Tron, address).unwrap().account_bytes().unwrap()
}

#[tokio::test]
async fn tron_fixture_server_accepts_hashes_with_and_without_0x() {
    let server = tron_server(tron_receipts());
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    for hash in [TRON_TRANSFER_TX.to_owned(), format!("0x{TRON_TRANSFER_TX}"), format!("0x{}", TRON_TRANSFER_TX.to_ascii_uppercase())] {
        let body = json!([{ "jsonrpc": "2.0", "id": 7, "method": "eth_getTransactionReceipt", "params": [hash] }]);
        let answer: Value = http.post(server.url()).header("TRON-PRO-API-KEY", API_KEY).json(&body).send().await.unwrap().json().await.unwrap();
        assert_eq!(answer[0]["id"], 7);
        assert_eq!(answer[0]["result"]["transactionHash"], format!("0x{TRON_TRANSFER_TX}"), "{hash}");
    }
    // The recorded finalized block is one alloy's typed block refuses: stateRoot "0x".
    assert_eq!(fixture("eth_getBlockByNumber_finalized")["result"]["stateRoot"], "0x");
}

#[tokio::test]
async fn tron_snapshot_reads_recorded_answers() {
    let server = tron_server(tron_receipts());
    let reader = reader_with(Chain::Tron, &server.url(), RpcOptions { max_batch: 100, ..RpcOptions::default() });
    let unknown = "ee".repeat(32);
    let hashes = [tron_hash(TRON_TRANSFER_TX), tron_hash(&unknown), tron_hash(&format!("0x{}", TRON_OUT_OF_ENERGY_TX.to_ascii_uppercase()))];

    let snapshot = reader.snapshot(&hashes, true).await.unwrap();
    assert_eq!(snapshot.head, 73_421_856);
    assert_eq!(snapshot.finalized, Some(73_421_837), "from the raw block, stateRoot \"0x\" and all");
    let transfer = snapshot.receipts[0].clone().expect("the USDT transfer");
    assert!(transfer.succeeded);
    assert_eq!(transfer.block_number, TRON_TX_BLOCK);
    assert_eq!(transfer.block_hash, TRON_TX_BLOCK_HASH);
    let sender: [u8; 20] = from_hex(TRON_SENDER).try_into().unwrap();
    assert_eq!(
        transfer.transfers,
        vec![TransferLog {
            log_index: 0,
            token_contract: account("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"),
            from: sender,
            to: account(TRON_RECIPIENT),
            amount: Some(500_000_000)
        }]
    );
    assert_eq!(tron_address_from_account(transfer.transfers[0].to), TRON_RECIPIENT);
    assert_eq!(tron_address_from_account(transfer.transfers[0].token_contract), "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t");
    assert!(snapshot.receipts[1].is_none());
    let out_of_energy = snapshot.receipts[2].clone().unwrap();
    assert!(!out_of_energy.succeeded);
    assert!(out_of_energy.transfers.is_empty());

    // One request, with the API key, hashes sent 0x-prefixed in lower case, no `safe` tag.
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].path, "/jsonrpc");
    assert_eq!(requests[0].header("TRON-PRO-API-KEY"), Some(API_KEY));
    let calls = requests[0].json();
    let params: Vec<Value> = calls.as_array().unwrap().iter().map(|c| c["params"].clone()).collect();
    assert_eq!(
        params,
        vec![
            json!([format!("0x{TRON_TRANSFER_TX}")]),
            json!([format!("0x{unknown}")]),
            json!([format!("0x{TRON_OUT_OF_ENERGY_TX}")]),
            json!([]),
            json!(["finalized", false])
        ]
    );
    assert!(!calls.to_string().contains("\"safe\""));
}

#[tokio::test]
async fn tron_bare_and_upper_case_hashes_in_answers_are_normalized() {
    let server = tron_server(HashMap::from([(TRON_TRANSFER_TX.to_owned(), "eth_getTransactionReceipt_usdt_transfer_bare_hashes")]));
    let snapshot = reader(Chain::Tron, &server.url()).snapshot(&[tron_hash(TRON_TRANSFER_TX)], false).await.unwrap();
    let receipt = snapshot.receipts[0].clone().unwrap();
    assert_eq!(receipt.block_hash, TRON_TX_BLOCK_HASH);
    assert_eq!(receipt.transfers.len(), 1);
    assert_eq!(transfer_topic(), <[u8; 32]>::try_from(from_hex("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")).unwrap());
}

#[tokio::test]
async fn tron_refuses_batches_over_100() {
    let error =
        RpcChainReader::new(&settings(Chain::Tron, "http://127.0.0.1:9/jsonrpc", &[]), RpcOptions { max_batch: 101, ..RpcOptions::default() }).unwrap_err();
    assert!(error.0.contains("100"), "{error}");
    assert!(RpcChainReader::new(&settings(Chain::Base, "http://127.0.0.1:9", &[]), RpcOptions { max_batch: 101, ..RpcOptions::default() }).is_ok());
}

// ---------------------------------------------------------------------------------------------
// 6. Faults: always an error, never receipts "not found".

const FAULT_HASHES: [&str; 2] = [TRON_TRANSFER_TX, "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee"];

/// A snapshot against `server` that must fail; the error must not leak the API key.
async fn must_fail(server: &FakeServer, options: RpcOptions) -> ChainError {
    let reader = reader_with(Chain::Tron, &server.url(), options);
    let hashes: Vec<TxHash> = FAULT_HASHES.iter().map(|h| tron_hash(h)).collect();
    let result = reader.snapshot(&hashes, true).await;
    let error = match result {
        Err(error) => error,
        Ok(snapshot) => panic!("expected a ChainError, got {snapshot:?}"),
    };
    eprintln!("{error}");
    assert!(!error.to_string().contains(API_KEY), "{error}");
    assert!(!error.to_string().contains("/jsonrpc"), "the URL path is not quoted: {error}");
    error
}

#[tokio::test]
async fn http_500_is_an_error_after_the_retries() {
    let server = FakeServer::start(|_, _| Reply::Http(500, Vec::new(), "<html>upstream exploded</html>".to_owned()));
    let error = must_fail(&server, fast(2)).await;
    assert!(error.0.contains("500"), "{error}");
    assert_eq!(server.requests().len(), 3, "1 attempt + 2 retries");
    // The same with a JSON-RPC error body (alloy hands it over as the batch's answer).
    let server =
        FakeServer::start(|_, _| Reply::Http(500, Vec::new(), r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"internal error"}}"#.to_owned()));
    must_fail(&server, fast(0)).await;
    assert_eq!(server.requests().len(), 1, "no retry asked for");
}

#[tokio::test]
async fn http_429_is_an_error_and_a_long_retry_after_is_not_waited_for() {
    let server = FakeServer::start(|_, _| {
        Reply::Http(429, Vec::new(), r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32005,"message":"rate limit exceeded"}}"#.to_owned())
    });
    must_fail(&server, fast(1)).await;
    assert_eq!(server.requests().len(), 2);

    let server = FakeServer::start(|_, _| Reply::Http(429, vec![("retry-after", "60".to_owned())], "Too Many Requests".to_owned()));
    let started = Instant::now();
    let error = must_fail(&server, fast(2)).await;
    assert!(error.0.contains("429"), "{error}");
    assert_eq!(server.requests().len(), 1, "a minute's wait is not worth holding the watcher");
    assert!(started.elapsed() < Duration::from_secs(2));

    // A short Retry-After is honoured, then the answer comes.
    let receipts = tron_receipts();
    let server = FakeServer::start(move |n, request| match n {
        0 => Reply::Http(429, vec![("retry-after", "1".to_owned())], "slow down".to_owned()),
        _ => ok_json(answer_calls(&request.json(), |call| Some(tron_answer(call, &receipts)))),
    });
    let started = Instant::now();
    let snapshot = reader_with(Chain::Tron, &server.url(), fast(1)).snapshot(&[tron_hash(TRON_TRANSFER_TX)], false).await.unwrap();
    assert!(snapshot.receipts[0].is_some());
    assert!(started.elapsed() >= Duration::from_secs(1), "waited as asked");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out() {
    let server = FakeServer::start(|_, _| Reply::Hang);
    let started = Instant::now();
    let error = must_fail(&server, fast(1)).await;
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(600) && elapsed < Duration::from_secs(3), "two attempts of 300 ms: {elapsed:?}");
    assert!(error.0.to_lowercase().contains("timed out") || error.0.to_lowercase().contains("timeout"), "{error}");
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_connection_closed_mid_request_is_an_error() {
    // Closed after the request is read, before any answer.
    let server = FakeServer::start(|_, _| Reply::Close);
    must_fail(&server, fast(1)).await;
    // Closed in the middle of the answer (fewer bytes than its content-length).
    let server = FakeServer::start(|_, _| {
        Reply::Raw(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n[{\"jsonrpc\":\"2.0\",\"id\":0,\"res".to_vec())
    });
    must_fail(&server, fast(1)).await;
    // Closed in the middle of the status line.
    let server = FakeServer::start(|_, _| Reply::Raw(b"HTTP/1.1 2".to_vec()));
    must_fail(&server, fast(0)).await;
}

#[tokio::test]
async fn a_refused_connection_is_an_error() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let reader = reader_with(Chain::Base, &format!("http://127.0.0.1:{port}/v2/secret-path"), fast(1));
    let error = reader.snapshot(&[evm_hash(&format!("0x{}", "ab".repeat(32)))], false).await.unwrap_err();
    assert!(!error.0.contains("secret-path"), "{error}");
    assert!(error.0.contains(&format!("127.0.0.1:{port}")), "the endpoint is named: {error}");
}

#[tokio::test]
async fn malformed_answers_are_errors() {
    let receipts = tron_receipts();
    let healthy = move |call: &Value| tron_answer(call, &receipts);
    type Mangle = Box<dyn Fn(&Value, Value) -> Option<Value> + Send + Sync>;
    let cases: Vec<(&str, Reply, Option<Mangle>)> = vec![
        ("not JSON", ok_json("{\"jsonrpc\":\"2.0\",".to_owned()), None),
        ("HTML", Reply::Http(200, vec![("content-type", "text/html".to_owned())], "<html>maintenance</html>".to_owned()), None),
        ("a single error object for the batch", ok_json(r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"batch too large"}}"#.to_owned()), None),
        ("an empty batch answer", ok_json("[]".to_owned()), None),
        ("an HTTP redirect", Reply::Http(307, vec![("location", "http://127.0.0.1:9/elsewhere".to_owned())], String::new()), None),
        (
            "a JSON-RPC error entry for one receipt",
            Reply::Hang,
            Some(Box::new(|call, answer| {
                Some(if call["params"][0].as_str().is_some_and(|h| h.ends_with("eeee")) {
                    json!({ "error": { "code": -32000, "message": "header not found" } })
                } else {
                    answer
                })
            })),
        ),
        ("a missing batch entry", Reply::Hang, Some(Box::new(|call, answer| if call["method"] == "eth_blockNumber" { None } else { Some(answer) }))),
        (
            "a block without number",
            Reply::Hang,
            Some(Box::new(|call, mut answer| {
                if call["method"] == "eth_getBlockByNumber" {
                    answer["result"].as_object_mut().unwrap().remove("number");
                }
                Some(answer)
            })),
        ),
        (
            "a receipt without blockHash",
            Reply::Hang,
            Some(Box::new(|_, mut answer| {
                if let Some(receipt) = answer["result"].as_object_mut().filter(|r| r.contains_key("logs")) {
                    receipt.remove("blockHash");
                }
                Some(answer)
            })),
        ),
        (
            "a receipt of another transaction",
            Reply::Hang,
            Some(Box::new(
                |call, answer| {
                    if call["method"] == "eth_getTransactionReceipt" { Some(fixture("eth_getTransactionReceipt_out_of_energy")) } else { Some(answer) }
                },
            )),
        ),
        (
            "a head that is not a quantity",
            Reply::Hang,
            Some(Box::new(|call, answer| Some(if call["method"] == "eth_blockNumber" { json!({ "result": 73421856 }) } else { answer }))),
        ),
        (
            "a receipt that is a string",
            Reply::Hang,
            Some(Box::new(|call, answer| Some(if call["method"] == "eth_getTransactionReceipt" { json!({ "result": "pending" }) } else { answer }))),
        ),
    ];
    for (what, reply, mangle) in cases {
        let server = match mangle {
            None => FakeServer::start(move |_, _| reply.clone()),
            Some(mangle) => {
                let healthy = healthy.clone();
                FakeServer::start(move |_, request| ok_json(answer_calls(&request.json(), |call| mangle(call, healthy(call)))))
            }
        };
        let reader = reader_with(Chain::Tron, &server.url(), fast(1));
        let hashes: Vec<TxHash> = FAULT_HASHES.iter().map(|h| tron_hash(h)).collect();
        match reader.snapshot(&hashes, true).await {
            Err(error) => {
                eprintln!("{what}: {error}");
                assert!(!error.0.contains(API_KEY), "{what}: {error}");
            }
            Ok(snapshot) => panic!("{what}: expected a ChainError, got {snapshot:?}"),
        }
        assert_eq!(server.requests().len(), 2, "{what}: retried once");
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let target = tron_server(tron_receipts());
    let location = target.url();
    let server = FakeServer::start(move |_, _| Reply::Http(307, vec![("location", location.clone())], String::new()));
    let error = must_fail(&server, fast(0)).await;
    assert!(error.0.contains("307"), "{error}");
    assert!(target.requests().is_empty(), "the API key went nowhere else");
}

#[tokio::test]
async fn a_server_failing_twice_then_answering_is_retried() {
    let receipts = tron_receipts();
    let flaky = move |n: usize, request: &Seen| match n {
        0 => Reply::Http(502, Vec::new(), "Bad Gateway".to_owned()),
        1 => Reply::Close,
        _ => ok_json(answer_calls(&request.json(), |call| Some(tron_answer(call, &receipts)))),
    };
    let flaky = Arc::new(flaky);
    let f = flaky.clone();
    let server = FakeServer::start(move |n, r| f(n, r));
    let reader = reader_with(Chain::Tron, &server.url(), RpcOptions { retry_base_delay: Duration::from_millis(20), ..fast(2) });
    let snapshot = reader.snapshot(&[tron_hash(TRON_TRANSFER_TX), tron_hash(FAULT_HASHES[1])], true).await.unwrap();
    assert_eq!(snapshot.head, 73_421_856);
    assert_eq!(snapshot.receipts[0].as_ref().map(|r| r.block_number), Some(TRON_TX_BLOCK));
    assert!(snapshot.receipts[1].is_none());
    assert!(server.requests().len() >= 3, "two failures, then the answer");

    // With one retry only, the same server is an error.
    let f = flaky.clone();
    let server = FakeServer::start(move |n, r| f(n, r));
    must_fail(&server, fast(1)).await;
}

/// `infra/devnet/start.sh` (what `infra/run-local.sh` runs) keeps its chain in the state directory:
/// a restart has the same token contracts, balances and block height, an old transfer's receipt,
/// and a new transfer gets a new hash, so the README walkthrough works twice in a row. `--fresh`
/// starts over from block 0.
#[test]
fn the_devnet_continues_its_chain_across_restarts() {
    let devnet = payouts_tests::anvil::devnet_dir();
    payouts_tests::anvil::anvil_binary();
    let state = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port().to_string();
    let script = |name: &str, extra: &[&str]| {
        let output = std::process::Command::new("bash")
            .arg(devnet.join(name))
            .args(["--state-dir", state.path().to_str().unwrap()])
            .args(if name == "start.sh" { vec!["--port", port.as_str()] } else { vec![] })
            .args(extra)
            .output()
            .unwrap();
        assert!(output.status.success(), "{name}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let env = || -> HashMap<String, String> {
        std::fs::read_to_string(state.path().join("devnet.env")).unwrap().lines().filter_map(|l| l.split_once('=')).map(|(k, v)| (k.into(), v.into())).collect()
    };
    let cast = |args: &[&str]| {
        let output = std::process::Command::new(devnet.join("node_modules/.bin/cast")).args(args).output().unwrap();
        assert!(output.status.success(), "cast {args:?}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    let transfer = |env: &HashMap<String, String>| {
        let sent = cast(&[
            "send",
            "--json",
            "--private-key",
            &env["DEVNET_FUNDED_PRIVATE_KEY"],
            "--rpc-url",
            &env["DEVNET_RPC_URL"],
            &env["DEVNET_USDT"],
            "transfer(address,uint256)",
            &env["DEVNET_SECOND_ADDRESS"],
            "5000000",
        ]);
        serde_json::from_str::<Value>(&sent).unwrap()["transactionHash"].as_str().unwrap().to_owned()
    };
    let balance = |env: &HashMap<String, String>| {
        cast(&["call", &env["DEVNET_USDT"], "balanceOf(address)(uint256)", &env["DEVNET_SECOND_ADDRESS"], "--rpc-url", &env["DEVNET_RPC_URL"]])
    };

    script("start.sh", &[]);
    let first = env();
    let first_hash = transfer(&first);
    let height = cast(&["block-number", "--rpc-url", &first["DEVNET_RPC_URL"]]).parse::<u64>().unwrap();
    let paid = balance(&first);
    script("stop.sh", &[]);

    let log = script("start.sh", &[]);
    assert!(log.contains("continuing the kept chain"), "{log}");
    let second = env();
    assert_eq!((&second["DEVNET_USDT"], &second["DEVNET_USDC"]), (&first["DEVNET_USDT"], &first["DEVNET_USDC"]), "the same contracts");
    assert!(cast(&["block-number", "--rpc-url", &second["DEVNET_RPC_URL"]]).parse::<u64>().unwrap() >= height, "the chain goes on");
    assert_eq!(balance(&second), paid, "balances are kept");
    assert!(cast(&["receipt", &first_hash, "--rpc-url", &second["DEVNET_RPC_URL"], "--json"]).contains("\"status\":\"0x1\""), "old receipts are kept");
    assert_ne!(transfer(&second), first_hash, "the same transfer again is a new transaction");
    script("stop.sh", &[]);

    script("start.sh", &["--fresh"]);
    let fresh = env();
    assert!(cast(&["block-number", "--rpc-url", &fresh["DEVNET_RPC_URL"]]).parse::<u64>().unwrap() < height, "--fresh starts a new chain");
    script("stop.sh", &[]);
}
