//! `GET /v1/payouts/settlements`: what the chain-watcher recorded, as merchants see it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::Method;
use payouts::domain::chain::Chain;
use payouts::domain::org::Plan;
use payouts_tests::watch::{TRON_CONFIRMATIONS, WatchRig};
use serde_json::{Value, json};

const AMOUNT: u128 = 25_000_000;

const SETTLEMENT_FIELDS: [&str; 19] = [
    "id",
    "org_id",
    "payout_intent_id",
    "chain",
    "tx_hash",
    "log_index",
    "from_address",
    "to_address",
    "token",
    "amount",
    "amount_atomic",
    "source_wallet_id",
    "block_number",
    "block_hash",
    "confirmations",
    "confirmed_at",
    "detected_at",
    "environment",
    "created_at",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settlements_are_listed_by_payout_and_chain() {
    let rig = WatchRig::start().await;
    let key = rig.h.tenant.sandbox.clone();
    let recipient = rig.account(2);
    let base_tx = rig.pay(rig.usdc, recipient, AMOUNT).await;
    let base_id = rig.executed_payout(Chain::Base, "USDC", &rig.evm(recipient), AMOUNT, &base_tx).await;
    let tron_tx = rig.pay(rig.usdt, recipient, AMOUNT - 1).await;
    let tron_id = rig.executed_payout(Chain::Tron, "USDT", &rig.tron(recipient), AMOUNT, tron_tx.trim_start_matches("0x")).await;
    rig.check(&[&base_id, &tron_id]).await;
    rig.anvil.mine(TRON_CONFIRMATIONS).await;
    rig.sweep().await;
    assert_eq!(rig.status(&base_id).await, "settled");
    assert_eq!(rig.status(&tron_id).await, "failed", "one unit short");

    let list = |query: &str| {
        let (rig, key) = (&rig, key.clone());
        let path = format!("/v1/payouts/settlements{query}");
        async move { rig.h.call(Method::GET, &path, Some(&key), None).await }
    };
    let all = list("").await;
    assert_eq!(all.status, 200, "{}", all.json);
    let data = all.json["data"].as_array().unwrap();
    assert_eq!(data.len(), 2, "the short transfer is recorded too, for reconciliation");
    for settlement in data {
        let fields: Vec<&str> = settlement.as_object().unwrap().keys().map(String::as_str).collect();
        let mut expected = SETTLEMENT_FIELDS.to_vec();
        expected.sort_unstable();
        let mut fields = fields;
        fields.sort_unstable();
        assert_eq!(fields, expected);
        assert!(settlement["id"].as_str().unwrap().starts_with("stl_"));
        assert_eq!(settlement["environment"], "sandbox");
    }

    let base = list(&format!("?payout_intent_id={base_id}")).await;
    let only: &Value = &base.json["data"][0];
    assert_eq!(base.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(
        (only["payout_intent_id"].as_str(), only["tx_hash"].as_str(), only["amount_atomic"].as_str()),
        (Some(base_id.as_str()), Some(base_tx.as_str()), Some("25000000"))
    );
    assert_eq!(only["to_address"], json!(rig.evm(recipient)));
    assert!(only["confirmed_at"].is_string() && only["block_number"].is_u64());

    let tron = list("?chain=tron").await;
    let tron_data = tron.json["data"].as_array().unwrap();
    assert_eq!(tron_data.len(), 1);
    assert_eq!((tron_data[0]["payout_intent_id"].as_str(), tron_data[0]["amount_atomic"].as_str()), (Some(tron_id.as_str()), Some("24999999")));
    assert_eq!(tron_data[0]["to_address"], json!(rig.tron(recipient)));
    assert_eq!(tron_data[0]["amount"].to_string(), "24.999999", "token units, exact");
    assert_eq!(tron_data[0]["source_wallet_id"], Value::Null, "no registered wallet sent it");
    assert_eq!(list(&format!("?payout_intent_id={base_id}&chain=tron")).await.json["data"], json!([]));
    let page = list("?limit=1").await;
    assert_eq!((page.json["has_more"].as_bool(), page.json["data"].as_array().map(Vec::len)), (Some(true), Some(1)));

    for (query, param) in [("?chain=solana", "chain"), ("?payout_intent_id=po_nope", "payout_intent_id"), ("?color=red", "color"), ("?limit=0", "limit")] {
        let refused = list(query).await;
        assert_eq!((refused.status, refused.error().2.as_deref()), (400, Some(param)), "{query}");
    }
    let other = rig.h.tenant(Plan::Enterprise).await;
    let foreign = rig.h.call(Method::GET, "/v1/payouts/settlements", Some(&other.sandbox), None).await;
    assert_eq!(foreign.json["data"], json!([]), "another organization sees none");
    assert_eq!(rig.h.call(Method::GET, "/v1/payouts/settlements", Some(&rig.h.tenant.live), None).await.json["data"], json!([]), "nor another environment");
}
