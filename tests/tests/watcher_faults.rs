//! The chain-watcher when its JSON-RPC provider misbehaves: a proxy on 127.0.0.1 between the
//! watcher and anvil answers 500, 429, hangs, closes the connection before or in the middle of
//! its answer, or answers malformed JSON — in the middle of a sweep (the first batch request of
//! the snapshot goes through, the next fails). RPC trouble is never a verdict: the intents stay
//! where they were, the report names the chain, and once the provider recovers they settle.
//! Also: an event bus outage loses no event.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts::adapters::rpc_chain::RpcOptions;
use payouts::domain::chain::{Chain, Environment};
use payouts::service::watcher::WatchReport;
use payouts_tests::random_tx_hash;
use payouts_tests::watch::{BASE_CONFIRMATIONS, Fault, NOT_FOUND_WINDOW_SECONDS, RigConfig, StoreKind, TRON_CONFIRMATIONS, WatchRig};
use serde_json::Value;
use std::collections::BTreeMap;

const AMOUNT: u128 = 12_340_000;

/// RPC options as an operator would set them, short: 300 ms per attempt, one retry, and two
/// calls per HTTP request so that a snapshot of a few intents spans several requests.
fn options() -> RpcOptions {
    let vars: BTreeMap<String, String> = [("PAYOUTS_RPC_TIMEOUT_MS", "300"), ("PAYOUTS_RPC_MAX_BATCH", "2"), ("PAYOUTS_RPC_RETRIES", "1")]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let options = payouts::runtime::rpc_options(&vars).unwrap();
    assert_eq!((options.request_timeout.as_millis(), options.max_batch, options.retries), (300, 2, 1));
    options
}

async fn rig() -> WatchRig {
    WatchRig::start_with(RigConfig { proxied: true, rpc: options(), ..RigConfig::default() }).await
}

fn unavailable(report: &WatchReport, chain: Chain) -> bool {
    report.unavailable == vec![(Environment::Sandbox, chain)]
}

/// Three base USDC intents to account 2, each paid by its own transfer; their ids.
async fn three_paid_intents(rig: &WatchRig) -> Vec<String> {
    let mut ids = Vec::new();
    for i in 0..3u128 {
        let tx = rig.pay(rig.usdc, rig.account(2), AMOUNT + i).await;
        ids.push(rig.executed_payout(Chain::Base, "USDC", &rig.evm(rig.account(2)), AMOUNT + i, &tx).await);
    }
    ids
}

async fn statuses(rig: &WatchRig, ids: &[String]) -> Vec<String> {
    let mut statuses = Vec::new();
    for id in ids {
        let intent = rig.payout(id).await;
        assert_eq!(intent["failure_reason"], Value::Null, "{intent}");
        statuses.push(intent["status"].as_str().unwrap().to_owned());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rpc_fault_mid_sweep_leaves_the_intents_where_they_were_until_the_node_recovers() {
    let rig = rig().await;
    let proxy = rig.proxy(Chain::Base);
    let mut settled_before: Vec<String> = Vec::new();
    for fault in Fault::FAILURES {
        let ids = three_paid_intents(&rig).await;
        let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
        // Deep already: any verdict the watcher drew now would be final.
        rig.anvil.mine(BASE_CONFIRMATIONS + 1).await;

        // 3 receipts + the head = 4 calls = 2 requests: the first goes through, the second fails.
        proxy.reset_counts();
        proxy.script([Fault::Pass]);
        proxy.set(fault);
        let report = rig.sweep().await;
        assert!(unavailable(&report, Chain::Base), "{fault:?}: {report:?}");
        assert_eq!(report.changed, 0, "{fault:?}: {report:?}");
        for id in &ids {
            assert!(report.deferred.iter().any(|d| d.to_string() == *id), "{fault:?}: {id} deferred: {report:?}");
        }
        assert!(proxy.requests() >= 3, "{fault:?}: one good request, then the failing one and its retry ({})", proxy.requests());
        assert_eq!(statuses(&rig, &ids).await, ["executed"; 3], "{fault:?}");
        // The queue consumer's path too.
        proxy.script([Fault::Pass]);
        let report = rig.check(&refs).await;
        assert!(unavailable(&report, Chain::Base) && report.deferred.len() == 3, "{fault:?}: {report:?}");
        assert_eq!(statuses(&rig, &ids).await, ["executed"; 3], "{fault:?}");

        proxy.set(Fault::Pass);
        let report = rig.sweep().await;
        assert!(report.unavailable.is_empty(), "{fault:?}: {report:?}");
        assert_eq!(statuses(&rig, &ids).await, ["verifying"; 3], "{fault:?}: first sighting once the node answers");

        // A fault again, now that they are verifying: still verifying, the sightings kept.
        let sightings: Vec<_> = observations(&rig, &ids).await;
        proxy.script([Fault::Pass]);
        proxy.set(fault);
        let report = rig.sweep().await;
        assert!(unavailable(&report, Chain::Base), "{fault:?}: {report:?}");
        assert_eq!(statuses(&rig, &ids).await, ["verifying"; 3], "{fault:?}");
        assert_eq!(observations(&rig, &ids).await, sightings, "{fault:?}: RPC trouble is no reorg");
        for id in &ids {
            assert!(rig.settlements_of(id).await.is_empty(), "{fault:?}");
        }

        proxy.set(Fault::Pass);
        let report = rig.sweep().await;
        assert!(report.unavailable.is_empty(), "{fault:?}: {report:?}");
        assert_eq!(statuses(&rig, &ids).await, ["settled"; 3], "{fault:?}");
        for id in &ids {
            assert_eq!(rig.settlements_of(id).await.len(), 1, "{fault:?}");
        }
        settled_before.extend(ids);
        assert_eq!(statuses(&rig, &settled_before).await, vec!["settled"; settled_before.len()]);
    }
    assert_eq!(rig.settlements().await.len(), 3 * Fault::FAILURES.len());
}

async fn observations(rig: &WatchRig, ids: &[String]) -> Vec<Option<(u64, String)>> {
    let mut seen = Vec::new();
    for id in ids {
        seen.push(rig.stored(id).await.observation.map(|o| (o.block_number, o.block_hash)));
    }
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tx_not_found_is_never_concluded_while_the_rpc_fails() {
    let rig = rig().await;
    let proxy = rig.proxy(Chain::Base);
    let unknown = rig.executed_payout(Chain::Base, "USDC", &rig.evm(rig.account(2)), AMOUNT, &random_tx_hash()).await;
    let tx = rig.pay(rig.usdc, rig.account(3), AMOUNT).await;
    let real = rig.executed_payout(Chain::Base, "USDC", &rig.evm(rig.account(3)), AMOUNT, &tx).await;
    rig.check(&[&unknown, &real]).await;
    assert_eq!(rig.status(&unknown).await, "executed");
    assert_eq!(rig.status(&real).await, "verifying");

    // The provider goes down for much longer than the window; every kind of failure in turn.
    for fault in Fault::FAILURES {
        proxy.set(fault);
        rig.advance(NOT_FOUND_WINDOW_SECONDS * 5);
        rig.anvil.mine(1).await;
        let report = rig.sweep().await;
        assert!(unavailable(&report, Chain::Base), "{fault:?}: {report:?}");
        let report = rig.check(&[&unknown, &real]).await;
        assert!(unavailable(&report, Chain::Base), "{fault:?}: {report:?}");
        let intent = rig.payout(&unknown).await;
        assert_eq!((intent["status"].as_str(), &intent["failure_reason"]), (Some("executed"), &Value::Null), "{fault:?}: RPC trouble is never a verdict");
        assert_eq!(rig.status(&real).await, "verifying", "{fault:?}");
        assert!(rig.stored(&real).await.observation.is_some(), "{fault:?}: an unreachable node is no reorg");
    }

    // Back: the real one settles, and only now is the unknown one known to be missing.
    proxy.set(Fault::Pass);
    let report = rig.sweep().await;
    assert!(report.unavailable.is_empty(), "{report:?}");
    assert_eq!(rig.status(&real).await, "settled");
    let intent = rig.payout(&unknown).await;
    assert_eq!((intent["status"].as_str(), intent["failure_reason"].as_str()), (Some("failed"), Some("tx_not_found")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_chain_down_does_not_hold_the_others() {
    let rig = rig().await;
    let tx = rig.pay(rig.usdc, rig.account(2), AMOUNT).await;
    let on_base = rig.executed_payout(Chain::Base, "USDC", &rig.evm(rig.account(2)), AMOUNT, &tx).await;
    let tx = rig.pay(rig.usdt, rig.account(3), AMOUNT).await;
    let on_tron = rig.executed_payout(Chain::Tron, "USDT", &rig.tron(rig.account(3)), AMOUNT, tx.trim_start_matches("0x")).await;
    rig.proxy(Chain::Base).set(Fault::Hang);

    let report = rig.sweep().await;
    assert!(unavailable(&report, Chain::Base), "{report:?}");
    assert_eq!(report.deferred.iter().map(ToString::to_string).collect::<Vec<String>>(), vec![on_base.clone()]);
    assert_eq!(rig.status(&on_tron).await, "verifying");
    rig.anvil.mine(TRON_CONFIRMATIONS).await;
    rig.sweep().await;
    assert_eq!(rig.status(&on_tron).await, "settled");
    assert_eq!(rig.status(&on_base).await, "executed");

    rig.proxy(Chain::Base).set(Fault::Pass);
    rig.sweep().await;
    rig.sweep().await;
    assert_eq!(rig.status(&on_base).await, "settled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_bus_outage_loses_no_event() {
    let rig = WatchRig::start().await;
    let tx = rig.pay(rig.usdc, rig.account(2), AMOUNT).await;
    let (block, _) = rig.tx_block(&tx).await.unwrap();
    let id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(rig.account(2)), AMOUNT, &tx).await;
    rig.bus.fail_next(usize::MAX);

    rig.check(&[&id]).await;
    rig.mine_to(block + BASE_CONFIRMATIONS - 1).await;
    let report = rig.sweep().await;
    assert_eq!(report.published, 0, "{report:?}");
    // The state changes do not wait for the bus...
    assert_eq!(rig.status(&id).await, "settled");
    // ...and every record is kept for the next relay.
    let pending: Vec<String> = rig.outbox().await.iter().filter(|e| e.subject_id == id).map(|e| e.event_type.as_str().to_owned()).collect();
    assert_eq!(pending, ["payout.created", "payout.approved", "payout.executed", "payout.verifying", "payout.settled"]);
    assert!(rig.bus.events().is_empty());
    assert!(rig.bus.attempts() >= 3);

    rig.bus.fail_next(0);
    let report = rig.sweep().await;
    assert_eq!(report.published, 5, "{report:?}");
    assert!(rig.outbox().await.is_empty());
    assert_eq!(rig.bus.types_of(&id), ["payout.created", "payout.approved", "payout.executed", "payout.verifying", "payout.settled"], "oldest first");
    assert!(rig.events_of(&id).await.iter().all(|e| e.published_at.is_some()));
}

/// A record that does not decode (a manual edit, a newer writer) in the watch index, the outbox
/// or among the organizations is skipped and logged: every other intent still settles and every
/// other event is still published.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_undecodable_record_stops_nobody_else_embedded() {
    one_undecodable_record_stops_nobody_else(StoreKind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_undecodable_record_stops_nobody_else_dynamodb() {
    one_undecodable_record_stops_nobody_else(StoreKind::DynamoDb).await;
}

async fn one_undecodable_record_stops_nobody_else(store: StoreKind) {
    use payouts::ports::store::{IndexName, WriteOp};
    use payouts::service::records;
    let rig = WatchRig::start_on(store).await;
    let broken = |pk: &str, partition: String, sk: &str| payouts_tests::undecodable_item(pk, IndexName::Gsi3, partition, sk);
    let items = vec![
        // Sorted first in both partitions, so a sweep meets them before anything else.
        broken("PO#po_000000000000000000000000", records::watch_partition(Environment::Sandbox, Chain::Base), "00000000000000000000#po_0"),
        broken("EVT#evt_000000000000000000000000", records::OUTBOX_PARTITION.to_owned(), "00000000000000000000#evt_0"),
    ];
    rig.h.app.store.write(items.into_iter().map(|item| WriteOp::Put { item, condition: None }).collect()).await.unwrap();

    let ids = three_paid_intents(&rig).await;
    rig.sweep().await;
    rig.mine_to(rig.head().await + BASE_CONFIRMATIONS).await;
    let report = rig.sweep().await;
    assert_eq!(statuses(&rig, &ids).await, ["settled", "settled", "settled"], "{report:?}");
    let left = rig
        .h
        .app
        .store
        .query(&payouts::ports::store::IndexQuery::partition(payouts::ports::store::IndexName::Gsi3, records::OUTBOX_PARTITION, false, 0))
        .await
        .unwrap();
    assert_eq!(left[0].key.pk, "EVT#evt_000000000000000000000000", "the broken record is left where it was");
    // The others wait only for the dispatcher's fan-out (no dispatcher in this rig).
    for item in &left[1..] {
        let event: payouts::domain::event::Event = records::decode(item).unwrap();
        assert!(event.published_at.is_some(), "every readable event was published: {}", event.id);
    }
    for id in &ids {
        assert!(rig.bus.types_of(id).contains(&"payout.settled".to_owned()));
    }
}

/// An organization's tolerance that cannot be scaled to atomic units (a record written around
/// `payouts-admin`'s checks) holds its payouts: a short transfer is neither settled as "within
/// any tolerance" nor failed; fixing the tolerance lets the next sweep judge it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unscalable_tolerance_settles_nothing() {
    use payouts::domain::org::Organization;
    use payouts::ports::store::{Condition, WriteOp};
    use payouts::service::records;
    let rig = WatchRig::start().await;
    let store = &rig.h.app.store;
    let org_key = records::org_key(&rig.h.tenant.org);
    let item = store.get(std::slice::from_ref(&org_key)).await.unwrap().pop().flatten().unwrap();
    let mut org: Organization = records::decode(&item).unwrap();
    org.amount_tolerance = rust_decimal::Decimal::MAX;
    store
        .write(vec![WriteOp::Put { item: records::org_item(&org, item.version + 1).unwrap(), condition: Some(Condition::Version(item.version)) }])
        .await
        .unwrap();

    let tx = rig.pay(rig.usdc, rig.account(2), AMOUNT / 2).await;
    let id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(rig.account(2)), AMOUNT, &tx).await;
    rig.sweep().await;
    rig.mine_to(rig.head().await + BASE_CONFIRMATIONS).await;
    let report = rig.sweep().await;
    assert!(report.deferred.iter().any(|held| held.as_str() == id), "{report:?}");
    assert_eq!(rig.status(&id).await, "executed", "neither settled nor failed");
    assert!(rig.settlements_of(&id).await.is_empty());

    let item = store.get(std::slice::from_ref(&org_key)).await.unwrap().pop().flatten().unwrap();
    org.amount_tolerance = rust_decimal::Decimal::ZERO;
    store
        .write(vec![WriteOp::Put { item: records::org_item(&org, item.version + 1).unwrap(), condition: Some(Condition::Version(item.version)) }])
        .await
        .unwrap();
    for _ in 0..3 {
        rig.advance(60);
        rig.sweep().await;
    }
    let intent = rig.payout(&id).await;
    assert_eq!((intent["status"].as_str(), intent["failure_reason"].as_str()), (Some("failed"), Some("amount_mismatch")), "{intent}");
}
