//! Every Lambda binary, run as Lambda runs it: its own process under a Runtime API emulator,
//! with the environment `template.yaml` gives its function, fed the trigger event its template
//! wiring sends (`payouts_tests::lambda_stack` deploys it; its header says what it adds to the
//! template's environment and why). One payout goes through its whole life this way, across 34
//! processes: API Gateway v2 events for the routes, SQS batches for the queue consumers,
//! scheduled events for the sweeps, EventBridge events (taken off the emulator's bus) for the
//! dispatcher, and a DynamoDB stream batch for the relay.
//!
//! Anything else a binary needs and its function does not set makes it fail at init, and the
//! test names both.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts_tests::aws;
use payouts_tests::aws_proxy::{RecordedCall, RecordingAwsProxy};
use payouts_tests::lambda_runtime::{FunctionProcess, Outcome};
use payouts_tests::lambda_stack::{Deployment, INVOKE_TIMEOUT, STACK, Stack, access_key_of, deploy, profile_dir, queue_arn, sqs_batch};
use payouts_tests::receiver::{Answer, Receiver};
use payouts_tests::template::{Resolver, Template};
use payouts_tests::watch::{BASE_CONFIRMATIONS, RigConfig, StoreKind, WatchRig, amount_text, lambda_fixture};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

fn binary_path(name: &str) -> std::path::PathBuf {
    let path = profile_dir().join(name);
    assert!(path.exists(), "{} is not built", path.display());
    path
}

/// What a function's policy may grant without the test's run having used it: paths this one
/// payout's life does not take.
const UNEXERCISED: &[(&str, Capability)] = &[
    // Nothing is due when the sweep runs (the retry went through the queue first).
    ("webhook-due-sweep", Capability::TableWrite),
    ("webhook-due-sweep", Capability::QueueSend),
    ("webhook-due-sweep", Capability::KeyDecrypt),
    // The failure below is decided by the sweep (the consumer saw the transfer first, in
    // verifying); either may release a claim.
    ("watcher-queue", Capability::TableDelete),
    // A retry that fails again goes back on the queue; here it succeeds.
    ("webhook-retries", Capability::QueueSend),
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Capability {
    TableRead,
    TableWrite,
    /// `DeleteItem`: its own capability, so a function that only puts is not granted deletes.
    TableDelete,
    QueueSend,
    BusPut,
    KeyGenerate,
    KeyDecrypt,
    /// `GenerateMac`: deriving the list-cursor key (a read: nothing is stored or changed).
    KeyDerive,
    /// `UpdateItem`: counting a request on its organization's rate-limit counter, which a GET
    /// route does too (the template limits it to `RATE#` items; [`assert_only_counters_update`]).
    RateCount,
    ParameterRead,
}

fn capability(action: &str) -> Capability {
    match action {
        "dynamodb:GetItem" | "dynamodb:BatchGetItem" | "dynamodb:Query" => Capability::TableRead,
        "dynamodb:PutItem" | "dynamodb:ConditionCheckItem" => Capability::TableWrite,
        "dynamodb:UpdateItem" => Capability::RateCount,
        "dynamodb:DeleteItem" => Capability::TableDelete,
        a if a.starts_with("sqs:SendMessage") => Capability::QueueSend,
        "events:PutEvents" => Capability::BusPut,
        "kms:GenerateDataKey" => Capability::KeyGenerate,
        "kms:Decrypt" => Capability::KeyDecrypt,
        "kms:GenerateMac" => Capability::KeyDerive,
        "ssm:GetParameters" => Capability::ParameterRead,
        other => panic!("an action the least-privilege check does not classify: {other}"),
    }
}

/// Each function's role, as `template.yaml` writes it, against what the function called during
/// the run: everything it called is granted; nothing granted is wider than one resource of the
/// stack (no `*` action or resource); a GET route may not write; and nothing is granted that the
/// function never used (but for [`UNEXERCISED`]).
fn assert_least_privilege(template: &Template, resolver: &Resolver, stack: &Stack, proxy: &RecordingAwsProxy) {
    for (binary, (spec, _)) in &stack.functions {
        let used = proxy.actions_of(&access_key_of(binary));
        let grants = template.grants(spec);
        for action in &used {
            assert!(grants.iter().any(|grant| grant.allows(action)), "{binary} called {action}, which template.yaml does not grant it ({grants:?})");
        }
        let read_only = spec.events.as_object().is_some_and(|events| events.values().any(|e| e["Type"] == "HttpApi" && e["Properties"]["Method"] == "GET"));
        let used_capabilities: BTreeSet<Capability> = used.iter().map(|a| capability(a)).collect();
        for grant in &grants {
            for action in &grant.actions {
                assert!(action != "*" && !action.ends_with(":*"), "{binary}: {} grants every action of a service ({action})", grant.source);
                let granted = capability(action);
                if read_only {
                    assert!(
                        matches!(granted, Capability::TableRead | Capability::KeyDerive | Capability::RateCount),
                        "{binary} serves a GET route but {} grants it {action}",
                        grant.source
                    );
                }
                assert!(
                    used_capabilities.contains(&granted) || UNEXERCISED.contains(&(binary.as_str(), granted)),
                    "{binary} is granted {action} by {} but never used {granted:?}",
                    grant.source
                );
            }
            for resource in &grant.resources {
                let resolved = template.resolve(resource, resolver).unwrap_or_else(|e| panic!("{binary}: {}: cannot resolve {resource}: {e}", grant.source));
                assert!(resolved != "*" && !resolved.ends_with(":*"), "{binary}: {} grants {resolved}", grant.source);
                assert!(
                    resolved.contains(&resolver.refs["PayoutsTable"])
                        || resolved.contains(resolver.refs["TxQueue"].rsplit('/').next().unwrap())
                        || resolved.contains(resolver.refs["WebhookRetryQueue"].rsplit('/').next().unwrap())
                        || resolved.ends_with(&format!("event-bus/{}", resolver.refs["EventBus"]))
                        || resolved == resolver.attributes["WebhookSecretsKey.Arn"]
                        || resolved == resolver.attributes["CursorKey.Arn"]
                        || resolved.contains(":parameter/payouts/"),
                    "{binary}: {} grants {resolved}, which is none of the stack's table, queues, bus, key or parameters",
                    grant.source
                );
            }
        }
    }
}

/// The partition keys one call writes with `kind` (`Update` or `Put`), alone (`UpdateItem`,
/// `PutItem`) or in a transaction.
fn written_pks(call: &RecordedCall, kind: &str) -> Vec<String> {
    let request: Value = serde_json::from_slice(&call.request).unwrap_or_default();
    let (single, key_field) = if kind == "Put" { ("PutItem", "Item") } else { ("UpdateItem", "Key") };
    let writes: Vec<&Value> = match call.target.rsplit('.').next() {
        Some(operation) if operation == single => vec![&request],
        Some("TransactWriteItems") => request["TransactItems"].as_array().into_iter().flatten().filter_map(|item| item.get(kind)).collect(),
        _ => Vec::new(),
    };
    writes.iter().map(|write| write[key_field]["pk"]["S"].as_str().unwrap_or("").to_owned()).collect()
}

/// The `dynamodb:LeadingKeys` a template policy's first statement is limited to.
fn leading_keys<'a>(template: &'a Template, policy: &str) -> &'a Value {
    &template.0["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
}

/// What the template's `dynamodb:LeadingKeys` condition on `UpdateItem` lets through, checked
/// on the calls themselves (the emulator does not evaluate IAM conditions): every update, alone
/// or in a transaction, is of a rate-limit counter (`RATE#…`), and every metered route made one.
fn assert_only_counters_update(template: &Template, stack: &Stack, proxy: &RecordingAwsProxy) {
    assert_eq!(leading_keys(template, "PayoutsTableCountPolicy"), &json!(["RATE#*"]));
    let mut counted = BTreeSet::new();
    for call in proxy.calls() {
        for pk in written_pks(&call, "Update") {
            assert!(pk.starts_with("RATE#"), "an update of something other than a rate-limit counter: {pk}");
            counted.insert(call.access_key.clone());
        }
    }
    for (binary, (spec, _)) in &stack.functions {
        if template.grants(spec).iter().any(|grant| grant.source == "PayoutsTableCountPolicy") {
            assert!(counted.contains(&access_key_of(binary)), "{binary} is metered but never counted a request");
        }
    }
}

/// The same for `PayoutsTableEndpointDirectoryPolicy`: a function whose only put grant it is (the
/// webhook delete) puts nothing but endpoint directories (`WEDIR#…`), alone or in a transaction.
fn assert_only_endpoint_directories_put(template: &Template, stack: &Stack, proxy: &RecordingAwsProxy) {
    assert_eq!(leading_keys(template, "PayoutsTableEndpointDirectoryPolicy"), &json!(["WEDIR#*"]));
    for (binary, (spec, _)) in &stack.functions {
        let sources: Vec<String> = template.grants(spec).iter().map(|grant| grant.source.clone()).collect();
        if !sources.iter().any(|s| s == "PayoutsTableEndpointDirectoryPolicy") || sources.iter().any(|s| s == "PayoutsTableWritePolicy") {
            continue;
        }
        let puts: Vec<String> =
            proxy.calls().iter().filter(|call| call.access_key == access_key_of(binary)).flat_map(|call| written_pks(call, "Put")).collect();
        assert!(!puts.is_empty(), "{binary} is granted endpoint-directory puts but never made one");
        assert!(puts.iter().all(|pk| pk.starts_with("WEDIR#")), "{binary} put something other than an endpoint directory: {puts:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_function_runs_under_the_lambda_runtime_with_the_templates_environment() {
    let rig = WatchRig::start_with(RigConfig { store: StoreKind::DynamoDb, ..RigConfig::default() }).await;
    let Deployment { template, resolver, aws, table, stack, proxy, provider_secrets } = deploy(&rig, &profile_dir()).await;
    let key = rig.h.tenant.sandbox.clone();
    let key = Some(key.as_str());

    // -- unauthenticated routes and the fallback -----------------------------------------------
    let (status, health, _) = stack.api("api-health", "GET", "/v1/health", None, None).await;
    assert_eq!((status, health["status"].clone()), (200, json!("ok")), "{health}");
    let (status, openapi, _) = stack.api("api-openapi", "GET", "/v1/openapi.json", None, None).await;
    assert_eq!(status, 200);
    assert!(openapi["paths"]["/v1/payouts"].is_object(), "the served document lists the routes");
    let (status, page, headers) = stack.api("dashboard", "GET", "/dashboard/", None, None).await;
    assert_eq!(status, 200);
    assert!(headers["content-type"].as_str().unwrap_or("").starts_with("text/html"), "{headers}");
    assert!(page.as_str().unwrap_or("").contains("<html"), "the dashboard page");
    let (status, missing, _) = stack.api("api-fallback", "GET", "/v1/nothing-here", key, None).await;
    assert_eq!((status, missing["error"]["code"].clone()), (404, json!("route_not_found")), "{missing}");
    let (status, account, _) = stack.api("api-get-account", "GET", "/v1/account", key, None).await;
    assert_eq!((status, account["environment"].clone()), (200, json!("sandbox")), "{account}");

    // -- webhook endpoints: one that answers, one that fails its first attempt --------------------
    let good = Receiver::start().await;
    let flaky = Receiver::start_with(vec![Answer::status(500)], Answer::status(200)).await;
    let mut endpoints = Vec::new();
    for receiver in [&good, &flaky] {
        let (status, endpoint, _) =
            stack.api("api-create-webhook", "POST", "/v1/webhooks", key, Some(json!({"url": receiver.url, "events": ["payout.settled"]}))).await;
        assert_eq!(status, 201, "{endpoint}");
        endpoints.push(endpoint);
    }
    // A retried create (same Idempotency-Key) shows the same endpoint and secret, from the
    // idempotency record sealed under KMS.
    let retried_body = json!({"url": good.url, "events": ["payout.settled"], "description": "retried"});
    let (status, first, _) =
        stack.api_with("api-create-webhook", "POST", "/v1/webhooks", key, Some(retried_body.clone()), &[("Idempotency-Key", "hook-rt-1")]).await;
    assert_eq!(status, 201, "{first}");
    let (status, replayed, _) =
        stack.api_with("api-create-webhook", "POST", "/v1/webhooks", key, Some(retried_body), &[("Idempotency-Key", "hook-rt-1")]).await;
    assert_eq!((status, replayed["webhook_id"].clone(), replayed["secret"].clone()), (201, first["webhook_id"].clone(), first["secret"].clone()), "{replayed}");
    let (status, _, _) = stack.api("api-delete-webhook", "DELETE", &format!("/v1/webhooks/{}", first["webhook_id"].as_str().unwrap()), key, None).await;
    assert_eq!(status, 204);
    endpoints.push(first);
    let good_endpoint = endpoints[0]["webhook_id"].as_str().unwrap().to_owned();
    let (status, listed, _) = stack.api("api-list-webhooks", "GET", "/v1/webhooks", key, None).await;
    assert_eq!((status, listed["data"].as_array().map(Vec::len)), (200, Some(2)), "{listed}");
    // Pages follow with a cursor sealed under the stack's HMAC key (KMS GenerateMac).
    let (status, first_page, _) = stack.api("api-list-webhooks", "GET", "/v1/webhooks?limit=1", key, None).await;
    assert_eq!((status, first_page["has_more"].clone(), first_page["data"][0].clone()), (200, json!(true), listed["data"][0].clone()), "{first_page}");
    let cursor = first_page["next_cursor"].as_str().unwrap_or_else(|| panic!("{first_page}"));
    let (status, second_page, _) = stack.api("api-list-webhooks", "GET", &format!("/v1/webhooks?limit=1&cursor={cursor}"), key, None).await;
    assert_eq!((status, second_page["has_more"].clone(), second_page["data"][0].clone()), (200, json!(false), listed["data"][1].clone()), "{second_page}");
    let (status, got, _) = stack.api("api-get-webhook", "GET", &format!("/v1/webhooks/{good_endpoint}"), key, None).await;
    assert_eq!((status, got["url"].clone()), (200, json!(good.url)), "{got}");
    let (status, patched, _) =
        stack.api("api-update-webhook", "PATCH", &format!("/v1/webhooks/{good_endpoint}"), key, Some(json!({"description": "runtime test, renamed"}))).await;
    assert_eq!((status, patched["description"].clone()), (200, json!("runtime test, renamed")), "{patched}");
    let (status, tested, _) = stack.api("api-test-webhook", "POST", &format!("/v1/webhooks/{good_endpoint}/test"), key, None).await;
    assert_eq!((status, tested["succeeded"].clone()), (200, json!(true)), "{tested}");
    let test_event = good.received().pop().expect("the test event reached the receiver");
    assert_eq!(test_event.json()["type"], "webhook.test");
    test_event.assert_signed_with(endpoints[0]["secret"].as_str().unwrap());
    good.clear();
    // A rotation with no overlap, so the rest of the run signs with the new secret only.
    let rotate_path = format!("/v1/webhooks/{good_endpoint}/rotate_secret");
    let idempotent = [("Idempotency-Key", "rotate-rt-1")];
    let (status, rotated, _) = stack.api_with("api-rotate-webhook-secret", "POST", &rotate_path, key, Some(json!({"expires_in": 0})), &idempotent).await;
    assert_eq!((status, rotated["previous_secret_expires_at"].clone()), (200, Value::Null), "{rotated}");
    assert_ne!(rotated["secret"], endpoints[0]["secret"]);
    // Its retry opens the sealed idempotency record (KMS Decrypt) and answers the same secret.
    let (status, replayed, _) = stack.api_with("api-rotate-webhook-secret", "POST", &rotate_path, key, Some(json!({"expires_in": 0})), &idempotent).await;
    assert_eq!((status, replayed["secret"].clone()), (200, rotated["secret"].clone()), "{replayed}");
    endpoints[0]["secret"] = rotated["secret"].clone();

    // -- the source wallet, proven --------------------------------------------------------------
    let verified = stack.prove_treasury_wallet(&rig, key).await;
    let wallet_id = verified["id"].as_str().unwrap().to_owned();
    let (status, listed, _) = stack.api("api-list-wallets", "GET", "/v1/payouts/wallets", key, None).await;
    assert_eq!((status, listed["data"][0]["id"].clone()), (200, json!(wallet_id)), "{listed}");
    let (status, got, _) = stack.api("api-get-wallet", "GET", &format!("/v1/payouts/wallets/{wallet_id}"), key, None).await;
    assert_eq!((status, got["status"].clone()), (200, json!("verified")), "{got}");

    // -- a payout: create, approve, relay its events --------------------------------------------
    let recipient = rig.account(3);
    let amount: u128 = 125_500_000; // 125.50 USDC
    let body = json!({"recipient_address": rig.evm(recipient), "chain": "base", "token": "USDC", "amount": serde_json::from_str::<Value>(&amount_text(amount)).unwrap(), "currency": "USD", "description": "runtime test", "reference_type": "manual"});
    let (status, created, _) = stack.api("api-create-payout", "POST", "/v1/payouts", key, Some(body)).await;
    assert_eq!((status, created["status"].clone()), (201, json!("draft")), "{created}");
    let payout_id = created["id"].as_str().unwrap().to_owned();
    let (status, approved, _) = stack.api("api-update-payout", "PATCH", &format!("/v1/payouts/{payout_id}"), key, Some(json!({"status": "approved"}))).await;
    assert_eq!((status, approved["status"].clone()), (200, json!("approved")), "{approved}");
    let (status, listed, _) = stack.api("api-list-payouts", "GET", "/v1/payouts?status=approved", key, None).await;
    assert_eq!((status, listed["data"][0]["id"].clone()), (200, json!(payout_id)), "{listed}");

    let stream_batch = json!({"Records": [{"eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "eventSourceARN": format!("arn:aws:dynamodb:us-east-1:123456789012:table/{table}/stream/2026-12-02T00:00:00.000"),
        "dynamodb": {"Keys": {"pk": {"S": "EVT#x"}, "sk": {"S": "EVT#x"}}, "SequenceNumber": "1", "SizeBytes": 10, "StreamViewType": "NEW_IMAGE"}}]});
    let relayed = stack.ok("event-relay", &stream_batch).await;
    assert!(relayed["published"].as_u64().unwrap() >= 2, "created and approved were relayed: {relayed}");

    // -- execute from the proven wallet; the tx queue; the chain-watcher ------------------------
    let tx_hash = rig.pay(rig.usdc, recipient, amount).await;
    let (status, executed, _) =
        stack.api("api-execute-payout", "POST", &format!("/v1/payouts/{payout_id}/execute"), key, Some(json!({"tx_hash": tx_hash}))).await;
    assert_eq!((status, executed["status"].clone()), (200, json!("executed")), "{executed}");
    let messages = aws.receive(&aws.tx_queue, Duration::from_secs(10)).await;
    assert_eq!(messages.len(), 1, "execute enqueued the tx hash on the template's queue");
    assert!(messages[0].1.contains(&payout_id), "{messages:?}");
    rig.anvil.mine(BASE_CONFIRMATIONS + 1).await;
    let batch = sqs_batch(&queue_arn(&aws.sqs, &aws.tx_queue).await, &messages);
    let consumed = stack.ok("watcher-queue", &batch).await;
    assert_eq!(consumed["batchItemFailures"], json!([]), "{consumed}");
    let swept = stack.scheduled("watcher-sweep").await;
    assert!(swept.get("checked").is_some(), "{swept}");
    let (status, got, _) = stack.api("api-get-payout", "GET", &format!("/v1/payouts/{payout_id}"), key, None).await;
    assert_eq!((status, got["status"].clone()), (200, json!("settled")), "{got}");

    // -- the dispatcher gets what the bus's rule routes; the retry queue; the due sweep ---------
    let bus_events = aws.receive(&aws.bus_tap, Duration::from_secs(10)).await;
    let types: Vec<String> =
        bus_events.iter().map(|(_, body)| serde_json::from_str::<Value>(body).unwrap()["detail-type"].as_str().unwrap_or("").to_owned()).collect();
    assert!(types.iter().any(|t| t == "payout.settled"), "the bus carried payout.settled: {types:?}");
    for (_, body) in &bus_events {
        let dispatched = stack.ok("webhook-dispatcher", &serde_json::from_str(body).unwrap()).await;
        assert!(dispatched.get("deliveries").is_some(), "{dispatched}");
    }
    let delivered = good.received();
    assert_eq!(delivered.len(), 1, "one payout.settled to the endpoint that answers");
    assert_eq!(delivered[0].json()["type"], "payout.settled");
    delivered[0].assert_signed_with(endpoints[0]["secret"].as_str().unwrap());
    let retries = aws.receive(&aws.retry_queue, Duration::from_secs(15)).await;
    assert_eq!(retries.len(), 1, "the failed attempt was scheduled again on the template's retry queue");
    let retried = stack.ok("webhook-retries", &sqs_batch(&queue_arn(&aws.sqs, &aws.retry_queue).await, &retries)).await;
    assert_eq!(retried["batchItemFailures"], json!([]), "{retried}");
    assert_eq!(flaky.received().len(), 2, "the second attempt reached the flaky endpoint");
    let due = stack.scheduled("webhook-due-sweep").await;
    assert_eq!(due["attempts"], json!(0), "nothing else is due: {due}");

    let (status, deliveries, _) = stack.api("api-list-deliveries", "GET", &format!("/v1/webhooks/{good_endpoint}/deliveries"), key, None).await;
    assert_eq!((status, deliveries["data"][0]["status"].clone()), (200, json!("succeeded")), "{deliveries}");
    let delivery_id = deliveries["data"][0]["delivery_id"].as_str().unwrap().to_owned();
    let (status, replay, _) = stack.api("api-retry-delivery", "POST", &format!("/v1/webhooks/{good_endpoint}/deliveries/{delivery_id}/retry"), key, None).await;
    assert_eq!(status, 200, "{replay}");
    assert_eq!(good.received().len(), 2, "the manual replay sent it again");

    // -- events, settlements, reconciliation ----------------------------------------------------
    let (status, events, _) = stack.api("api-list-events", "GET", "/v1/events?type=payout.settled", key, None).await;
    assert_eq!(status, 200, "{events}");
    let event_id = events["data"][0]["event_id"].as_str().unwrap_or_else(|| panic!("{events}")).to_owned();
    let (status, event, _) = stack.api("api-get-event", "GET", &format!("/v1/events/{event_id}"), key, None).await;
    assert_eq!((status, event["type"].clone()), (200, json!("payout.settled")), "{event}");
    let (status, settlements, _) = stack.api("api-list-settlements", "GET", "/v1/payouts/settlements", key, None).await;
    assert_eq!((status, settlements["data"][0]["tx_hash"].clone()), (200, json!(tx_hash)), "{settlements}");

    let scanned = stack.scheduled("wallet-scanner").await;
    assert!(scanned["log_requests"].as_u64().unwrap() >= 1, "the verified wallet's transfers were read: {scanned}");
    let reconciled = stack.scheduled("reconciliation-job").await;
    assert!(reconciled["reports"].as_u64().unwrap() >= 1, "{reconciled}");
    let (status, summary, _) = stack.api("api-get-reconciliation", "GET", "/v1/payouts/reconciliation", key, None).await;
    assert_eq!((status, summary["matched"]["count"].clone()), (200, json!(1)), "{summary}");
    let (status, items, _) = stack.api("api-list-reconciliation-items", "GET", "/v1/payouts/reconciliation/items?category=matched", key, None).await;
    assert_eq!((status, items["data"][0]["payout_intent"]["id"].clone()), (200, json!(payout_id)), "{items}");

    // -- a forged cursor is a 400 in every list function (each derives the cursor key) -------------
    let forged = "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    for (binary, path) in [
        ("api-list-payouts", "/v1/payouts?"),
        ("api-list-settlements", "/v1/payouts/settlements?"),
        ("api-list-reconciliation-items", "/v1/payouts/reconciliation/items?category=matched&"),
        ("api-list-wallets", "/v1/payouts/wallets?"),
        ("api-list-webhooks", "/v1/webhooks?"),
        ("api-list-deliveries", &format!("/v1/webhooks/{good_endpoint}/deliveries?")),
        ("api-list-events", "/v1/events?"),
    ] {
        let (status, error, _) = stack.api(binary, "GET", &format!("{path}cursor={forged}"), key, None).await;
        assert_eq!((status, error["error"]["code"].clone()), (400, json!("invalid_cursor")), "{binary}: {error}");
    }

    // -- deletions --------------------------------------------------------------------------------
    let (status, _, _) = stack.api("api-delete-webhook", "DELETE", &format!("/v1/webhooks/{good_endpoint}"), key, None).await;
    assert_eq!(status, 204);
    let (status, _, _) = stack.api("api-delete-wallet", "DELETE", &format!("/v1/payouts/wallets/{wallet_id}"), key, None).await;
    assert_eq!(status, 204);

    // -- metrics, as CloudWatch would read them from the functions' logs ------------------------
    let namespace = format!("payouts/{STACK}");
    let created = stack.metric_lines("api-create-payout", "PayoutsCreated");
    assert_eq!(created.len(), 1, "one PayoutsCreated document: {created:?}");
    assert_eq!(created[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], json!(namespace));
    assert_eq!(
        (created[0]["Environment"].clone(), created[0]["Chain"].clone(), created[0]["PayoutsCreated"].clone()),
        (json!("sandbox"), json!("base"), json!(1.0))
    );
    assert_eq!(stack.metric_lines("api-update-payout", "PayoutsApproved").len(), 1);
    assert_eq!(stack.metric_lines("api-execute-payout", "PayoutsExecuted").len(), 1);
    let settled: f64 =
        ["watcher-queue", "watcher-sweep"].iter().flat_map(|f| stack.metric_lines(f, "PayoutsSettled")).map(|d| d["PayoutsSettled"].as_f64().unwrap()).sum();
    assert_eq!(settled, 1.0, "one settlement counted");
    let rpc = stack.metric_lines("watcher-queue", "RpcRequests");
    assert!(rpc.iter().any(|d| d["Chain"] == "base" && d["RpcRequests"].as_f64().unwrap() >= 1.0), "{rpc:?}");
    let oldest = stack.metric_lines("watcher-sweep", "OldestUnsettledAgeSeconds");
    assert!(oldest.iter().any(|d| d["Environment"] == "sandbox" && d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"] == "Seconds"), "{oldest:?}");
    assert_eq!(stack.metric_lines("watcher-sweep", "SweepDurationMs")[0]["Job"], "watcher-sweep");
    let attempts: f64 = ["webhook-dispatcher", "webhook-retries", "api-retry-delivery"]
        .iter()
        .flat_map(|f| stack.metric_lines(f, "WebhookAttempts"))
        .map(|d| d["WebhookAttempts"].as_f64().unwrap())
        .sum();
    let failures: f64 = stack.metric_lines("webhook-dispatcher", "WebhookFailures").iter().map(|d| d["WebhookFailures"].as_f64().unwrap()).sum();
    assert_eq!((attempts, failures), (4.0, 1.0), "two first attempts (one failed), one retry, one replay");

    // -- no signing secret in clear anywhere in the table (nor, so, in its stream or backups) --
    let config = aws::sdk_config().await;
    let scanned = aws_sdk_dynamodb::Client::new(&config).scan().table_name(&table).send().await.unwrap();
    let everything = format!("{:?}", scanned.items());
    assert!(scanned.count() > 10, "the scan read the records");
    assert!(!everything.contains("whsec_"), "a secret in clear in the table");
    for endpoint in &endpoints {
        let secret = endpoint["secret"].as_str().unwrap();
        assert!(secret.starts_with("whsec_"));
        assert!(!everything.contains(secret.trim_start_matches("whsec_")), "a secret's key in the table");
    }

    // -- the provider URL and key, read from SSM, in no function's log -------------------------
    for (binary, (_, process)) in &stack.functions {
        let logs = process.logs().join("\n");
        for secret in &provider_secrets {
            assert!(!logs.contains(secret.as_str()), "{binary} logged a provider secret");
        }
    }

    // -- the paths that release a tx-hash claim: a failure that booked nothing, a replaced hash --
    let stray = rig.account(5);
    let mut ids = Vec::new();
    for recipient in [rig.account(4), rig.account(6)] {
        let body = json!({"recipient_address": rig.evm(recipient), "chain": "base", "token": "USDC", "amount": 10.00, "currency": "USD", "description": "claims", "reference_type": "manual"});
        let (status, created, _) = stack.api("api-create-payout", "POST", "/v1/payouts", key, Some(body)).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let (status, approved, _) = stack.api("api-update-payout", "PATCH", &format!("/v1/payouts/{id}"), key, Some(json!({"status": "approved"}))).await;
        assert_eq!(status, 200, "{approved}");
        ids.push(id);
    }
    let wrong_recipient = rig.pay(rig.usdc, stray, 10_000_000).await;
    let (status, executed, _) =
        stack.api("api-execute-payout", "POST", &format!("/v1/payouts/{}/execute", ids[0]), key, Some(json!({"tx_hash": wrong_recipient}))).await;
    assert_eq!(status, 200, "{executed}");
    rig.anvil.mine(BASE_CONFIRMATIONS + 1).await;
    let messages = aws.receive(&aws.tx_queue, Duration::from_secs(10)).await;
    let consumed = stack.ok("watcher-queue", &sqs_batch(&queue_arn(&aws.sqs, &aws.tx_queue).await, &messages)).await;
    assert_eq!(consumed["batchItemFailures"], json!([]), "{consumed}");
    stack.scheduled("watcher-sweep").await;
    let (_, failed, _) = stack.api("api-get-payout", "GET", &format!("/v1/payouts/{}", ids[0]), key, None).await;
    assert_eq!((failed["status"].clone(), failed["failure_reason"].clone()), (json!("failed"), json!("recipient_mismatch")), "{failed}");
    for hash in [payouts_tests::random_tx_hash(), payouts_tests::random_tx_hash()] {
        let (status, executed, _) =
            stack.api("api-execute-payout", "POST", &format!("/v1/payouts/{}/execute", ids[1]), key, Some(json!({"tx_hash": format!("0x{hash}")}))).await;
        assert_eq!((status, executed["status"].clone()), (200, json!("executed")), "a hash never seen may be replaced: {executed}");
    }

    assert_least_privilege(&template, &resolver, &stack, &proxy);
    assert_only_counters_update(&template, &stack, &proxy);
    assert_only_endpoint_directories_put(&template, &stack, &proxy);

    // Every function the template deploys ran, and every binary is deployed.
    let deployed: BTreeSet<String> = stack.functions.keys().cloned().collect();
    let invoked = stack.invoked.lock().unwrap().clone();
    assert_eq!(deployed.difference(&invoked).collect::<Vec<_>>(), Vec::<&String>::new(), "functions the test did not run");
    let binaries: BTreeSet<String> = std::fs::read_dir(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/bin"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().trim_end_matches(".rs").to_owned())
        .filter(|name| name != "payouts-local" && name != "payouts-admin")
        .collect();
    assert_eq!(binaries, deployed, "every Lambda binary is a function of template.yaml");
    stack.stop();
}

/// A variable the code needs and the template does not give fails at init, through the Runtime
/// API's `/init/error`, naming the variable.
#[tokio::test]
async fn a_missing_variable_is_an_init_error_naming_it() {
    let template = Template::load();
    let spec = template.functions().into_iter().find(|f| f.binary == "api-execute-payout").unwrap();
    let mut env = BTreeMap::new();
    env.insert("PAYOUTS_TABLE_NAME".to_owned(), "payouts".to_owned());
    env.insert("AWS_REGION".to_owned(), "us-east-1".to_owned());
    let process = FunctionProcess::start(&binary_path(&spec.binary), "payouts-rt-api-execute-payout", spec.memory_mb, &env).await;
    let failure = process.wait_ready(Duration::from_secs(30)).await.expect_err("it cannot start without its queue");
    let body = process.api.init_error().unwrap_or_else(|| panic!("no /init/error, but {failure}: {}", process.logs().join("\n")));
    assert_eq!(body["errorType"], "Runtime.ConfigError", "{body}");
    assert!(body["errorMessage"].as_str().unwrap().contains("PAYOUTS_TX_QUEUE_URL"), "{body}");

    // A trust-store choice the code does not know is refused at init too, not taken as a default.
    env.insert("PAYOUTS_TX_QUEUE_URL".to_owned(), "http://127.0.0.1:9/queue/tx".to_owned());
    env.insert("PAYOUTS_AWS_TLS_ROOTS".to_owned(), "mozilla".to_owned());
    let process = FunctionProcess::start(&binary_path(&spec.binary), "payouts-rt-api-execute-payout", spec.memory_mb, &env).await;
    process.wait_ready(Duration::from_secs(30)).await.expect_err("an unknown trust store");
    let body = process.api.init_error().unwrap_or_else(|| panic!("no /init/error: {}", process.logs().join("\n")));
    assert!(body["errorMessage"].as_str().unwrap().contains("PAYOUTS_AWS_TLS_ROOTS"), "{body}");
}

/// A job that fails reports a typed error through `/error`: the reconciliation job, on a table
/// that does not exist, says its trouble is retryable and what it was, with nothing internal.
#[tokio::test]
async fn a_failing_job_reports_a_typed_retryable_error() {
    let template = Template::load();
    let spec = template.functions().into_iter().find(|f| f.binary == "reconciliation-job").unwrap();
    let endpoint = std::env::var("PAYOUTS_TEST_AWS_ENDPOINT").expect("PAYOUTS_TEST_AWS_ENDPOINT");
    let mut env = BTreeMap::new();
    for (name, value) in [
        ("PAYOUTS_TABLE_NAME", aws::unique_name("no-such-table").as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("PAYOUTS_RPC_RETRIES", "0"),
    ] {
        env.insert(name.to_owned(), value.to_owned());
    }
    let process = FunctionProcess::start(&binary_path(&spec.binary), "payouts-rt-reconciliation-job", spec.memory_mb, &env).await;
    let schedule: Value = serde_json::from_str(&lambda_fixture("eventbridge-schedule.json")).unwrap();
    match process.invoke(&schedule, INVOKE_TIMEOUT).await {
        Ok(Outcome::Error { body, .. }) => {
            assert_eq!(body["errorType"], "Retryable.StoreUnavailable", "{body}");
            assert!(!body["errorMessage"].as_str().unwrap_or("").contains(&endpoint), "no endpoint in the error: {body}");
        }
        other => panic!("expected a typed error, got {other:?}\n{}", process.logs().join("\n")),
    }
    assert!(process.pid().is_some(), "the runtime goes on after a failed invocation");
}
