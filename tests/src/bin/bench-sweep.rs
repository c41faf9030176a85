//! Benchmark: one chain-watcher sweep over N executed intents on a local anvil, next to the bare
//! batched `eth_getTransactionReceipt` calls for the same hashes through the same kind of reader.
//!
//! Usage: `cargo run --release -p payouts-tests --bin bench-sweep -- [N=1000]`.
//!
//! anvil + a 6-decimals token; N transfers sent with automine off, then mined; N intents created,
//! approved and executed through the HTTP stack on the embedded store; a counting proxy in front
//! of anvil. Then three sweeps — executed → verifying (N first sightings), nothing due (N waits),
//! verifying → settled (N settlements) — each measured (HTTP requests to the node, store calls,
//! bus calls, wall time), and the bare receipts of the same hashes (`RpcChainReader::snapshot`).
//! Prints a Markdown table.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use payouts::adapters::embedded_store::EmbeddedStore;
use payouts::adapters::rpc_chain::RpcChainReader;
use payouts::config::ChainRegistry;
use payouts::domain::address::TxHash;
use payouts::domain::chain::{Chain, Environment};
use payouts::ports::chain::ChainReader;
use payouts::ports::store::{IndexQuery, Item, ItemKey, Store, StoreError, WriteOp};
use payouts::service::watcher::{WatchReport, Watcher};
use payouts_tests::Harness;
use payouts_tests::anvil::{Anvil, hex_address};
use payouts_tests::watch::{FaultProxy, RecordingBus, amount_text};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CONFIRMATIONS: u64 = 3;
const BASE_AMOUNT: u128 = 10_000_000;

/// The embedded store, counting calls (and write ops).
struct CountingStore {
    inner: EmbeddedStore,
    gets: AtomicUsize,
    writes: AtomicUsize,
    write_ops: AtomicUsize,
    queries: AtomicUsize,
}

#[derive(Clone, Copy, Debug, Default)]
struct StoreCounts {
    gets: usize,
    writes: usize,
    write_ops: usize,
    queries: usize,
}

impl CountingStore {
    fn counts(&self) -> StoreCounts {
        StoreCounts {
            gets: self.gets.load(Ordering::SeqCst),
            writes: self.writes.load(Ordering::SeqCst),
            write_ops: self.write_ops.load(Ordering::SeqCst),
            queries: self.queries.load(Ordering::SeqCst),
        }
    }
}

impl std::ops::Sub for StoreCounts {
    type Output = StoreCounts;
    fn sub(self, before: StoreCounts) -> StoreCounts {
        StoreCounts {
            gets: self.gets - before.gets,
            writes: self.writes - before.writes,
            write_ops: self.write_ops - before.write_ops,
            queries: self.queries - before.queries,
        }
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn get(&self, keys: &[ItemKey]) -> Result<Vec<Option<Item>>, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.inner.get(keys).await
    }
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.writes.fetch_add(1, Ordering::SeqCst);
        self.write_ops.fetch_add(ops.len(), Ordering::SeqCst);
        self.inner.write(ops).await
    }
    async fn query(&self, query: &IndexQuery) -> Result<Vec<Item>, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        self.inner.query(query).await
    }
}

struct Measured {
    label: &'static str,
    report: WatchReport,
    requests: usize,
    calls: usize,
    store: StoreCounts,
    bus_calls: usize,
    wall: Duration,
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    assert!(n > 0, "N must be at least 1");
    eprintln!("bench-sweep: {n} intents");

    // The chain: N transfers, each its own tx, mined in as few blocks as the gas limit allows.
    let anvil = Anvil::start().await;
    let usdc = anvil.deploy_token("USD Coin", "USDC").await;
    let treasury = anvil.accounts()[0];
    let recipient = anvil.accounts()[2];
    anvil.mint(usdc, treasury, BASE_AMOUNT * 2 * n as u128 + 1_000_000_000).await;
    anvil.set_automine(false).await;
    let started = Instant::now();
    let mut hashes = Vec::with_capacity(n);
    for i in 0..n {
        hashes.push(anvil.transfer(treasury, usdc, recipient, BASE_AMOUNT + i as u128).await);
    }
    let mut blocks = 0;
    loop {
        anvil.mine(1).await;
        blocks += 1;
        let pool = anvil.rpc("txpool_status", json!([])).await;
        if pool["pending"] == "0x0" && pool["queued"] == "0x0" {
            break;
        }
        assert!(blocks < 10 + n, "the pool does not drain");
    }
    anvil.set_automine(true).await;
    for hash in [&hashes[0], &hashes[n - 1]] {
        assert_eq!(anvil.receipt(hash).await["status"], "0x1", "{hash}");
    }
    eprintln!("sent and mined {n} transfers in {blocks} blocks: {}", ms(started.elapsed()));

    // The service: embedded store (counted), the HTTP stack, a counting proxy before anvil.
    let proxy = FaultProxy::start(anvil.url());
    let mut vars: BTreeMap<String, String> = BTreeMap::new();
    vars.insert("PAYOUTS_SANDBOX_BASE_RPC_URL".into(), proxy.url());
    vars.insert("PAYOUTS_SANDBOX_BASE_USDC_CONTRACT".into(), hex_address(usdc));
    vars.insert("PAYOUTS_SANDBOX_BASE_CONFIRMATIONS".into(), CONFIRMATIONS.to_string());
    for environment in ["SANDBOX", "LIVE"] {
        for chain in ["ARBITRUM", "TRON", "BASE"] {
            vars.entry(format!("PAYOUTS_{environment}_{chain}_RPC_URL")).or_insert_with(|| "http://127.0.0.1:9".into());
        }
    }
    let registry = ChainRegistry::from_vars(&vars).unwrap();
    let options = payouts::runtime::rpc_options(&vars).unwrap();
    let readers = payouts::runtime::chain_readers(&registry, &options).unwrap();
    let settings = registry.get(Environment::Sandbox, Chain::Base).unwrap().clone();

    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(CountingStore {
        inner: EmbeddedStore::open(dir.path()).unwrap(),
        gets: AtomicUsize::new(0),
        writes: AtomicUsize::new(0),
        write_ops: AtomicUsize::new(0),
        queries: AtomicUsize::new(0),
    });
    let mut h = Harness::on_store(store.clone(), None).await;
    h.app.chains = Arc::new(registry);
    let key = h.tenant.sandbox.clone();
    let recipient_text = payouts::domain::settlement::display_account(Chain::Base, recipient);
    let started = Instant::now();
    for (i, hash) in hashes.iter().enumerate() {
        let body = json!({ "recipient_address": recipient_text, "chain": "base", "token": "USDC", "amount": 1, "currency": "USD" })
            .to_string()
            .replace("\"amount\":1", &format!("\"amount\":{}", amount_text(BASE_AMOUNT + i as u128)));
        let created = h.call(http::Method::POST, "/v1/payouts", Some(&key), Some(&body)).await;
        assert_eq!(created.status, 201, "{}", created.json);
        let id = created.id();
        assert_eq!(h.patch(&key, &id, &json!({ "status": "approved" })).await.status, 200);
        let executed = h.execute(&key, &id, hash).await;
        assert_eq!(executed.status, 200, "{}", executed.json);
    }
    eprintln!("created, approved and executed {n} intents: {}", ms(started.elapsed()));

    let bus = Arc::new(RecordingBus::default());
    let config = payouts::runtime::watcher_config(&vars).unwrap();
    let watcher = Watcher::new(h.app.clone(), bus.clone(), readers, config.clone());
    // The API's own events (3 per intent) go out first, so the sweeps measure the watcher only.
    let started = Instant::now();
    let mut relayed = 0;
    loop {
        let published = watcher.relay_outbox().await.unwrap();
        relayed += published;
        if published == 0 {
            break;
        }
    }
    eprintln!("relayed the API's {relayed} events first: {}", ms(started.elapsed()));

    async fn measure(label: &'static str, watcher: &Watcher, proxy: &FaultProxy, store: &CountingStore, bus: &RecordingBus) -> Measured {
        proxy.reset_counts();
        let (before, bus_before) = (store.counts(), bus.attempts());
        let started = Instant::now();
        let report = watcher.sweep().await.unwrap();
        let wall = started.elapsed();
        Measured {
            label,
            report,
            requests: proxy.requests(),
            calls: proxy.calls(),
            store: store.counts() - before,
            bus_calls: bus.attempts() - bus_before,
            wall,
        }
    }

    let mut rows = Vec::new();
    rows.push(measure("sweep 1: executed → verifying", &watcher, &proxy, &store, &bus).await);
    rows.push(measure("sweep 2: nothing due (all wait)", &watcher, &proxy, &store, &bus).await);
    anvil.mine(CONFIRMATIONS).await;
    rows.push(measure("sweep 3: verifying → settled", &watcher, &proxy, &store, &bus).await);
    assert_eq!(rows[0].report.changed, n, "{:?}", rows[0].report);
    assert_eq!(rows[1].report.changed, 0, "{:?}", rows[1].report);
    assert_eq!(rows[2].report.changed, n, "{:?}", rows[2].report);

    // The bare receipts: the same hashes, a reader with the same settings and options, the same proxy.
    let reader = RpcChainReader::new(&settings, options.clone()).unwrap();
    let tx_hashes: Vec<TxHash> = hashes.iter().map(|h| TxHash::parse(Chain::Base, h).unwrap()).collect();
    let mut bare = Vec::new();
    let mut bare_requests = 0;
    for _ in 0..5 {
        proxy.reset_counts();
        let started = Instant::now();
        let snapshot = reader.snapshot(&tx_hashes, false).await.unwrap();
        bare.push(started.elapsed());
        bare_requests = proxy.requests();
        assert!(snapshot.receipts.iter().all(Option::is_some));
    }
    bare.sort();
    let bare_median = bare[bare.len() / 2];

    println!();
    println!("Chain-watcher sweep, {n} intents on one chain (anvil on 127.0.0.1, embedded store, RPC max_batch {}, one run)", options.max_batch);
    println!();
    println!(
        "| sweep | intents checked | changed | RPC HTTP requests | JSON-RPC calls | store reads (get/query) | store writes (ops) | bus calls | sweep wall time | bare receipts time | ratio |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {}/{} | {} ({}) | {} | {} | {} | {:.2} |",
            row.label,
            row.report.checked,
            row.report.changed,
            row.requests,
            row.calls,
            row.store.gets,
            row.store.queries,
            row.store.writes,
            row.store.write_ops,
            row.bus_calls,
            ms(row.wall),
            ms(bare_median),
            row.wall.as_secs_f64() / bare_median.as_secs_f64()
        );
    }
    println!();
    println!(
        "Bare receipts: `RpcChainReader::snapshot` of the same {n} hashes, {bare_requests} HTTP requests, median of 5 ({} – {}).",
        ms(bare[0]),
        ms(bare[bare.len() - 1])
    );
}
