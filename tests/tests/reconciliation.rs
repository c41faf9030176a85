//! Reconciliation against a real local EVM node (anvil): one organization's four kinds of intent
//! and two stray transfers, read back as a merchant and an accountant would (the summary, the
//! items, the CSV, the events), on both stores; the source-wallet scanner against a provider
//! that refuses large ranges, across restarts, racing the watcher, and across a reorg; plan
//! gating and tenancy.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::Method;
use payouts::domain::chain::Chain;
use payouts::domain::event::EventType;
use payouts::domain::org::Plan;
use payouts::service::reconciliation::{ITEM_COLUMNS, run_job};
use payouts::service::scanner::ScannerConfig;
use payouts::service::settlements::COLUMNS as SETTLEMENT_COLUMNS;
use payouts_tests::Response;
use payouts_tests::receiver::Receiver;
use payouts_tests::wallets::{DEV_KEYS, cast_sign, registered_and_verified};
use payouts_tests::watch::{BASE_CONFIRMATIONS, RigConfig, StoreKind, WatchRig};
use serde_json::{Value, json};

/// The tx-queue check (first sighting), the blocks to `confirmations`, then a sweep.
async fn confirm(rig: &WatchRig, ids: &[&str], tx: &str) {
    rig.check(ids).await;
    let (block, _) = rig.tx_block(tx).await.expect("mined");
    let target = (block + BASE_CONFIRMATIONS - 1).max(rig.head().await);
    rig.mine_to(target).await;
    rig.sweep().await;
}

async fn get(rig: &WatchRig, key: &str, path: &str) -> Response {
    rig.h.call(Method::GET, path, Some(key), None).await
}

async fn get_ok(rig: &WatchRig, key: &str, path: &str) -> Value {
    let response = get(rig, key, path).await;
    assert_eq!(response.status, 200, "{path}: {}", response.json);
    response.json
}

async fn items(rig: &WatchRig, key: &str, category: &str) -> Vec<Value> {
    get_ok(rig, key, &format!("/v1/payouts/reconciliation/items?category={category}")).await["data"].as_array().unwrap().clone()
}

/// A wallet of account `i` verified for `key`'s organization on base, funded with 1,000 USDC.
async fn funded_wallet(rig: &WatchRig, key: &str, i: usize) -> Value {
    let wallet = registered_and_verified(&rig.h, key, "base", &rig.evm(rig.account(i)), |c| cast_sign(DEV_KEYS[i], c)).await;
    rig.anvil.mint(rig.usdc, rig.account(i), 1_000_000_000).await;
    wallet
}

fn scanner_config() -> ScannerConfig {
    ScannerConfig { max_span: 2_000, max_requests: 200 }
}

// ---------------------------------------------------------------------------------------------
// One organization, four kinds of intent, two stray transfers.

async fn four_kinds_of_intent_and_two_stray_transfers(store: StoreKind) {
    let rig = WatchRig::start_on(store).await;
    let key = rig.h.tenant.sandbox.clone();
    let wallet = funded_wallet(&rig, &key, 5).await;
    let from = rig.account(5);
    let (exact_to, short_to, unpaid_to, stray_to, pending_to) = (rig.account(2), rig.account(3), rig.account(4), rig.account(7), rig.account(6));

    let exact = rig.approved_payout(Chain::Base, "USDC", &rig.evm(exact_to), 25_000_000).await;
    let short = rig.approved_payout(Chain::Base, "USDC", &rig.evm(short_to), 25_000_000).await;
    let unpaid = rig.approved_payout(Chain::Base, "USDC", &rig.evm(unpaid_to), 10_000_000).await;
    // An approved intent that the stray transfer below fits exactly.
    let fitting = rig.approved_payout(Chain::Base, "USDC", &rig.evm(stray_to), 3_000_000).await;
    let pending = rig.approved_payout(Chain::Base, "USDC", &rig.evm(pending_to), 7_000_000).await;

    // Settled exactly, and paid 0.05 short (fails amount_mismatch, the transfer booked).
    let tx_exact = rig.anvil.transfer(from, rig.usdc, exact_to, 25_000_000).await;
    let tx_short = rig.anvil.transfer(from, rig.usdc, short_to, 24_950_000).await;
    assert_eq!(rig.h.execute(&key, &exact, &tx_exact).await.status, 200);
    assert_eq!(rig.h.execute(&key, &short, &tx_short).await.status, 200);
    confirm(&rig, &[&exact, &short], &tx_short).await;
    assert_eq!(rig.status(&exact).await, "settled");
    assert_eq!(rig.stored(&short).await.failure_reason.map(|r| r.as_str()), Some("amount_mismatch"));

    // A transfer from the verified wallet that backs no intent, and one from an unregistered
    // sender (the treasury): only the first is the organization's business.
    let tx_stray = rig.anvil.transfer(from, rig.usdc, stray_to, 3_000_000).await;
    let tx_foreign = rig.pay(rig.usdc, stray_to, 5_000_000).await;
    let (stray_block, _) = rig.tx_block(&tx_stray).await.unwrap();
    rig.mine_to(rig.head().await.max(stray_block + BASE_CONFIRMATIONS)).await;

    // Executed, seen, not confirmed yet.
    let tx_pending = rig.anvil.transfer(from, rig.usdc, pending_to, 7_000_000).await;
    assert_eq!(rig.h.execute(&key, &pending, &tx_pending).await.status, 200);
    rig.check(&[&pending]).await;
    assert_eq!(rig.status(&pending).await, "verifying");
    // Its object says how deep the transfer is, and the watcher keeps that up to date.
    let (pending_block, _) = rig.tx_block(&tx_pending).await.unwrap();
    let progress = rig.payout(&pending).await["verification"].clone();
    assert_eq!(progress, json!({"tx_block_number": pending_block, "confirmations": 1, "required_confirmations": BASE_CONFIRMATIONS}));
    rig.anvil.mine(1).await;
    rig.sweep().await;
    assert_eq!(rig.payout(&pending).await["verification"]["confirmations"], 2);
    assert_eq!(rig.payout(&exact).await["verification"], Value::Null, "null once settled");

    let scanned = rig.scanner(scanner_config()).run().await;
    assert!(scanned.interrupted.is_empty(), "{scanned:?}");
    assert_eq!(scanned.recorded, 1, "only the stray transfer was not booked yet: {scanned:?}");
    let job = run_job(&rig.h.app).await.unwrap();
    assert!(job.reports >= 1 && job.failed == 0, "{job:?}");

    // The summary, to the cent, in the contract's shape.
    let response = get(&rig, &key, "/v1/payouts/reconciliation").await;
    assert_eq!(response.status, 200, "{}", response.json);
    let summary = &response.json;
    assert_eq!(summary["matched"], json!({"count": 1, "total_amount": 25.0}), "{summary}");
    assert_eq!(summary["unmatched_payouts"], json!({"count": 3, "total_amount": 20.0}), "{summary}");
    assert_eq!(summary["unexpected_settlements"], json!({"count": 1, "total_amount": 3.0}), "{summary}");
    assert_eq!(summary["environment"], "sandbox");
    assert!(summary["computed_at"].as_str().is_some_and(|t| t.ends_with('Z')), "{summary}");
    let discrepancies = summary["discrepancies"].as_array().unwrap();
    assert_eq!(discrepancies.len(), 1, "{summary}");
    assert_eq!(discrepancies[0]["payout_intent_id"], short.as_str());
    assert_eq!(discrepancies[0]["chain"], "base");
    // Exact decimals on the wire, never through a float.
    for exact_text in [r#""total_amount":25.00"#, r#""expected_amount":25.00"#, r#""actual_amount":24.95"#, r#""difference":-0.05"#, r#""total_amount":20.00"#]
    {
        assert!(response.raw.contains(exact_text), "{exact_text} in {}", response.raw);
    }

    // The items behind each figure agree with it.
    let matched = items(&rig, &key, "matched").await;
    assert_eq!(matched.len(), 1);
    assert_eq!(matched[0]["payout_intent"]["id"], exact.as_str());
    assert_eq!(matched[0]["settlement"]["tx_hash"], tx_exact.as_str());
    assert_eq!(matched[0]["difference"], json!(0.0));
    let discrepancy = items(&rig, &key, "discrepancy").await;
    assert_eq!(discrepancy.len(), 1);
    assert_eq!(discrepancy[0]["settlement"]["id"], discrepancies[0]["settlement_id"]);
    assert_eq!(discrepancy[0]["difference"], json!(-0.05));
    let fields: Vec<&str> = discrepancy[0]["reasons"].as_array().unwrap().iter().map(|r| r["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["amount", "failure_reason"]);
    let unmatched = items(&rig, &key, "unmatched").await;
    let mut unmatched_ids: Vec<&str> = unmatched.iter().map(|i| i["payout_intent"]["id"].as_str().unwrap()).collect();
    unmatched_ids.sort();
    let mut expected_ids = vec![unpaid.as_str(), fitting.as_str(), pending.as_str()];
    expected_ids.sort();
    assert_eq!(unmatched_ids, expected_ids);
    assert!(unmatched.iter().all(|i| i["overdue"] == false && i["settlement"].is_null() && i["age_seconds"].as_i64().is_some()));
    let unexpected = items(&rig, &key, "unexpected").await;
    assert_eq!(unexpected.len(), 1, "the unregistered sender's transfer is not reported: {unexpected:?}");
    assert_eq!(unexpected[0]["settlement"]["tx_hash"], tx_stray.as_str());
    assert_ne!(unexpected[0]["settlement"]["tx_hash"], tx_foreign.as_str());
    assert_eq!(unexpected[0]["settlement"]["source_wallet_id"], wallet["id"]);
    assert!(unexpected[0]["payout_intent"].is_null());
    assert_eq!(unexpected[0]["suggested_payout_intent_id"], fitting.as_str());

    // The CSV says the same, with its documented header.
    let csv = rig.h.call(Method::GET, "/v1/payouts/reconciliation/items?category=discrepancy&format=csv", Some(&key), None).await;
    assert_eq!(csv.status, 200);
    assert!(csv.header("content-type").is_some_and(|t| t.starts_with("text/csv")), "{:?}", csv.headers);
    let lines: Vec<&str> = csv.raw.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], ITEM_COLUMNS.join(","));
    assert_eq!(lines.len(), 2, "{}", csv.raw);
    let cells: Vec<&str> = lines[1].split(',').collect();
    assert_eq!((cells[0], cells[1], cells[7], cells[8], cells[9], cells[10]), ("discrepancy", short.as_str(), "25.00", "24.95", "-0.05", "24950000"));
    let settlements_csv = rig.h.call_with(Method::GET, "/v1/payouts/settlements", Some(&key), None, &[("accept", "text/csv")]).await;
    let lines: Vec<&str> = settlements_csv.raw.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], SETTLEMENT_COLUMNS.join(","));
    assert_eq!(lines.len(), 4, "exact, short and stray are booked: {}", settlements_csv.raw);

    // One event per item, however often the job runs.
    run_job(&rig.h.app).await.unwrap();
    let discrepancy_events = get_ok(&rig, &key, "/v1/events?type=reconciliation.discrepancy").await;
    assert_eq!(discrepancy_events["data"].as_array().unwrap().len(), 1, "{discrepancy_events}");
    assert_eq!(discrepancy_events["data"][0]["data"]["payout_intent"]["id"], short.as_str());
    let unexpected_events = get_ok(&rig, &key, "/v1/events?type=settlement.unexpected").await;
    assert_eq!(unexpected_events["data"].as_array().unwrap().len(), 1, "{unexpected_events}");
    assert_eq!(unexpected_events["data"][0]["data"]["settlement"]["tx_hash"], tx_stray.as_str());

    // The merchant executes the suggested intent with the stray transfer: the two link, on the
    // same settlement record.
    let stray_id = unexpected[0]["settlement"]["id"].clone();
    assert_eq!(rig.h.execute(&key, &fitting, &tx_stray).await.status, 200);
    rig.check(&[&fitting]).await;
    rig.sweep().await;
    assert_eq!(rig.status(&fitting).await, "settled");
    let booked = get_ok(&rig, &key, &format!("/v1/payouts/settlements?payout_intent_id={fitting}")).await;
    assert_eq!(booked["data"].as_array().unwrap().len(), 1);
    assert_eq!(booked["data"][0]["id"], stray_id);
    let all = get_ok(&rig, &key, "/v1/payouts/settlements?limit=100").await;
    assert_eq!(all["data"].as_array().unwrap().len(), 3, "still one record per transfer");
    run_job(&rig.h.app).await.unwrap();
    let summary = get_ok(&rig, &key, "/v1/payouts/reconciliation").await;
    assert_eq!(summary["matched"], json!({"count": 2, "total_amount": 28.0}), "{summary}");
    assert_eq!(summary["unexpected_settlements"], json!({"count": 0, "total_amount": 0.0}), "{summary}");
    assert_eq!(summary["unmatched_payouts"]["count"], 2);
    // Filters compute on demand.
    let tron_only = get_ok(&rig, &key, "/v1/payouts/reconciliation?chain=tron").await;
    assert_eq!(tron_only["matched"]["count"], 0);
    assert_eq!(tron_only["filters"]["chain"], "tron");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_kinds_of_intent_and_two_stray_transfers_embedded() {
    four_kinds_of_intent_and_two_stray_transfers(StoreKind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_kinds_of_intent_and_two_stray_transfers_dynamodb() {
    four_kinds_of_intent_and_two_stray_transfers(StoreKind::DynamoDb).await;
}

// ---------------------------------------------------------------------------------------------
// The scanner.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorged_out_transfer_is_never_reported() {
    let rig = WatchRig::start().await;
    let key = rig.h.tenant.sandbox.clone();
    funded_wallet(&rig, &key, 5).await;
    let scanner = rig.scanner(scanner_config());
    scanner.run().await;
    let tx = rig.anvil.transfer(rig.account(5), rig.usdc, rig.account(2), 4_000_000).await;
    rig.anvil.mine(1).await;
    // Not deep enough yet: nothing is recorded.
    assert_eq!(scanner.run().await.recorded, 0);
    rig.anvil.reorg(3).await;
    assert!(rig.tx_block(&tx).await.is_none(), "the reorg took the transfer out");
    rig.anvil.mine(BASE_CONFIRMATIONS + 2).await;
    let report = scanner.run().await;
    assert_eq!((report.recorded, report.interrupted.len()), (0, 0), "{report:?}");
    assert!(items(&rig, &key, "unexpected").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wallet_is_scanned_from_its_verification_not_from_genesis() {
    let rig = WatchRig::start().await;
    let key = rig.h.tenant.sandbox.clone();
    rig.anvil.mint(rig.usdc, rig.account(5), 10_000_000).await;
    // Sent while the address was nobody's verified wallet.
    let before = rig.anvil.transfer(rig.account(5), rig.usdc, rig.account(2), 1_000_000).await;
    // Time passes on the chain (10 minutes) and for the service (5 minutes), then the proof.
    rig.anvil.rpc("evm_increaseTime", json!([600])).await;
    rig.anvil.mine(1).await;
    rig.advance(300);
    registered_and_verified(&rig.h, &key, "base", &rig.evm(rig.account(5)), |c| cast_sign(DEV_KEYS[5], c)).await;
    let after = rig.anvil.transfer(rig.account(5), rig.usdc, rig.account(2), 2_000_000).await;
    rig.anvil.mine(BASE_CONFIRMATIONS).await;

    let report = rig.scanner(scanner_config()).run().await;
    assert_eq!(report.recorded, 1, "{report:?}");
    assert_eq!(unexpected_hashes(&rig, &key).await, vec![after.clone()]);
    assert!(!unexpected_hashes(&rig, &key).await.contains(&before), "a transfer from before the proof is not the organization's");
}

/// `n` transfers from account 5 to account 2, `gap` blocks apart; their hashes.
async fn spread_transfers(rig: &WatchRig, n: usize, gap: u64) -> Vec<String> {
    let mut hashes = Vec::new();
    for i in 0..n {
        hashes.push(rig.anvil.transfer(rig.account(5), rig.usdc, rig.account(2), 1_000_000 + i as u128).await);
        rig.anvil.mine(gap).await;
    }
    rig.anvil.mine(BASE_CONFIRMATIONS).await;
    hashes
}

async fn unexpected_hashes(rig: &WatchRig, key: &str) -> Vec<String> {
    let listed = get_ok(rig, key, "/v1/payouts/reconciliation/items?category=unexpected&limit=100").await;
    let mut hashes: Vec<String> = listed["data"].as_array().unwrap().iter().map(|i| i["settlement"]["tx_hash"].as_str().unwrap().to_owned()).collect();
    hashes.sort();
    hashes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_refuses_large_ranges_gets_smaller_ones_and_nothing_is_missed() {
    let rig = WatchRig::start_with(RigConfig { proxied: true, ..RigConfig::default() }).await;
    let key = rig.h.tenant.sandbox.clone();
    funded_wallet(&rig, &key, 5).await;
    let proxy = rig.proxy(Chain::Base);
    proxy.refuse_log_ranges_over(Some(8));
    let mut hashes = spread_transfers(&rig, 6, 9).await;
    hashes.sort();

    let report = rig.scanner(ScannerConfig { max_span: 64, max_requests: 100 }).run().await;
    assert!(report.interrupted.is_empty(), "{report:?}");
    assert_eq!(report.recorded, 6, "{report:?}");
    let (requests, refused) = proxy.log_requests();
    assert!(refused >= 3, "64 → 32 → 16 → 8: {refused} refusals");
    assert_eq!(requests, report.log_requests);
    assert_eq!(unexpected_hashes(&rig, &key).await, hashes);
    // Nothing left, nothing doubled.
    assert_eq!(rig.scanner(ScannerConfig { max_span: 64, max_requests: 100 }).run().await.recorded, 0);
    assert_eq!(unexpected_hashes(&rig, &key).await.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_scanner_resumes_from_its_cursor_without_gap_or_double() {
    let rig = WatchRig::start_on(StoreKind::DynamoDb).await;
    let key = rig.h.tenant.sandbox.clone();
    funded_wallet(&rig, &key, 5).await;
    let mut hashes = spread_transfers(&rig, 5, 7).await;
    hashes.sort();
    let mut recorded = 0;
    let mut runs = 0;
    // Each run is a fresh process allowed two requests of five blocks.
    loop {
        runs += 1;
        let report = rig.scanner(ScannerConfig { max_span: 5, max_requests: 2 }).run().await;
        assert!(report.interrupted.is_empty(), "{report:?}");
        recorded += report.recorded;
        if report.log_requests < 2 {
            break;
        }
        assert!(runs < 100, "the scanner never caught up");
    }
    assert!(runs > 3, "stopped and resumed several times ({runs} runs)");
    assert_eq!(recorded, 5);
    assert_eq!(unexpected_hashes(&rig, &key).await, hashes);
}

async fn watcher_and_scanner_book_one_transfer_once(scanner_first: Option<bool>) {
    let rig = WatchRig::start().await;
    let key = rig.h.tenant.sandbox.clone();
    funded_wallet(&rig, &key, 5).await;
    let id = rig.approved_payout(Chain::Base, "USDC", &rig.evm(rig.account(2)), 9_000_000).await;
    let tx = rig.anvil.transfer(rig.account(5), rig.usdc, rig.account(2), 9_000_000).await;
    assert_eq!(rig.h.execute(&key, &id, &tx).await.status, 200);
    rig.anvil.mine(BASE_CONFIRMATIONS + 1).await;
    let scanner = rig.scanner(scanner_config());
    match scanner_first {
        Some(true) => {
            let report = scanner.run().await;
            assert_eq!((report.recorded, report.linked), (1, 1), "linked to the intent that claimed the hash: {report:?}");
            rig.check(&[&id]).await;
            rig.sweep().await;
        }
        Some(false) => {
            rig.check(&[&id]).await;
            rig.sweep().await;
            assert_eq!(rig.status(&id).await, "settled");
            assert_eq!(scanner.run().await.recorded, 0);
        }
        None => {
            let ids = [payouts::domain::ids::PayoutId::parse(&id).unwrap()];
            let (checked, scanned) = tokio::join!(rig.watcher.check_payouts(&ids), scanner.run());
            checked.unwrap();
            assert!(scanned.interrupted.is_empty(), "{scanned:?}");
            let (swept, scanned) = tokio::join!(rig.watcher.sweep(), scanner.run());
            swept.unwrap();
            assert!(scanned.interrupted.is_empty(), "{scanned:?}");
        }
    }
    assert_eq!(rig.status(&id).await, "settled");
    let all = get_ok(&rig, &key, "/v1/payouts/settlements").await;
    let all = all["data"].as_array().unwrap();
    assert_eq!(all.len(), 1, "one settlement: {all:?}");
    assert_eq!(all[0]["payout_intent_id"], id.as_str());
    assert_eq!(all[0]["tx_hash"], tx.as_str());
    run_job(&rig.h.app).await.unwrap();
    let summary = get_ok(&rig, &key, "/v1/payouts/reconciliation").await;
    assert_eq!(summary["matched"], json!({"count": 1, "total_amount": 9.0}), "{summary}");
    assert_eq!(summary["unexpected_settlements"]["count"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scanner_first_then_the_watcher_book_one_settlement() {
    watcher_and_scanner_book_one_transfer_once(Some(true)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_first_then_the_scanner_book_one_settlement() {
    watcher_and_scanner_book_one_transfer_once(Some(false)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_and_the_scanner_racing_book_one_settlement() {
    watcher_and_scanner_book_one_transfer_once(None).await;
}

// ---------------------------------------------------------------------------------------------
// Gating, tenancy, bad input.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_is_enterprise_in_live_and_never_shows_another_orgs_items() {
    let rig = WatchRig::start().await;
    let key = rig.h.tenant.sandbox.clone();
    funded_wallet(&rig, &key, 5).await;
    rig.scanner(scanner_config()).run().await;
    let tx = rig.anvil.transfer(rig.account(5), rig.usdc, rig.account(2), 2_000_000).await;
    rig.anvil.mine(BASE_CONFIRMATIONS).await;
    assert_eq!(rig.scanner(scanner_config()).run().await.recorded, 1);
    assert_eq!(items(&rig, &key, "unexpected").await.len(), 1);

    // An endpoint subscribed to settlement.unexpected gets it, signed, through the outbox.
    let receiver = Receiver::start().await;
    let body = json!({"url": receiver.url, "events": ["settlement.unexpected"]}).to_string();
    let endpoint = rig.h.call(Method::POST, "/v1/webhooks", Some(&key), Some(&body)).await;
    assert_eq!(endpoint.status, 201, "{}", endpoint.json);
    assert_eq!(run_job(&rig.h.app).await.unwrap().events, 1);
    rig.watcher.relay_outbox().await.unwrap();
    let announced: Vec<_> = rig.bus.events().into_iter().filter(|e| e.event_type == EventType::SettlementUnexpected).collect();
    assert_eq!(announced.len(), 1);
    let dispatcher = payouts::runtime::local_dispatcher(&rig.h.app, &std::collections::BTreeMap::<String, String>::new()).unwrap();
    dispatcher.dispatch_event(&announced[0]).await.unwrap();
    let received = receiver.received();
    assert_eq!(received.len(), 1);
    let delivered = received[0].json();
    assert_eq!(delivered["type"], "settlement.unexpected");
    assert_eq!(delivered["data"]["settlement"]["tx_hash"], tx.as_str());
    assert!(received[0].header("x-billing-signature").is_some_and(|s| s.contains("v1=")));
    assert_eq!(run_job(&rig.h.app).await.unwrap().events, 0, "announced once");

    let scale = rig.h.tenant(Plan::Scale).await;
    for path in ["/v1/payouts/reconciliation", "/v1/payouts/reconciliation/items?category=matched"] {
        let refused = get(&rig, &scale.live, path).await;
        assert_eq!(refused.status, 403, "{path}: {}", refused.json);
        assert_eq!(refused.error().1, "plan_upgrade_required");
        assert_eq!(get(&rig, &scale.sandbox, path).await.status, 200, "sandbox works on every plan: {path}");
        assert_eq!(get(&rig, &rig.h.tenant.live, path).await.status, 200, "enterprise in live: {path}");
        assert_eq!(get(&rig, &key, path).await.status, 200);
    }
    // Another organization sees none of it.
    let other = rig.h.tenant(Plan::Enterprise).await;
    for category in ["matched", "discrepancy", "unmatched", "unexpected"] {
        assert!(items(&rig, &other.sandbox, category).await.is_empty(), "{category}");
    }
    let theirs = get_ok(&rig, &other.sandbox, "/v1/payouts/reconciliation").await;
    assert_eq!(theirs["unexpected_settlements"]["count"], 0);
    let ours_live = get_ok(&rig, &rig.h.tenant.live, "/v1/payouts/reconciliation").await;
    assert_eq!(ours_live["unexpected_settlements"]["count"], 0, "live never shows sandbox");

    // Bad input is a 400 naming the parameter.
    for (path, param) in [
        ("/v1/payouts/reconciliation/items", "category"),
        ("/v1/payouts/reconciliation/items?category=lost", "category"),
        ("/v1/payouts/reconciliation?from=yesterday", "from"),
        ("/v1/payouts/reconciliation?from=2026-06-02T00:00:00Z&to=2026-06-01T00:00:00Z", "to"),
        ("/v1/payouts/reconciliation?limit=5", "limit"),
        ("/v1/payouts/reconciliation/items?category=matched&format=xlsx", "format"),
        ("/v1/payouts/reconciliation/items?category=matched&cursor=forged", "cursor"),
    ] {
        let refused = get(&rig, &key, path).await;
        assert_eq!(refused.status, 400, "{path}: {}", refused.json);
        assert_eq!(refused.error().2.as_deref(), Some(param), "{path}: {}", refused.json);
    }
    // `from` inclusive, `to` exclusive: the same instant is an empty window, not an error.
    let empty = get_ok(&rig, &key, "/v1/payouts/reconciliation?from=2026-06-01T00:00:00Z&to=2026-06-01T00:00:00Z").await;
    assert_eq!((empty["matched"]["count"].clone(), empty["unexpected_settlements"]["count"].clone()), (json!(0), json!(0)), "{empty}");
}
