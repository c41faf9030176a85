//! The source-wallet API through the handler stack, on both stores: registration and its
//! validation, EIP-191 proofs made by foundry's `cast`, refused proofs, one organization per
//! address, deletion, lists, tenancy and plans. (Contract wallets and tron proofs, which need a
//! chain or TronWeb, are in `source_wallets.rs`.)

#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::Method;
use payouts::domain::chain::{Chain, Environment};
use payouts::domain::org::Plan;
use payouts::domain::settlement::display_account;
use payouts::ports::store::IndexName;
use payouts::service::records;
use payouts_tests::wallets::{DEV_KEYS, cast_sign, register, registered_and_verified, verify};
use payouts_tests::{Harness, on_both_stores};
use serde_json::{Value, json};

/// anvil's account 5 (its key is `DEV_KEYS[5]`).
const ADDRESS_5: &str = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc";
const ADDRESS_6: &str = "0x976EA74026E726554dB657fA54763abd0C3a0aa9";

fn base_wallet(address: &str) -> Value {
    json!({ "chain": "base", "address": address, "label": "hot wallet" })
}

async fn registration_is_validated_like_recipients(h: Harness) {
    let key = h.tenant.sandbox.clone();
    let created = register(&h, &key, json!({ "chain": "base", "address": ADDRESS_5.to_lowercase(), "label": "hot wallet" })).await;
    assert_eq!(created.status, 201, "{}", created.json);
    let wallet = &created.json;
    assert!(wallet["id"].as_str().unwrap().starts_with("wal_"));
    assert_eq!(wallet["org_id"], h.tenant.org.to_string());
    assert_eq!(wallet["environment"], "sandbox");
    assert_eq!(wallet["chain"], "base");
    assert_eq!(wallet["address"], ADDRESS_5, "stored checksummed");
    assert_eq!(wallet["label"], "hot wallet");
    assert_eq!(wallet["status"], "pending_verification");
    assert_eq!(wallet["verified_at"], Value::Null);
    assert!(wallet["created_at"].is_string());
    let challenge = wallet["challenge"].as_str().unwrap();
    for part in [wallet["id"].as_str().unwrap(), &h.tenant.org.to_string(), "base", ADDRESS_5, "sandbox", "nonce: "] {
        assert!(challenge.contains(part), "{part} missing from the challenge {challenge:?}");
    }
    let again = register(&h, &key, base_wallet(ADDRESS_5)).await;
    assert_ne!(again.json["challenge"], wallet["challenge"], "every registration has its own nonce");

    let usdc = h.app.chains.token_contract(Environment::Sandbox, Chain::Base, payouts::domain::chain::Token::Usdc).unwrap().to_string();
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({ "chain": "base", "address": "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dC" }), "invalid_field", "address"),
        (json!({ "chain": "base", "address": "0x0000000000000000000000000000000000000000" }), "invalid_field", "address"),
        (json!({ "chain": "tron", "address": "TXrkA1b2C3d4E5f6G7h8I9j0K1l2M3n4" }), "invalid_field", "address"),
        (json!({ "chain": "base", "address": usdc }), "invalid_field", "address"),
        (json!({ "chain": "solana", "address": ADDRESS_5 }), "invalid_field", "chain"),
        (json!({ "address": ADDRESS_5 }), "missing_required_field", "chain"),
        (json!({ "chain": "base" }), "missing_required_field", "address"),
        (json!({ "chain": "base", "address": ADDRESS_5, "label": "x".repeat(101) }), "invalid_field", "label"),
        (json!({ "chain": "base", "address": ADDRESS_5, "owner": "me" }), "unknown_field", "owner"),
        (json!({ "chain": "base", "address": ADDRESS_5, "skip_proof": "yes" }), "invalid_field", "skip_proof"),
    ];
    for (body, code, param) in cases {
        let refused = register(&h, &key, body.clone()).await;
        assert_eq!(refused.status, 400, "{body}: {}", refused.json);
        assert_eq!(refused.error(), ("invalid_request".into(), code.into(), Some(param.into())), "{body}");
    }
    // Nothing half-written: only the two good registrations exist.
    let listed = h.call(Method::GET, "/v1/payouts/wallets", Some(&key), None).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 2, "{}", listed.json);
}

async fn an_eip191_signature_proves_an_account(h: Harness) {
    let key = h.tenant.sandbox.clone();
    let created = register(&h, &key, base_wallet(ADDRESS_5)).await;
    let id = created.id();
    let challenge = created.json["challenge"].as_str().unwrap().to_owned();

    // Another account's signature of the right message, and the right key's signature of another message.
    for (what, signature) in [("another key", cast_sign(DEV_KEYS[6], &challenge)), ("another message", cast_sign(DEV_KEYS[5], "hello"))] {
        let refused = verify(&h, &key, &id, &signature).await;
        assert_eq!(refused.status, 400, "{what}: {}", refused.json);
        assert_eq!(refused.error(), ("invalid_request".into(), "invalid_signature".into(), Some("signature".into())), "{what}");
        let still = h.call(Method::GET, &format!("/v1/payouts/wallets/{id}"), Some(&key), None).await;
        assert_eq!(still.json["status"], "pending_verification", "{what}: the wallet stays pending");
    }
    for malformed in ["", "abcd", "0x123", "0xnothex"] {
        let refused = verify(&h, &key, &id, malformed).await;
        assert_eq!(refused.error(), ("invalid_request".into(), "invalid_field".into(), Some("signature".into())), "{malformed:?}");
    }

    let verified = verify(&h, &key, &id, &cast_sign(DEV_KEYS[5], &challenge)).await;
    assert_eq!(verified.status, 200, "{}", verified.json);
    assert_eq!(verified.json["status"], "verified");
    assert_eq!(verified.json["proof_method"], "eip191");
    assert!(verified.json["verified_at"].is_string());
    let retried = verify(&h, &key, &id, &cast_sign(DEV_KEYS[5], &challenge)).await;
    assert_eq!((retried.status, retried.json["verified_at"].clone()), (200, verified.json["verified_at"].clone()), "a retry changes nothing");
    let got = h.call(Method::GET, &format!("/v1/payouts/wallets/{id}"), Some(&key), None).await;
    assert_eq!(got.json, verified.json);
}

async fn an_address_is_one_organizations_only(h: Harness) {
    let other = h.tenant(Plan::Enterprise).await;
    registered_and_verified(&h, &h.tenant.sandbox, "base", ADDRESS_5, |c| cast_sign(DEV_KEYS[5], c)).await;
    // The other org can register the address, and even prove the key, but not claim it.
    let created = register(&h, &other.sandbox, base_wallet(ADDRESS_5)).await;
    assert_eq!(created.status, 201);
    let signature = cast_sign(DEV_KEYS[5], created.json["challenge"].as_str().unwrap());
    let refused = verify(&h, &other.sandbox, &created.id(), &signature).await;
    assert_eq!(refused.status, 409, "{}", refused.json);
    assert_eq!(refused.error(), ("conflict".into(), "wallet_already_claimed".into(), Some("address".into())));
    let still = h.call(Method::GET, &format!("/v1/payouts/wallets/{}", created.id()), Some(&other.sandbox), None).await;
    assert_eq!(still.json["status"], "pending_verification");
    // Live is another environment: the same address is free there (proof mandatory).
    let live = register(&h, &other.live, base_wallet(ADDRESS_5)).await;
    let proved = verify(&h, &other.live, &live.id(), &cast_sign(DEV_KEYS[5], live.json["challenge"].as_str().unwrap())).await;
    assert_eq!(proved.status, 200, "{}", proved.json);
    // Skipping the proof cannot take a claimed address either.
    let skipped = register(&h, &other.sandbox, json!({ "chain": "base", "address": ADDRESS_5, "skip_proof": true })).await;
    assert_eq!(skipped.error().1, "wallet_already_claimed", "{}", skipped.json);
}

async fn concurrent_verifications_by_two_orgs_give_one_owner(h: Harness) {
    let other = h.tenant(Plan::Enterprise).await;
    let mut attempts = Vec::new();
    for key in [h.tenant.sandbox.clone(), other.sandbox.clone()] {
        let created = register(&h, &key, base_wallet(ADDRESS_6)).await;
        let signature = cast_sign(DEV_KEYS[6], created.json["challenge"].as_str().unwrap());
        attempts.push((key, created.id(), signature));
    }
    let ((key_a, id_a, sig_a), (key_b, id_b, sig_b)) = (&attempts[0], &attempts[1]);
    let (first, second) = tokio::join!(verify(&h, key_a, id_a, sig_a), verify(&h, key_b, id_b, sig_b));
    let statuses = [first.status, second.status];
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 1, "{statuses:?}");
}

async fn sandbox_may_skip_the_proof_live_may_not(h: Harness) {
    let skipped = register(&h, &h.tenant.sandbox, json!({ "chain": "base", "address": ADDRESS_5, "skip_proof": true })).await;
    assert_eq!(skipped.status, 201, "{}", skipped.json);
    assert_eq!(skipped.json["status"], "verified");
    assert_eq!(skipped.json["proof_method"], "skipped");
    let live = register(&h, &h.tenant.live, json!({ "chain": "base", "address": ADDRESS_5, "skip_proof": true })).await;
    assert_eq!(live.status, 400);
    assert_eq!(live.error(), ("invalid_request".into(), "invalid_field".into(), Some("skip_proof".into())));
}

async fn deleting_stops_the_wallet_counting(h: Harness) {
    let key = h.tenant.sandbox.clone();
    let wallet = registered_and_verified(&h, &key, "base", ADDRESS_5, |c| cast_sign(DEV_KEYS[5], c)).await;
    let id = wallet["id"].as_str().unwrap().to_owned();
    let deleted = h.call(Method::DELETE, &format!("/v1/payouts/wallets/{id}"), Some(&key), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.raw);
    for (method, path) in [(Method::GET, format!("/v1/payouts/wallets/{id}")), (Method::DELETE, format!("/v1/payouts/wallets/{id}"))] {
        let gone = h.call(method.clone(), &path, Some(&key), None).await;
        assert_eq!(gone.status, 404, "{method} after delete");
        assert_eq!(gone.error().1, "wallet_not_found");
    }
    let listed = h.call(Method::GET, "/v1/payouts/wallets", Some(&key), None).await;
    assert_eq!(listed.json["data"], json!([]));
    // The address is free again: another organization can prove and claim it.
    let other = h.tenant(Plan::Enterprise).await;
    registered_and_verified(&h, &other.sandbox, "base", ADDRESS_5, |c| cast_sign(DEV_KEYS[5], c)).await;
    // The record itself stays, for the settlements that point at it.
    let kept: Vec<payouts::domain::wallet::SourceWallet> = h.records(IndexName::Gsi1, records::wallets_of(&other.org, Environment::Sandbox)).await;
    assert_eq!(kept.len(), 1);
    let item = h.app.store.get(&[records::wallet_key(&payouts::domain::ids::WalletId::parse(&id).unwrap())]).await.unwrap().pop().flatten();
    assert!(item.is_some(), "the deleted wallet's record is kept");
}

async fn lists_filter_page_and_stay_in_their_tenant(h: Harness) {
    let key = h.tenant.sandbox.clone();
    let tron_account = display_account(Chain::Tron, [0x77; 20]);
    register(&h, &key, json!({ "chain": "tron", "address": tron_account })).await;
    registered_and_verified(&h, &key, "base", ADDRESS_5, |c| cast_sign(DEV_KEYS[5], c)).await;
    register(&h, &key, base_wallet(ADDRESS_6)).await;
    let ids = |r: &payouts_tests::Response| r.json["data"].as_array().unwrap().iter().map(|w| w["address"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    let all = h.call(Method::GET, "/v1/payouts/wallets", Some(&key), None).await;
    assert_eq!(ids(&all), vec![ADDRESS_6.to_owned(), ADDRESS_5.to_owned(), tron_account.clone()], "newest first");
    let base = h.call(Method::GET, "/v1/payouts/wallets?chain=base", Some(&key), None).await;
    assert_eq!(ids(&base), vec![ADDRESS_6.to_owned(), ADDRESS_5.to_owned()]);
    let verified = h.call(Method::GET, "/v1/payouts/wallets?status=verified", Some(&key), None).await;
    assert_eq!(ids(&verified), vec![ADDRESS_5.to_owned()]);
    let pending_base = h.call(Method::GET, "/v1/payouts/wallets?chain=base&status=pending_verification", Some(&key), None).await;
    assert_eq!(ids(&pending_base), vec![ADDRESS_6.to_owned()]);
    let page = h.call(Method::GET, "/v1/payouts/wallets?limit=2", Some(&key), None).await;
    assert_eq!((page.json["has_more"].clone(), ids(&page).len()), (json!(true), 2));
    let cursor = page.json["next_cursor"].as_str().unwrap();
    let rest = h.call(Method::GET, &format!("/v1/payouts/wallets?limit=2&cursor={cursor}"), Some(&key), None).await;
    assert_eq!(ids(&rest), vec![tron_account]);
    for bad in ["status=deleted", "chain=eth", "label=x"] {
        let refused = h.call(Method::GET, &format!("/v1/payouts/wallets?{bad}"), Some(&key), None).await;
        assert_eq!(refused.status, 400, "{bad}");
    }
    // Another org and the other environment see none of them.
    let other = h.tenant(Plan::Enterprise).await;
    let foreign = h.call(Method::GET, "/v1/payouts/wallets", Some(&other.sandbox), None).await;
    assert_eq!(foreign.json["data"], json!([]));
    let live = h.call(Method::GET, "/v1/payouts/wallets", Some(&h.tenant.live), None).await;
    assert_eq!(live.json["data"], json!([]));
    let id = all.json["data"][0]["id"].as_str().unwrap();
    for (who, other_key) in [("another org", other.sandbox.as_str()), ("live", h.tenant.live.as_str())] {
        for (method, path, body) in [
            (Method::GET, format!("/v1/payouts/wallets/{id}"), None),
            (Method::DELETE, format!("/v1/payouts/wallets/{id}"), None),
            (Method::POST, format!("/v1/payouts/wallets/{id}/verify"), Some(r#"{"signature":"0x00"}"#)),
        ] {
            let hidden = h.call(method.clone(), &path, Some(other_key), body).await;
            assert_eq!((hidden.status, hidden.error().1), (404, "wallet_not_found".to_owned()), "{who}: {method} {path}");
        }
    }
    let malformed = h.call(Method::GET, "/v1/payouts/wallets/po_e5f6a7b8c9d0e1f2a3b4c5d6", Some(&key), None).await;
    assert_eq!(malformed.status, 404);
    let unauthenticated = h.call(Method::GET, "/v1/payouts/wallets", None, None).await;
    assert_eq!(unauthenticated.status, 401);
    let not_allowed = h.call(Method::PATCH, "/v1/payouts/wallets", Some(&key), Some("{}")).await;
    assert_eq!((not_allowed.status, not_allowed.error().1), (405, "method_not_allowed".to_owned()));
}

async fn live_wallets_need_the_payouts_plan(h: Harness) {
    let growth = h.tenant(Plan::Growth).await;
    let refused = register(&h, &growth.live, base_wallet(ADDRESS_5)).await;
    assert_eq!((refused.status, refused.error().1), (403, "plan_upgrade_required".to_owned()));
    let listed = h.call(Method::GET, "/v1/payouts/wallets", Some(&growth.live), None).await;
    assert_eq!(listed.status, 403);
    let sandbox = register(&h, &growth.sandbox, base_wallet(ADDRESS_5)).await;
    assert_eq!(sandbox.status, 201, "sandbox works on every plan");
}

async fn registration_honours_idempotency_keys(h: Harness) {
    let key = h.tenant.sandbox.clone();
    let body = base_wallet(ADDRESS_5).to_string();
    let headers = [("idempotency-key", "wallet-1")];
    let first = h.call_with(Method::POST, "/v1/payouts/wallets", Some(&key), Some(&body), &headers).await;
    let second = h.call_with(Method::POST, "/v1/payouts/wallets", Some(&key), Some(&body), &headers).await;
    assert_eq!((first.status, second.status), (201, 201));
    assert_eq!(second.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.raw, second.raw);
    let other_body = base_wallet(ADDRESS_6).to_string();
    let reused = h.call_with(Method::POST, "/v1/payouts/wallets", Some(&key), Some(&other_body), &headers).await;
    assert_eq!((reused.status, reused.error().1), (409, "idempotency_key_reused".to_owned()));
    let listed = h.call(Method::GET, "/v1/payouts/wallets", Some(&key), None).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 1);
}

on_both_stores!(
    registration_is_validated_like_recipients,
    an_eip191_signature_proves_an_account,
    an_address_is_one_organizations_only,
    concurrent_verifications_by_two_orgs_give_one_owner,
    sandbox_may_skip_the_proof_live_may_not,
    deleting_stops_the_wallet_counting,
    lists_filter_page_and_stay_in_their_tenant,
    live_wallets_need_the_payouts_plan,
    registration_honours_idempotency_keys,
);
