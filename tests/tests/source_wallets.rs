//! Settlements bound to the merchant's own wallets, against a real local EVM node (anvil):
//! proofs by independent signers (foundry's `cast`, TronWeb, an EIP-1271 contract wallet compiled
//! with solc-js), hash squatting, sender policies, time binding, hash replacement, claim release,
//! and live beside sandbox on one devnet. Everything through the API a merchant uses, then the
//! chain-watcher, then what the merchant reads back.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::Method;
use payouts::domain::chain::{Chain, Environment};
use payouts::domain::org::Plan;
use payouts::domain::wallet::SenderPolicy;
use payouts::service::admin;
use payouts_tests::random_tx_hash;
use payouts_tests::wallets::{DEV_KEYS, cast_sign, contract_wallet_pay, deploy_contract_wallet, register, registered_and_verified, tron_sign, verify};
use payouts_tests::watch::{BASE_CONFIRMATIONS, NOT_FOUND_WINDOW_SECONDS, RigConfig, StoreKind, TRON_CONFIRMATIONS, WatchRig};
use serde_json::{Value, json};

/// 25.000000 of a token.
const AMOUNT: u128 = 25_000_000;

/// The tx-queue check (first sighting), the blocks to `confirmations`, then a sweep.
async fn confirm(rig: &WatchRig, ids: &[&str], tx: &str, confirmations: u64) {
    rig.check(ids).await;
    let (block, _) = rig.tx_block(tx).await.expect("mined");
    rig.mine_to(block + confirmations - 1).await;
    rig.sweep().await;
}

/// The intent as `key` reads it.
async fn read(rig: &WatchRig, key: &str, id: &str) -> Value {
    let got = rig.h.get(key, id).await;
    assert_eq!(got.status, 200, "{}", got.json);
    got.json
}

/// The settlements of one intent as `key` lists them over the API.
async fn settlements_of(rig: &WatchRig, key: &str, id: &str) -> Vec<Value> {
    let listed = rig.h.call(Method::GET, &format!("/v1/payouts/settlements?payout_intent_id={id}"), Some(key), None).await;
    assert_eq!(listed.status, 200, "{}", listed.json);
    listed.json["data"].as_array().unwrap().clone()
}

/// A fresh approved intent of `key`'s org executes `tx`: the status code (200, or 409 while
/// another of the org's intents holds the hash).
async fn reuse_status(rig: &WatchRig, key: &str, recipient: &str, tx: &str) -> u16 {
    let id = rig.approved_payout_as(key, Chain::Base, "USDC", recipient, AMOUNT).await;
    rig.h.execute(key, &id, tx).await.status
}

// ---------------------------------------------------------------------------------------------
// Squatting: another org's claim never blocks; only the sender's org settles.

async fn squatting_another_orgs_hash_blocks_nothing(store: StoreKind) {
    let rig = WatchRig::start_on(store).await;
    let owner = rig.h.tenant.clone();
    let squatter = rig.h.tenant(Plan::Enterprise).await;
    let wallet = registered_and_verified(&rig.h, &owner.sandbox, "base", &rig.evm(rig.account(5)), |c| cast_sign(DEV_KEYS[5], c)).await;
    rig.anvil.mint(rig.usdc, rig.account(5), AMOUNT).await;
    let recipient = rig.evm(rig.account(2));
    let theirs = rig.approved_payout_as(&owner.sandbox, Chain::Base, "USDC", &recipient, AMOUNT).await;
    // The squatter copies the recipient and the amount.
    let squatting = rig.approved_payout_as(&squatter.sandbox, Chain::Base, "USDC", &recipient, AMOUNT).await;
    let tx = rig.anvil.transfer(rig.account(5), rig.usdc, rig.account(2), AMOUNT).await;

    // The public hash is attached by the squatter first; the owner's execute still succeeds.
    assert_eq!(rig.h.execute(&squatter.sandbox, &squatting, &tx).await.status, 200);
    let executed = rig.h.execute(&owner.sandbox, &theirs, &tx).await;
    assert_eq!(executed.status, 200, "{}", executed.json);
    confirm(&rig, &[&squatting, &theirs], &tx, BASE_CONFIRMATIONS).await;

    let settled = read(&rig, &owner.sandbox, &theirs).await;
    assert_eq!(settled["status"], "settled", "{settled}");
    let failed = read(&rig, &squatter.sandbox, &squatting).await;
    assert_eq!((failed["status"].as_str(), failed["failure_reason"].as_str()), (Some("failed"), Some("sender_not_registered")), "{failed}");
    let booked = settlements_of(&rig, &owner.sandbox, &theirs).await;
    assert_eq!(booked.len(), 1);
    assert_eq!(booked[0]["source_wallet_id"], wallet["id"]);
    assert_eq!(booked[0]["from_address"], wallet["address"]);
    assert_eq!(booked[0]["amount"], json!(25.0));
    let listed = rig.h.call(Method::GET, &format!("/v1/payouts/settlements?payout_intent_id={theirs}"), Some(&owner.sandbox), None).await;
    assert!(listed.raw.contains(r#""amount":25.000000,"#), "an exact decimal number with the token's 6 places: {}", listed.raw);
    assert_eq!(booked[0]["amount_atomic"], "25000000");
    assert!(settlements_of(&rig, &squatter.sandbox, &squatting).await.is_empty(), "never two settlements");
    // The squatter's claim went with its failure: it could attach the hash again (and fail again).
    assert_eq!(reuse_status(&rig, &squatter.sandbox, &recipient, &tx).await, 200);
    // The owner's claim stays with its settlement.
    assert_eq!(reuse_status(&rig, &owner.sandbox, &recipient, &tx).await, 409);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn squatting_another_orgs_hash_blocks_nothing_embedded() {
    squatting_another_orgs_hash_blocks_nothing(StoreKind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn squatting_another_orgs_hash_blocks_nothing_dynamodb() {
    squatting_another_orgs_hash_blocks_nothing(StoreKind::DynamoDb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copied_intent_never_settles_on_another_merchants_transfer() {
    let rig = WatchRig::start().await;
    let owner = rig.h.tenant.clone();
    let copier = rig.h.tenant(Plan::Enterprise).await;
    registered_and_verified(&rig.h, &owner.sandbox, "base", &rig.evm(rig.account(5)), |c| cast_sign(DEV_KEYS[5], c)).await;
    // The copier registers the owner's address too, but cannot prove it.
    let fake = register(&rig.h, &copier.sandbox, json!({ "chain": "base", "address": rig.evm(rig.account(5)) })).await;
    let challenge = fake.json["challenge"].as_str().unwrap();
    let refused = verify(&rig.h, &copier.sandbox, &fake.id(), &cast_sign(DEV_KEYS[6], challenge)).await;
    assert_eq!((refused.status, refused.error().1), (400, "invalid_signature".to_owned()));
    rig.anvil.mint(rig.usdc, rig.account(5), AMOUNT).await;
    let recipient = rig.evm(rig.account(2));
    let copied = rig.approved_payout_as(&copier.sandbox, Chain::Base, "USDC", &recipient, AMOUNT).await;
    let tx = rig.anvil.transfer(rig.account(5), rig.usdc, rig.account(2), AMOUNT).await;
    assert_eq!(rig.h.execute(&copier.sandbox, &copied, &tx).await.status, 200);
    confirm(&rig, &[&copied], &tx, BASE_CONFIRMATIONS).await;
    let failed = read(&rig, &copier.sandbox, &copied).await;
    assert_eq!(failed["failure_reason"], "sender_not_registered", "{failed}");
    assert!(settlements_of(&rig, &copier.sandbox, &copied).await.is_empty());
}

// ---------------------------------------------------------------------------------------------
// Proofs: EIP-1271 contract wallets and tron.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_eip1271_contract_wallet_proves_itself_and_settles_under_registered() {
    let rig = WatchRig::start().await;
    let key = rig.h.tenant.sandbox.clone();
    let owner = rig.account(3);
    let wallet = deploy_contract_wallet(&rig.anvil, owner).await;
    rig.anvil.mint(rig.usdc, wallet, AMOUNT).await;
    let created = register(&rig.h, &key, json!({ "chain": "base", "address": rig.evm(wallet), "label": "safe" })).await;
    assert_eq!(created.status, 201, "{}", created.json);
    let challenge = created.json["challenge"].as_str().unwrap().to_owned();
    // Not the owner's signature: the wallet itself says no.
    let refused = verify(&rig.h, &key, &created.id(), &cast_sign(DEV_KEYS[4], &challenge)).await;
    assert_eq!((refused.status, refused.error().1), (400, "invalid_signature".to_owned()), "{}", refused.json);
    let garbage = verify(&rig.h, &key, &created.id(), "0x1234").await;
    assert_eq!(garbage.error().1, "invalid_signature", "a signature the wallet cannot even read: {}", garbage.json);
    let verified = verify(&rig.h, &key, &created.id(), &cast_sign(DEV_KEYS[3], &challenge)).await;
    assert_eq!(verified.status, 200, "{}", verified.json);
    assert_eq!((verified.json["status"].as_str(), verified.json["proof_method"].as_str()), (Some("verified"), Some("eip1271")));
    admin::set_sender_policy(&rig.h.app, &rig.h.tenant.org, Environment::Sandbox, SenderPolicy::Registered).await.unwrap();

    let recipient = rig.account(2);
    let id = rig.approved_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT).await;
    let tx = contract_wallet_pay(&rig.anvil, owner, wallet, rig.usdc, recipient, AMOUNT).await;
    assert_eq!(rig.execute(&id, &tx).await.status, 200);
    confirm(&rig, &[&id], &tx, BASE_CONFIRMATIONS).await;
    assert_eq!(rig.status(&id).await, "settled");
    let booked = settlements_of(&rig, &key, &id).await;
    assert_eq!(booked[0]["source_wallet_id"], verified.json["id"]);
    assert_eq!(booked[0]["from_address"].as_str(), Some(rig.evm(wallet).as_str()), "the wallet, not the owner who sent the call");

    // Deleted: the settlement keeps pointing at it, and its transfers no longer count.
    let wallet_id = verified.json["id"].as_str().unwrap();
    assert_eq!(rig.h.call(Method::DELETE, &format!("/v1/payouts/wallets/{wallet_id}"), Some(&key), None).await.status, 204);
    assert_eq!(settlements_of(&rig, &key, &id).await[0]["source_wallet_id"], verified.json["id"]);
    rig.anvil.mint(rig.usdc, wallet, AMOUNT).await;
    let later = rig.approved_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT).await;
    let tx = contract_wallet_pay(&rig.anvil, owner, wallet, rig.usdc, recipient, AMOUNT).await;
    assert_eq!(rig.execute(&later, &tx).await.status, 200);
    confirm(&rig, &[&later], &tx, BASE_CONFIRMATIONS).await;
    assert_eq!(rig.payout(&later).await["failure_reason"], "sender_not_registered", "a deleted wallet is no longer the org's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tron_wallet_is_proven_by_a_tronweb_signature_and_settles_under_registered() {
    let rig = WatchRig::start().await;
    let key = rig.h.tenant.sandbox.clone();
    let sender = rig.account(7);
    let address = rig.tron(sender);
    let created = register(&rig.h, &key, json!({ "chain": "tron", "address": address })).await;
    assert_eq!(created.status, 201, "{}", created.json);
    let challenge = created.json["challenge"].as_str().unwrap().to_owned();
    // An EIP-191 signature by the right key is another scheme: refused on tron.
    let wrong_scheme = verify(&rig.h, &key, &created.id(), &cast_sign(DEV_KEYS[7], &challenge)).await;
    assert_eq!((wrong_scheme.status, wrong_scheme.error().1), (400, "invalid_signature".to_owned()));
    let (other_address, other_signature) = tron_sign(DEV_KEYS[8], &challenge);
    assert_ne!(other_address, address);
    assert_eq!(verify(&rig.h, &key, &created.id(), &other_signature).await.error().1, "invalid_signature", "another address's signature");
    let (signer, signature) = tron_sign(DEV_KEYS[7], &challenge);
    assert_eq!(signer, address, "TronWeb derives the same tron address from the key");
    let verified = verify(&rig.h, &key, &created.id(), &signature).await;
    assert_eq!(verified.status, 200, "{}", verified.json);
    assert_eq!(verified.json["proof_method"], "tron_message");

    admin::set_sender_policy(&rig.h.app, &rig.h.tenant.org, Environment::Sandbox, SenderPolicy::Registered).await.unwrap();
    rig.anvil.mint(rig.usdt, sender, AMOUNT).await;
    let recipient = rig.account(2);
    let id = rig.approved_payout(Chain::Tron, "USDT", &rig.tron(recipient), AMOUNT).await;
    let tx = rig.anvil.transfer(sender, rig.usdt, recipient, AMOUNT).await;
    assert_eq!(rig.execute(&id, &tx).await.status, 200);
    confirm(&rig, &[&id], &tx, TRON_CONFIRMATIONS).await;
    assert_eq!(rig.status(&id).await, "settled");
    let booked = settlements_of(&rig, &key, &id).await;
    assert_eq!((booked[0]["source_wallet_id"].clone(), booked[0]["from_address"].as_str()), (verified.json["id"].clone(), Some(address.as_str())));
}

// ---------------------------------------------------------------------------------------------
// Sender policy and time binding.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registered_refuses_unknown_senders_and_any_accepts_them() {
    let rig = WatchRig::start().await;
    let recipient = rig.account(2);
    admin::set_sender_policy(&rig.h.app, &rig.h.tenant.org, Environment::Sandbox, SenderPolicy::Registered).await.unwrap();
    let strict = rig.approved_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT).await;
    let tx = rig.pay(rig.usdc, recipient, AMOUNT).await;
    assert_eq!(rig.execute(&strict, &tx).await.status, 200);
    confirm(&rig, &[&strict], &tx, BASE_CONFIRMATIONS).await;
    let failed = rig.payout(&strict).await;
    assert_eq!((failed["status"].as_str(), failed["failure_reason"].as_str()), (Some("failed"), Some("sender_not_registered")), "{failed}");
    assert!(rig.settlements().await.is_empty(), "the transfer is not the merchant's: nothing booked");

    admin::set_sender_policy(&rig.h.app, &rig.h.tenant.org, Environment::Sandbox, SenderPolicy::Any).await.unwrap();
    let lenient = rig.approved_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT).await;
    // The claim went with the failure: the same transfer can back the new intent.
    assert_eq!(rig.execute(&lenient, &tx).await.status, 200);
    confirm(&rig, &[&lenient], &tx, BASE_CONFIRMATIONS).await;
    assert_eq!(rig.status(&lenient).await, "settled");
    let booked = settlements_of(&rig, &rig.h.tenant.sandbox, &lenient).await;
    assert_eq!(booked[0]["source_wallet_id"], Value::Null, "not sent by a registered wallet");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_older_than_the_intent_fails_tx_predates_intent() {
    let rig = WatchRig::start().await;
    let recipient = rig.account(2);
    let old = rig.pay(rig.usdc, recipient, AMOUNT).await;
    // "May's transfer for June's payout": the intents are made 11 minutes after the block.
    rig.advance(11 * 60);
    let id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT, &old).await;
    confirm(&rig, &[&id], &old, BASE_CONFIRMATIONS).await;
    let failed = rig.payout(&id).await;
    assert_eq!(failed["failure_reason"], "tx_predates_intent", "{failed}");
    assert!(rig.settlements().await.is_empty());
    assert_eq!(reuse_status(&rig, &rig.h.tenant.sandbox, &rig.evm(recipient), &old).await, 200, "claim released");

    // Within the 10-minute clock-skew allowance it still counts (a fresh rig: a fresh clock).
    let rig = WatchRig::start().await;
    let recent = rig.pay(rig.usdc, recipient, AMOUNT).await;
    rig.advance(9 * 60);
    let id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT, &recent).await;
    confirm(&rig, &[&id], &recent, BASE_CONFIRMATIONS).await;
    assert_eq!(rig.status(&id).await, "settled");
}

// ---------------------------------------------------------------------------------------------
// Recoverable executes.

async fn a_hash_never_seen_can_be_replaced_and_a_seen_one_cannot(store: StoreKind) {
    let rig = WatchRig::start_on(store).await;
    let key = rig.h.tenant.sandbox.clone();
    let recipient = rig.account(2);
    let typo = random_tx_hash();
    let id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT, &typo).await;
    rig.check(&[&id]).await;
    assert_eq!(rig.status(&id).await, "executed", "never seen");

    let tx = rig.pay(rig.usdc, recipient, AMOUNT).await;
    let replaced = rig.execute(&id, &tx).await;
    assert_eq!(replaced.status, 200, "{}", replaced.json);
    assert_eq!(replaced.json["expected_tx_hash"], tx);
    let executed: Vec<Value> =
        rig.events_of(&id).await.iter().filter(|e| e.event_type.as_str() == "payout.executed").map(payouts_tests::watch::event_data).collect();
    assert_eq!(executed.len(), 2, "one payout.executed per hash");
    assert_eq!(executed[1]["expected_tx_hash"], tx, "the event carries the new hash");
    // The replaced hash's claim went in the same write.
    assert_eq!(reuse_status(&rig, &key, &rig.evm(recipient), &format!("0x{typo}")).await, 200);

    rig.check(&[&id]).await;
    assert_eq!(rig.status(&id).await, "verifying");
    let too_late = rig.execute(&id, &random_tx_hash()).await;
    assert_eq!((too_late.status, too_late.error().1), (409, "tx_already_seen".to_owned()), "{}", too_late.json);
    assert_eq!(rig.payout(&id).await["expected_tx_hash"], tx, "nothing changed");
    let (block, _) = rig.tx_block(&tx).await.unwrap();
    rig.mine_to(block + BASE_CONFIRMATIONS - 1).await;
    rig.sweep().await;
    assert_eq!(rig.status(&id).await, "settled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_never_seen_can_be_replaced_and_a_seen_one_cannot_embedded() {
    a_hash_never_seen_can_be_replaced_and_a_seen_one_cannot(StoreKind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hash_never_seen_can_be_replaced_and_a_seen_one_cannot_dynamodb() {
    a_hash_never_seen_can_be_replaced_and_a_seen_one_cannot(StoreKind::DynamoDb).await;
}

async fn failures_that_booked_nothing_release_their_claim(store: StoreKind) {
    let rig = WatchRig::start_on(store).await;
    let key = rig.h.tenant.sandbox.clone();
    let recipient = rig.account(2);
    let to = rig.evm(recipient);
    let broke = rig.account(9);
    let cases = [
        ("tx_reverted", rig.anvil.transfer_with_gas(broke, rig.usdc, recipient, AMOUNT, 200_000).await),
        ("recipient_mismatch", rig.pay(rig.usdc, rig.account(3), AMOUNT).await),
        ("token_mismatch", rig.pay(rig.lookalike, recipient, AMOUNT).await),
        ("amount_mismatch", rig.pay(rig.usdc, recipient, AMOUNT - 1).await),
    ];
    let mut ids = Vec::new();
    for (_, tx) in &cases {
        ids.push(rig.executed_payout(Chain::Base, "USDC", &to, AMOUNT, tx).await);
    }
    let unseen = random_tx_hash();
    let lost = rig.executed_payout(Chain::Base, "USDC", &to, AMOUNT, &unseen).await;
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    rig.check(&refs).await;
    rig.anvil.mine(BASE_CONFIRMATIONS).await;
    rig.advance(NOT_FOUND_WINDOW_SECONDS + 1);
    rig.sweep().await;
    rig.sweep().await;

    for ((reason, tx), id) in cases.iter().zip(&ids) {
        assert_eq!(rig.payout(id).await["failure_reason"], *reason, "{id}");
        let reused = reuse_status(&rig, &key, &to, tx).await;
        if *reason == "amount_mismatch" {
            assert_eq!(reused, 409, "the booked transfer keeps its claim: never booked twice");
            assert_eq!(rig.settlements_of(id).await.len(), 1);
        } else {
            assert_eq!(reused, 200, "{reason}: the hash can back a new intent");
            assert!(rig.settlements_of(id).await.is_empty(), "{reason}");
        }
    }
    assert_eq!(rig.payout(&lost).await["failure_reason"], "tx_not_found");
    assert_eq!(reuse_status(&rig, &key, &to, &unseen).await, 200, "tx_not_found: a mistyped hash is free again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_that_booked_nothing_release_their_claim_embedded() {
    failures_that_booked_nothing_release_their_claim(StoreKind::Embedded).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_that_booked_nothing_release_their_claim_dynamodb() {
    failures_that_booked_nothing_release_their_claim(StoreKind::DynamoDb).await;
}

// ---------------------------------------------------------------------------------------------
// Two orgs, one transfer, no registered wallet, `any`: the first settles, the other fails.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_any_a_transfer_settles_one_intent_only() {
    let rig = WatchRig::start().await;
    let other = rig.h.tenant(Plan::Enterprise).await;
    let recipient = rig.account(2);
    let first = rig.approved_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT).await;
    let second = rig.approved_payout_as(&other.sandbox, Chain::Base, "USDC", &rig.evm(recipient), AMOUNT).await;
    let tx = rig.pay(rig.usdc, recipient, AMOUNT).await;
    assert_eq!(rig.execute(&first, &tx).await.status, 200);
    assert_eq!(rig.h.execute(&other.sandbox, &second, &tx).await.status, 200);
    confirm(&rig, &[&first, &second], &tx, BASE_CONFIRMATIONS).await;
    rig.sweep().await;
    let outcomes = [read(&rig, &rig.h.tenant.sandbox, &first).await, read(&rig, &other.sandbox, &second).await];
    let statuses: Vec<(&str, Option<&str>)> = outcomes.iter().map(|o| (o["status"].as_str().unwrap(), o["failure_reason"].as_str())).collect();
    assert!(statuses.contains(&("settled", None)), "{statuses:?}");
    assert!(statuses.contains(&("failed", Some("transfer_already_settled"))), "{statuses:?}: never a stuck verifying");
    let booked = settlements_of(&rig, &rig.h.tenant.sandbox, &first).await.len() + settlements_of(&rig, &other.sandbox, &second).await.len();
    assert_eq!(booked, 1, "never two settlements");
}

// ---------------------------------------------------------------------------------------------
// Live and sandbox on one network.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sandbox_and_live_on_one_devnet_never_interfere() {
    let rig = WatchRig::start_with(RigConfig { live_base_on_devnet: true, ..RigConfig::default() }).await;
    let tenant = rig.h.tenant.clone();
    let sender = rig.evm(rig.account(5));
    // Live needs a proven wallet (registered by default); sandbox accepts any sender.
    let live_wallet = registered_and_verified(&rig.h, &tenant.live, "base", &sender, |c| cast_sign(DEV_KEYS[5], c)).await;
    rig.anvil.mint(rig.usdc, rig.account(5), AMOUNT).await;
    let recipient = rig.evm(rig.account(2));
    let sandbox = rig.approved_payout_as(&tenant.sandbox, Chain::Base, "USDC", &recipient, AMOUNT).await;
    let live = rig.approved_payout_as(&tenant.live, Chain::Base, "USDC", &recipient, AMOUNT).await;
    let tx = rig.anvil.transfer(rig.account(5), rig.usdc, rig.account(2), AMOUNT).await;
    assert_eq!(rig.h.execute(&tenant.sandbox, &sandbox, &tx).await.status, 200, "sandbox first");
    let executed = rig.h.execute(&tenant.live, &live, &tx).await;
    assert_eq!(executed.status, 200, "a sandbox claim never blocks live: {}", executed.json);
    confirm(&rig, &[&sandbox, &live], &tx, BASE_CONFIRMATIONS).await;
    assert_eq!(read(&rig, &tenant.sandbox, &sandbox).await["status"], "settled");
    assert_eq!(read(&rig, &tenant.live, &live).await["status"], "settled");
    let live_booked = settlements_of(&rig, &tenant.live, &live).await;
    assert_eq!((live_booked.len(), live_booked[0]["environment"].as_str()), (1, Some("live")));
    assert_eq!(live_booked[0]["source_wallet_id"], live_wallet["id"]);
    let sandbox_booked = settlements_of(&rig, &tenant.sandbox, &sandbox).await;
    assert_eq!((sandbox_booked.len(), sandbox_booked[0]["source_wallet_id"].clone()), (1, Value::Null), "live's wallet is not sandbox's");
}
