//! A throwaway anvil (local EVM node, from `infra/devnet`'s npm packages) per test, on
//! 127.0.0.1 with a port the OS picks, `--slots-in-an-epoch 1` so `finalized` trails the head
//! by 2 blocks. Killed when dropped.
//!
//! Every helper is plain JSON-RPC with anvil's unlocked default accounts (`eth_sendTransaction`),
//! so no signing code is needed; calldata is ABI-encoded by hand (the few shapes the test
//! token needs).

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// `mint(address,uint256)`.
const MINT: [u8; 4] = [0x40, 0xc1, 0x0f, 0x19];
/// `transfer(address,uint256)`.
const TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
/// `transferMany(address[],uint256[])`.
const TRANSFER_MANY: [u8; 4] = [0xb7, 0xfc, 0x66, 0x12];
/// `balanceOf(address)`.
const BALANCE_OF: [u8; 4] = [0x70, 0xa0, 0x82, 0x31];

pub const CHAIN_ID: u64 = 31337;

pub struct Anvil {
    child: Child,
    url: String,
    http: reqwest::Client,
    accounts: Vec<[u8; 20]>,
    automine: AtomicBool,
}

/// `infra/devnet` of this repository.
pub fn devnet_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("infra").join("devnet")
}

fn platform_tag() -> Option<&'static str> {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => Some("linux-amd64"),
        ("linux", "aarch64") => Some("linux-arm64"),
        ("macos", "x86_64") => Some("darwin-amd64"),
        ("macos", "aarch64") => Some("darwin-arm64"),
        _ => None,
    }
}

/// The native anvil binary (not the node wrapper, so that killing it kills anvil), as start.sh finds it.
fn find_anvil(devnet: &Path) -> Option<PathBuf> {
    let native = platform_tag().map(|tag| devnet.join("node_modules").join("@foundry-rs").join(format!("anvil-{tag}")).join("bin").join("anvil"));
    let wrapper = devnet.join("node_modules").join(".bin").join("anvil");
    native.into_iter().chain(std::iter::once(wrapper)).find(|p| p.is_file())
}

/// `npm ci --prefix infra/devnet` once when anvil is missing, under a file lock so that test
/// binaries running in parallel do not install over each other.
pub fn anvil_binary() -> PathBuf {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY
        .get_or_init(|| {
            let devnet = devnet_dir();
            if let Some(binary) = find_anvil(&devnet) {
                return binary;
            }
            let lock_path = std::env::temp_dir().join("payouts-devnet-npm-ci.lock");
            let lock = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)
                .unwrap_or_else(|e| panic!("cannot open {}: {e}", lock_path.display()));
            lock.lock().unwrap_or_else(|e| panic!("cannot lock {}: {e}", lock_path.display()));
            // Another process may have installed while this one waited for the lock.
            if find_anvil(&devnet).is_none() {
                let status = Command::new("npm")
                    .args(["ci", "--prefix"])
                    .arg(&devnet)
                    .args(["--no-audit", "--no-fund", "--loglevel=error"])
                    .status()
                    .unwrap_or_else(|e| panic!("cannot run npm (needed to install anvil): {e}"));
                assert!(status.success(), "npm ci --prefix {} failed: {status}", devnet.display());
            }
            let _ = lock.unlock();
            find_anvil(&devnet).unwrap_or_else(|| panic!("anvil not found under {}/node_modules after npm ci", devnet.display()))
        })
        .clone()
}

/// The compiled test token's creation bytecode.
fn token_bytecode() -> Vec<u8> {
    static BYTECODE: OnceLock<Vec<u8>> = OnceLock::new();
    BYTECODE
        .get_or_init(|| {
            let path = devnet_dir().join("contracts").join("TestStablecoin.json");
            let artifact: Value = serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap();
            from_hex(artifact["bytecode"].as_str().expect("bytecode"))
        })
        .clone()
}

impl Anvil {
    /// Starts anvil and waits until it answers `eth_blockNumber`.
    pub async fn start() -> Anvil {
        let binary = anvil_binary();
        let (child, port) = tokio::task::spawn_blocking(move || spawn(&binary)).await.unwrap();
        let http = reqwest::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().unwrap();
        let mut anvil = Anvil { child, url: format!("http://127.0.0.1:{port}"), http, accounts: Vec::new(), automine: AtomicBool::new(true) };
        let mut ready = false;
        for _ in 0..300 {
            if anvil.try_rpc("eth_blockNumber", json!([])).await.is_ok() {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(ready, "anvil on {} did not answer eth_blockNumber", anvil.url);
        let accounts = anvil.rpc("eth_accounts", json!([])).await;
        anvil.accounts = accounts.as_array().expect("accounts").iter().map(|a| parse_address(a.as_str().expect("account"))).collect();
        assert!(anvil.accounts.len() >= 4, "anvil has too few default accounts");
        anvil
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The default funded (and unlocked) accounts.
    pub fn accounts(&self) -> &[[u8; 20]] {
        &self.accounts
    }

    pub async fn try_rpc(&self, method: &str, params: Value) -> Result<Value, String> {
        let body = json!({ "jsonrpc": "2.0", "id": 1, "method": method, "params": params });
        let response = self.http.post(&self.url).json(&body).send().await.map_err(|e| format!("{method}: {e}"))?;
        let status = response.status();
        let answer: Value = response.json().await.map_err(|e| format!("{method}: HTTP {status}: {e}"))?;
        if let Some(error) = answer.get("error") {
            return Err(format!("{method}: {error}"));
        }
        answer.get("result").cloned().ok_or_else(|| format!("{method}: no result in {answer}"))
    }

    pub async fn rpc(&self, method: &str, params: Value) -> Value {
        self.try_rpc(method, params).await.unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn block_number(&self) -> u64 {
        quantity(&self.rpc("eth_blockNumber", json!([])).await)
    }

    /// A block as raw JSON (`Null` when there is none).
    pub async fn block(&self, tag_or_number: Value) -> Value {
        let tag = match tag_or_number {
            Value::Number(n) => json!(format!("0x{:x}", n.as_u64().expect("block number"))),
            other => other,
        };
        self.rpc("eth_getBlockByNumber", json!([tag, false])).await
    }

    pub async fn block_hash(&self, number: u64) -> String {
        self.block(json!(number)).await["hash"].as_str().expect("block hash").to_owned()
    }

    pub async fn receipt(&self, tx_hash: &str) -> Value {
        self.rpc("eth_getTransactionReceipt", json!([tx_hash])).await
    }

    /// The receipt, waited for: anvil answers `eth_sendTransaction` before its automine has
    /// written the block, so a receipt asked for at once may still be `null`.
    pub async fn wait_receipt(&self, tx_hash: &str) -> Value {
        for _ in 0..500 {
            let receipt = self.receipt(tx_hash).await;
            if !receipt.is_null() {
                return receipt;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no receipt for {tx_hash}");
    }

    /// `eth_sendTransaction` from an unlocked account; the hash. With automine on, returns once
    /// the transaction is mined.
    pub async fn send(&self, from: [u8; 20], to: Option<[u8; 20]>, data: &[u8], gas: Option<u64>) -> String {
        let mut tx = json!({ "from": hex_address(from), "data": to_hex(data) });
        if let Some(to) = to {
            tx["to"] = json!(hex_address(to));
        }
        if let Some(gas) = gas {
            tx["gas"] = json!(format!("0x{gas:x}"));
        }
        let hash = self.rpc("eth_sendTransaction", json!([tx])).await.as_str().expect("tx hash").to_owned();
        if self.automine.load(Ordering::SeqCst) {
            self.wait_receipt(&hash).await;
        }
        hash
    }

    /// The receipt of a transaction that must have been mined successfully.
    async fn mined_ok(&self, what: &str, tx_hash: &str) -> Value {
        let receipt = self.wait_receipt(tx_hash).await;
        assert_eq!(receipt["status"], "0x1", "{what} failed: {receipt}");
        receipt
    }

    /// Deploys the devnet's 6-decimals test stablecoin from account 0 (automine must be on).
    pub async fn deploy_token(&self, name: &str, symbol: &str) -> [u8; 20] {
        let mut data = token_bytecode();
        data.extend(encode_strings(&[name, symbol]));
        let hash = self.send(self.accounts[0], None, &data, None).await;
        let receipt = self.mined_ok("deploy", &hash).await;
        parse_address(receipt["contractAddress"].as_str().expect("contractAddress"))
    }

    /// Mints `amount` base units to `to` (from account 0; automine must be on).
    pub async fn mint(&self, token: [u8; 20], to: [u8; 20], amount: u128) {
        let data = call(MINT, &[address_word(to), uint_word(amount)]);
        let hash = self.send(self.accounts[0], Some(token), &data, None).await;
        self.mined_ok("mint", &hash).await;
    }

    pub async fn balance_of(&self, token: [u8; 20], owner: [u8; 20]) -> u128 {
        let data = call(BALANCE_OF, &[address_word(owner)]);
        let answer = self.rpc("eth_call", json!([{ "to": hex_address(token), "data": to_hex(&data) }, "latest"])).await;
        let bytes = from_hex(answer.as_str().expect("balance"));
        u128::from_be_bytes(bytes[16..32].try_into().unwrap())
    }

    /// `transfer(to, amount)` from `from`; the tx hash (mined at once when automine is on).
    pub async fn transfer(&self, from: [u8; 20], token: [u8; 20], to: [u8; 20], amount: u128) -> String {
        self.send(from, Some(token), &call(TRANSFER, &[address_word(to), uint_word(amount)]), None).await
    }

    /// The same with an explicit gas limit: the node skips estimation, so a transfer that reverts
    /// (insufficient balance) is still sent and mined with status 0.
    pub async fn transfer_with_gas(&self, from: [u8; 20], token: [u8; 20], to: [u8; 20], amount: u128, gas: u64) -> String {
        self.send(from, Some(token), &call(TRANSFER, &[address_word(to), uint_word(amount)]), Some(gas)).await
    }

    /// `transferMany(recipients, amounts)`: one Transfer log per recipient, in one tx.
    pub async fn transfer_many(&self, from: [u8; 20], token: [u8; 20], payments: &[([u8; 20], u128)]) -> String {
        let n = payments.len();
        let mut words = vec![uint_word(0x40), uint_word(0x40 + 32 * (n as u128 + 1)), uint_word(n as u128)];
        words.extend(payments.iter().map(|(to, _)| address_word(*to)));
        words.push(uint_word(n as u128));
        words.extend(payments.iter().map(|(_, amount)| uint_word(*amount)));
        self.send(from, Some(token), &call(TRANSFER_MANY, &words), None).await
    }

    /// `anvil_mine`: `n` new blocks.
    pub async fn mine(&self, n: u64) {
        self.rpc("anvil_mine", json!([format!("0x{n:x}")])).await;
    }

    /// `evm_setAutomine`.
    pub async fn set_automine(&self, on: bool) {
        self.rpc("evm_setAutomine", json!([on])).await;
        self.automine.store(on, Ordering::SeqCst);
    }

    /// `evm_snapshot`: an id for [`Anvil::revert`].
    pub async fn snapshot(&self) -> String {
        self.rpc("evm_snapshot", json!([])).await.as_str().expect("snapshot id").to_owned()
    }

    /// `evm_revert`: back to the snapshot (blocks and their transactions after it vanish).
    pub async fn revert(&self, id: &str) -> bool {
        self.rpc("evm_revert", json!([id])).await.as_bool().expect("revert result")
    }

    /// `anvil_reorg(depth, [])`: the last `depth` blocks are replaced by new blocks of the same
    /// numbers, with no transaction given for them.
    pub async fn reorg(&self, depth: u64) {
        self.rpc("anvil_reorg", json!([depth, []])).await;
    }
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns anvil on port 0 and reads the port it bound from its "Listening on" line; the rest of
/// its output is drained (a full pipe would stall anvil).
fn spawn(binary: &Path) -> (Child, u16) {
    let mut child = Command::new(binary)
        .args(["--host", "127.0.0.1", "--port", "0", "--chain-id", &CHAIN_ID.to_string(), "--slots-in-an-epoch", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let stdout = child.stdout.take().expect("anvil stdout");
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut port_tx = Some(port_tx);
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(address) = line.trim().strip_prefix("Listening on ")
                && let Some(tx) = port_tx.take()
            {
                let _ = tx.send(address.rsplit(':').next().and_then(|p| p.parse::<u16>().ok()));
            }
        }
    });
    match port_rx.recv_timeout(Duration::from_secs(30)) {
        Ok(Some(port)) if port != 0 => (child, port),
        other => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("anvil did not report its port ({other:?})");
        }
    }
}

fn call(selector: [u8; 4], words: &[[u8; 32]]) -> Vec<u8> {
    let mut data = selector.to_vec();
    for word in words {
        data.extend_from_slice(word);
    }
    data
}

pub fn address_word(address: [u8; 20]) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[12..].copy_from_slice(&address);
    word
}

pub fn uint_word(value: u128) -> [u8; 32] {
    let mut word = [0u8; 32];
    word[16..].copy_from_slice(&value.to_be_bytes());
    word
}

/// ABI encoding of `(string, string, …)` (constructor arguments).
fn encode_strings(values: &[&str]) -> Vec<u8> {
    let mut head = Vec::new();
    let mut tail = Vec::new();
    let head_size = 32 * values.len();
    for value in values {
        head.extend_from_slice(&uint_word((head_size + tail.len()) as u128));
        tail.extend_from_slice(&uint_word(value.len() as u128));
        tail.extend_from_slice(value.as_bytes());
        tail.resize(tail.len().div_ceil(32) * 32, 0);
    }
    head.extend(tail);
    head
}

pub fn to_hex(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(2 + bytes.len() * 2);
    text.push_str("0x");
    for b in bytes {
        text.push_str(&format!("{b:02x}"));
    }
    text
}

pub fn from_hex(text: &str) -> Vec<u8> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    assert!(digits.len().is_multiple_of(2), "odd hex {text:?}");
    (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).unwrap_or_else(|_| panic!("bad hex {text:?}"))).collect()
}

pub fn hex_address(address: [u8; 20]) -> String {
    to_hex(&address)
}

pub fn parse_address(text: &str) -> [u8; 20] {
    from_hex(text).try_into().unwrap_or_else(|_| panic!("not a 20-byte address: {text:?}"))
}

pub fn quantity(value: &Value) -> u64 {
    let text = value.as_str().unwrap_or_else(|| panic!("not a quantity: {value}"));
    u64::from_str_radix(text.trim_start_matches("0x"), 16).unwrap_or_else(|_| panic!("not a quantity: {text}"))
}
