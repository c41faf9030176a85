//! Unit tests of the rpc chain adapter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::json;

const HASH: &str = "0x8a1b0c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9";

fn word(address: &str) -> String {
    format!("0x000000000000000000000000{address}")
}

fn receipt(logs: Value) -> Value {
    json!({
        "transactionHash": HASH,
        "status": "0x1",
        "blockNumber": "0x1b4",
        "blockHash": "0xABCDEF0000000000000000000000000000000000000000000000000000000001",
        "logs": logs,
    })
}

fn transfer_log(index: &str, data: &str, extra_topic: bool) -> Value {
    let mut topics = vec![
        json!(format!("0x{}", hex::encode(transfer_topic()))),
        json!(word("1111111111111111111111111111111111111111")),
        json!(word("2222222222222222222222222222222222222222")),
    ];
    if extra_topic {
        topics.push(json!(format!("0x{}", "00".repeat(31) + "07")));
    }
    json!({ "address": "0x3333333333333333333333333333333333333333", "topics": topics, "data": data, "logIndex": index })
}

#[test]
fn the_transfer_topic_is_the_erc20_one() {
    assert_eq!(hex::encode(transfer_topic()), "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");
}

#[test]
fn receipts_keep_erc20_transfers_only() {
    let hash = TxHash::parse(Chain::Base, HASH).unwrap();
    let amount = format!("0x{:064x}", 500_000_000u64);
    let huge = format!("0x01{}", "00".repeat(31));
    let logs = json!([transfer_log("0x0", &amount, false), transfer_log("0x1", "0x", true), transfer_log("0x2", &huge, false)]);
    let parsed = parse_receipt(Chain::Base, &hash, &receipt(logs)).unwrap().unwrap();
    assert!(parsed.succeeded);
    assert_eq!(parsed.block_number, 0x1b4);
    assert_eq!(parsed.block_hash, "0xabcdef0000000000000000000000000000000000000000000000000000000001");
    assert_eq!(parsed.transfers.len(), 2, "the ERC-721-shaped log is skipped");
    assert_eq!(parsed.transfers[0].amount, Some(500_000_000));
    assert_eq!(parsed.transfers[0].from, [0x11; 20]);
    assert_eq!(parsed.transfers[0].to, [0x22; 20]);
    assert_eq!(parsed.transfers[0].token_contract, [0x33; 20]);
    assert_eq!(parsed.transfers[1].log_index, 2);
    assert_eq!(parsed.transfers[1].amount, None, "more than u128::MAX");
}

#[test]
fn an_address_topic_with_dirty_upper_bytes_is_not_a_transfer() {
    let hash = TxHash::parse(Chain::Base, HASH).unwrap();
    let amount = format!("0x{:064x}", 500_000_000u64);
    let clean = transfer_log("0x0", &amount, false);
    for (topic, dirty) in
        [(1, "0x0100000000000000000000001111111111111111111111111111111111111111"), (2, "0x0000000000000000000000ff2222222222222222222222222222222222222222")]
    {
        let mut log = transfer_log("0x1", &amount, false);
        log["topics"][topic] = json!(dirty);
        let parsed = parse_receipt(Chain::Base, &hash, &receipt(json!([clean.clone(), log]))).unwrap().unwrap();
        assert_eq!(parsed.transfers.iter().map(|t| t.log_index).collect::<Vec<_>>(), [0], "topic {topic}: only the clean log is a transfer");
    }
}

#[test]
fn null_is_not_found_and_anything_else_incomplete_is_an_error() {
    let hash = TxHash::parse(Chain::Tron, HASH).unwrap();
    assert_eq!(parse_receipt(Chain::Tron, &hash, &Value::Null), Ok(None));
    for field in ["status", "blockNumber", "blockHash", "logs", "transactionHash"] {
        let mut broken = receipt(json!([]));
        broken.as_object_mut().unwrap().remove(field);
        assert!(parse_receipt(Chain::Tron, &hash, &broken).is_err(), "{field}");
    }
    let mut other = receipt(json!([]));
    other["transactionHash"] = json!(format!("0x{}", "ab".repeat(32)));
    assert!(parse_receipt(Chain::Tron, &hash, &other).unwrap_err().contains("another transaction"));
    assert!(parse_receipt(Chain::Tron, &hash, &json!("0x1")).is_err());
    let mut bad_status = receipt(json!([]));
    bad_status["status"] = json!("0x2");
    assert!(parse_receipt(Chain::Tron, &hash, &bad_status).is_err());
}

#[test]
fn quantities_are_strict() {
    assert_eq!(parse_quantity(&json!("0x0")), Ok(0));
    assert_eq!(parse_quantity(&json!("0x20e0cf0")), Ok(0x20e0cf0));
    for bad in [json!("20e0cf0"), json!("0x"), json!(12), json!(null), json!("0xzz"), json!("0x1ffffffffffffffff")] {
        assert!(parse_quantity(&bad).is_err(), "{bad}");
    }
    assert_eq!(parse_block_number(&json!({ "number": "0x10", "stateRoot": "0x" })), Ok(Some(16)));
    assert_eq!(parse_block_number(&Value::Null), Ok(None));
    assert!(parse_block_number(&json!({ "hash": "0x00" })).is_err());
}

#[test]
fn options_are_checked_and_secrets_scrubbed() {
    let registry = crate::config::ChainRegistry::from_vars(&std::collections::BTreeMap::new()).unwrap();
    let mut settings = registry.get(crate::domain::chain::Environment::Live, Chain::Tron).unwrap().clone();
    settings.rpc_url = "https://rpc.example/v2/secret-path-key".to_owned();
    settings.rpc_headers = vec![("TRON-PRO-API-KEY".to_owned(), "key-1234".to_owned())];
    assert!(RpcChainReader::new(&settings, RpcOptions { max_batch: 101, ..RpcOptions::default() }).is_err());
    assert!(RpcChainReader::new(&settings, RpcOptions { max_batch: 0, ..RpcOptions::default() }).is_err());
    let reader = RpcChainReader::new(&settings, RpcOptions { max_batch: 100, ..RpcOptions::default() }).unwrap();
    let scrubbed = reader.scrub("error sending request for url (https://rpc.example/v2/secret-path-key) key-1234");
    assert!(!scrubbed.contains("secret-path-key") && !scrubbed.contains("key-1234"), "{scrubbed}");
    let debug = format!("{reader:?}");
    assert!(!debug.contains("secret-path-key") && !debug.contains("key-1234"), "{debug}");
}
