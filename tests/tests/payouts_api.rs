//! The payouts API through the handler stack, on the embedded store and on DynamoDB (moto):
//! every route, every documented error, the state machine, tenancy, idempotency, concurrency.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::Method;
use payouts::domain::chain::Environment;
use payouts::domain::event::{Event, EventType};
use payouts::domain::org::Plan;
use payouts::ports::store::WriteOp;
use payouts::service::records;
use payouts_tests::{EVM_RECIPIENT, GUIDE_REQUEST, Harness, TRON_RECIPIENT, guide_body, on_both_stores, random_tx_hash};
use serde_json::{Value, json};

const GUIDE_FIELDS: [&str; 24] = [
    "id",
    "org_id",
    "recipient_address",
    "chain",
    "token",
    "amount",
    "amount_atomic",
    "currency",
    "status",
    "description",
    "reference_type",
    "reference_id",
    "due_date",
    "approved_at",
    "approved_by",
    "executed_at",
    "expected_tx_hash",
    "verified_at",
    "failed_at",
    "canceled_at",
    "failure_reason",
    "environment",
    "created_at",
    "updated_at",
];

/// Raw text of the first occurrence of `"name":` value in a JSON text (to check number scale).
fn raw_field<'a>(body: &'a str, name: &str) -> &'a str {
    let start = body.find(&format!("\"{name}\":")).unwrap() + name.len() + 3;
    let rest = &body[start..];
    &rest[..rest.find([',', '}']).unwrap()]
}

async fn create_returns_the_guide_shape(h: Harness) {
    let created = h.call(Method::POST, "/v1/payouts", Some(&h.tenant.live), Some(GUIDE_REQUEST)).await;
    assert_eq!(created.status, 201, "{}", created.json);
    // The guide's fields, then one extension: the confirmation progress while verifying.
    assert_eq!(created.json.as_object().unwrap().len(), GUIDE_FIELDS.len() + 1, "no field more or less than the guide and `verification`");
    assert_eq!(created.json["verification"], Value::Null);
    assert!(created.raw.find("\"verification\":") > created.raw.find("\"updated_at\":"), "the extension comes last");
    let positions: Vec<usize> = GUIDE_FIELDS.iter().map(|f| created.raw.find(&format!("\"{f}\":")).unwrap_or_else(|| panic!("{f} missing"))).collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "every field, in the guide's order: {}", created.raw);
    assert!(created.id().starts_with("po_") && created.id().len() == 27);
    assert_eq!(created.json["org_id"], json!(h.tenant.org.to_string()));
    assert_eq!(created.json["status"], "draft");
    assert_eq!(created.json["recipient_address"], TRON_RECIPIENT);
    assert_eq!(created.json["amount_atomic"], Value::Null);
    assert_eq!(created.json["environment"], "live");
    assert_eq!(created.json["due_date"], "2025-06-30T00:00:00Z");
    assert_eq!(created.json["reference_type"], "invoice");
    for null_field in ["approved_at", "approved_by", "executed_at", "expected_tx_hash", "verified_at", "failed_at", "canceled_at", "failure_reason"] {
        assert_eq!(created.json[null_field], Value::Null, "{null_field}");
    }
    assert!(created.json["created_at"].as_str().unwrap().ends_with('Z'));

    // The amount keeps its scale on the wire: 500.00, not 500 or 500.0.
    let got = h.get(&h.tenant.live, &created.id()).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.json, created.json);
    assert_eq!(raw_field(&got.raw, "amount"), "500.00");
    assert_eq!(raw_field(&created.raw, "amount"), "500.00");
}

async fn amount_scale_is_kept_exactly(h: Harness) {
    for (amount, expected_atomic) in [("0.01", "10000"), ("1234.567891", "1234567891"), ("500", "500000000"), ("0.3", "300000")] {
        let body = guide_body().to_string().replace("500.0", amount);
        let created = h.call(Method::POST, "/v1/payouts", Some(&h.tenant.live), Some(&body)).await;
        assert_eq!(created.status, 201, "{amount}: {}", created.json);
        let approved = h.patch(&h.tenant.live, &created.id(), &json!({"status": "approved"})).await;
        assert_eq!(approved.json["amount_atomic"], json!(expected_atomic), "{amount}");
        assert_eq!(raw_field(&approved.raw, "amount"), amount);
    }
}

/// Each bad body → (status, type, code, param).
async fn bad_bodies_get_documented_errors_and_write_nothing(h: Harness) {
    let with = |field: &str, value: Value| {
        let mut body = guide_body();
        body[field] = value;
        body.to_string()
    };
    let without = |field: &str| {
        let mut body = guide_body();
        body.as_object_mut().unwrap().remove(field);
        body.to_string()
    };
    let evm = |address: &str, chain: &str, token: &str| {
        let mut body = guide_body();
        body["recipient_address"] = json!(address);
        body["chain"] = json!(chain);
        body["token"] = json!(token);
        body.to_string()
    };
    type Case<'a> = (String, String, u16, &'a str, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        ("missing recipient".into(), without("recipient_address"), 400, "invalid_request", "missing_required_field", Some("recipient_address")),
        ("missing chain".into(), without("chain"), 400, "invalid_request", "missing_required_field", Some("chain")),
        ("missing token".into(), without("token"), 400, "invalid_request", "missing_required_field", Some("token")),
        ("missing amount".into(), without("amount"), 400, "invalid_request", "missing_required_field", Some("amount")),
        ("missing currency".into(), without("currency"), 400, "invalid_request", "missing_required_field", Some("currency")),
        ("unknown field".into(), with("memo", json!("x")), 400, "invalid_request", "unknown_field", Some("memo")),
        ("amount as string".into(), with("amount", json!("500.00")), 400, "invalid_request", "invalid_field", Some("amount")),
        ("amount too small".into(), with("amount", json!(0.009)), 400, "invalid_request", "invalid_field", Some("amount")),
        ("amount negative".into(), with("amount", json!(-5)), 400, "invalid_request", "invalid_field", Some("amount")),
        ("amount 7 decimals".into(), guide_body().to_string().replace("500.0", "1.1234567"), 400, "invalid_request", "invalid_field", Some("amount")),
        ("amount null".into(), with("amount", Value::Null), 400, "invalid_request", "invalid_field", Some("amount")),
        ("chain as number".into(), with("chain", json!(5)), 400, "invalid_request", "invalid_field", Some("chain")),
        ("unknown chain".into(), with("chain", json!("solana")), 400, "invalid_request", "invalid_field", Some("chain")),
        ("unknown token".into(), with("token", json!("DAI")), 400, "invalid_request", "invalid_field", Some("token")),
        ("USDT on base".into(), evm(EVM_RECIPIENT, "base", "USDT"), 400, "invalid_request", "unsupported_chain_token", Some("token")),
        ("USDC on tron".into(), with("token", json!("USDC")), 400, "invalid_request", "unsupported_chain_token", Some("token")),
        ("currency EUR".into(), with("currency", json!("EUR")), 400, "invalid_request", "invalid_field", Some("currency")),
        (
            "guide placeholder address".into(),
            with("recipient_address", json!("TXrkA1b2C3d4E5f6G7h8I9j0K1l2M3n4")),
            400,
            "invalid_request",
            "invalid_field",
            Some("recipient_address"),
        ),
        (
            "tron checksum".into(),
            with("recipient_address", json!("TLEaY8XoqpBmndLsjcfThgdKLN1ssNuUcG")),
            400,
            "invalid_request",
            "invalid_field",
            Some("recipient_address"),
        ),
        ("EVM address on tron".into(), with("recipient_address", json!(EVM_RECIPIENT)), 400, "invalid_request", "invalid_field", Some("recipient_address")),
        (
            "EIP-55 checksum".into(),
            evm("0x70997970C51812dc3A010C7d01b50e0d17dc79c8", "arbitrum", "USDC"),
            400,
            "invalid_request",
            "invalid_field",
            Some("recipient_address"),
        ),
        (
            "zero address".into(),
            evm("0x0000000000000000000000000000000000000000", "base", "USDC"),
            400,
            "invalid_request",
            "invalid_field",
            Some("recipient_address"),
        ),
        (
            "token contract as recipient".into(),
            evm("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913", "base", "USDC"),
            400,
            "invalid_request",
            "invalid_field",
            Some("recipient_address"),
        ),
        (
            "tron token contract as recipient".into(),
            with("recipient_address", json!("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t")),
            400,
            "invalid_request",
            "invalid_field",
            Some("recipient_address"),
        ),
        ("description too long".into(), with("description", json!("x".repeat(513))), 400, "invalid_request", "invalid_field", Some("description")),
        ("bad reference_type".into(), with("reference_type", json!("gift")), 400, "invalid_request", "invalid_field", Some("reference_type")),
        ("bad due_date".into(), with("due_date", json!("tomorrow")), 400, "invalid_request", "invalid_field", Some("due_date")),
        ("malformed JSON".into(), "{\"chain\": ".into(), 400, "invalid_request", "invalid_json", None),
        ("array body".into(), "[]".into(), 400, "invalid_request", "invalid_json", None),
        ("empty body".into(), "".into(), 400, "invalid_request", "invalid_json", None),
        ("oversized body".into(), with("description", json!("x".repeat(70_000))), 413, "invalid_request", "body_too_large", None),
    ];
    for (name, body, status, error_type, code, param) in &cases {
        let response = h.call(Method::POST, "/v1/payouts", Some(&h.tenant.live), Some(body)).await;
        assert_eq!(response.status, *status, "{name}: {}", response.json);
        let (t, c, p) = response.error();
        assert_eq!((t.as_str(), c.as_str(), p.as_deref()), (*error_type, *code, *param), "{name}");
        assert!(!response.json["error"]["message"].as_str().unwrap_or("").is_empty(), "{name}: message");
    }
    let wrong_media = h.call_with(Method::POST, "/v1/payouts", Some(&h.tenant.live), Some(&guide_body().to_string()), &[("content-type", "text/plain")]).await;
    assert_eq!((wrong_media.status, wrong_media.error().1.as_str()), (415, "unsupported_media_type"));

    let list = h.call(Method::GET, "/v1/payouts", Some(&h.tenant.live), None).await;
    assert_eq!(list.json["data"], json!([]), "a refused request writes nothing");
    // No USDT contract is known for arbitrum's testnet (none is configured by default): such an
    // intent could never be verified, so it is refused in sandbox.
    let no_contract = h.call(Method::POST, "/v1/payouts", Some(&h.tenant.sandbox), Some(&evm(EVM_RECIPIENT, "arbitrum", "USDT"))).await;
    assert_eq!((no_contract.status, no_contract.error().1.as_str(), no_contract.error().2.as_deref()), (400, "unsupported_chain_token", Some("token")));
    // Single-case EVM addresses are accepted and stored checksummed.
    let lower = h.call(Method::POST, "/v1/payouts", Some(&h.tenant.live), Some(&evm(&EVM_RECIPIENT.to_lowercase(), "arbitrum", "USDT"))).await;
    assert_eq!(lower.status, 201, "{}", lower.json);
    assert_eq!(lower.json["recipient_address"], EVM_RECIPIENT);
}

async fn authentication_and_plans(h: Harness) {
    let body = guide_body().to_string();
    let none = h.call(Method::POST, "/v1/payouts", None, Some(&body)).await;
    assert_eq!((none.status, none.error().0.as_str(), none.error().1.as_str()), (401, "authentication_error", "api_key_missing"));
    let unknown = h.call(Method::GET, "/v1/payouts", Some("sk_live_000000000000000000000000000000000000000000000000"), None).await;
    assert_eq!((unknown.status, unknown.error().1.as_str()), (401, "api_key_invalid"));
    let garbage = h.call(Method::GET, "/v1/payouts", Some("hello"), None).await;
    assert_eq!((garbage.status, garbage.error().1.as_str()), (401, "api_key_invalid"));

    // Revoked keys stop working at once.
    let tenant = h.tenant(Plan::Scale).await;
    assert_eq!(h.call(Method::GET, "/v1/payouts", Some(&tenant.live), None).await.status, 200);
    let key_id = payouts::domain::ids::ApiKeyId::parse(&tenant.live_key_id).unwrap();
    payouts::service::admin::revoke_key(&h.app, &key_id).await.unwrap();
    let revoked = h.call(Method::GET, "/v1/payouts", Some(&tenant.live), None).await;
    assert_eq!((revoked.status, revoked.error().1.as_str()), (401, "api_key_invalid"));
    assert_eq!(h.call(Method::GET, "/v1/payouts", Some(&tenant.sandbox), None).await.status, 200, "the other key still works");

    // Live payouts need scale or above; sandbox works on every plan.
    let growth = h.tenant(Plan::Growth).await;
    let refused = h.call(Method::POST, "/v1/payouts", Some(&growth.live), Some(&body)).await;
    assert_eq!((refused.status, refused.error().0.as_str(), refused.error().1.as_str()), (403, "permission_error", "plan_upgrade_required"));
    let free = h.tenant(Plan::Free).await;
    assert_eq!(h.call(Method::POST, "/v1/payouts", Some(&free.sandbox), Some(&body)).await.status, 201);

    // Events are gated like the resources they carry.
    let refused = h.call(Method::GET, "/v1/events", Some(&free.live), None).await;
    assert_eq!((refused.status, refused.error().1.as_str()), (403, "plan_upgrade_required"), "{}", refused.json);
    assert_eq!(h.call(Method::GET, "/v1/events", Some(&free.sandbox), None).await.status, 200);
    let scale = h.tenant(Plan::Scale).await;
    assert_eq!(h.call(Method::GET, "/v1/events?type=payout.settled", Some(&scale.live), None).await.status, 200);
    let refused = h.call(Method::GET, "/v1/events?type=reconciliation.discrepancy", Some(&scale.live), None).await;
    assert_eq!((refused.status, refused.error().1.as_str()), (403, "plan_upgrade_required"), "reconciliation events need what reconciliation needs");
    // An unfiltered list leaves out what the plan cannot read; the event itself is a 403.
    let mut written = Vec::new();
    for event_type in [EventType::PayoutSettled, EventType::ReconciliationDiscrepancy] {
        let event = Event::new(event_type, scale.org.clone(), Environment::Live, "po_0".to_owned(), &json!({"id": "po_0"}), h.app.now()).unwrap();
        let item = records::event_item(&event, 1).unwrap();
        h.app.store.write(vec![WriteOp::Put { item, condition: None }]).await.unwrap();
        written.push(event.id.to_string());
    }
    let listed = h.call(Method::GET, "/v1/events", Some(&scale.live), None).await;
    let types: Vec<&str> = listed.json["data"].as_array().unwrap().iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(types, vec!["payout.settled"], "{}", listed.json);
    let hidden = h.call(Method::GET, &format!("/v1/events/{}", written[1]), Some(&scale.live), None).await;
    assert_eq!((hidden.status, hidden.error().1.as_str()), (403, "plan_upgrade_required"), "{}", hidden.json);
    payouts::service::admin::set_plan(&h.app, &scale.org, Plan::Enterprise).await.unwrap();
    let listed = h.call(Method::GET, "/v1/events", Some(&scale.live), None).await;
    assert_eq!(listed.json["data"].as_array().map(Vec::len), Some(2), "enterprise reads both: {}", listed.json);

    // Upgrading the plan takes effect for existing keys.
    payouts::service::admin::set_plan(&h.app, &growth.org, Plan::Scale).await.unwrap();
    assert_eq!(h.call(Method::POST, "/v1/payouts", Some(&growth.live), Some(&body)).await.status, 201);

    // The OpenAPI document needs no key.
    let doc = h.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.json["paths"]["/v1/payouts/{id}/execute"]["post"].is_object());
}

async fn tenants_and_environments_are_isolated(h: Harness) {
    let other = h.tenant(Plan::Enterprise).await;
    let mine = h.create(&h.tenant.live, &guide_body()).await.id();
    for key in [&other.live, &other.sandbox, &h.tenant.sandbox] {
        let get = h.get(key, &mine).await;
        assert_eq!((get.status, get.error().1.as_str()), (404, "payout_not_found"));
        let patch = h.patch(key, &mine, &json!({"status": "approved"})).await;
        assert_eq!(patch.status, 404);
        let execute = h.execute(key, &mine, &random_tx_hash()).await;
        assert_eq!(execute.status, 404);
        let list = h.call(Method::GET, "/v1/payouts", Some(key), None).await;
        assert_eq!(list.json["data"], json!([]));
    }
    assert_eq!(h.get(&h.tenant.live, &mine).await.json["status"], "draft", "nothing changed");
    let sandbox = h.create(&h.tenant.sandbox, &guide_body()).await;
    assert_eq!(sandbox.json["environment"], "sandbox");
    assert_eq!(h.get(&h.tenant.live, &sandbox.id()).await.status, 404);
    let malformed = h.get(&h.tenant.live, "po_nope").await;
    assert_eq!((malformed.status, malformed.error().1.as_str(), malformed.error().2.as_deref()), (404, "payout_not_found", Some("id")));
}

async fn state_machine_over_http(h: Harness) {
    let key = &h.tenant.live;
    let id = h.create(key, &guide_body()).await.id();

    // Draft edits.
    let edited = h.patch(key, &id, &json!({"description": "Edited", "due_date": "2025-07-01T12:00:00+02:00"})).await;
    assert_eq!(edited.status, 200, "{}", edited.json);
    assert_eq!((edited.json["description"].as_str(), edited.json["due_date"].as_str()), (Some("Edited"), Some("2025-07-01T10:00:00Z")));
    let cleared = h.patch(key, &id, &json!({"description": null})).await;
    assert_eq!(cleared.json["description"], Value::Null);

    let bad_status = h.patch(key, &id, &json!({"status": "settled"})).await;
    assert_eq!((bad_status.status, bad_status.error().1.as_str(), bad_status.error().2.as_deref()), (400, "invalid_field", Some("status")));
    let empty = h.patch(key, &id, &json!({})).await;
    assert_eq!(empty.status, 400);
    let unknown = h.patch(key, &id, &json!({"amount": 5})).await;
    assert_eq!((unknown.status, unknown.error().1.as_str()), (400, "unknown_field"));

    let early = h.execute(key, &id, &random_tx_hash()).await;
    assert_eq!((early.status, early.error().0.as_str(), early.error().1.as_str()), (409, "conflict", "invalid_status_transition"));
    assert!(early.json["error"]["message"].as_str().unwrap().contains("draft"), "names the current status");

    let approved = h.patch(key, &id, &json!({"status": "approved"})).await;
    assert_eq!(approved.status, 200);
    assert_eq!(approved.json["status"], "approved");
    assert_eq!(approved.json["amount_atomic"], "500000000");
    assert_eq!(approved.json["approved_by"], json!(h.tenant.live_key_id));
    assert!(approved.json["approved_at"].is_string());

    for (body, what) in [
        (json!({"status": "approved"}), "approve twice"),
        (json!({"status": "canceled"}), "cancel approved"),
        (json!({"description": "late"}), "edit approved"),
    ] {
        let refused = h.patch(key, &id, &body).await;
        assert_eq!((refused.status, refused.error().1.as_str()), (409, "invalid_status_transition"), "{what}");
        assert!(refused.json["error"]["message"].as_str().unwrap().contains("approved"), "{what}: names the current status");
    }

    let pending = h.patch(key, &id, &json!({"status": "pending_execution"})).await;
    assert_eq!(pending.json["status"], "pending_execution");

    let bad_hash = h.execute(key, &id, "0x1234").await;
    assert_eq!((bad_hash.status, bad_hash.error().1.as_str(), bad_hash.error().2.as_deref()), (400, "invalid_field", Some("tx_hash")));
    let missing_hash = h.call(Method::POST, &format!("/v1/payouts/{id}/execute"), Some(key), Some("{}")).await;
    assert_eq!(missing_hash.error().1, "missing_required_field");

    let hash = random_tx_hash();
    let executed = h.execute(key, &id, &format!("0x{}", hash.to_uppercase())).await;
    assert_eq!(executed.status, 200, "{}", executed.json);
    assert_eq!(executed.json["status"], "executed");
    assert_eq!(executed.json["expected_tx_hash"], json!(hash), "tron hashes are stored bare and lowercase");
    assert!(executed.json["executed_at"].is_string());
    let queued = h.queue.0.lock().unwrap().clone();
    assert_eq!(queued.len(), 1);
    assert_eq!((queued[0].payout_id.to_string(), queued[0].chain.as_str(), queued[0].tx_hash.to_string()), (id.clone(), "tron", hash.clone()));

    // The same hash again is no change; another hash, while the tx was never seen, replaces it.
    let again = h.execute(key, &id, &hash).await;
    assert_eq!((again.status, again.error().1.as_str()), (409, "invalid_status_transition"));
    let replacement = random_tx_hash();
    let replaced = h.execute(key, &id, &replacement).await;
    assert_eq!(replaced.status, 200, "{}", replaced.json);
    assert_eq!((replaced.json["status"].as_str(), &replaced.json["expected_tx_hash"]), (Some("executed"), &json!(replacement)));
    assert_eq!(h.queue.0.lock().unwrap().last().map(|m| m.tx_hash.to_string()), Some(replacement.clone()), "the new hash is queued");

    // Cancel from draft.
    let other = h.create(key, &guide_body()).await.id();
    let canceled = h.patch(key, &other, &json!({"status": "canceled"})).await;
    assert_eq!((canceled.json["status"].as_str(), canceled.json["canceled_at"].is_string()), (Some("canceled"), true));
    assert_eq!(h.patch(key, &other, &json!({"status": "approved"})).await.status, 409, "canceled is terminal");

    // Every change wrote exactly one event record, with the intent as data.
    let events = event_types_of(&h, &id).await;
    assert_eq!(
        events,
        ["payout.created", "payout.updated", "payout.updated", "payout.approved", "payout.pending_execution", "payout.executed", "payout.executed"]
    );
}

/// Event types recorded for one payout, oldest first (read straight from the store).
async fn event_types_of(h: &Harness, payout_id: &str) -> Vec<String> {
    h.events_of(payouts::domain::chain::Environment::Live, payout_id)
        .await
        .iter()
        .map(|event| {
            let data: Value = serde_json::from_str(event.data.get()).unwrap();
            assert_eq!(data["id"], json!(payout_id), "event data is the intent");
            assert!(event.id.as_str().starts_with("evt_"));
            event.event_type.as_str().to_owned()
        })
        .collect()
}

async fn evm_execute_normalizes_and_tx_hash_is_unique_within_an_org(h: Harness) {
    let body = json!({"recipient_address": EVM_RECIPIENT, "chain": "base", "token": "USDC", "amount": 12.5, "currency": "USD"});
    let first = h.create(&h.tenant.live, &body).await.id();
    h.patch(&h.tenant.live, &first, &json!({"status": "approved"})).await;
    let hash = random_tx_hash();
    let executed = h.execute(&h.tenant.live, &first, &hash).await;
    assert_eq!(executed.json["expected_tx_hash"], json!(format!("0x{hash}")), "EVM hashes are stored 0x-prefixed");

    // The same org cannot attach the hash to a second intent.
    let second = h.create(&h.tenant.live, &body).await.id();
    h.patch(&h.tenant.live, &second, &json!({"status": "approved"})).await;
    let reused = h.execute(&h.tenant.live, &second, &format!("0x{}", hash.to_uppercase())).await;
    assert_eq!(
        (reused.status, reused.error().0.as_str(), reused.error().1.as_str(), reused.error().2.as_deref()),
        (409, "conflict", "tx_hash_already_used", Some("tx_hash"))
    );
    let after = h.get(&h.tenant.live, &second).await;
    assert_eq!((after.json["status"].as_str(), &after.json["expected_tx_hash"]), (Some("approved"), &Value::Null), "nothing half-written");
    assert_eq!(h.queue.0.lock().unwrap().len(), 1, "no message for the refused execute");

    // Another org's claim never blocks you (hashes are public: squatting must not work).
    let other = h.tenant(Plan::Enterprise).await;
    let theirs = h.create(&other.live, &body).await.id();
    h.patch(&other.live, &theirs, &json!({"status": "approved"})).await;
    let allowed = h.execute(&other.live, &theirs, &format!("0x{}", hash.to_uppercase())).await;
    assert_eq!(allowed.status, 200, "{}", allowed.json);
}

async fn idempotent_creates_replay_and_conflict(h: Harness) {
    let key = &h.tenant.live;
    let body = guide_body().to_string();
    let first = h.call_with(Method::POST, "/v1/payouts", Some(key), Some(&body), &[("idempotency-key", "order-42")]).await;
    assert_eq!(first.status, 201);
    let spaced = serde_json::to_string_pretty(&guide_body()).unwrap();
    let replay = h.call_with(Method::POST, "/v1/payouts", Some(key), Some(&spaced), &[("idempotency-key", "order-42")]).await;
    assert_eq!((replay.status, &replay.json), (201, &first.json), "same response replayed");
    assert_eq!(replay.header("idempotent-replayed"), Some("true"));
    assert_eq!(first.header("idempotent-replayed"), None);

    let changed = guide_body().to_string().replace("500.0", "501.0");
    let conflict = h.call_with(Method::POST, "/v1/payouts", Some(key), Some(&changed), &[("idempotency-key", "order-42")]).await;
    assert_eq!((conflict.status, conflict.error().0.as_str(), conflict.error().1.as_str()), (409, "idempotency_conflict", "idempotency_key_reused"));

    // Scoped per organization and environment.
    let sandbox = h.call_with(Method::POST, "/v1/payouts", Some(&h.tenant.sandbox), Some(&body), &[("idempotency-key", "order-42")]).await;
    assert_eq!(sandbox.status, 201);
    assert_ne!(sandbox.id(), first.id());
    let other = h.tenant(Plan::Enterprise).await;
    let other_org = h.call_with(Method::POST, "/v1/payouts", Some(&other.live), Some(&body), &[("idempotency-key", "order-42")]).await;
    assert_ne!(other_org.id(), first.id());

    // Kept for 24 hours, then the key is free again.
    h.clock.advance(chrono::Duration::hours(23));
    let still = h.call_with(Method::POST, "/v1/payouts", Some(key), Some(&body), &[("idempotency-key", "order-42")]).await;
    assert_eq!(still.id(), first.id());
    h.clock.advance(chrono::Duration::hours(2));
    let fresh = h.call_with(Method::POST, "/v1/payouts", Some(key), Some(&body), &[("idempotency-key", "order-42")]).await;
    assert_eq!(fresh.status, 201);
    assert_ne!(fresh.id(), first.id());

    let bad_key = h.call_with(Method::POST, "/v1/payouts", Some(key), Some(&body), &[("idempotency-key", &"k".repeat(256))]).await;
    assert_eq!((bad_key.status, bad_key.error().1.as_str()), (400, "invalid_idempotency_key"));
    let list = h.call(Method::GET, "/v1/payouts?limit=100", Some(key), None).await;
    assert_eq!(list.json["data"].as_array().unwrap().len(), 2, "exactly the two distinct creates exist");
}

async fn idempotent_execute_replays(h: Harness) {
    let key = &h.tenant.live;
    let id = h.create(key, &guide_body()).await.id();
    h.patch(key, &id, &json!({"status": "approved"})).await;
    let hash = random_tx_hash();
    let body = json!({"tx_hash": hash}).to_string();
    let path = format!("/v1/payouts/{id}/execute");
    let first = h.call_with(Method::POST, &path, Some(key), Some(&body), &[("idempotency-key", "exec-1")]).await;
    assert_eq!(first.status, 200);
    let replay = h.call_with(Method::POST, &path, Some(key), Some(&body), &[("idempotency-key", "exec-1")]).await;
    assert_eq!((replay.status, &replay.json, replay.header("idempotent-replayed")), (200, &first.json, Some("true")));
    let different =
        h.call_with(Method::POST, &path, Some(key), Some(&json!({"tx_hash": random_tx_hash()}).to_string()), &[("idempotency-key", "exec-1")]).await;
    assert_eq!(different.status, 409);
    assert_eq!(h.queue.0.lock().unwrap().len(), 1, "one enqueue for one execute");
}

async fn concurrent_idempotent_creates_make_one_intent(h: Harness) {
    let body = guide_body().to_string();
    let h = std::sync::Arc::new(h);
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let h = h.clone();
            let body = body.clone();
            tokio::spawn(async move { h.call_with(Method::POST, "/v1/payouts", Some(&h.tenant.live), Some(&body), &[("idempotency-key", "same")]).await })
        })
        .collect();
    let mut ids = std::collections::BTreeSet::new();
    for task in tasks {
        let response = task.await.unwrap();
        assert_eq!(response.status, 201, "{}", response.json);
        ids.insert(response.id());
    }
    assert_eq!(ids.len(), 1, "every duplicate got the one intent");
    let list = h.call(Method::GET, "/v1/payouts", Some(&h.tenant.live), None).await;
    assert_eq!(list.json["data"].as_array().unwrap().len(), 1);
}

async fn twenty_concurrent_approves_and_executes_have_one_winner(h: Harness) {
    let h = std::sync::Arc::new(h);
    let id = h.create(&h.tenant.live, &guide_body()).await.id();
    let approves: Vec<_> = (0..20)
        .map(|_| {
            let (h, id) = (h.clone(), id.clone());
            tokio::spawn(async move { h.patch(&h.tenant.live, &id, &json!({"status": "approved"})).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in approves {
        let response = task.await.unwrap();
        if response.status == 409 {
            assert_eq!(response.error().1, "invalid_status_transition");
        }
        statuses.push(response.status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 409).count(), 19, "{statuses:?}");

    // Twenty retries of one execute: one transition.
    let hash = random_tx_hash();
    let executes: Vec<_> = (0..20)
        .map(|_| {
            let (h, id, hash) = (h.clone(), id.clone(), hash.clone());
            tokio::spawn(async move { h.execute(&h.tenant.live, &id, &hash).await })
        })
        .collect();
    let mut winners = 0;
    for task in executes {
        let response = task.await.unwrap();
        if response.status == 200 {
            winners += 1;
        } else {
            assert_eq!((response.status, response.error().1.as_str()), (409, "invalid_status_transition"));
        }
    }
    assert_eq!(winners, 1);
    assert_eq!(h.get(&h.tenant.live, &id).await.json["expected_tx_hash"], json!(hash));
    assert_eq!(h.queue.0.lock().unwrap().len(), 1);
    assert_eq!(event_types_of(&h, &id).await, ["payout.created", "payout.approved", "payout.executed"]);

    // Twenty different replacement hashes at once: each applied one after the other or refused
    // as a conflict, never lost: the last one applied is the intent's, and only its claim remains.
    let executes: Vec<_> = (0..20)
        .map(|_| {
            let (h, id) = (h.clone(), id.clone());
            tokio::spawn(async move {
                let hash = random_tx_hash();
                (hash.clone(), h.execute(&h.tenant.live, &id, &hash).await)
            })
        })
        .collect();
    let mut applied = Vec::new();
    let mut refused = Vec::new();
    for task in executes {
        let (hash, response) = task.await.unwrap();
        match response.status {
            200 => applied.push((response.json["updated_at"].as_str().unwrap().to_owned(), hash)),
            _ => {
                assert_eq!((response.status, response.error().1.as_str()), (409, "concurrent_update"), "{}", response.json);
                refused.push(hash);
            }
        }
    }
    assert!(!applied.is_empty());
    let current = h.get(&h.tenant.live, &id).await.json["expected_tx_hash"].as_str().unwrap().to_owned();
    let executed_events = event_types_of(&h, &id).await.iter().filter(|t| *t == "payout.executed").count();
    assert_eq!(executed_events, 1 + applied.len(), "one event per applied execute");
    assert_eq!(h.queue.0.lock().unwrap().len(), 1 + applied.len(), "one message per applied execute");
    let org = &h.tenant.org;
    for hash in applied.iter().map(|(_, hash)| hash).chain(refused.iter()).chain(std::iter::once(&hash)) {
        let tx = payouts::domain::address::TxHash::parse(payouts::domain::chain::Chain::Tron, hash).unwrap();
        let claim = records::tx_claim_key(org, payouts::domain::chain::Environment::Live, payouts::domain::chain::Chain::Tron, &tx);
        let held = h.app.store.get(&[claim]).await.unwrap().pop().flatten().is_some();
        assert_eq!(held, *hash == current, "claim of {hash} (current {current})");
    }
}

async fn list_filters_and_paginates(h: Harness) {
    let key = &h.tenant.live;
    let mut created = Vec::new();
    for day in 1..=7 {
        let mut body = guide_body();
        body["due_date"] = json!(format!("2025-07-{day:02}T00:00:00Z"));
        created.push(h.create(key, &body).await.id());
    }
    h.patch(key, &created[1], &json!({"status": "approved"})).await;
    h.patch(key, &created[4], &json!({"status": "approved"})).await;

    let mut seen = Vec::new();
    let mut path = "/v1/payouts?limit=3".to_owned();
    loop {
        let page = h.call(Method::GET, &path, Some(key), None).await;
        assert_eq!(page.status, 200, "{}", page.json);
        seen.extend(page.json["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()));
        match page.json["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(page.json["has_more"], true);
                path = format!("/v1/payouts?limit=3&cursor={cursor}");
            }
            None => {
                assert_eq!(page.json["has_more"], false);
                break;
            }
        }
    }
    let newest_first: Vec<String> = created.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first, "every intent once, newest first");

    let approved = h.call(Method::GET, "/v1/payouts?status=approved", Some(key), None).await;
    let ids: Vec<&str> = approved.json["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [created[4].as_str(), created[1].as_str()]);

    let window = h.call(Method::GET, "/v1/payouts?due_date_after=2025-07-02T00:00:00Z&due_date_before=2025-07-06T00:00:00Z&limit=2", Some(key), None).await;
    let ids: Vec<&str> = window.json["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [created[4].as_str(), created[3].as_str()], "strictly between, newest first");
    let cursor = window.json["next_cursor"].as_str().unwrap();
    let rest = h
        .call(
            Method::GET,
            &format!("/v1/payouts?due_date_after=2025-07-02T00:00:00Z&due_date_before=2025-07-06T00:00:00Z&limit=2&cursor={cursor}"),
            Some(key),
            None,
        )
        .await;
    let ids: Vec<&str> = rest.json["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [created[2].as_str()]);
    let combined = h.call(Method::GET, "/v1/payouts?status=approved&due_date_before=2025-07-03T00:00:00Z", Some(key), None).await;
    assert_eq!(combined.json["data"].as_array().unwrap().len(), 1);

    for (path, param) in [
        ("/v1/payouts?status=paid", "status"),
        ("/v1/payouts?limit=0", "limit"),
        ("/v1/payouts?limit=101", "limit"),
        ("/v1/payouts?due_date_before=yesterday", "due_date_before"),
        ("/v1/payouts?cursor=garbage", "cursor"),
        ("/v1/payouts?color=red", "color"),
    ] {
        let response = h.call(Method::GET, path, Some(key), None).await;
        assert_eq!((response.status, response.error().0.as_str(), response.error().2.as_deref()), (400, "invalid_request", Some(param)), "{path}");
    }
    // A cursor from one list cannot be used on another.
    let page = h.call(Method::GET, "/v1/payouts?limit=1", Some(key), None).await;
    let cursor = page.json["next_cursor"].as_str().unwrap();
    let crossed = h.call(Method::GET, &format!("/v1/payouts?status=approved&cursor={cursor}"), Some(key), None).await;
    assert_eq!((crossed.status, crossed.error().1.as_str()), (400, "invalid_cursor"));
}

async fn unknown_routes_and_methods(h: Harness) {
    let missing = h.call(Method::GET, "/v1/refunds", Some(&h.tenant.live), None).await;
    assert_eq!((missing.status, missing.error().0.as_str()), (404, "not_found"));
    let method = h.call(Method::DELETE, "/v1/payouts/po_e5f6a7b8c9d0e1f2a3b4c5d6", Some(&h.tenant.live), None).await;
    assert_eq!((method.status, method.error().1.as_str()), (405, "method_not_allowed"));
    assert_eq!(method.header("allow"), Some("GET, PATCH"), "a 405 says what the path takes (RFC 9110)");
    // An empty cursor is the first page, as a client with no cursor yet may send it.
    let first = h.call(Method::GET, "/v1/payouts?cursor=", Some(&h.tenant.live), None).await;
    assert_eq!(first.status, 200, "{}", first.json);
    let response = h.call(Method::GET, "/v1/payouts", Some(&h.tenant.live), None).await;
    assert!(response.header("request-id").is_some_and(|id| id.starts_with("req_")));
    // The health check needs no key, and says which version answers.
    let health = h.call(Method::GET, "/v1/health", None, None).await;
    assert_eq!(health.status, 200, "{}", health.json);
    assert_eq!(health.json, json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}));
}

/// Input that could be read two ways is refused, never guessed: duplicate keys, amounts with more
/// digits than a decimal holds, and an `Idempotency-Key` that is not ASCII.
async fn ambiguous_input_is_refused_not_guessed(h: Harness) {
    let key = &h.tenant.live;
    let twice = r#"{"recipient_address":"TLEaY8XoqpBmndLsjcfThgdKLN1ssNuUcF","chain":"tron","token":"USDT","amount":1,"amount":100000,"currency":"USD"}"#;
    let refused = h.call(Method::POST, "/v1/payouts", Some(key), Some(twice)).await;
    assert_eq!((refused.status, refused.error().1.as_str(), refused.error().2.as_deref()), (400, "duplicate_field", Some("amount")), "{}", refused.json);
    let long = r#"{"recipient_address":"TLEaY8XoqpBmndLsjcfThgdKLN1ssNuUcF","chain":"tron","token":"USDT","amount":100.0000000000000000000000000001,"currency":"USD"}"#;
    let refused = h.call(Method::POST, "/v1/payouts", Some(key), Some(long)).await;
    assert_eq!((refused.status, refused.error().2.as_deref()), (400, Some("amount")), "{}", refused.json);

    // A non-ASCII key (bytes a client may well send) is a 400, three times: never three payouts.
    for _ in 0..3 {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", http::HeaderValue::from_str(&format!("Bearer {key}")).unwrap());
        headers.insert("content-type", http::HeaderValue::from_static("application/json"));
        headers.insert("idempotency-key", http::HeaderValue::from_bytes("clé-1".as_bytes()).unwrap());
        let (status, body) = h.serve_raw(Method::POST, "/v1/payouts", headers, GUIDE_REQUEST, None).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_idempotency_key")), "{body}");
    }
    let listed = h.call(Method::GET, "/v1/payouts", Some(key), None).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 0, "nothing was written");

    // Lists narrow by chain and token.
    assert_eq!(h.create(key, &guide_body()).await.status, 201);
    let base = h.create(key, &json!({"recipient_address": EVM_RECIPIENT, "chain": "base", "token": "USDC", "amount": 2.5, "currency": "USD"})).await;
    assert_eq!(base.status, 201, "{}", base.json);
    let only_base = h.call(Method::GET, "/v1/payouts?chain=base", Some(key), None).await;
    assert_eq!(only_base.json["data"].as_array().unwrap().iter().map(|p| p["id"].clone()).collect::<Vec<_>>(), vec![base.json["id"].clone()]);
    let only_usdt = h.call(Method::GET, "/v1/payouts?token=USDT&chain=tron", Some(key), None).await;
    assert_eq!(only_usdt.json["data"].as_array().unwrap().len(), 1);
    assert_eq!(only_usdt.json["data"][0]["chain"], "tron");
    let bad = h.call(Method::GET, "/v1/payouts?chain=solana", Some(key), None).await;
    assert_eq!((bad.status, bad.error().2.as_deref()), (400, Some("chain")));
}

/// What API Gateway's `$default` route hands the fallback function: the contract's errors, and
/// never a route run (the stack routes real requests to their own functions).
async fn the_fallback_answers_unknown_paths_and_methods_with_the_contracts_errors(h: Harness) {
    let call = |method: Method, path: &'static str| {
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", http::HeaderValue::from_str(&format!("Bearer {}", h.tenant.live)).unwrap());
        h.serve_raw(method, path, headers, "", Some(payouts::http::routes::Route::Fallback))
    };
    for (method, path, status, code) in [
        (Method::GET, "/v1/refunds", 404, "route_not_found"),
        (Method::GET, "/", 404, "route_not_found"),
        (Method::PUT, "/v1/payouts/po_e5f6a7b8c9d0e1f2a3b4c5d6", 405, "method_not_allowed"),
        (Method::DELETE, "/v1/payouts", 405, "method_not_allowed"),
        (Method::GET, "/v1/payouts", 404, "route_not_found"),
    ] {
        let (answered, body) = call(method.clone(), path).await;
        assert_eq!(answered, status, "{method} {path}");
        assert_eq!(body["error"]["code"], code, "{method} {path}: {body}");
    }
    let listed = h.call(Method::GET, "/v1/payouts", Some(&h.tenant.live), None).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 0);
}

/// The filters merchants asked for: several statuses, chain, token, a created range, a reference;
/// and a payout's events. Each goes through index partitions (merged when several), so paging
/// across them must still give every payout once, newest first.
async fn list_filters_go_through_indexes(h: Harness) {
    let h = &h;
    let key = &h.tenant.live;
    let ids_of = |response: &payouts_tests::Response| -> Vec<String> {
        assert_eq!(response.status, 200, "{}", response.json);
        response.json["data"].as_array().unwrap().iter().map(|p| p["id"].as_str().unwrap().to_owned()).collect()
    };
    let list = |query: String| async move { h.call(Method::GET, &format!("/v1/payouts?{query}"), Some(key), None).await };
    // Oldest first: (chain, token, reference_type, reference_id).
    let specs = [
        ("tron", "USDT", Some("invoice"), Some("inv_1")),
        ("base", "USDC", Some("invoice"), Some("inv_1")),
        ("arbitrum", "USDT", Some("manual"), Some("m_1")),
        ("base", "USDC", None, None),
        ("arbitrum", "USDC", None, Some("inv_1")),
        ("base", "USDC", Some("subscription"), None),
    ];
    let mut ids = Vec::new();
    let mut created_at = Vec::new();
    for (chain, token, reference_type, reference_id) in specs {
        h.clock.advance(chrono::Duration::minutes(1));
        let recipient = if chain == "tron" { TRON_RECIPIENT } else { EVM_RECIPIENT };
        let body = json!({"recipient_address": recipient, "chain": chain, "token": token, "amount": 10, "currency": "USD",
            "reference_type": reference_type, "reference_id": reference_id});
        let created = h.create(key, &body).await;
        assert_eq!(created.status, 201, "{}", created.json);
        ids.push(created.id());
        created_at.push(created.json["created_at"].as_str().unwrap().to_owned());
    }
    let newest_first = |picked: &[usize]| -> Vec<String> {
        let mut picked: Vec<usize> = picked.to_vec();
        picked.sort_unstable_by(|a, b| b.cmp(a));
        picked.into_iter().map(|i| ids[i].clone()).collect()
    };
    for i in [1, 2, 4] {
        assert_eq!(h.patch(key, &ids[i], &json!({"status": "approved"})).await.status, 200);
    }
    assert_eq!(h.patch(key, &ids[3], &json!({"status": "canceled"})).await.status, 200);
    assert_eq!(h.patch(key, &ids[4], &json!({"status": "pending_execution"})).await.status, 200);

    // Several statuses, alone and with a chain or token.
    assert_eq!(ids_of(&list("status=approved,canceled".into()).await), newest_first(&[1, 2, 3]));
    assert_eq!(ids_of(&list("status=draft,pending_execution".into()).await), newest_first(&[0, 4, 5]));
    assert_eq!(ids_of(&list("status=approved,canceled&chain=base".into()).await), newest_first(&[1, 3]));
    assert_eq!(ids_of(&list("chain=base".into()).await), newest_first(&[1, 3, 5]));
    assert_eq!(ids_of(&list("token=USDC".into()).await), newest_first(&[1, 3, 4, 5]));
    assert_eq!(ids_of(&list("token=USDT".into()).await), newest_first(&[0, 2]));
    assert_eq!(ids_of(&list("chain=base&token=USDC&status=draft".into()).await), newest_first(&[5]));
    let unsupported = list("chain=base&token=USDT".into()).await;
    assert_eq!((unsupported.status, unsupported.error().1.as_str(), unsupported.error().2.as_deref()), (400, "unsupported_chain_token", Some("token")));

    // The created range is exclusive at both ends.
    let range = format!("created_after={}&created_before={}", created_at[1], created_at[4]);
    assert_eq!(ids_of(&list(range.clone()).await), newest_first(&[2, 3]));
    assert_eq!(ids_of(&list(format!("{range}&status=approved")).await), newest_first(&[2]));
    assert_eq!(ids_of(&list(format!("created_after={}", created_at[4])).await), newest_first(&[5]));

    // References: by id of any type, by id and type, by type alone, with other filters.
    assert_eq!(ids_of(&list("reference_id=inv_1".into()).await), newest_first(&[0, 1, 4]));
    assert_eq!(ids_of(&list("reference_id=inv_1&reference_type=invoice".into()).await), newest_first(&[0, 1]));
    assert_eq!(ids_of(&list("reference_id=inv_1&reference_type=manual".into()).await), Vec::<String>::new());
    assert_eq!(ids_of(&list("reference_type=invoice".into()).await), newest_first(&[0, 1]));
    assert_eq!(ids_of(&list("reference_type=subscription".into()).await), newest_first(&[5]));
    assert_eq!(ids_of(&list("reference_id=inv_1&chain=base".into()).await), newest_first(&[1]));
    assert_eq!(ids_of(&list("reference_id=inv_1&status=draft,pending_execution".into()).await), newest_first(&[0, 4]));
    assert_eq!(ids_of(&list(format!("reference_id=inv_1&created_after={}", created_at[0])).await), newest_first(&[1, 4]));
    let other = h.tenant(Plan::Enterprise).await;
    let foreign = h.call(Method::GET, "/v1/payouts?reference_id=inv_1", Some(&other.live), None).await;
    assert_eq!(ids_of(&foreign), Vec::<String>::new(), "another organization's references are not found");

    // Paging across merged partitions gives each payout once, newest first.
    for query in ["status=draft,approved,canceled,pending_execution", "token=USDT", "reference_id=inv_1"] {
        let mut seen = Vec::new();
        let mut path = format!("{query}&limit=2");
        loop {
            let page = list(path.clone()).await;
            seen.extend(ids_of(&page));
            let Some(cursor) = page.json["next_cursor"].as_str() else { break };
            path = format!("{query}&limit=2&cursor={cursor}");
        }
        let all = ids_of(&list(format!("{query}&limit=100")).await);
        assert!(!all.is_empty());
        assert_eq!(seen, all, "{query}: paged as in one page");
    }
    let page = list("status=draft,approved&limit=1".into()).await;
    let cursor = page.json["next_cursor"].as_str().unwrap();
    let crossed = list(format!("status=draft,canceled&cursor={cursor}")).await;
    assert_eq!((crossed.status, crossed.error().1.as_str()), (400, "invalid_cursor"), "a cursor is bound to its statuses");

    for (query, param) in [
        ("status=approved,paid", "status"),
        ("status=approved,%20canceled", "status"),
        ("status=", "status"),
        ("reference_type=receipt", "reference_type"),
        ("reference_id=", "reference_id"),
        ("created_after=last-week", "created_after"),
        ("created_before=2025-13-01T00:00:00Z", "created_before"),
    ] {
        let response = list(query.into()).await;
        assert_eq!((response.status, response.error().2.as_deref()), (400, Some(param)), "{query}: {}", response.json);
    }

    // A payout's events, newest first; of one type; nobody else's.
    let events = |key: String, query: String| async move { h.call(Method::GET, &format!("/v1/events?{query}"), Some(&key), None).await };
    let of_payout = events(key.clone(), format!("payout_intent_id={}", ids[4])).await;
    assert_eq!(of_payout.status, 200, "{}", of_payout.json);
    let types: Vec<&str> = of_payout.json["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["payout.pending_execution", "payout.approved", "payout.created"]);
    assert!(of_payout.json["data"].as_array().unwrap().iter().all(|e| e["data"]["id"] == json!(ids[4])));
    let approved = events(key.clone(), format!("payout_intent_id={}&type=payout.approved", ids[4])).await;
    assert_eq!(approved.json["data"].as_array().unwrap().len(), 1, "{}", approved.json);
    let paged = events(key.clone(), format!("payout_intent_id={}&limit=2", ids[4])).await;
    let rest = events(key.clone(), format!("payout_intent_id={}&limit=2&cursor={}", ids[4], paged.json["next_cursor"].as_str().unwrap())).await;
    assert_eq!(rest.json["data"][0]["type"], "payout.created");
    assert_eq!(rest.json["has_more"], false);
    let foreign = events(other.live.clone(), format!("payout_intent_id={}", ids[4])).await;
    assert_eq!(foreign.json["data"].as_array().unwrap().len(), 0, "{}", foreign.json);
    let sandbox = events(h.tenant.sandbox.clone(), format!("payout_intent_id={}", ids[4])).await;
    assert_eq!(sandbox.json["data"].as_array().unwrap().len(), 0, "{}", sandbox.json);
    let bad = events(key.clone(), "payout_intent_id=po_nothex".into()).await;
    assert_eq!((bad.status, bad.error().2.as_deref()), (400, Some("payout_intent_id")));
}

/// `set-plan` and `set-rate-limits` reach every key however many there are (150 here: more than
/// DynamoDB's 100 items a transaction), and a request with any of them sees the change.
async fn plan_and_limits_reach_every_key_of_a_large_organization(h: Harness) {
    use payouts::service::admin;
    let org = admin::create_org(&h.app, "Many keys", Plan::Free).await.unwrap();
    let mut secrets = Vec::new();
    for i in 0..150 {
        let environment = if i % 2 == 0 { Environment::Live } else { Environment::Sandbox };
        secrets.push(admin::create_key(&h.app, &org.id, environment).await.unwrap().1.reveal().to_owned());
    }
    // A live key of the free plan (sandbox payouts are open to every plan).
    let refused = h.call(Method::POST, "/v1/payouts", Some(&secrets[148]), Some(GUIDE_REQUEST)).await;
    assert_eq!((refused.status, refused.error().1.as_str()), (403, "plan_upgrade_required"), "{}", refused.json);

    admin::set_plan(&h.app, &org.id, Plan::Enterprise).await.unwrap();
    let keys = admin::list_keys(&h.app, &org.id).await.unwrap();
    assert_eq!(keys.len(), 150);
    assert!(keys.iter().all(|(key, _)| key.plan == Plan::Enterprise), "every key carries the new plan");
    for secret in [&secrets[0], &secrets[148]] {
        assert_eq!(h.call(Method::POST, "/v1/payouts", Some(secret), Some(GUIDE_REQUEST)).await.status, 201, "live keys, the first and the last");
    }

    let limits = payouts::domain::rate_limit::RateLimits::new(1234, 321).unwrap();
    admin::set_rate_limits(&h.app, &org.id, Environment::Sandbox, limits).await.unwrap();
    let keys = admin::list_keys(&h.app, &org.id).await.unwrap();
    for (key, _) in &keys {
        let expected = (key.environment == Environment::Sandbox).then_some(limits);
        assert_eq!(key.rate_limits, expected, "{} ({})", key.id, key.environment);
    }
    let answered = h.call(Method::GET, "/v1/payouts", Some(&secrets[1]), None).await;
    assert_eq!(answered.header("x-ratelimit-limit"), Some("1234"), "a sandbox key is held to the new limit");
}

/// Operators' changes to one organization at the same moment all land: each is made on the
/// version it read, and one that lost the race reads again and applies itself to what is there.
async fn concurrent_admin_changes_to_one_organization_all_land(h: Harness) {
    use payouts::service::admin;
    let org = admin::create_org(&h.app, "Busy", Plan::Scale).await.unwrap().id;
    let app = h.app.clone();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..6 {
        let (app, org) = (app.clone(), org.clone());
        tasks.spawn(async move { admin::create_key(&app, &org, if i % 2 == 0 { Environment::Live } else { Environment::Sandbox }).await.map(|_| ()) });
    }
    {
        let (app, org) = (app.clone(), org.clone());
        tasks.spawn(async move { admin::set_amount_tolerance(&app, &org, "0.05".parse().unwrap()).await.map(|_| ()) });
    }
    {
        let (app, org) = (app.clone(), org.clone());
        tasks.spawn(async move { admin::set_sender_policy(&app, &org, Environment::Live, payouts::domain::wallet::SenderPolicy::Any).await.map(|_| ()) });
    }
    {
        let (app, org) = (app.clone(), org.clone());
        let limits = payouts::domain::rate_limit::RateLimits::new(100, 50).unwrap();
        tasks.spawn(async move { admin::set_rate_limits(&app, &org, Environment::Sandbox, limits).await.map(|_| ()) });
    }
    {
        let (app, org) = (app.clone(), org.clone());
        tasks.spawn(async move { admin::set_plan(&app, &org, Plan::Enterprise).await.map(|_| ()) });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap().unwrap_or_else(|error| panic!("a concurrent change failed: {error}"));
    }
    let (stored, _) = admin::load_org(&h.app, &org).await.unwrap();
    assert_eq!(stored.amount_tolerance.to_string(), "0.05");
    assert_eq!(stored.sender_policy(Environment::Live), payouts::domain::wallet::SenderPolicy::Any);
    assert_eq!(stored.rate_limits(Environment::Sandbox).reads_per_minute, 100);
    assert_eq!(stored.plan, Plan::Enterprise);
    let keys = admin::list_keys(&h.app, &org).await.unwrap();
    assert_eq!(keys.len(), 6);
    assert!(keys.iter().all(|(key, _)| key.plan == Plan::Enterprise), "every key, also one created during the change, carries the plan");
}

on_both_stores!(
    the_fallback_answers_unknown_paths_and_methods_with_the_contracts_errors,
    ambiguous_input_is_refused_not_guessed,
    create_returns_the_guide_shape,
    amount_scale_is_kept_exactly,
    bad_bodies_get_documented_errors_and_write_nothing,
    authentication_and_plans,
    tenants_and_environments_are_isolated,
    state_machine_over_http,
    evm_execute_normalizes_and_tx_hash_is_unique_within_an_org,
    idempotent_creates_replay_and_conflict,
    idempotent_execute_replays,
    concurrent_idempotent_creates_make_one_intent,
    twenty_concurrent_approves_and_executes_have_one_winner,
    list_filters_and_paginates,
    list_filters_go_through_indexes,
    plan_and_limits_reach_every_key_of_a_large_organization,
    concurrent_admin_changes_to_one_organization_all_land,
    unknown_routes_and_methods,
);
