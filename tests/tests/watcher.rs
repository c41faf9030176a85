//! The chain-watcher end to end against a real local EVM node (anvil): intents created,
//! approved and executed through the API, real token transfers, `check_payouts` (the tx-queue
//! path) and `sweep` (the schedule path), and what a customer then sees: the intent's status,
//! `failure_reason`, `verified_at`/`failed_at`, its settlements, its events, and what reached
//! the event bus.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts::domain::chain::{Chain, Environment, Token};
use payouts::domain::settlement::Settlement;
use payouts::service::admin;
use payouts_tests::random_tx_hash;
use payouts_tests::watch::{
    ARBITRUM_CONFIRMATIONS, BASE_CONFIRMATIONS, NOT_FOUND_WINDOW_SECONDS, StoreKind, TREASURY_BALANCE, TRON_CONFIRMATIONS, WatchRig, event_data, sqs_event,
    tx_message,
};
use serde_json::{Value, json};

const LIFECYCLE_SETTLED: [&str; 5] = ["payout.created", "payout.approved", "payout.executed", "payout.verifying", "payout.settled"];
const LIFECYCLE_FAILED: [&str; 5] = ["payout.created", "payout.approved", "payout.executed", "payout.verifying", "payout.failed"];

/// 25.000000 of a token.
const AMOUNT: u128 = 25_000_000;

fn sorted(mut values: Vec<String>) -> Vec<String> {
    values.sort();
    values
}

/// The intent is `failed` for `reason`, with `failed_at` and without `verified_at`, and its last
/// event is `payout.failed` carrying the intent as it is now.
async fn assert_failed(rig: &WatchRig, id: &str, reason: &str) {
    let intent = rig.payout(id).await;
    assert_eq!(intent["status"], "failed", "{intent}");
    assert_eq!(intent["failure_reason"], reason, "{intent}");
    assert!(intent["failed_at"].is_string(), "{intent}");
    assert_eq!(intent["verified_at"], Value::Null, "{intent}");
    let events = rig.events_of(id).await;
    let last = events.last().unwrap();
    assert_eq!(last.event_type.as_str(), "payout.failed");
    assert_eq!(event_data(last), intent, "the event carries the intent as it is");
    assert_eq!(events.iter().filter(|e| e.event_type.as_str() == "payout.failed").count(), 1);
}

/// The tx-queue check right after execute, then blocks until the tx is `confirmations` deep, then a sweep.
async fn check_then_confirm(rig: &WatchRig, ids: &[&str], tx_block: u64, confirmations: u64) {
    let report = rig.check(ids).await;
    assert_eq!(report.checked, ids.len(), "{report:?}");
    for id in ids {
        assert_eq!(rig.status(id).await, "verifying", "first sighting: {id}");
    }
    rig.mine_to(tx_block + confirmations - 1).await;
    rig.sweep().await;
}

// ---------------------------------------------------------------------------------------------
// 1. A correct transfer settles at the required confirmations, and not one block earlier.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_correct_usdc_transfer_on_base_settles_at_the_required_confirmations() {
    let rig = WatchRig::start().await;
    let recipient = rig.account(2);
    let id = rig.approved_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT).await;
    let tx = rig.pay(rig.usdc, recipient, AMOUNT).await;
    let (block, block_hash) = rig.tx_block(&tx).await.unwrap();
    assert_eq!(rig.head().await, block, "automine: the tx's block is the head (1 confirmation)");

    // Execute enqueues the tx message the queue consumer works from.
    let executed = rig.execute(&id, &tx.to_ascii_uppercase().replace("0X", "0x")).await;
    assert_eq!(executed.status, 200, "{}", executed.json);
    assert_eq!(executed.json["expected_tx_hash"], tx, "stored normalized, lower case");
    let queued = rig.h.queue.0.lock().unwrap().clone();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].payout_id.to_string(), id);

    let report = rig.check(&[&id]).await;
    assert_eq!((report.checked, report.changed, report.unavailable.clone(), report.deferred.clone()), (1, 1, vec![], vec![]), "{report:?}");
    let verifying = rig.payout(&id).await;
    assert_eq!(verifying["status"], "verifying");
    assert_eq!(verifying["verified_at"], Value::Null);
    assert_eq!(verifying["failure_reason"], Value::Null);
    let seen = rig.stored(&id).await.observation.expect("the sighting is recorded");
    assert_eq!((seen.block_number, seen.block_hash.clone()), (block, block_hash.clone()));

    // One block at a time: still verifying up to confirmations − 1.
    for head in block..block + BASE_CONFIRMATIONS - 1 {
        rig.mine_to(head).await;
        let report = rig.sweep().await;
        assert_eq!(rig.status(&id).await, "verifying", "{} confirmation(s) of {BASE_CONFIRMATIONS}: {report:?}", head - block + 1);
        assert!(rig.settlements().await.is_empty(), "no settlement before the confirmations");
    }
    rig.mine_to(block + BASE_CONFIRMATIONS - 1).await;
    let report = rig.sweep().await;
    assert_eq!(report.changed, 1, "{report:?}");

    let intent = rig.payout(&id).await;
    assert_eq!(intent["status"], "settled", "{intent}");
    assert!(intent["verified_at"].is_string());
    assert_eq!(intent["failure_reason"], Value::Null);
    assert_eq!(intent["failed_at"], Value::Null);

    // Exactly one settlement, every field as on chain.
    let settlements = rig.settlements().await;
    assert_eq!(settlements.len(), 1);
    let s: &Settlement = &settlements[0];
    assert!(s.id.to_string().starts_with("stl_"));
    assert_eq!(s.org_id, rig.h.tenant.org);
    assert_eq!(s.environment, Environment::Sandbox);
    assert_eq!(s.payout_intent_id.as_ref().map(ToString::to_string), Some(id.clone()));
    assert_eq!((s.chain, s.token), (Chain::Base, Token::Usdc));
    assert_eq!(s.tx_hash.as_str(), tx);
    assert_eq!(s.log_index, 0);
    assert_eq!(s.from_address.as_deref(), Some(rig.evm(rig.treasury).as_str()));
    assert_eq!(s.to_address.as_deref(), Some(rig.evm(recipient).as_str()));
    assert_eq!(s.to_address.as_deref(), intent["recipient_address"].as_str(), "checksummed like the intent");
    assert_ne!(s.to_address.as_deref().map(str::to_lowercase).as_deref(), s.to_address.as_deref(), "EIP-55 mixed case");
    assert_eq!(s.amount_atomic.0, AMOUNT);
    assert_eq!((s.block_number, s.block_hash.clone()), (Some(block), Some(block_hash.clone())));
    assert!(s.confirmations >= BASE_CONFIRMATIONS, "{}", s.confirmations);
    assert_eq!(s.detected_at, seen.seen_at, "detected when first seen");
    let view = s.view();
    assert_eq!(view.confirmed_at.as_ref(), intent["verified_at"].as_str().map(str::to_owned).as_ref());
    assert!(s.detected_at < s.confirmed_at.unwrap());
    assert_eq!(rig.settlements_of(&id).await.len(), 1, "listed under the intent too");

    // The events, each with the intent as it was right after the change.
    let events = rig.events_of(&id).await;
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(types, LIFECYCLE_SETTLED);
    for (event, status) in events.iter().zip(["draft", "approved", "executed", "verifying", "settled"]) {
        let data = event_data(event);
        assert_eq!(data["id"], id.as_str());
        assert_eq!(data["status"], status, "{}", event.event_type);
    }
    assert_eq!(event_data(events.last().unwrap()), intent, "payout.settled carries the settled intent");

    // The bus got every event once: the watcher's own at once, the API's through the outbox relay.
    assert_eq!(sorted(rig.bus.types_of(&id)), sorted(LIFECYCLE_SETTLED.iter().map(|t| (*t).to_owned()).collect()));
    let mut bus_ids: Vec<String> = rig.bus.ids().iter().map(ToString::to_string).collect();
    let mut record_ids: Vec<String> = events.iter().map(|e| e.id.to_string()).collect();
    bus_ids.sort();
    record_ids.sort();
    assert_eq!(bus_ids, record_ids);
    assert!(rig.events_of(&id).await.iter().all(|e| e.published_at.is_some()), "every record marked published");
    assert!(rig.outbox().await.is_empty(), "the outbox is empty");

    // Settled is terminal: more blocks and sweeps change nothing.
    rig.anvil.mine(5).await;
    let report = rig.sweep().await;
    assert_eq!((report.checked, report.changed), (0, 0), "{report:?}");
    assert_eq!(rig.payout(&id).await, intent);
    assert_eq!(rig.settlements().await.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// 2. Failures, each with its reason.

/// A base USDC intent for `AMOUNT` to account 2, paid by `tx` (already mined), driven to its end.
async fn run_to_verdict(rig: &WatchRig, tx: &str) -> String {
    let id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(rig.account(2)), AMOUNT, tx).await;
    let (block, _) = rig.tx_block(tx).await.expect("mined");
    check_then_confirm(rig, &[&id], block, BASE_CONFIRMATIONS - 1).await;
    assert_eq!(rig.status(&id).await, "verifying", "no verdict before the confirmations, failures included");
    rig.anvil.mine(1).await;
    rig.sweep().await;
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_to_someone_else_fails_recipient_mismatch() {
    let rig = WatchRig::start().await;
    let tx = rig.pay(rig.usdc, rig.account(3), AMOUNT).await;
    let id = run_to_verdict(&rig, &tx).await;
    assert_failed(&rig, &id, "recipient_mismatch").await;
    assert!(rig.settlements().await.is_empty(), "a transfer to someone else is no settlement of this org");
    assert_eq!(rig.event_types(&id).await, LIFECYCLE_FAILED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_other_token_fails_token_mismatch() {
    let rig = WatchRig::start().await;
    // USDT to the right recipient, for the right amount, but the intent is USDC.
    let tx = rig.pay(rig.usdt, rig.account(2), AMOUNT).await;
    let id = run_to_verdict(&rig, &tx).await;
    assert_failed(&rig, &id, "token_mismatch").await;
    assert!(rig.settlements().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lookalike_usdc_fails_token_mismatch() {
    let rig = WatchRig::start().await;
    // Same name, same symbol, same decimals: another contract.
    let tx = rig.pay(rig.lookalike, rig.account(2), AMOUNT).await;
    let id = run_to_verdict(&rig, &tx).await;
    assert_failed(&rig, &id, "token_mismatch").await;
    assert!(rig.settlements().await.is_empty());
    assert_eq!(rig.anvil.balance_of(rig.lookalike, rig.account(2)).await, AMOUNT, "the recipient did get the fake tokens");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reverted_transfer_fails_tx_reverted() {
    let rig = WatchRig::start().await;
    let tx = rig.anvil.transfer_with_gas(rig.treasury, rig.usdc, rig.account(2), TREASURY_BALANCE + 1, 200_000).await;
    assert_eq!(rig.anvil.receipt(&tx).await["status"], "0x0", "mined and reverted");
    let id = run_to_verdict(&rig, &tx).await;
    assert_failed(&rig, &id, "tx_reverted").await;
    assert!(rig.settlements().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn too_little_and_too_much_fail_amount_mismatch_and_record_what_was_paid() {
    let rig = WatchRig::start().await;
    let recipient = rig.account(2);
    let mut cases = Vec::new();
    for paid in [AMOUNT - 1, AMOUNT + 1_000_000] {
        let tx = rig.pay(rig.usdc, recipient, paid).await;
        let id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT, &tx).await;
        cases.push((id, tx, paid));
    }
    let ids: Vec<&str> = cases.iter().map(|(id, _, _)| id.as_str()).collect();
    let (last_block, _) = rig.tx_block(&cases[1].1).await.unwrap();
    check_then_confirm(&rig, &ids, last_block, BASE_CONFIRMATIONS).await;

    for (id, tx, paid) in &cases {
        assert_failed(&rig, id, "amount_mismatch").await;
        // The transfer did happen: it is recorded, linked to the intent, with the amount paid.
        let settlements = rig.settlements_of(id).await;
        assert_eq!(settlements.len(), 1, "{id}");
        let s = &settlements[0];
        assert_eq!(s.amount_atomic.0, *paid);
        assert_eq!(s.tx_hash.as_str(), tx);
        assert_eq!(s.to_address.as_deref(), Some(rig.evm(recipient).as_str()));
        assert!(s.confirmations >= BASE_CONFIRMATIONS);
        assert_eq!(s.block_hash, rig.tx_block(tx).await.map(|(_, hash)| hash));
    }
    assert_eq!(rig.settlements().await.len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_tx_fails_tx_not_found_only_after_the_window() {
    let rig = WatchRig::start().await;
    let id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(rig.account(2)), AMOUNT, &random_tx_hash()).await;

    let report = rig.check(&[&id]).await;
    assert_eq!((report.checked, report.changed), (1, 0), "{report:?}");
    assert_eq!(rig.status(&id).await, "executed");
    // Blocks come and go, the window has not passed: still waiting.
    rig.anvil.mine(20).await;
    rig.sweep().await;
    rig.advance(NOT_FOUND_WINDOW_SECONDS - 1);
    rig.sweep().await;
    let waiting = rig.payout(&id).await;
    assert_eq!((waiting["status"].as_str(), &waiting["failure_reason"]), (Some("executed"), &Value::Null));

    rig.advance(1);
    let report = rig.sweep().await;
    assert_eq!(report.changed, 1, "{report:?}");
    assert_failed(&rig, &id, "tx_not_found").await;
    assert_eq!(rig.event_types(&id).await, ["payout.created", "payout.approved", "payout.executed", "payout.failed"], "never seen, so never verifying");
    assert!(rig.settlements().await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// 3. The organization's amount tolerance.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_org_tolerance_settles_near_amounts_only() {
    let rig = WatchRig::start().await;
    admin::set_amount_tolerance(&rig.h.app, &rig.h.tenant.org, "0.05".parse().unwrap()).await.unwrap();
    let recipient = rig.account(2);
    let cases =
        [(AMOUNT - 40_000, "settled"), (AMOUNT - 50_000, "settled"), (AMOUNT + 50_000, "settled"), (AMOUNT - 60_000, "failed"), (AMOUNT + 50_001, "failed")];
    let mut ids = Vec::new();
    for (paid, _) in cases {
        let tx = rig.pay(rig.usdc, recipient, paid).await;
        ids.push(rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT, &tx).await);
    }
    let ids_ref: Vec<&str> = ids.iter().map(String::as_str).collect();
    check_then_confirm(&rig, &ids_ref, rig.head().await, BASE_CONFIRMATIONS).await;

    for ((paid, expected), id) in cases.iter().zip(&ids) {
        let intent = rig.payout(id).await;
        assert_eq!(intent["status"], *expected, "paid {paid}: {intent}");
        if *expected == "failed" {
            assert_eq!(intent["failure_reason"], "amount_mismatch");
        } else {
            assert!(intent["verified_at"].is_string());
        }
        // Either way the transfer is recorded with the amount actually paid (the discrepancy).
        let settlements = rig.settlements_of(id).await;
        assert_eq!(settlements.len(), 1, "{id}");
        assert_eq!(settlements[0].amount_atomic.0, *paid);
        assert_eq!(intent["amount_atomic"], AMOUNT.to_string(), "the intent keeps the amount asked for");
    }
}

// ---------------------------------------------------------------------------------------------
// 4. Reorgs before the confirmations.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tx_reverted_out_of_the_chain_is_waited_for_again_and_settles_where_it_lands() {
    let rig = WatchRig::start().await;
    let recipient = rig.account(2);
    let id = rig.approved_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT).await;
    let before = rig.anvil.snapshot().await;
    let tx = rig.pay(rig.usdc, recipient, AMOUNT).await;
    let raw = rig.raw_tx(&tx).await;
    let (block, first_hash) = rig.tx_block(&tx).await.unwrap();
    rig.execute(&id, &tx).await;
    rig.check(&[&id]).await;
    assert_eq!(rig.status(&id).await, "verifying");

    // The chain drops the tx, then grows past where the old sighting would have been deep.
    assert!(rig.anvil.revert(&before).await);
    assert_eq!(rig.tx_block(&tx).await, None);
    rig.mine_to(block + BASE_CONFIRMATIONS + 2).await;
    for _ in 0..2 {
        rig.sweep().await;
        let intent = rig.payout(&id).await;
        assert_eq!(intent["status"], "verifying", "never settled while the tx is not on chain: {intent}");
        assert_eq!(intent["verified_at"], Value::Null);
        assert_eq!(rig.stored(&id).await.observation, None, "the sighting is forgotten");
        assert!(rig.settlements().await.is_empty());
    }
    assert_eq!(rig.anvil.balance_of(rig.usdc, recipient).await, 0);

    // The same signed tx is broadcast again and lands in another block.
    let again = rig.anvil.rpc("eth_sendRawTransaction", json!([raw])).await;
    assert_eq!(again, tx);
    rig.anvil.wait_receipt(&tx).await;
    let (new_block, new_hash) = rig.tx_block(&tx).await.unwrap();
    assert_ne!((new_block, new_hash.clone()), (block, first_hash.clone()));
    rig.sweep().await;
    let seen = rig.stored(&id).await.observation.expect("seen again");
    assert_eq!((seen.block_number, seen.block_hash), (new_block, new_hash.clone()));
    rig.mine_to(new_block + BASE_CONFIRMATIONS - 2).await;
    rig.sweep().await;
    assert_eq!(rig.status(&id).await, "verifying", "the confirmations count from the new block");
    rig.anvil.mine(1).await;
    rig.sweep().await;
    assert_eq!(rig.status(&id).await, "settled");
    let settlements = rig.settlements().await;
    assert_eq!(settlements.len(), 1);
    assert_eq!((settlements[0].block_number, settlements[0].block_hash.clone()), (Some(new_block), Some(new_hash)));
    assert_eq!(rig.event_types(&id).await, LIFECYCLE_SETTLED, "no second payout.verifying for the re-sighting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tx_reorged_into_a_later_block_waits_for_its_new_depth() {
    let rig = WatchRig::start().await;
    let recipient = rig.account(2);
    let tx = rig.pay(rig.usdc, recipient, AMOUNT).await;
    let raw = rig.raw_tx(&tx).await;
    let (block, old_hash) = rig.tx_block(&tx).await.unwrap();
    let id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT, &tx).await;
    rig.check(&[&id]).await;
    let first_seen = rig.stored(&id).await.observation.unwrap().seen_at;
    rig.anvil.mine(1).await;

    // Blocks `block` and `block + 1` are replaced; the tx is put in the second of the new ones.
    rig.anvil.rpc("anvil_reorg", json!([2, [[raw, 1]]])).await;
    let (moved_to, new_hash) = rig.tx_block(&tx).await.expect("re-included");
    assert_eq!(moved_to, block + 1);
    assert_ne!(rig.anvil.block_hash(block).await, old_hash);
    // The old sighting would now be BASE_CONFIRMATIONS deep; the new one is one less.
    rig.mine_to(block + BASE_CONFIRMATIONS - 1).await;
    rig.sweep().await;
    assert_eq!(rig.status(&id).await, "verifying", "not settled on the old sighting");
    let seen = rig.stored(&id).await.observation.unwrap();
    assert_eq!((seen.block_number, seen.block_hash.clone()), (moved_to, new_hash.clone()), "re-recorded where it is now");
    rig.sweep().await;
    assert_eq!(rig.status(&id).await, "verifying");
    assert!(rig.settlements().await.is_empty());

    rig.anvil.mine(1).await;
    rig.sweep().await;
    assert_eq!(rig.status(&id).await, "settled");
    let s = &rig.settlements().await[0];
    assert_eq!((s.block_number, s.block_hash.clone()), (Some(moved_to), Some(new_hash)));
    assert!(s.confirmations >= BASE_CONFIRMATIONS);
    assert_eq!(s.detected_at, first_seen, "detected when first seen, not when re-recorded");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorged_out_tx_is_not_replaced_by_another_payment_of_the_same_amount() {
    let rig = WatchRig::start().await;
    let recipient = rig.account(2);
    let tx = rig.pay(rig.usdc, recipient, AMOUNT).await;
    let (block, _) = rig.tx_block(&tx).await.unwrap();
    let id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT, &tx).await;
    rig.check(&[&id]).await;
    assert_eq!(rig.status(&id).await, "verifying");

    // The tx's block and the next are replaced by empty ones: the tx is gone.
    rig.anvil.mine(1).await;
    rig.anvil.reorg(2).await;
    assert_eq!(rig.tx_block(&tx).await, None);
    // The sender pays again with a new tx (another hash), which gets deep.
    let other = rig.pay(rig.usdc, recipient, AMOUNT).await;
    assert_ne!(other, tx);
    rig.mine_to(block + 2 * BASE_CONFIRMATIONS).await;
    rig.sweep().await;
    rig.sweep().await;
    let intent = rig.payout(&id).await;
    assert_eq!(intent["status"], "verifying", "{intent}");
    assert_eq!(intent["expected_tx_hash"], tx);
    assert!(rig.settlements().await.is_empty(), "no settlement by a different hash");

    // The executed hash never comes back: after the window, tx_not_found.
    rig.advance(NOT_FOUND_WINDOW_SECONDS);
    rig.sweep().await;
    assert_failed(&rig, &id, "tx_not_found").await;
    assert!(rig.settlements().await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// 5. Tron, through anvil's JSON-RPC.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tron_usdt_payout_settles_with_tron_addresses() {
    let rig = WatchRig::start().await;
    let recipient = rig.account(4);
    let tron_recipient = rig.tron(recipient);
    assert!(tron_recipient.starts_with('T') && tron_recipient.len() == 34);
    let tx = rig.pay(rig.usdt, recipient, AMOUNT).await;
    let bare = tx.trim_start_matches("0x").to_owned();
    let (block, block_hash) = rig.tx_block(&tx).await.unwrap();
    let id = rig.executed_payout(Chain::Tron, "USDT", &tron_recipient, AMOUNT, &bare).await;
    let intent = rig.payout(&id).await;
    assert_eq!(intent["expected_tx_hash"], bare, "tron hashes are stored without 0x");
    assert_eq!(intent["recipient_address"], tron_recipient);

    check_then_confirm(&rig, &[&id], block, TRON_CONFIRMATIONS - 1).await;
    assert_eq!(rig.status(&id).await, "verifying", "{} of {TRON_CONFIRMATIONS} confirmations", TRON_CONFIRMATIONS - 1);
    rig.anvil.mine(1).await;
    rig.sweep().await;
    assert_eq!(rig.status(&id).await, "settled");

    let settlements = rig.settlements().await;
    assert_eq!(settlements.len(), 1);
    let s = &settlements[0];
    assert_eq!((s.chain, s.token), (Chain::Tron, Token::Usdt));
    assert_eq!(s.tx_hash.as_str(), bare);
    assert_eq!(s.to_address.as_deref(), Some(tron_recipient.as_str()));
    assert_eq!(s.from_address.as_deref(), Some(rig.tron(rig.treasury).as_str()));
    assert!(s.from_address.as_deref().unwrap().starts_with('T'));
    assert_eq!((s.block_number, s.block_hash.clone()), (Some(block), Some(block_hash)));
    assert_eq!(s.amount_atomic.0, AMOUNT);
    assert!(s.confirmations >= TRON_CONFIRMATIONS);
    assert_eq!(rig.event_types(&id).await, LIFECYCLE_SETTLED);
}

// ---------------------------------------------------------------------------------------------
// 6. Several transfers in one receipt.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_matching_transfer_of_a_batch_settles_and_its_log_index_is_recorded() {
    let rig = WatchRig::start().await;
    let recipient = rig.account(2);
    let payments = [(rig.account(3), AMOUNT), (recipient, AMOUNT - 1), (rig.account(5), 7_000_000), (recipient, AMOUNT)];
    let tx = rig.anvil.transfer_many(rig.treasury, rig.usdc, &payments).await;
    let (block, _) = rig.tx_block(&tx).await.unwrap();
    let id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT, &tx).await;
    check_then_confirm(&rig, &[&id], block, BASE_CONFIRMATIONS).await;

    assert_eq!(rig.status(&id).await, "settled");
    let settlements = rig.settlements().await;
    assert_eq!(settlements.len(), 1, "only the matching transfer is this intent's settlement");
    assert_eq!(settlements[0].log_index, 3);
    assert_eq!(settlements[0].amount_atomic.0, AMOUNT);
    assert_eq!(settlements[0].to_address.as_deref(), Some(rig.evm(recipient).as_str()));
}

// ---------------------------------------------------------------------------------------------
// 6b. The stricter `finalized` policy (arbitrum here): anvil's finalized block trails the head by 2.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_finalized_policy_a_transfer_settles_once_its_block_is_finalized() {
    let config = payouts_tests::watch::RigConfig {
        vars: vec![("PAYOUTS_SANDBOX_ARBITRUM_FINALITY".into(), "finalized".into()), ("PAYOUTS_SANDBOX_ARBITRUM_CONFIRMATIONS".into(), "1".into())],
        ..Default::default()
    };
    let rig = WatchRig::start_with(config).await;
    let recipient = rig.account(2);
    let tx = rig.pay(rig.usdt, recipient, AMOUNT).await;
    let (block, _) = rig.tx_block(&tx).await.unwrap();
    let id = rig.executed_payout(Chain::Arbitrum, "USDT", &rig.evm(recipient), AMOUNT, &tx).await;
    rig.check(&[&id]).await;
    // 1 confirmation would do under the count policy; finalized is head − 2.
    rig.mine_to(block + 1).await;
    rig.sweep().await;
    assert_eq!(rig.status(&id).await, "verifying", "block {block} not finalized at head {}", block + 1);
    rig.anvil.mine(1).await;
    rig.sweep().await;
    assert_eq!(rig.status(&id).await, "settled");
    let settlements = rig.settlements().await;
    assert_eq!((settlements[0].chain, settlements[0].token, settlements[0].confirmations), (Chain::Arbitrum, Token::Usdt, 3));
}

// ---------------------------------------------------------------------------------------------
// 7. Idempotence: duplicate deliveries and overlapping sweeps, on both stores.

async fn duplicates_and_overlapping_sweeps_settle_once(store: StoreKind) {
    let rig = WatchRig::start_on(store).await;
    let recipient = rig.account(2);
    // P1 is settled by the queue consumer, P2 by two sweeps at once, P3 (arbitrum) by two
    // sweeps on two threads.
    let tx1 = rig.pay(rig.usdc, recipient, AMOUNT).await;
    let tx2 = rig.pay(rig.usdc, recipient, AMOUNT + 1).await;
    let tx3 = rig.pay(rig.usdt, recipient, AMOUNT + 2).await;
    let p1 = rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT, &tx1).await;
    let p2 = rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT + 1, &tx2).await;
    let p3 = rig.executed_payout(Chain::Arbitrum, "USDT", &rig.evm(recipient), AMOUNT + 2, &tx3).await;
    let message = tx_message(&p1, Chain::Base, &tx1);
    let batch = |n: usize, tag: &str| {
        let message_ids: Vec<String> = (0..n).map(|i| format!("{tag}-{i}")).collect();
        sqs_event(&message_ids.iter().map(|m| (m.as_str(), message.clone())).collect::<Vec<_>>())
    };

    // The same message five times in one batch: one sighting, one payout.verifying.
    let response = payouts::jobs::watcher::handle_tx_queue(&rig.watcher, serde_json::from_value(batch(5, "first")).unwrap()).await;
    assert_eq!(serde_json::to_value(&response).unwrap(), json!({ "batchItemFailures": [] }));
    assert_eq!(rig.status(&p1).await, "verifying");
    rig.check(&[&p2, &p3]).await;
    rig.mine_to(rig.head().await + BASE_CONFIRMATIONS.max(ARBITRUM_CONFIRMATIONS)).await;

    // Deep now: five copies in one batch, then five batches of one.
    let response = payouts::jobs::watcher::handle_tx_queue(&rig.watcher, serde_json::from_value(batch(5, "second")).unwrap()).await;
    assert_eq!(serde_json::to_value(&response).unwrap(), json!({ "batchItemFailures": [] }));
    for i in 0..5 {
        let response = payouts::jobs::watcher::handle_tx_queue(&rig.watcher, serde_json::from_value(batch(1, &format!("again-{i}"))).unwrap()).await;
        assert_eq!(serde_json::to_value(&response).unwrap(), json!({ "batchItemFailures": [] }));
    }
    assert_eq!(rig.status(&p1).await, "settled");

    // Two sweeps at once on one task, then two on two threads, then two more at once.
    let (a, b) = tokio::join!(rig.watcher.sweep(), rig.watcher.sweep());
    let (a, b) = (a.unwrap(), b.unwrap());
    let (w1, w2) = (rig.watcher.clone(), rig.watcher.clone());
    let (c, d) = tokio::join!(tokio::spawn(async move { w1.sweep().await.unwrap() }), tokio::spawn(async move { w2.sweep().await.unwrap() }));
    let (c, d) = (c.unwrap(), d.unwrap());
    let (e, f) = tokio::join!(rig.watcher.sweep(), rig.watcher.sweep());
    let (e, f) = (e.unwrap(), f.unwrap());
    let changed: usize = [&a, &b, &c, &d, &e, &f].iter().map(|r| r.changed).sum();
    assert_eq!(changed, 2, "P2 and P3 changed once each: {a:?} {b:?} {c:?} {d:?} {e:?} {f:?}");

    for (id, tx) in [(&p1, &tx1), (&p2, &tx2), (&p3, &tx3)] {
        let intent = rig.payout(id).await;
        assert_eq!(intent["status"], "settled", "{intent}");
        let settlements = rig.settlements_of(id).await;
        assert_eq!(settlements.len(), 1, "{id}: exactly one settlement");
        assert_eq!(settlements[0].tx_hash.as_str(), tx);
        let types = rig.event_types(id).await;
        assert_eq!(types, LIFECYCLE_SETTLED, "{id}: exactly one record of each event");
    }
    assert_eq!(rig.settlements().await.len(), 3);
    // Every record reached the bus at least once (twice is allowed: consumers dedupe on the id).
    rig.sweep().await;
    assert!(rig.outbox().await.is_empty());
    for id in [&p1, &p2, &p3] {
        for event in rig.events_of(id).await {
            assert!(rig.bus.ids().contains(&event.id), "{} of {id} never published", event.event_type);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicates_and_overlapping_sweeps_settle_once_embedded() {
    duplicates_and_overlapping_sweeps_settle_once(StoreKind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn duplicates_and_overlapping_sweeps_settle_once_dynamodb() {
    duplicates_and_overlapping_sweeps_settle_once(StoreKind::DynamoDb).await;
}

// ---------------------------------------------------------------------------------------------
// 8. Regressions: defects found while writing these tests, fixed since.

/// One organization's absurd tolerance must neither panic the watcher (and with it every other
/// organization's settlements on that chain) nor be accepted by `set-tolerance` (bounded there;
/// scaled with a checked multiplication in the watcher).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_orgs_huge_tolerance_does_not_stop_the_watcher_for_everyone() {
    let rig = WatchRig::start().await;
    let other = rig.h.tenant(payouts::domain::org::Plan::Enterprise).await;
    let to = rig.account(2);
    let tx = rig.pay(rig.usdc, to, AMOUNT).await;
    let theirs = rig.approved_payout_as(&other.sandbox, Chain::Base, "USDC", &rig.evm(to), AMOUNT).await;
    assert_eq!(rig.h.execute(&other.sandbox, &theirs, &tx).await.status, 200);
    let tx = rig.pay(rig.usdc, to, AMOUNT).await;
    let ours = rig.executed_payout(Chain::Base, "USDC", &rig.evm(to), AMOUNT, &tx).await;
    let accepted = admin::set_amount_tolerance(&rig.h.app, &other.org, "100000000000000000000000".parse().unwrap()).await;
    assert!(accepted.is_err(), "set-tolerance refuses absurd values");
    // Even a stored one (an older version, a manual edit) cannot stop the watcher.
    let (mut org, version) = admin::load_org(&rig.h.app, &other.org).await.unwrap();
    org.amount_tolerance = "100000000000000000000000".parse().unwrap();
    let item = payouts::service::records::org_item(&org, version + 1).unwrap();
    rig.h.app.store.write(vec![payouts::ports::store::WriteOp::Put { item, condition: None }]).await.unwrap();
    rig.anvil.mine(BASE_CONFIRMATIONS).await;

    for _ in 0..2 {
        let watcher = rig.watcher.clone();
        let outcome = tokio::spawn(async move { watcher.sweep().await.map(|_| ()) }).await;
        assert!(outcome.is_ok(), "the sweep panicked: {}", outcome.err().map(|e| e.to_string()).unwrap_or_default());
    }
    assert_eq!(rig.status(&ours).await, "settled", "another organization's setting must not hold this payout");
}

/// Of several transfers to the recipient, the one closest to the expected amount decides (and is
/// the one recorded), not merely the first in the receipt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_within_tolerance_settles_after_another_one_to_the_same_recipient() {
    let rig = WatchRig::start().await;
    admin::set_amount_tolerance(&rig.h.app, &rig.h.tenant.org, "0.05".parse().unwrap()).await.unwrap();
    let recipient = rig.account(2);
    let tx = rig.anvil.transfer_many(rig.treasury, rig.usdc, &[(recipient, 1), (recipient, AMOUNT - 10_000)]).await;
    let (block, _) = rig.tx_block(&tx).await.unwrap();
    let id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT, &tx).await;
    check_then_confirm(&rig, &[&id], block, BASE_CONFIRMATIONS).await;

    let settlements = rig.settlements_of(&id).await;
    assert_eq!(settlements.iter().map(|s| (s.log_index, s.amount_atomic.0)).collect::<Vec<_>>(), [(1, AMOUNT - 10_000)], "the transfer that pays the intent");
    assert_eq!(rig.status(&id).await, "settled", "{}", rig.payout(&id).await);
}

/// Intents that keep waiting (e.g. made-up hashes) cannot hold the front of the sweep: each sweep
/// resumes where the last stopped and wraps around, and unseen txs back off after a grace period.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn intents_behind_the_sweep_limit_still_settle() {
    let config = payouts_tests::watch::RigConfig { vars: vec![("PAYOUTS_WATCH_SWEEP_LIMIT".into(), "2".into())], ..Default::default() };
    let rig = WatchRig::start_with(config).await;
    let recipient = rig.account(2);
    for _ in 0..2 {
        rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT, &random_tx_hash()).await;
    }
    let tx = rig.pay(rig.usdc, recipient, AMOUNT).await;
    let id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT, &tx).await;
    rig.check(&[&id]).await;
    assert_eq!(rig.status(&id).await, "verifying", "the queue message did its part");
    rig.anvil.mine(2 * BASE_CONFIRMATIONS).await;
    for _ in 0..5 {
        rig.sweep().await;
    }
    assert_eq!(rig.status(&id).await, "settled", "deep for many sweeps, yet never looked at");
}

/// Tx-hash claims are per environment: a sandbox intent cannot squat a live transaction's public
/// hash.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_intent_cannot_block_a_live_execute_with_the_same_hash() {
    let rig = WatchRig::start().await;
    let squatter = rig.h.tenant(payouts::domain::org::Plan::Free).await;
    let hash = format!("0x{}", random_tx_hash());
    let body = json!({ "recipient_address": rig.evm(rig.account(2)), "chain": "base", "token": "USDC", "amount": 10, "currency": "USD" });

    let squat = rig.h.create(&squatter.sandbox, &body).await.id();
    rig.h.patch(&squatter.sandbox, &squat, &json!({ "status": "approved" })).await;
    assert_eq!(rig.h.execute(&squatter.sandbox, &squat, &hash).await.status, 200);

    let live = rig.h.create(&rig.h.tenant.live, &body).await.id();
    rig.h.patch(&rig.h.tenant.live, &live, &json!({ "status": "approved" })).await;
    let executed = rig.h.execute(&rig.h.tenant.live, &live, &hash).await;
    assert_eq!(executed.status, 200, "a sandbox claim must not block live: {}", executed.json);
}
