//! Benchmark: reconciliation of N payout intents and their settlements next to merely reading the
//! same records, and the source-wallet scanner's `eth_getLogs` requests for 1,000 wallets over
//! 10,000 blocks behind a provider that limits block ranges.
//!
//! Usage: `cargo run --release -p payouts-tests --bin bench-reconciliation -- [N=100000] [embedded] [dynamodb] [scanner] [rounds=3]`
//! (no target named: `embedded scanner`). `dynamodb` needs the local AWS emulator
//! (`PAYOUTS_TEST_AWS_ENDPOINT`, e.g. `http://127.0.0.1:5055`), whose every `Query` costs time in
//! proportion to the table: BENCHMARKS.md runs `-- 100000 embedded scanner` and
//! `-- 10000 dynamodb rounds=1` (about 5½ minutes).
//!
//! Part 1, per store: one organization's sandbox seeded directly through the `Store` port with N
//! base/USDC intents — most `settled` with one settlement of exactly their amount, 1% settled on a
//! settlement of another amount (discrepancies), 2% `approved` with none (unmatched) — and 0.5% of
//! N settlements linked to no intent (unexpected); seeding is not measured. Then, `rounds` times
//! each, in a rotating order: the plain read (the settlements and intents gsi1 partitions, pages
//! of 100, every item decoded), compute's reads alone (the same reads `compute` makes, decoded,
//! nothing classified) and `reconciliation::compute` over the same store; the median wall times,
//! their ratio to the plain read, store calls, and the peak RSS growth of each pass (VmHWM reset
//! through `/proc/self/clear_refs` right before it, read after it, against VmRSS before it).
//! Compute's summary is checked against what was seeded.
//!
//! Part 2: a proxied `WatchRig` (anvil behind a counting JSON-RPC proxy); 1,000 verified wallet
//! claims on sandbox/base (991 random accounts and anvil's accounts 1–9), 40 transfers spread over
//! 10,000 blocks (36 from verified wallets, 4 from the treasury, which is none), one more wallet
//! transfer just past the range; the cursor pre-written at the range's first block, the head
//! placed so that the safe head is its last. Per provider range limit (1,000, 500, none) the
//! settlements are wiped, the cursor reset and the scanner run until it reaches the safe head.
//! Prints Markdown tables.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use chrono::Duration as Span;
use payouts::adapters::embedded_store::EmbeddedStore;
use payouts::domain::address::{ChainAddress, TxHash};
use payouts::domain::chain::{Chain, Environment, Token};
use payouts::domain::ids::{ApiKeyId, OrgId, PayoutId, SettlementId, WalletId};
use payouts::domain::money::{Amount, AtomicAmount, accounting};
use payouts::domain::payout::{ChainObservation, Currency, NewPayout, PayoutIntent, PayoutStatus, ReferenceType};
use payouts::domain::reconciliation::Filters;
use payouts::domain::settlement::{Settlement, display_account};
use payouts::domain::time::Timestamp;
use payouts::ports::store::{IndexName, IndexPosition, IndexQuery, Item, ItemKey, Store, StoreError, WriteOp, read_all};
use payouts::service::reconciliation;
use payouts::service::records::{self, ScanCursor, WalletClaim};
use payouts::service::scanner::ScannerConfig;
use payouts_tests::watch::{BASE_CONFIRMATIONS, RigConfig, WatchRig, amount_text};
use payouts_tests::{EVM_RECIPIENT, Harness};
use rand::RngCore;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Records per store query while streaming (what `compute` reads per page too).
const PAGE: usize = 100;
/// Intents per seeding write (with their settlements: at most 51 ops).
const SEED_BATCH: usize = 25;
/// Part 2: wallets, blocks, transfers.
const WALLETS: usize = 1_000;
const RANGE: u64 = 10_000;
const TRANSFERS: u64 = 40;
const MAX_SPAN: u64 = 2_000;

// ---------------------------------------------------------------------------------------------
// Measuring.

/// The store under test, counting calls and what they return.
struct CountingStore {
    inner: Arc<dyn Store>,
    queries: AtomicUsize,
    gets: AtomicUsize,
    records: AtomicUsize,
    bytes: AtomicUsize,
}

#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    queries: usize,
    gets: usize,
    records: usize,
    /// JSON bodies of the records read.
    bytes: usize,
}

impl CountingStore {
    fn new(inner: Arc<dyn Store>) -> CountingStore {
        CountingStore { inner, queries: AtomicUsize::new(0), gets: AtomicUsize::new(0), records: AtomicUsize::new(0), bytes: AtomicUsize::new(0) }
    }

    fn counts(&self) -> Counts {
        Counts {
            queries: self.queries.load(Ordering::SeqCst),
            gets: self.gets.load(Ordering::SeqCst),
            records: self.records.load(Ordering::SeqCst),
            bytes: self.bytes.load(Ordering::SeqCst),
        }
    }
}

impl std::ops::Sub for Counts {
    type Output = Counts;
    fn sub(self, before: Counts) -> Counts {
        Counts {
            queries: self.queries - before.queries,
            gets: self.gets - before.gets,
            records: self.records - before.records,
            bytes: self.bytes - before.bytes,
        }
    }
}

#[async_trait]
impl Store for CountingStore {
    async fn get(&self, keys: &[ItemKey]) -> Result<Vec<Option<Item>>, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        let found = self.inner.get(keys).await?;
        self.records.fetch_add(found.iter().flatten().count(), Ordering::SeqCst);
        self.bytes.fetch_add(found.iter().flatten().map(|item| item.body.len()).sum(), Ordering::SeqCst);
        Ok(found)
    }
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        self.inner.write(ops).await
    }
    async fn query(&self, query: &IndexQuery) -> Result<Vec<Item>, StoreError> {
        self.queries.fetch_add(1, Ordering::SeqCst);
        let page = self.inner.query(query).await?;
        self.records.fetch_add(page.len(), Ordering::SeqCst);
        self.bytes.fetch_add(page.iter().map(|item| item.body.len()).sum(), Ordering::SeqCst);
        Ok(page)
    }
}

/// A `kB` field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| line.strip_prefix(field)?.strip_prefix(':')?.trim().strip_suffix("kB")?.trim().parse().ok())
}

/// Resident memory before a pass and the peak during it (VmHWM reset right before).
#[derive(Clone, Copy, Debug)]
struct Memory {
    rss_before_kib: u64,
    peak_kib: u64,
}

impl Memory {
    fn growth_kib(&self) -> u64 {
        self.peak_kib.saturating_sub(self.rss_before_kib)
    }
}

/// Runs `work` timed, with the peak RSS reset before it (Linux: `5` to `/proc/self/clear_refs`).
async fn measured<T>(work: impl Future<Output = T>) -> (T, Duration, Option<Memory>) {
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let rss_before = status_kib("VmRSS");
    let started = Instant::now();
    let out = work.await;
    let wall = started.elapsed();
    let memory = match (reset, rss_before, status_kib("VmHWM")) {
        (true, Some(rss_before_kib), Some(peak_kib)) => Some(Memory { rss_before_kib, peak_kib }),
        _ => None,
    };
    (out, wall, memory)
}

fn ms(d: Duration) -> String {
    if d.as_secs_f64() >= 10.0 { format!("{:.2} s", d.as_secs_f64()) } else { format!("{:.1} ms", d.as_secs_f64() * 1000.0) }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

// ---------------------------------------------------------------------------------------------
// Part 1: reconciliation.

/// What was seeded, to check compute's summary against.
#[derive(Debug, Default)]
struct Seeded {
    intents: usize,
    settlements: usize,
    matched: u64,
    matched_atomic: u128,
    discrepancies: usize,
    unmatched: u64,
    unmatched_atomic: u128,
    unexpected: u64,
    unexpected_atomic: u128,
}

fn tx_hash(n: u64) -> TxHash {
    TxHash::parse(Chain::Base, &format!("{n:064x}")).unwrap()
}

#[allow(clippy::too_many_arguments)]
fn settlement(
    org: &OrgId,
    intent: Option<&PayoutId>,
    tx: TxHash,
    block: u64,
    amount: u128,
    from: &str,
    wallet: &WalletId,
    seen: Timestamp,
    confirmed: Timestamp,
) -> Settlement {
    Settlement {
        id: SettlementId::generate(),
        org_id: org.clone(),
        environment: Environment::Sandbox,
        payout_intent_id: intent.cloned(),
        chain: Chain::Base,
        tx_hash: tx,
        log_index: 0,
        from_address: Some(from.to_owned()),
        to_address: Some(EVM_RECIPIENT.to_owned()),
        token: Token::Usdc,
        amount_atomic: AtomicAmount(amount),
        source_wallet_id: Some(wallet.clone()),
        block_number: Some(block),
        block_hash: Some(format!("0x{block:064x}")),
        block_time: Some(seen),
        confirmations: BASE_CONFIRMATIONS,
        confirmed_at: Some(confirmed),
        detected_at: seen,
        created_at: confirmed,
    }
}

/// N intents and their settlements, written 25 intents (+ settlements) per store write, or one
/// item per write (`one_by_one`: on the emulator, where a 50-item `TransactWriteItems` takes
/// about 1.5 s and a `PutItem` 2 ms).
async fn seed(store: &dyn Store, org: &OrgId, n: usize, now: Timestamp, one_by_one: bool) -> Seeded {
    let recipient = ChainAddress::parse(Chain::Base, EVM_RECIPIENT).unwrap();
    let approver = ApiKeyId::generate();
    let wallet = WalletId::generate();
    let from = display_account(Chain::Base, [0x5a; 20]);
    let base = now - Span::days(30);
    let mut seeded = Seeded::default();
    let mut ops = Vec::with_capacity(2 * SEED_BATCH + 1);
    for i in 0..n {
        let created = base + Span::milliseconds(10 * i as i64);
        // 1.00 … 500.99, in cents.
        let atomic = (100 + (i as u128 * 37) % 50_000) * 10_000;
        let amount = Amount::parse_json_number(&amount_text(atomic)).unwrap();
        assert_eq!(amount.to_atomic(), AtomicAmount(atomic));
        let new = NewPayout {
            recipient_address: recipient.clone(),
            chain: Chain::Base,
            token: Token::Usdc,
            amount,
            currency: Currency::Usd,
            description: Some(format!("Contractor payment {i}")),
            reference_type: Some(ReferenceType::Invoice),
            reference_id: Some(format!("inv_{i:08}")),
            due_date: None,
        };
        let mut intent = PayoutIntent::new(PayoutId::generate(), org.clone(), Environment::Sandbox, new, created);
        intent.status = PayoutStatus::Approved;
        intent.amount_atomic = Some(amount.to_atomic());
        intent.approved_at = Some(created + Span::seconds(1));
        intent.approved_by = Some(approver.clone());
        intent.updated_at = created + Span::seconds(1);
        match i % 100 {
            // 2%: approved, nothing sent yet.
            1 | 2 => {
                seeded.unmatched += 1;
                seeded.unmatched_atomic += atomic;
            }
            // 1%: settled on 0.05 less; 97%: settled exactly.
            kind => {
                let paid = if kind == 0 { atomic - 50_000 } else { atomic };
                let (block, seen, verified) = (1_000_000 + i as u64, created + Span::seconds(10), created + Span::seconds(70));
                let tx = tx_hash(i as u64 + 1);
                intent.status = PayoutStatus::Settled;
                intent.executed_at = Some(created + Span::seconds(2));
                intent.expected_tx_hash = Some(tx.clone());
                intent.observation = Some(ChainObservation {
                    block_number: block,
                    block_hash: format!("0x{block:064x}"),
                    seen_at: seen,
                    confirmations: 1,
                    required_confirmations: 1,
                });
                intent.first_seen_at = Some(seen);
                intent.verified_at = Some(verified);
                intent.updated_at = verified;
                let linked = settlement(org, Some(&intent.id), tx, block, paid, &from, &wallet, seen, verified);
                ops.push(WriteOp::Put { item: records::settlement_item(&linked, 1).unwrap(), condition: None });
                seeded.settlements += 1;
                if kind == 0 {
                    seeded.discrepancies += 1;
                } else {
                    seeded.matched += 1;
                    seeded.matched_atomic += paid;
                }
            }
        }
        ops.push(WriteOp::Put { item: records::payout_item(&intent, 1).unwrap(), condition: None });
        seeded.intents += 1;
        // 0.5% of N: a transfer from the organization's wallet that backs no intent.
        if i % 200 == 3 {
            let paid = 3_000_000 + i as u128;
            let (block, seen) = (5_000_000 + i as u64, created + Span::seconds(30));
            let stray = settlement(org, None, tx_hash((1 << 48) + i as u64), block, paid, &from, &wallet, seen, seen + Span::seconds(60));
            ops.push(WriteOp::Put { item: records::settlement_item(&stray, 1).unwrap(), condition: None });
            seeded.settlements += 1;
            seeded.unexpected += 1;
            seeded.unexpected_atomic += paid;
        }
        if (i + 1) % SEED_BATCH == 0 || i + 1 == n {
            if one_by_one {
                for op in std::mem::take(&mut ops) {
                    store.write(vec![op]).await.unwrap();
                }
            } else {
                store.write(std::mem::take(&mut ops)).await.unwrap();
            }
        }
        if (i + 1) % 10_000 == 0 {
            eprintln!("  seeded {} intents", i + 1);
        }
    }
    seeded
}

/// Streams one gsi1 partition a page at a time, decoding every item; how many.
async fn stream_decoded<T: DeserializeOwned>(store: &dyn Store, index: IndexName, pk: String, now_unix: i64) -> usize {
    let mut query = IndexQuery { limit: PAGE, ..IndexQuery::partition(index, pk, false, now_unix) };
    let mut count = 0;
    loop {
        let page = store.query(&query).await.unwrap();
        for item in &page {
            let record: T = records::decode(item).unwrap();
            std::hint::black_box(&record);
            count += 1;
        }
        match page.last().filter(|_| page.len() == query.limit) {
            Some(last) => query.after = IndexPosition::of(last, index),
            None => return count,
        }
    }
}

/// The plain read: every settlement and every intent of the organization, decoded.
async fn plain_read(store: &dyn Store, org: &OrgId, now_unix: i64) -> (usize, usize) {
    let settlements = stream_decoded::<Settlement>(store, IndexName::Gsi1, records::settlements_of(org, Environment::Sandbox), now_unix).await;
    let intents = stream_decoded::<PayoutIntent>(store, IndexName::Gsi1, records::payouts_of(org, Environment::Sandbox), now_unix).await;
    (settlements, intents)
}

/// The reads `compute` makes, and nothing else: the settlements a page at a time with each
/// page's intents in one get, then the partitions of the statuses still awaiting a settlement;
/// every record decoded, none classified. (settlements, intents) read.
async fn compute_reads(store: &dyn Store, org: &OrgId, now_unix: i64) -> (usize, usize) {
    let mut query = IndexQuery { limit: PAGE, ..IndexQuery::partition(IndexName::Gsi1, records::settlements_of(org, Environment::Sandbox), false, now_unix) };
    let (mut settlements, mut intents) = (0, 0);
    loop {
        let page = store.query(&query).await.unwrap();
        let decoded: Vec<Settlement> = page.iter().map(|item| records::decode(item).unwrap()).collect();
        settlements += decoded.len();
        let mut keys: Vec<ItemKey> = decoded.iter().filter_map(|s| s.payout_intent_id.as_ref()).map(records::payout_key).collect();
        keys.sort();
        keys.dedup();
        for item in store.get(&keys).await.unwrap().into_iter().flatten() {
            let intent: PayoutIntent = records::decode(&item).unwrap();
            std::hint::black_box(&intent);
            intents += 1;
        }
        match page.last().filter(|_| page.len() == query.limit) {
            Some(last) => query.after = IndexPosition::of(last, IndexName::Gsi1),
            None => break,
        }
    }
    for status in [PayoutStatus::Approved, PayoutStatus::PendingExecution, PayoutStatus::Executed, PayoutStatus::Verifying] {
        intents += stream_decoded::<PayoutIntent>(store, IndexName::Gsi2, records::payouts_of_status(org, Environment::Sandbox, status), now_unix).await;
    }
    (settlements, intents)
}

/// For scale only: both partitions read whole and held decoded in memory.
async fn held_in_memory(store: &dyn Store, org: &OrgId, now_unix: i64) -> (Vec<Settlement>, Vec<PayoutIntent>) {
    let query = |pk| IndexQuery { limit: PAGE, ..IndexQuery::partition(IndexName::Gsi1, pk, false, now_unix) };
    let settlements = read_all(store, query(records::settlements_of(org, Environment::Sandbox))).await.unwrap();
    let settlements: Vec<Settlement> = settlements.iter().map(|item| records::decode(item).unwrap()).collect();
    let intents = read_all(store, query(records::payouts_of(org, Environment::Sandbox))).await.unwrap();
    let intents: Vec<PayoutIntent> = intents.iter().map(|item| records::decode(item).unwrap()).collect();
    (settlements, intents)
}

struct PassRow {
    label: &'static str,
    counts: Counts,
    walls: Vec<Duration>,
    memory: Vec<Memory>,
}

impl PassRow {
    fn new(label: &'static str) -> PassRow {
        PassRow { label, counts: Counts::default(), walls: Vec::new(), memory: Vec::new() }
    }

    fn record(&mut self, counts: Counts, wall: Duration, memory: Option<Memory>) {
        self.counts = counts;
        self.walls.push(wall);
        self.memory.extend(memory);
    }

    /// The round with the largest peak growth (the least flattering).
    fn worst_memory(&self) -> Option<Memory> {
        self.memory.iter().copied().max_by_key(Memory::growth_kib)
    }
}

async fn reconciliation_bench(kind: &str, n: usize, rounds: usize) {
    let (inner, dir): (Arc<dyn Store>, _) = match kind {
        "embedded" => {
            let dir = tempfile::tempdir().unwrap();
            (Arc::new(EmbeddedStore::open(dir.path()).unwrap()), Some(dir))
        }
        _ => (Arc::new(payouts_tests::aws::fresh_table().await.0), None),
    };
    let store = Arc::new(CountingStore::new(inner));
    let h = Harness::on_store(store.clone(), dir).await;
    let org = h.tenant.org.clone();
    eprintln!("reconciliation on {kind}: seeding {n} intents");
    let started = Instant::now();
    let seeded = seed(store.as_ref(), &org, n, h.app.now(), kind == "dynamodb").await;
    eprintln!("seeded {} intents and {} settlements: {}", seeded.intents, seeded.settlements, ms(started.elapsed()));

    let now = h.app.now();
    // On the embedded store, one unmeasured read first: both passes then find the same warm
    // caches (SQLite's and the OS's). The emulator keeps everything in memory anyway.
    if kind == "embedded" {
        let (settlements, intents) = plain_read(store.as_ref(), &org, now.timestamp()).await;
        assert_eq!((settlements, intents), (seeded.settlements, seeded.intents));
    }

    let mut read_row = PassRow::new("plain read: settlements + intents partitions (gsi1, pages of 100, decoded)");
    let mut reads_row = PassRow::new("compute's reads alone: settlement pages + their intents by key + open statuses (decoded, not classified)");
    let mut compute_row = PassRow::new("`reconciliation::compute` (default filters)");
    for round in 0..rounds {
        // The three passes in a different order each round.
        for pass in (0..3).map(|k| (k + round) % 3) {
            let before = store.counts();
            match pass {
                0 => {
                    let ((settlements, intents), wall, memory) = measured(plain_read(store.as_ref(), &org, now.timestamp())).await;
                    assert_eq!((settlements, intents), (seeded.settlements, seeded.intents));
                    read_row.record(store.counts() - before, wall, memory);
                }
                1 => {
                    let ((settlements, intents), wall, memory) = measured(compute_reads(store.as_ref(), &org, now.timestamp())).await;
                    assert_eq!((settlements, intents), (seeded.settlements, seeded.intents));
                    reads_row.record(store.counts() - before, wall, memory);
                }
                _ => {
                    let (computed, wall, memory) =
                        measured(reconciliation::compute(store.as_ref(), &org, Environment::Sandbox, &Filters::default(), now)).await;
                    let computed = computed.unwrap();
                    compute_row.record(store.counts() - before, wall, memory);
                    let summary = &computed.summary;
                    let total = |atomic: u128| accounting(AtomicAmount(atomic).to_decimal());
                    assert_eq!(summary.matched.count, seeded.matched, "{:?}", summary.matched);
                    assert_eq!(summary.matched.total_amount, total(seeded.matched_atomic));
                    assert_eq!(summary.unmatched_payouts.count, seeded.unmatched, "{:?}", summary.unmatched_payouts);
                    assert_eq!(summary.unmatched_payouts.total_amount, total(seeded.unmatched_atomic));
                    assert_eq!(summary.unexpected_settlements.count, seeded.unexpected, "{:?}", summary.unexpected_settlements);
                    assert_eq!(summary.unexpected_settlements.total_amount, total(seeded.unexpected_atomic));
                    assert_eq!(summary.discrepancies.len(), seeded.discrepancies);
                    let short = -accounting(AtomicAmount(50_000).to_decimal());
                    assert!(summary.discrepancies.iter().all(|line| line.difference == short), "every discrepancy is 0.05 short");
                    assert_eq!(computed.notable.len() as u64, seeded.discrepancies as u64 + seeded.unexpected);
                }
            }
        }
        eprintln!(
            "round {}: read {} / compute's reads {} / compute {}",
            round + 1,
            ms(read_row.walls[round]),
            ms(reads_row.walls[round]),
            ms(compute_row.walls[round])
        );
    }
    // Last, as it leaves the heap grown: what holding every record would cost (embedded only:
    // on the emulator it is one more slow pass with nothing new to show).
    let held = if kind == "embedded" {
        let before = store.counts();
        let (records, wall, memory) = measured(held_in_memory(store.as_ref(), &org, now.timestamp())).await;
        assert_eq!((records.0.len(), records.1.len()), (seeded.settlements, seeded.intents));
        drop(records);
        Some((store.counts() - before, wall, memory))
    } else {
        None
    };

    let read_median = median(read_row.walls.clone());
    let compute_median = median(compute_row.walls.clone());
    println!();
    println!(
        "Reconciliation, {kind} store: {} intents ({} matched, {} discrepancies, {} unmatched), {} settlements ({} unexpected); median of {rounds} round(s)",
        seeded.intents, seeded.matched, seeded.discrepancies, seeded.unmatched, seeded.settlements, seeded.unexpected
    );
    println!();
    println!("| pass | records read (JSON bytes) | store queries / gets | wall time (median) | ratio to plain read | RSS before | peak RSS growth |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let line = |label: &str, counts: Counts, wall: Duration, memory: Option<Memory>| {
        let (rss, growth) = match memory {
            Some(m) => (mib(m.rss_before_kib), mib(m.growth_kib())),
            None => ("n/a".to_owned(), "n/a".to_owned()),
        };
        println!(
            "| {label} | {} ({}) | {} / {} | {} | {:.2} | {rss} | {growth} |",
            counts.records,
            mib(counts.bytes as u64 / 1024),
            counts.queries,
            counts.gets,
            ms(wall),
            wall.as_secs_f64() / read_median.as_secs_f64()
        );
    };
    line(read_row.label, read_row.counts, read_median, read_row.worst_memory());
    line(reads_row.label, reads_row.counts, median(reads_row.walls.clone()), reads_row.worst_memory());
    line(compute_row.label, compute_row.counts, compute_median, compute_row.worst_memory());
    if let Some((counts, wall, memory)) = held {
        line("for scale: both partitions held decoded in memory (`read_all`, once)", counts, wall, memory);
    }
    println!();
    let spread = |walls: &[Duration]| walls.iter().map(|w| ms(*w)).collect::<Vec<_>>().join(", ");
    println!("Rounds: plain read {}; compute's reads {}; compute {}.", spread(&read_row.walls), spread(&reads_row.walls), spread(&compute_row.walls));
}

// ---------------------------------------------------------------------------------------------
// Part 2: the source-wallet scanner.

struct ScanRow {
    limit: Option<u64>,
    proxy_requests: usize,
    report_requests: usize,
    refused: usize,
    proxy_refused: usize,
    http_requests: usize,
    recorded: usize,
    expected: usize,
    runs: usize,
    wall: Duration,
}

async fn scanner_bench() {
    eprintln!("scanner: starting the rig");
    let rig = WatchRig::start_with(RigConfig { proxied: true, ..RigConfig::default() }).await;
    let store = rig.h.app.store.clone();
    let org = rig.h.tenant.org.clone();
    let verified_at = rig.h.app.now() - Span::days(1);

    // 1,000 verified wallets of the organization on sandbox/base: anvil's accounts 1–9, the rest random.
    let mut accounts: Vec<[u8; 20]> = (1..=9).map(|i| rig.account(i)).collect();
    while accounts.len() < WALLETS {
        let mut account = [0u8; 20];
        rand::rng().fill_bytes(&mut account);
        accounts.push(account);
    }
    for batch in accounts.chunks(25) {
        let ops = batch
            .iter()
            .map(|account| {
                let claim = WalletClaim { wallet_id: WalletId::generate(), org_id: org.clone(), verified_at: Some(verified_at) };
                WriteOp::Put { item: records::wallet_claim_item(Environment::Sandbox, Chain::Base, account, &claim).unwrap(), condition: None }
            })
            .collect();
        store.write(ops).await.unwrap();
    }
    let senders = [rig.account(1), rig.account(2), rig.account(3), rig.account(4)];
    for sender in senders {
        rig.anvil.mint(rig.usdc, sender, 1_000_000_000).await;
    }

    // 40 transfers, one every 250 blocks of [start, start + 10,000): every tenth from the
    // treasury (no wallet: never recorded), the others from a verified wallet.
    let start = rig.head().await + 1;
    let last = start + RANGE - 1;
    let gap = RANGE / TRANSFERS;
    let mut expected = Vec::new();
    let mut sent = Vec::new();
    for k in 0..TRANSFERS {
        let (from, wallet) = if k % 10 == 9 { (rig.treasury, false) } else { (senders[k as usize % senders.len()], true) };
        let hash = rig.anvil.transfer(from, rig.usdc, rig.account(5 + k as usize % 5), 1_000_000 + u128::from(k)).await;
        sent.push((hash, wallet));
        rig.anvil.mine(gap - 1).await;
    }
    assert_eq!(rig.head().await, last);
    // One more from a wallet just past the range, then the head where the safe head is `last`.
    let past = rig.anvil.transfer(senders[0], rig.usdc, rig.account(5), 9_000_000).await;
    rig.mine_to(last + BASE_CONFIRMATIONS - 1).await;
    for (hash, wallet) in &sent {
        let (block, _) = rig.tx_block(hash).await.expect("mined");
        assert!((start..=last).contains(&block), "{hash} in block {block}");
        if *wallet {
            expected.push(hash.clone());
        }
    }
    assert!(rig.tx_block(&past).await.expect("mined").0 > last);
    expected.sort();
    eprintln!("scanner: {WALLETS} wallets, {} transfers in blocks {start}..={last} ({} from wallets), head {}", sent.len(), expected.len(), rig.head().await);

    let proxy = rig.proxy(Chain::Base);
    let mut rows = Vec::new();
    for limit in [Some(1_000), Some(500), None] {
        // A clean slate: no settlement booked, the cursor at the range's first block.
        let booked = read_all(
            store.as_ref(),
            IndexQuery::partition(IndexName::Gsi1, records::settlements_of(&org, Environment::Sandbox), false, rig.h.app.now().timestamp()),
        )
        .await
        .unwrap();
        for batch in booked.chunks(25) {
            store.write(batch.iter().map(|item| WriteOp::Delete { key: item.key.clone(), condition: None }).collect()).await.unwrap();
        }
        assert!(rig.settlements().await.is_empty());
        let cursor = ScanCursor { next_block: start, span: MAX_SPAN, successes: 0, ceiling: None };
        store
            .write(vec![WriteOp::Put { item: records::scan_cursor_item(Environment::Sandbox, Chain::Base, &cursor, 1).unwrap(), condition: None }])
            .await
            .unwrap();

        proxy.refuse_log_ranges_over(limit);
        let (logs_before, refused_before) = proxy.log_requests();
        proxy.reset_counts();
        let scanner = rig.scanner(ScannerConfig { max_span: MAX_SPAN, max_requests: 10_000 });
        let (mut report_requests, mut refused, mut recorded, mut runs) = (0, 0, 0, 0);
        let started = Instant::now();
        loop {
            runs += 1;
            let report = scanner.run().await;
            assert!(report.interrupted.is_empty(), "{report:?}");
            report_requests += report.log_requests;
            refused += report.refused;
            recorded += report.recorded;
            if report.next_block.get(&(Environment::Sandbox, Chain::Base)).copied() == Some(last + 1) {
                break;
            }
            assert!(runs < 100, "the scanner never reached the safe head: {report:?}");
        }
        let wall = started.elapsed();
        let (logs_after, refused_after) = proxy.log_requests();
        let mut booked: Vec<String> = rig.settlements().await.iter().map(|s| s.tx_hash.to_string()).collect();
        booked.sort();
        assert_eq!(recorded, expected.len(), "limit {limit:?}");
        assert_eq!(booked, expected, "limit {limit:?}: exactly the wallets' transfers inside the range");
        rows.push(ScanRow {
            limit,
            proxy_requests: logs_after - logs_before,
            report_requests,
            refused,
            proxy_refused: refused_after - refused_before,
            http_requests: proxy.requests(),
            recorded,
            expected: expected.len(),
            runs,
            wall,
        });
        eprintln!("scanner, limit {limit:?}: {report_requests} eth_getLogs, {refused} refused, {}", ms(wall));
    }
    proxy.refuse_log_ranges_over(None);

    println!();
    println!(
        "Source-wallet scanner: {WALLETS} verified wallets on sandbox/base, blocks {start}..={last} ({RANGE} blocks), {} transfers in range ({} from wallets), `max_span` {MAX_SPAN}, `max_requests` 10000",
        sent.len(),
        expected.len()
    );
    println!();
    println!(
        "| provider range limit | eth_getLogs made (proxy / ScanReport) | of which refused | minimum the limit allows | ratio made/minimum | RPC HTTP requests (all) | settlements recorded (expected) | scanner runs | wall time |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for row in &rows {
        let span = row.limit.unwrap_or(u64::MAX).min(MAX_SPAN);
        let minimum = RANGE.div_ceil(span);
        assert_eq!(row.proxy_requests, row.report_requests, "every eth_getLogs the scanner made reached the provider once");
        assert_eq!(row.proxy_refused, row.refused);
        println!(
            "| {} | {} / {} | {} | {minimum} | {:.2} | {} | {} ({}) | {} | {} |",
            row.limit.map(|l| format!("{l} blocks")).unwrap_or_else(|| "none".into()),
            row.proxy_requests,
            row.report_requests,
            row.refused,
            row.report_requests as f64 / minimum as f64,
            row.http_requests,
            row.recorded,
            row.expected,
            row.runs,
            ms(row.wall)
        );
    }
}

#[tokio::main]
async fn main() {
    let mut n = 100_000;
    let mut rounds = 3;
    let mut targets: Vec<String> = Vec::new();
    for arg in std::env::args().skip(1) {
        if let Ok(value) = arg.parse::<usize>() {
            n = value;
        } else if let Some(value) = arg.strip_prefix("rounds=") {
            rounds = value.parse().expect("rounds=R, R a number");
        } else if matches!(arg.as_str(), "embedded" | "dynamodb" | "scanner") {
            targets.push(arg);
        } else {
            panic!("unknown argument {arg:?}: [N] [embedded] [dynamodb] [scanner] [rounds=R]");
        }
    }
    assert!(n > 0 && rounds > 0, "N and rounds must be at least 1");
    if targets.is_empty() {
        targets = vec!["embedded".into(), "scanner".into()];
    }
    for target in &targets {
        match target.as_str() {
            "scanner" => scanner_bench().await,
            store => reconciliation_bench(store, n, rounds).await,
        }
    }
}
