//! Webhooks end to end through the dispatcher, with real receivers on loopback: signatures
//! (both schemes, verified independently here), retries on the schedule, 410, timeouts,
//! isolation, duplicate publishes, replay; plus the endpoints and events APIs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::Method;
use payouts::adapters::webhook_sender::{HttpWebhookSender, WebhookSenderOptions};
use payouts::domain::event::Event;
use payouts::domain::org::Plan;
use payouts::domain::webhook::RetrySchedule;
use payouts::ports::Clock;
use payouts::service::dispatcher::Dispatcher;
use payouts_tests::receiver::{Answer, Receiver};
use payouts_tests::{Harness, guide_body};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

fn dispatcher(h: &Harness, schedule: &str, timeout: Duration) -> Dispatcher {
    let options = WebhookSenderOptions { timeout, ..WebhookSenderOptions::default() };
    Dispatcher {
        app: h.app.clone(),
        sender: Arc::new(HttpWebhookSender::new(options).unwrap()),
        schedule: RetrySchedule::parse(schedule).unwrap().with_jitter_percent(0).unwrap(),
        retry_queue: None,
    }
}

async fn create_endpoint(h: &Harness, key: &str, url: &str, events: &[&str]) -> Value {
    let response = h.call(Method::POST, "/v1/webhooks", Some(key), Some(&json!({"url": url, "events": events, "description": "test"}).to_string())).await;
    assert_eq!(response.status, 201, "{}", response.json);
    response.json
}

/// Creates a sandbox payout and returns its `payout.created` event record.
async fn created_event(h: &Harness, key: &str) -> Event {
    let id = h.create(key, &guide_body()).await.id();
    h.outbox().await.into_iter().find(|e| e.subject_id == id).unwrap()
}

#[tokio::test]
async fn a_delivery_is_signed_both_ways_and_carries_the_event() {
    let h = Harness::embedded().await;
    let receiver = Receiver::start().await;
    let endpoint = create_endpoint(&h, &h.tenant.sandbox, &receiver.url, &["payout.created"]).await;
    let secret = endpoint["secret"].as_str().unwrap();
    assert!(secret.starts_with("whsec_"));
    let event = created_event(&h, &h.tenant.sandbox).await;

    let report = dispatcher(&h, "0,5s", Duration::from_secs(5)).dispatch_event(&event).await.unwrap();
    assert_eq!((report.deliveries_created, report.succeeded), (1, 1));
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].header("content-type"), Some("application/json"));
    got[0].assert_signed_with(secret);
    let body = got[0].json();
    assert_eq!(body.as_object().unwrap().keys().collect::<Vec<_>>(), ["created_at", "data", "event_id", "type"]);
    assert_eq!(body["event_id"], json!(event.id.to_string()));
    assert_eq!(got[0].header("webhook-id"), Some(event.id.as_str()));
    assert_eq!(body["type"], "payout.created");
    assert_eq!(body["data"]["id"], json!(event.subject_id));
    assert_eq!(body["data"]["status"], "draft");

    let deliveries = h.call(Method::GET, &format!("/v1/webhooks/{}/deliveries", endpoint["webhook_id"].as_str().unwrap()), Some(&h.tenant.sandbox), None).await;
    let delivery = &deliveries.json["data"][0];
    assert_eq!((delivery["status"].as_str(), delivery["attempts"].as_array().map(Vec::len)), (Some("succeeded"), Some(1)));
    assert_eq!(delivery["attempts"][0]["status_code"], 200);
}

#[tokio::test]
async fn a_receiver_failing_twice_gets_the_event_on_the_third_attempt_with_the_same_id() {
    let h = Harness::embedded().await;
    let receiver = Receiver::start_with(vec![Answer::status(500), Answer::status(503)], Answer::status(200)).await;
    let endpoint = create_endpoint(&h, &h.tenant.sandbox, &receiver.url, &["payout.created"]).await;
    let event = created_event(&h, &h.tenant.sandbox).await;
    let d = dispatcher(&h, "0,5s,5m,30m", Duration::from_secs(5));

    d.dispatch_event(&event).await.unwrap();
    assert_eq!(receiver.received().len(), 1);
    assert_eq!(d.run_due(100).await.unwrap().attempts, 0, "not due yet");
    h.clock.advance(chrono::Duration::seconds(6));
    d.run_due(100).await.unwrap();
    assert_eq!(receiver.received().len(), 2);
    h.clock.advance(chrono::Duration::minutes(4));
    assert_eq!(d.run_due(100).await.unwrap().attempts, 0, "the third attempt waits 5 minutes");
    h.clock.advance(chrono::Duration::minutes(2));
    let report = d.run_due(100).await.unwrap();
    assert_eq!(report.succeeded, 1);

    let got = receiver.received();
    assert_eq!(got.len(), 3);
    let ids: Vec<String> = got.iter().map(|r| r.json()["event_id"].as_str().unwrap().to_owned()).collect();
    assert!(ids.iter().all(|id| id == event.id.as_str()), "same event_id every time: {ids:?}");
    assert!(got.iter().all(|r| r.header("webhook-id") == Some(event.id.as_str())));
    assert_eq!(got[0].body, got[2].body, "the same bytes each attempt");
    let deliveries = h.call(Method::GET, &format!("/v1/webhooks/{}/deliveries", endpoint["webhook_id"].as_str().unwrap()), Some(&h.tenant.sandbox), None).await;
    let attempts: Vec<Value> = deliveries.json["data"][0]["attempts"].as_array().unwrap().iter().map(|a| a["status_code"].clone()).collect();
    assert_eq!(attempts, [json!(500), json!(503), json!(200)]);
    assert_eq!(deliveries.json["data"][0]["status"], "succeeded");
    assert_eq!(d.run_due(100).await.unwrap().attempts, 0, "nothing left to send");
}

#[tokio::test]
async fn a_receiver_that_always_fails_ends_failed_after_the_schedule() {
    let h = Harness::embedded().await;
    let receiver = Receiver::start_with(vec![], Answer::status(500)).await;
    let endpoint = create_endpoint(&h, &h.tenant.sandbox, &receiver.url, &["payout.created"]).await;
    let event = created_event(&h, &h.tenant.sandbox).await;
    let d = dispatcher(&h, "0,1s,1s", Duration::from_secs(5));
    d.dispatch_event(&event).await.unwrap();
    for _ in 0..5 {
        h.clock.advance(chrono::Duration::seconds(2));
        d.run_due(100).await.unwrap();
    }
    assert_eq!(receiver.received().len(), 3, "exactly the scheduled attempts");
    let deliveries = h.call(Method::GET, &format!("/v1/webhooks/{}/deliveries", endpoint["webhook_id"].as_str().unwrap()), Some(&h.tenant.sandbox), None).await;
    assert_eq!(deliveries.json["data"][0]["status"], "failed");
    assert_eq!(deliveries.json["data"][0]["next_attempt_at"], Value::Null);
    assert_eq!(deliveries.json["data"][0]["attempts"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn gone_disables_the_endpoint_and_a_slow_receiver_times_out() {
    let h = Harness::embedded().await;
    let gone = Receiver::start_with(vec![], Answer::status(410)).await;
    let endpoint = create_endpoint(&h, &h.tenant.sandbox, &gone.url, &["payout.created"]).await;
    let d = dispatcher(&h, "0,1s,1s", Duration::from_millis(300));
    d.dispatch_event(&created_event(&h, &h.tenant.sandbox).await).await.unwrap();
    let shown = h.call(Method::GET, &format!("/v1/webhooks/{}", endpoint["webhook_id"].as_str().unwrap()), Some(&h.tenant.sandbox), None).await;
    assert_eq!(shown.json["status"], "disabled");
    assert!(shown.json.get("secret").is_none(), "the secret is shown only on creation");
    d.dispatch_event(&created_event(&h, &h.tenant.sandbox).await).await.unwrap();
    assert_eq!(gone.received().len(), 1, "a disabled endpoint receives nothing more");

    let slow = Receiver::start_with(vec![], Answer::slow(200, Duration::from_secs(3))).await;
    let endpoint = create_endpoint(&h, &h.tenant.sandbox, &slow.url, &["payout.created"]).await;
    let started = std::time::Instant::now();
    d.dispatch_event(&created_event(&h, &h.tenant.sandbox).await).await.unwrap();
    assert!(started.elapsed() < Duration::from_secs(2), "gave up at the timeout");
    let deliveries = h.call(Method::GET, &format!("/v1/webhooks/{}/deliveries", endpoint["webhook_id"].as_str().unwrap()), Some(&h.tenant.sandbox), None).await;
    let attempt = &deliveries.json["data"][0]["attempts"][0];
    assert_eq!(attempt["status_code"], Value::Null);
    assert!(attempt["error"].as_str().unwrap().contains("time"), "{attempt}");
    assert_eq!(deliveries.json["data"][0]["status"], "pending", "a timeout is retried");
}

#[tokio::test]
async fn only_subscribed_endpoints_of_the_same_org_and_environment_receive() {
    let h = Harness::embedded().await;
    let other_org = h.tenant(Plan::Enterprise).await;
    let wanted = Receiver::start().await;
    let other_type = Receiver::start().await;
    let foreign = Receiver::start().await;
    create_endpoint(&h, &h.tenant.sandbox, &wanted.url, &["payout.created", "payout.settled"]).await;
    create_endpoint(&h, &h.tenant.sandbox, &other_type.url, &["payout.settled"]).await;
    create_endpoint(&h, &other_org.sandbox, &foreign.url, &["payout.created"]).await;
    // A live endpoint of the same org (https required in live; it must never be called here).
    create_endpoint(&h, &h.tenant.live, "https://example.invalid/hooks", &["payout.created"]).await;

    let event = created_event(&h, &h.tenant.sandbox).await;
    let d = dispatcher(&h, "0", Duration::from_secs(5));
    let report = d.dispatch_event(&event).await.unwrap();
    assert_eq!(report.deliveries_created, 1, "one endpoint qualifies");
    // A duplicate publish of the same event makes no second delivery.
    let again = d.dispatch_event(&event).await.unwrap();
    assert_eq!(again.deliveries_created, 0);
    assert_eq!(wanted.received().len(), 1);
    assert!(other_type.received().is_empty() && foreign.received().is_empty());
}

#[tokio::test]
async fn a_delivery_can_be_replayed_now() {
    let h = Harness::embedded().await;
    let receiver = Receiver::start_with(vec![], Answer::status(500)).await;
    let endpoint = create_endpoint(&h, &h.tenant.sandbox, &receiver.url, &["payout.created"]).await;
    let webhook_id = endpoint["webhook_id"].as_str().unwrap();
    dispatcher(&h, "0", Duration::from_secs(5)).dispatch_event(&created_event(&h, &h.tenant.sandbox).await).await.unwrap();
    let listed = h.call(Method::GET, &format!("/v1/webhooks/{webhook_id}/deliveries"), Some(&h.tenant.sandbox), None).await;
    assert_eq!(listed.json["data"][0]["status"], "failed");
    let delivery_id = listed.json["data"][0]["delivery_id"].as_str().unwrap().to_owned();

    receiver.set_default(Answer::status(200));
    let replayed = h.call(Method::POST, &format!("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"), Some(&h.tenant.sandbox), None).await;
    assert_eq!(replayed.status, 200, "{}", replayed.json);
    assert_eq!(replayed.json["status"], "succeeded");
    assert_eq!(replayed.json["attempts"].as_array().unwrap().len(), 2);
    assert_eq!(receiver.received().len(), 2);
    let other = h.tenant(Plan::Enterprise).await;
    let foreign = h.call(Method::POST, &format!("/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"), Some(&other.sandbox), None).await;
    assert_eq!(foreign.status, 404);
    let missing =
        h.call(Method::POST, &format!("/v1/webhooks/{webhook_id}/deliveries/del_000000000000000000000000/retry"), Some(&h.tenant.sandbox), None).await;
    assert_eq!((missing.status, missing.error().1.as_str()), (404, "delivery_not_found"));
}

#[tokio::test]
async fn endpoints_api_validates_and_scopes() {
    let h = Harness::embedded().await;
    let key = &h.tenant.live;
    let post = |body: Value| {
        let h = &h;
        async move { h.call(Method::POST, "/v1/webhooks", Some(key), Some(&body.to_string())).await }
    };
    let cases = [
        (json!({"events": ["payout.settled"]}), "missing_required_field", "url"),
        (json!({"url": "http://example.com/h", "events": ["payout.settled"]}), "invalid_field", "url"),
        (json!({"url": "https://localhost:8443/h", "events": ["payout.settled"]}), "invalid_field", "url"),
        (json!({"url": "https://10.0.0.5/h", "events": ["payout.settled"]}), "invalid_field", "url"),
        (json!({"url": "https://169.254.169.254/latest", "events": ["payout.settled"]}), "invalid_field", "url"),
        (json!({"url": "https://example.com/h", "events": []}), "invalid_field", "events"),
        (json!({"url": "https://example.com/h", "events": ["checkout.completed"]}), "invalid_field", "events"),
        (json!({"url": "https://example.com/h", "events": "payout.settled"}), "invalid_field", "events"),
        (json!({"url": "https://example.com/h"}), "missing_required_field", "events"),
        (json!({"url": "https://example.com/h", "events": ["payout.settled"], "description": "x".repeat(257)}), "invalid_field", "description"),
        (json!({"url": "https://example.com/h", "events": ["payout.settled"], "secret": "mine"}), "unknown_field", "secret"),
    ];
    for (body, code, param) in cases {
        let response = post(body.clone()).await;
        assert_eq!((response.status, response.error().1.as_str(), response.error().2.as_deref()), (400, code, Some(param)), "{body}");
    }
    // Messages read as sentences and say what would be accepted.
    let refused = post(json!({"url": "ftp://example.com/h", "events": ["payout.settled"]})).await;
    assert_eq!(refused.json["error"]["message"], "The URL must use https.", "{}", refused.json);
    let refused = post(json!({"url": "http://example.com/h", "events": ["payout.settled"]})).await;
    assert_eq!(refused.json["error"]["message"], "Live endpoints must use https.", "{}", refused.json);
    let refused = h.call(Method::GET, "/v1/events?type=checkout.completed", Some(key), None).await;
    let message = refused.json["error"]["message"].as_str().unwrap_or("");
    assert!(message.starts_with("Unknown event type \"checkout.completed\": use one of payout.created, "), "{message}");
    assert!(message.contains("payout.settled") && message.ends_with("settlement.unexpected."), "{message}");
    let created = post(json!({"url": "https://example.com/h", "events": ["payout.settled", "payout.failed", "payout.settled"]})).await;
    assert_eq!(created.status, 201);
    assert!(created.json["webhook_id"].as_str().unwrap().starts_with("we_"));
    assert_eq!(created.json["events"], json!(["payout.settled", "payout.failed"]));
    assert_eq!((created.json["status"].as_str(), created.json["environment"].as_str()), (Some("active"), Some("live")));
    let id = created.json["webhook_id"].as_str().unwrap();

    let listed = h.call(Method::GET, "/v1/webhooks", Some(key), None).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 1);
    assert!(listed.json["data"][0].get("secret").is_none());
    assert_eq!(h.call(Method::GET, "/v1/webhooks", Some(&h.tenant.sandbox), None).await.json["data"], json!([]), "per environment");
    let other = h.tenant(Plan::Enterprise).await;
    assert_eq!(h.call(Method::GET, &format!("/v1/webhooks/{id}"), Some(&other.live), None).await.status, 404);
    assert_eq!(h.call(Method::DELETE, &format!("/v1/webhooks/{id}"), Some(&other.live), None).await.status, 404);

    let deleted = h.call(Method::DELETE, &format!("/v1/webhooks/{id}"), Some(key), None).await;
    assert_eq!((deleted.status, deleted.raw.as_str()), (204, ""));
    let gone = h.call(Method::GET, &format!("/v1/webhooks/{id}"), Some(key), None).await;
    assert_eq!((gone.status, gone.error().1.as_str()), (404, "webhook_not_found"));

    // Plans: live webhooks need starter or above; sandbox works on every plan.
    let free = h.tenant(Plan::Free).await;
    let refused =
        h.call(Method::POST, "/v1/webhooks", Some(&free.live), Some(&json!({"url": "https://example.com/h", "events": ["payout.settled"]}).to_string())).await;
    assert_eq!((refused.status, refused.error().1.as_str()), (403, "plan_upgrade_required"));
    let sandbox = h
        .call(Method::POST, "/v1/webhooks", Some(&free.sandbox), Some(&json!({"url": "http://127.0.0.1:9/h", "events": ["payout.settled"]}).to_string()))
        .await;
    assert_eq!(sandbox.status, 201, "sandbox may use http and local addresses: {}", sandbox.json);

    // Idempotent create replays the same endpoint (and secret).
    let body = json!({"url": "https://example.com/idem", "events": ["payout.settled"]}).to_string();
    let first = h.call_with(Method::POST, "/v1/webhooks", Some(key), Some(&body), &[("idempotency-key", "we-1")]).await;
    let second = h.call_with(Method::POST, "/v1/webhooks", Some(key), Some(&body), &[("idempotency-key", "we-1")]).await;
    assert_eq!((second.json["webhook_id"].clone(), second.json["secret"].clone()), (first.json["webhook_id"].clone(), first.json["secret"].clone()));
}

#[tokio::test]
async fn events_api_lists_newest_first_with_type_filter_and_scopes() {
    let h = Harness::embedded().await;
    let key = &h.tenant.sandbox;
    let id = h.create(key, &guide_body()).await.id();
    h.patch(key, &id, &json!({"status": "approved"})).await;
    h.create(key, &guide_body()).await;
    let all = h.call(Method::GET, "/v1/events", Some(key), None).await;
    let types: Vec<&str> = all.json["data"].as_array().unwrap().iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["payout.created", "payout.approved", "payout.created"]);
    let approved = h.call(Method::GET, "/v1/events?type=payout.approved", Some(key), None).await;
    let events = approved.json["data"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["data"]["id"], json!(id));
    assert_eq!(events[0]["data"]["status"], "approved");
    let event_id = events[0]["event_id"].as_str().unwrap();
    let one = h.call(Method::GET, &format!("/v1/events/{event_id}"), Some(key), None).await;
    assert_eq!((one.status, &one.json), (200, &events[0]));
    assert_eq!(h.call(Method::GET, &format!("/v1/events/{event_id}"), Some(&h.tenant.live), None).await.status, 404, "other environment");
    let page = h.call(Method::GET, "/v1/events?limit=2", Some(key), None).await;
    assert_eq!(page.json["has_more"], true);
    let bad = h.call(Method::GET, "/v1/events?type=payout.exploded", Some(key), None).await;
    assert_eq!((bad.status, bad.error().2.as_deref()), (400, Some("type")));
}

/// A retry queue that keeps what it is asked to schedule.
#[derive(Default)]
struct RecordingRetryQueue(std::sync::Mutex<Vec<(payouts::service::dispatcher::RetryMessage, i64)>>);

#[async_trait::async_trait]
impl payouts::service::dispatcher::RetryQueue for RecordingRetryQueue {
    async fn schedule(&self, message: &payouts::service::dispatcher::RetryMessage, delay_seconds: i64) -> Result<(), String> {
        self.0.lock().unwrap().push((message.clone(), delay_seconds));
        Ok(())
    }
}

/// A 2-hour wait cannot ride one SQS message (15 minutes at most): the message is delayed 15
/// minutes, re-enqueued on arrival while the attempt is not due, and the attempt happens once due.
#[tokio::test]
async fn waits_longer_than_the_queue_delay_are_re_enqueued_until_due() {
    let h = Harness::embedded().await;
    let receiver = Receiver::start_with(vec![Answer::status(503)], Answer::status(200)).await;
    create_endpoint(&h, &h.tenant.sandbox, &receiver.url, &["payout.created"]).await;
    let queue = Arc::new(RecordingRetryQueue::default());
    let mut d = dispatcher(&h, "0,2h", Duration::from_secs(5));
    d.retry_queue = Some(queue.clone());
    let event = created_event(&h, &h.tenant.sandbox).await;

    d.dispatch_event(&event).await.unwrap();
    let scheduled = queue.0.lock().unwrap().clone();
    assert_eq!(scheduled.len(), 1);
    assert_eq!((scheduled[0].0.event_id.clone(), scheduled[0].1), (event.id.clone(), 900), "capped at SQS's 15 minutes");

    // The message arrives after 15 minutes: not due, so it waits again, and nothing is sent.
    h.clock.advance(chrono::Duration::minutes(15));
    let report = d.on_retry_message(&scheduled[0].0).await.unwrap();
    assert_eq!(report.attempts, 0);
    assert_eq!(receiver.received().len(), 1);
    let again = queue.0.lock().unwrap().clone();
    assert_eq!(again.len(), 2);
    assert_eq!(again[1].1, 900, "105 minutes left: another 15");

    // Once the two hours have passed, the next arrival makes the attempt.
    h.clock.advance(chrono::Duration::minutes(105));
    let report = d.on_retry_message(&again[1].0).await.unwrap();
    assert_eq!((report.attempts, report.succeeded), (1, 1));
    assert_eq!(receiver.received().len(), 2);
    assert_eq!(queue.0.lock().unwrap().len(), 2, "nothing more to schedule after success");
}

/// Every file of the embedded store's data directory, read raw (the database, its journal).
fn raw_bytes_of(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .map(|path| (path.display().to_string(), std::fs::read(&path).unwrap()))
        .collect()
}

#[tokio::test]
async fn no_signing_secret_is_stored_in_clear_and_deliveries_are_still_signed_with_it() {
    let h = Harness::embedded().await;
    let receiver = Receiver::start().await;
    let body = json!({"url": receiver.url, "events": ["payout.created"]}).to_string();
    let created = h.call_with(Method::POST, "/v1/webhooks", Some(&h.tenant.sandbox), Some(&body), &[("Idempotency-Key", "hook-1")]).await;
    assert_eq!(created.status, 201, "{}", created.json);
    let secret = created.json["secret"].as_str().unwrap().to_owned();
    let replayed = h.call_with(Method::POST, "/v1/webhooks", Some(&h.tenant.sandbox), Some(&body), &[("Idempotency-Key", "hook-1")]).await;
    assert_eq!((replayed.status, replayed.json["secret"].as_str()), (201, Some(secret.as_str())), "the retry shows the same secret, from the sealed record");
    assert_eq!(replayed.json["webhook_id"], created.json["webhook_id"]);

    let event = created_event(&h, &h.tenant.sandbox).await;
    let report = dispatcher(&h, "0", Duration::from_secs(5)).dispatch_event(&event).await.unwrap();
    assert_eq!(report.succeeded, 1);
    receiver.received()[0].assert_signed_with(&secret);

    let files = raw_bytes_of(h.data_dir().unwrap());
    assert!(
        files.iter().any(|(name, _)| name.ends_with("master.key")),
        "the key file sits in the data directory: {:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    for (name, bytes) in &files {
        assert!(!bytes.windows(6).any(|w| w == b"whsec_"), "{name} holds a secret in clear");
        let encoded = secret.trim_start_matches("whsec_").as_bytes();
        assert!(!bytes.windows(encoded.len()).any(|w| w == encoded), "{name} holds the secret's key");
    }
}

/// The KMS adapter against moto's KMS: a data key unwraps with its own context, and another
/// endpoint's context is refused as invalid for good (not "try again").
#[tokio::test]
async fn kms_data_keys_are_bound_to_their_context() {
    use payouts::adapters::kms::KmsDataKeys;
    use payouts::ports::keys::{DataKeys, KeyContext, KeyError};
    let config = payouts_tests::aws::sdk_config().await;
    let client = aws_sdk_kms::Client::new(&config);
    let key_id = client.create_key().send().await.unwrap().key_metadata().unwrap().key_id().to_owned();
    let keys = KmsDataKeys::new(client, key_id);
    let context = KeyContext { name: "webhook_id", value: "we_1".into() };
    let data_key = keys.generate(&context).await.unwrap();
    assert_eq!(keys.unwrap(&data_key.wrapped, &context).await, Ok(data_key.plaintext));
    let other = KeyContext { name: "webhook_id", value: "we_2".into() };
    assert!(matches!(keys.unwrap(&data_key.wrapped, &other).await, Err(KeyError::Invalid(_))), "another endpoint's context");
}

/// A retry that writes the same body differently (spacing, key order, escapes, inside the
/// `events` array too) replays the first answer; a body that differs inside conflicts; a key
/// twice inside a nested value is refused.
#[tokio::test]
async fn an_idempotent_retry_is_recognised_at_every_depth() {
    let h = Harness::embedded().await;
    let key = &h.tenant.sandbox;
    let create = |body: &'static str| {
        let h = &h;
        async move { h.call_with(Method::POST, "/v1/webhooks", Some(key), Some(body), &[("idempotency-key", "hook-depth-1")]).await }
    };
    let first = create(r#"{"url": "https://example.com/h", "events": ["payout.settled", "payout.failed"]}"#).await;
    assert_eq!(first.status, 201, "{}", first.json);
    let again = create("{ \"events\" : [ \"payout.settled\",\n \"payout.\\u0066ailed\" ], \"url\":\"https://example.com/h\" }").await;
    assert_eq!((again.status, again.json["webhook_id"].clone()), (201, first.json["webhook_id"].clone()), "{}", again.json);
    let other = create(r#"{"url": "https://example.com/h", "events": ["payout.failed", "payout.settled"]}"#).await;
    assert_eq!((other.status, other.error().1.as_str()), (409, "idempotency_key_reused"), "{}", other.json);
    let listed = h.call(Method::GET, "/v1/webhooks", Some(key), None).await;
    assert_eq!(listed.json["data"].as_array().map(Vec::len), Some(1), "one endpoint made");

    let twice = h
        .call(Method::POST, "/v1/webhooks", Some(key), Some(r#"{"url": "https://example.com/h", "events": ["payout.settled"], "metadata": {"a": 1, "a": 2}}"#))
        .await;
    assert_eq!((twice.status, twice.error().1.as_str()), (400, "invalid_json"), "{}", twice.json);
}

/// The hex `v1` billing.io's scheme gives `secret` for this request's timestamp and body.
fn billing_v1(secret: &str, received: &payouts_tests::receiver::Received) -> String {
    use hmac::{Hmac, Mac};
    let (t, _) = received.billing_signatures();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&received.body);
    hex::encode(mac.finalize().into_bytes())
}

#[tokio::test]
async fn endpoints_are_changed_disabled_and_re_enabled_on_both_stores() {
    for h in [Harness::embedded().await, Harness::dynamodb().await] {
        let key = h.tenant.sandbox.clone();
        let (first, second) = (Receiver::start().await, Receiver::start().await);
        let endpoint = create_endpoint(&h, &key, &first.url, &["payout.created"]).await;
        let path = format!("/v1/webhooks/{}", endpoint["webhook_id"].as_str().unwrap());
        let patch = |body: Value| {
            let (h, path, key) = (&h, path.clone(), key.clone());
            async move { h.call(Method::PATCH, &path, Some(&key), Some(&body.to_string())).await }
        };

        let changed = patch(json!({"url": second.url, "events": ["payout.created", "payout.approved"], "description": null})).await;
        assert_eq!(changed.status, 200, "{}", changed.json);
        assert_eq!((changed.json["url"].clone(), changed.json["events"].clone()), (json!(second.url), json!(["payout.created", "payout.approved"])));
        assert_eq!((changed.json["description"].clone(), changed.json.get("secret")), (Value::Null, None), "cleared; no secret shown");
        dispatcher(&h, "0", Duration::from_secs(5)).dispatch_event(&created_event(&h, &key).await).await.unwrap();
        assert_eq!((first.received().len(), second.received().len()), (0, 1), "deliveries go to the new URL");

        let disabled = patch(json!({"status": "disabled"})).await;
        assert_eq!((disabled.json["status"].clone(), disabled.json["disabled_reason"].clone()), (json!("disabled"), json!("disabled through the API")));
        let report = dispatcher(&h, "0", Duration::from_secs(5)).dispatch_event(&created_event(&h, &key).await).await.unwrap();
        assert_eq!((report.deliveries_created, second.received().len()), (0, 1), "a disabled endpoint gets nothing");
        let enabled = patch(json!({"status": "active"})).await;
        assert_eq!((enabled.json["status"].clone(), enabled.json["disabled_reason"].clone()), (json!("active"), Value::Null));
        assert_eq!(h.call(Method::GET, &path, Some(&key), None).await.json["status"], "active", "the change is stored");

        for (body, param) in [
            (json!({}), "url"),
            (json!({"status": "paused"}), "status"),
            (json!({"status": null}), "status"),
            (json!({"url": null}), "url"),
            (json!({"url": "ftp://example.com/hook"}), "url"),
            (json!({"events": []}), "events"),
            (json!({"events": ["payout.nothing"]}), "events"),
            (json!({"description": "x".repeat(257)}), "description"),
            (json!({"secret": "whsec_x"}), "secret"),
        ] {
            let refused = patch(body.clone()).await;
            assert_eq!((refused.status, refused.error().0.as_str()), (400, "invalid_request"), "{body}: {}", refused.json);
            assert_eq!(refused.json["error"]["param"], param, "{body}");
        }
        let other = h.tenant(Plan::Enterprise).await;
        let foreign = h.call(Method::PATCH, &path, Some(&other.sandbox), Some(r#"{"status":"disabled"}"#)).await;
        assert_eq!((foreign.status, foreign.error().1.as_str()), (404, "webhook_not_found"));
    }
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_new_one_until_its_overlap_ends_on_both_stores() {
    for h in [Harness::embedded().await, Harness::dynamodb().await] {
        let key = h.tenant.sandbox.clone();
        let receiver = Receiver::start().await;
        let endpoint = create_endpoint(&h, &key, &receiver.url, &["payout.created"]).await;
        let old = endpoint["secret"].as_str().unwrap().to_owned();
        let path = format!("/v1/webhooks/{}", endpoint["webhook_id"].as_str().unwrap());
        let rotate = |body: &str, idempotency_key: Option<&str>| {
            let (h, path, key, body, idempotency_key) = (&h, format!("{path}/rotate_secret"), key.clone(), body.to_owned(), idempotency_key.map(str::to_owned));
            async move {
                let headers: Vec<(&str, &str)> = idempotency_key.as_deref().map(|k| vec![("Idempotency-Key", k)]).unwrap_or_default();
                h.call_with(Method::POST, &path, Some(&key), (!body.is_empty()).then_some(body.as_str()), &headers).await
            }
        };

        let rotated = rotate("", Some("rotate-1")).await;
        assert_eq!(rotated.status, 200, "{}", rotated.json);
        let new = rotated.json["secret"].as_str().unwrap().to_owned();
        assert!(new.starts_with("whsec_") && new != old);
        let until = chrono::DateTime::parse_from_rfc3339(rotated.json["previous_secret_expires_at"].as_str().unwrap()).unwrap();
        assert_eq!((until.timestamp() - h.app.now().timestamp()) / 60, 24 * 60, "24 h by default");
        let replayed = rotate("", Some("rotate-1")).await;
        assert_eq!((replayed.json["secret"].clone(), replayed.header("idempotent-replayed")), (json!(new), Some("true")), "a retry does not rotate again");
        let got = h.call(Method::GET, &path, Some(&key), None).await;
        assert_eq!((got.json.get("secret"), got.json["previous_secret_expires_at"].clone()), (None, rotated.json["previous_secret_expires_at"].clone()));

        // During the overlap both sign, the old one last (what billing.io's SDK reads).
        dispatcher(&h, "0", Duration::from_secs(5)).dispatch_event(&created_event(&h, &key).await).await.unwrap();
        let delivered = receiver.received().pop().unwrap();
        delivered.assert_signed_with(&new);
        delivered.assert_signed_with(&old);
        assert_eq!(delivered.billing_signatures().1, [billing_v1(&new, &delivered), billing_v1(&old, &delivered)]);
        assert_eq!(delivered.header("webhook-signature").unwrap().split(' ').count(), 2);

        // After it, only the new one.
        h.clock.advance(chrono::Duration::hours(24) + chrono::Duration::seconds(1));
        assert_eq!(h.call(Method::GET, &path, Some(&key), None).await.json["previous_secret_expires_at"], Value::Null);
        dispatcher(&h, "0", Duration::from_secs(5)).dispatch_event(&created_event(&h, &key).await).await.unwrap();
        let delivered = receiver.received().pop().unwrap();
        assert_eq!(delivered.billing_signatures().1, [billing_v1(&new, &delivered)]);

        // `expires_in: 0` ends the overlap at once.
        let at_once = rotate(r#"{"expires_in": 0}"#, None).await;
        assert_eq!((at_once.status, at_once.json["previous_secret_expires_at"].clone()), (200, Value::Null), "{}", at_once.json);
        let newest = at_once.json["secret"].as_str().unwrap().to_owned();
        dispatcher(&h, "0", Duration::from_secs(5)).dispatch_event(&created_event(&h, &key).await).await.unwrap();
        let delivered = receiver.received().pop().unwrap();
        assert_eq!(delivered.billing_signatures().1, [billing_v1(&newest, &delivered)]);

        let whole = rotate(r#"{"expires_in": 3600.0}"#, None).await;
        assert_eq!(whole.status, 200, "a JSON integer may be written 3600.0: {}", whole.json);
        for body in [r#"{"expires_in": -1}"#, r#"{"expires_in": 604801}"#, r#"{"expires_in": "soon"}"#, r#"{"expires_in": 1.5}"#, r#"{"expires_in": null}"#] {
            let refused = rotate(body, None).await;
            assert_eq!((refused.status, refused.json["error"]["param"].clone()), (400, json!("expires_in")), "{body}: {}", refused.json);
        }
        let other = h.tenant(Plan::Enterprise).await;
        let foreign = h.call(Method::POST, &format!("{path}/rotate_secret"), Some(&other.sandbox), None).await;
        assert_eq!(foreign.status, 404);
    }
}

#[tokio::test]
async fn a_test_event_is_sent_signed_now_and_answers_with_the_attempt() {
    let h = Harness::embedded().await;
    let receiver = Receiver::start_with(vec![Answer::status(200)], Answer::status(503)).await;
    let endpoint = create_endpoint(&h, &h.tenant.sandbox, &receiver.url, &["payout.settled"]).await;
    let path = format!("/v1/webhooks/{}/test", endpoint["webhook_id"].as_str().unwrap());

    let sent = h.call(Method::POST, &path, Some(&h.tenant.sandbox), None).await;
    assert_eq!(sent.status, 200, "{}", sent.json);
    assert_eq!((sent.json["succeeded"].clone(), sent.json["attempt"]["status_code"].clone()), (json!(true), json!(200)));
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    got[0].assert_signed_with(endpoint["secret"].as_str().unwrap());
    assert_eq!(got[0].json()["type"], "webhook.test");
    assert_eq!(got[0].json()["data"]["webhook_id"], endpoint["webhook_id"]);
    assert_eq!(got[0].header("webhook-id"), sent.json["event_id"].as_str());
    assert!(h.outbox().await.iter().all(|event| event.id.as_str() != sent.json["event_id"].as_str().unwrap()), "a test event is not stored");

    let failing = h.call(Method::POST, &path, Some(&h.tenant.sandbox), None).await;
    assert_eq!((failing.status, failing.json["succeeded"].clone(), failing.json["attempt"]["status_code"].clone()), (200, json!(false), json!(503)));
    let other = h.tenant(Plan::Enterprise).await;
    assert_eq!(h.call(Method::POST, &path, Some(&other.sandbox), None).await.status, 404);
}

#[tokio::test]
async fn a_new_endpoint_gets_past_events_since_backfill_since_on_both_stores() {
    for h in [Harness::embedded().await, Harness::dynamodb().await] {
        let key = h.tenant.sandbox.clone();
        // Two hours ago, then back to the present (receivers check the signature's timestamp).
        h.clock.advance(chrono::Duration::hours(-2));
        let too_old = h.create(&key, &guide_body()).await.id();
        h.clock.advance(chrono::Duration::hours(2));
        let since = h.clock.now() - chrono::Duration::seconds(1);
        let first = h.create(&key, &guide_body()).await.id();
        assert_eq!(h.patch(&key, &first, &json!({"status": "approved"})).await.status, 200, "an event of a type not subscribed to");
        let second = h.create(&key, &guide_body()).await.id();

        let receiver = Receiver::start().await;
        let body = json!({"url": receiver.url, "events": ["payout.created"], "backfill_since": payouts::domain::time::to_rfc3339(&since)});
        let created = h.call(Method::POST, "/v1/webhooks", Some(&key), Some(&body.to_string())).await;
        assert_eq!(created.status, 201, "{}", created.json);
        let backfill = &created.json["backfill"];
        assert_eq!((backfill["events_replayed"].clone(), backfill["completed_at"].clone()), (json!(0), Value::Null), "{backfill}");
        assert_eq!(backfill["since"], json!(payouts::domain::time::to_rfc3339(&since)));
        let later = h.create(&key, &guide_body()).await.id();

        let d = dispatcher(&h, "0,5s", Duration::from_secs(5));
        let report = d.sweep(100).await.unwrap();
        assert_eq!((report.deliveries_created, report.succeeded), (2, 2), "{report:?}");
        let got = receiver.received();
        let sent: Vec<(String, String)> =
            got.iter().map(|r| (r.json()["type"].as_str().unwrap().to_owned(), r.json()["data"]["id"].as_str().unwrap().to_owned())).collect();
        assert_eq!(sent, [("payout.created".to_owned(), first.clone()), ("payout.created".to_owned(), second.clone())], "oldest first, only in range");
        for request in &got {
            request.assert_signed_with(created.json["secret"].as_str().unwrap());
        }
        assert!(!sent.iter().any(|(_, id)| id == &too_old || id == &later), "nothing before backfill_since, nothing after the endpoint's creation");

        let path = format!("/v1/webhooks/{}", created.json["webhook_id"].as_str().unwrap());
        let shown = h.call(Method::GET, &path, Some(&key), None).await;
        assert_eq!(shown.json["backfill"]["events_replayed"], 2, "{}", shown.json);
        assert!(shown.json["backfill"]["completed_at"].is_string(), "{}", shown.json);
        // Done: the next sweep replays nothing, and a republished past event is not sent twice.
        assert_eq!(d.sweep(100).await.unwrap().deliveries_created, 0);
        let republished =
            h.events_of(payouts::domain::chain::Environment::Sandbox, &first).await.into_iter().find(|e| e.event_type.as_str() == "payout.created").unwrap();
        assert_eq!(d.dispatch_event(&republished).await.unwrap().deliveries_created, 0);
        assert_eq!(receiver.received().len(), 2);

        let now = h.clock.now();
        for (since, why) in [
            (payouts::domain::time::to_rfc3339(&(now + chrono::Duration::minutes(5))), "must not be in the future"),
            (payouts::domain::time::to_rfc3339(&(now - chrono::Duration::days(8))), "at most 7 days"),
            ("last week".to_owned(), "RFC 3339"),
        ] {
            let body = json!({"url": receiver.url, "events": ["payout.created"], "backfill_since": since});
            let refused = h.call(Method::POST, "/v1/webhooks", Some(&key), Some(&body.to_string())).await;
            assert_eq!((refused.status, refused.json["error"]["param"].clone()), (400, json!("backfill_since")), "{since}: {}", refused.json);
            assert!(refused.json["error"]["message"].as_str().unwrap().contains(why), "{}", refused.json);
        }
    }
}

/// A record that does not decode (a variant a later deploy added, a hand edit) among the
/// endpoints of an organization or among the due deliveries is skipped and left alone: the other
/// endpoints still get the event, and another organization's due retry is still sent.
#[tokio::test]
async fn one_undecodable_endpoint_or_delivery_stops_nobody_else_on_both_stores() {
    use payouts::ports::store::{IndexName, ItemKey, WriteOp};
    use payouts::service::records;
    for h in [Harness::embedded().await, Harness::dynamodb().await] {
        let broken = |pk: &str, index: IndexName, partition: String| payouts_tests::undecodable_item(pk, index, partition, "00000000000000000000#x");
        let receiver = Receiver::start().await;
        create_endpoint(&h, &h.tenant.sandbox, &receiver.url, &["payout.created"]).await;
        let other = h.tenant(Plan::Enterprise).await;
        let flaky = Receiver::start_with(vec![Answer::status(503)], Answer::status(200)).await;
        create_endpoint(&h, &other.sandbox, &flaky.url, &["payout.created"]).await;
        // A broken endpoint listed in the organization's endpoint directory (what the fan-out
        // reads) and sorted first in its endpoints index; a broken delivery first in the due
        // partition.
        let sandbox = payouts::domain::chain::Environment::Sandbox;
        let broken_id = payouts::domain::ids::WebhookId::parse("we_000000000000000000000000").unwrap();
        let mut endpoint = broken("WE#we_000000000000000000000000", IndexName::Gsi1, records::endpoints_of(&h.tenant.org, sandbox));
        endpoint.key = records::endpoint_key(&broken_id);
        let directory_key = records::endpoint_directory_key(&h.tenant.org, sandbox);
        let listed = h.app.store.get(std::slice::from_ref(&directory_key)).await.unwrap().pop().flatten().unwrap();
        let mut directory: records::EndpointDirectory = records::decode(&listed).unwrap();
        directory.endpoints.insert(0, broken_id.clone());
        let items = vec![
            endpoint,
            records::endpoint_directory_item(&h.tenant.org, sandbox, &directory, listed.version + 1).unwrap(),
            broken("DEL#we_000000000000000000000000#evt_0", IndexName::Gsi3, records::DUE_PARTITION.to_owned()),
        ];
        h.app.store.write(items.into_iter().map(|item| WriteOp::Put { item, condition: None }).collect()).await.unwrap();

        let d = dispatcher(&h, "0,5s", Duration::from_secs(5));
        let report = d.dispatch_event(&created_event(&h, &h.tenant.sandbox).await).await.unwrap();
        assert_eq!((report.deliveries_created, report.succeeded), (1, 1), "the readable endpoint got it: {report:?}");
        assert_eq!(receiver.received().len(), 1);

        let report = d.dispatch_event(&created_event(&h, &other.sandbox).await).await.unwrap();
        assert_eq!((report.attempts, report.succeeded), (1, 0), "the first attempt answered 503");
        h.clock.advance(chrono::Duration::seconds(6));
        let report = d.run_due(100).await.unwrap();
        assert_eq!((report.attempts, report.succeeded, report.errors), (1, 1, 0), "the retry went out past the broken record: {report:?}");
        assert_eq!(flaky.received().len(), 2);
        // The broken records are left for an operator, untouched.
        let kept = h.app.store.get(&[records::endpoint_key(&broken_id), ItemKey::new("DEL#we_000000000000000000000000#evt_0", "X")]).await.unwrap();
        assert!(kept.iter().all(|item| item.as_ref().is_some_and(|item| item.version == 1)));
    }
}

/// A store whose first `failures` writes of a delivery record fail as "unavailable" (a few
/// minutes of DynamoDB trouble seen by the dispatcher only).
struct FailingDeliveryWrites {
    inner: Arc<dyn payouts::ports::store::Store>,
    failures: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl payouts::ports::store::Store for FailingDeliveryWrites {
    async fn get(&self, keys: &[payouts::ports::store::ItemKey]) -> Result<Vec<Option<payouts::ports::store::Item>>, payouts::ports::store::StoreError> {
        self.inner.get(keys).await
    }
    async fn write(&self, ops: Vec<payouts::ports::store::WriteOp>) -> Result<(), payouts::ports::store::StoreError> {
        use std::sync::atomic::Ordering;
        let delivery = ops.iter().any(|op| op.key().pk.starts_with("DEL#"));
        if delivery && self.failures.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            return Err(payouts::ports::store::StoreError::Unavailable("injected: the table is throttling".into()));
        }
        self.inner.write(ops).await
    }
    async fn query(&self, query: &payouts::ports::store::IndexQuery) -> Result<Vec<payouts::ports::store::Item>, payouts::ports::store::StoreError> {
        self.inner.query(query).await
    }
}

/// The bus and its rule as AWS runs them: each published event invokes the dispatcher, and a
/// failed invocation is retried twice (Lambda's asynchronous retries), then given up.
struct InvokingBus {
    dispatcher: Dispatcher,
    invocations: std::sync::atomic::AtomicUsize,
}

#[async_trait::async_trait]
impl payouts::ports::bus::EventBus for InvokingBus {
    async fn publish(&self, events: &[Event]) -> Result<Vec<payouts::domain::ids::EventId>, payouts::ports::bus::BusError> {
        for event in events {
            for _ in 0..3 {
                self.invocations.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if self.dispatcher.dispatch_event(event).await.is_ok() {
                    break;
                }
            }
        }
        Ok(events.iter().map(|event| event.id.clone()).collect())
    }
}

/// The dispatcher fails all three invocations for an event (its delivery cannot be written):
/// the event stays in the outbox, the relay publishes it again after REPUBLISH_AFTER, and the
/// receiver gets it once, with no DLQ redrive or any other manual step.
#[tokio::test]
async fn an_event_whose_fan_out_failed_every_retry_is_republished_and_delivered_on_both_stores() {
    use payouts::service::watcher::{Watcher, WatcherConfig};
    for h in [Harness::embedded().await, Harness::dynamodb().await] {
        let receiver = Receiver::start().await;
        create_endpoint(&h, &h.tenant.sandbox, &receiver.url, &["payout.created"]).await;
        let flaky = payouts::service::App { store: Arc::new(FailingDeliveryWrites { inner: h.app.store.clone(), failures: 3.into() }), ..h.app.clone() };
        let mut dispatcher = dispatcher(&h, "0,5s", Duration::from_secs(5));
        dispatcher.app = flaky;
        let bus = Arc::new(InvokingBus { dispatcher, invocations: 0.into() });
        let watcher = Watcher::new(h.app.clone(), bus.clone(), Default::default(), WatcherConfig::default());
        let payout = h.create(&h.tenant.sandbox, &guide_body()).await.id();

        assert_eq!(watcher.relay_outbox().await.unwrap(), 1);
        assert_eq!(bus.invocations.load(std::sync::atomic::Ordering::SeqCst), 3, "the first invocation and Lambda's two retries");
        assert!(receiver.received().is_empty());
        let waiting = h.outbox_entries().await;
        assert_eq!(waiting.iter().map(|e| e.subject_id.as_str()).collect::<Vec<_>>(), [payout.as_str()], "published, still waiting for its fan-out");
        assert!(waiting[0].published_at.is_some() && waiting[0].fanned_out_at.is_none());

        // Not before REPUBLISH_AFTER: the original invocation's retries may still be under way.
        h.clock.advance(chrono::Duration::minutes(4));
        assert_eq!(watcher.relay_outbox().await.unwrap(), 0);
        h.clock.advance(chrono::Duration::minutes(2));
        // (Its mark as published again loses to the fan-out's acknowledgement, made meanwhile.)
        watcher.relay_outbox().await.unwrap();
        assert_eq!(bus.invocations.load(std::sync::atomic::Ordering::SeqCst), 4, "republished, and dispatched at the first try");
        let got = receiver.received();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].json()["data"]["id"], json!(payout));
        assert!(h.outbox_entries().await.is_empty(), "fanned out: out of the outbox for good");
        let stored = h.events_of(payouts::domain::chain::Environment::Sandbox, &payout).await;
        assert!(stored[0].fanned_out_at.is_some());

        // A duplicate publish later sends nothing twice, and nothing is republished again.
        h.clock.advance(chrono::Duration::minutes(10));
        watcher.relay_outbox().await.unwrap();
        assert_eq!(bus.invocations.load(std::sync::atomic::Ordering::SeqCst), 4, "not republished again");
        assert_eq!(bus.dispatcher.dispatch_event(&stored[0]).await.unwrap().deliveries_created, 0);
        assert_eq!(receiver.received().len(), 1);
    }
}

/// A claim outlasts the slowest attempt the sender allows, so a second worker never takes over a
/// delivery whose first attempt is still running.
#[tokio::test]
async fn the_claim_on_a_delivery_outlasts_the_attempt_timeout() {
    let h = Harness::embedded().await;
    assert_eq!(dispatcher(&h, "0", Duration::from_secs(5)).lease(), chrono::Duration::seconds(60), "at least a minute");
    assert_eq!(dispatcher(&h, "0", Duration::from_secs(120)).lease(), chrono::Duration::seconds(150));
    assert_eq!(dispatcher(&h, "0", Duration::from_secs(900)).lease(), chrono::Duration::seconds(930), "the longest timeout the sender takes");
}

/// DynamoDB may make a write and lose its answer; the SDK then retries it, and the retry fails
/// the write's own condition. With the emulator behind a proxy that loses answers after the write
/// is made: a webhook create is still a 201 with one endpoint, a delivery is still claimed, sent
/// once and recorded, and a delete is still a 204.
#[tokio::test]
async fn writes_whose_answer_is_lost_are_recognised_as_made() {
    use payouts_tests::aws;
    use payouts_tests::aws_proxy::RecordingAwsProxy;
    let proxy = RecordingAwsProxy::start(&aws::emulator_endpoint()).await;
    let (_, _, table) = aws::fresh_table().await;
    let client = aws_sdk_dynamodb::Client::new(&aws::sdk_config_at(&proxy.url).await);
    let h = Harness::on_store(Arc::new(payouts::adapters::dynamodb::DynamoDbStore::new(client, table)), None).await;
    let key = h.tenant.sandbox.clone();
    let receiver = Receiver::start().await;

    proxy.lose_next_answers("TransactWriteItems", 1);
    let body = json!({"url": receiver.url, "events": ["payout.created"]}).to_string();
    let created = h.call(Method::POST, "/v1/webhooks", Some(&key), Some(&body)).await;
    assert_eq!(created.status, 201, "{}", created.json);
    let listed = h.call(Method::GET, "/v1/webhooks", Some(&key), None).await;
    assert_eq!(listed.json["data"].as_array().unwrap().len(), 1, "one endpoint: {}", listed.json);

    let event = created_event(&h, &key).await;
    // Every write of the fan-out loses its answer once: the delivery's creation, its claim, the
    // attempt's record and the event's acknowledgement.
    proxy.lose_next_answers("TransactWriteItems", 4);
    let report = dispatcher(&h, "0,5s", Duration::from_secs(5)).dispatch_event(&event).await.unwrap();
    assert_eq!((report.deliveries_created, report.attempts, report.succeeded), (1, 1, 1), "{report:?}");
    assert_eq!(receiver.received().len(), 1, "sent once");
    let webhook = created.json["webhook_id"].as_str().unwrap();
    let deliveries = h.call(Method::GET, &format!("/v1/webhooks/{webhook}/deliveries"), Some(&key), None).await;
    assert_eq!(deliveries.json["data"][0]["status"], "succeeded", "{}", deliveries.json);
    assert!(h.outbox_entries().await.is_empty(), "acknowledged");

    proxy.lose_next_answers("TransactWriteItems", 1);
    let deleted = h.call(Method::DELETE, &format!("/v1/webhooks/{webhook}"), Some(&key), None).await;
    assert_eq!(deleted.status, 204, "{}", deleted.json);
    assert_eq!(h.call(Method::GET, &format!("/v1/webhooks/{webhook}"), Some(&key), None).await.status, 404);
    let lost = proxy.calls().iter().filter(|call| call.target.ends_with("TransactWriteItems") && call.status == 200).count();
    assert!(lost >= 6, "the writes went through the proxy: {lost}");
}

/// An organization has at most `PAYOUTS_MAX_WEBHOOK_ENDPOINTS` endpoints per environment (3 here),
/// exactly, also when ten creates race for the last slots; deleting one frees its slot.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn endpoints_per_organization_and_environment_are_capped_exactly_on_both_stores() {
    for mut h in [Harness::embedded().await, Harness::dynamodb().await] {
        h.app.limits.webhook_endpoints = 3;
        let receiver = Receiver::start().await;
        let body = json!({"url": receiver.url, "events": ["payout.created"]}).to_string();
        let key = h.tenant.sandbox.clone();
        let mut ids = Vec::new();
        for _ in 0..3 {
            ids.push(create_endpoint(&h, &key, &receiver.url, &["payout.created"]).await["webhook_id"].as_str().unwrap().to_owned());
        }
        let refused = h.call(Method::POST, "/v1/webhooks", Some(&key), Some(&body)).await;
        assert_eq!((refused.status, refused.error().1.as_str()), (409, "endpoint_limit_reached"), "{}", refused.json);
        assert!(refused.json["error"]["message"].as_str().unwrap().contains("has 3 webhook endpoints in sandbox"), "{}", refused.json);
        assert_eq!(
            h.call(
                Method::POST,
                "/v1/webhooks",
                Some(&h.tenant.live),
                Some(&json!({"url": "https://hooks.merchant.example/x", "events": ["payout.created"]}).to_string())
            )
            .await
            .status,
            201,
            "live has its own count"
        );

        assert_eq!(h.call(Method::DELETE, &format!("/v1/webhooks/{}", ids[0]), Some(&key), None).await.status, 204);
        assert_eq!(h.call(Method::POST, "/v1/webhooks", Some(&key), Some(&body)).await.status, 201, "the deleted one's slot is free");

        let other = h.tenant(Plan::Enterprise).await;
        let h = Arc::new(h);
        let racing: Vec<_> = (0..10)
            .map(|_| {
                let (h, key, body) = (h.clone(), other.sandbox.clone(), body.clone());
                tokio::spawn(async move { h.call(Method::POST, "/v1/webhooks", Some(&key), Some(&body)).await })
            })
            .collect();
        let mut answers = Vec::new();
        for task in racing {
            answers.push(task.await.unwrap());
        }
        let created = answers.iter().filter(|answer| answer.status == 201).count();
        assert_eq!(created, 3, "{:?}", answers.iter().map(|a| (a.status, a.json["error"]["code"].clone())).collect::<Vec<_>>());
        assert!(answers.iter().all(|answer| answer.status == 201 || answer.status == 409));
        let listed = h.call(Method::GET, "/v1/webhooks?limit=100", Some(&other.sandbox), None).await;
        assert_eq!(listed.json["data"].as_array().unwrap().len(), 3);
    }
}

/// A store whose index queries do not show what was written in the last half second, as
/// DynamoDB's eventually consistent GSIs may not (moto shows everything at once).
struct LaggingIndexes {
    inner: Arc<dyn payouts::ports::store::Store>,
    written: std::sync::Mutex<Vec<(payouts::ports::store::ItemKey, std::time::Instant)>>,
}

#[async_trait::async_trait]
impl payouts::ports::store::Store for LaggingIndexes {
    async fn get(&self, keys: &[payouts::ports::store::ItemKey]) -> Result<Vec<Option<payouts::ports::store::Item>>, payouts::ports::store::StoreError> {
        self.inner.get(keys).await
    }
    async fn write(&self, ops: Vec<payouts::ports::store::WriteOp>) -> Result<(), payouts::ports::store::StoreError> {
        let keys: Vec<_> = ops.iter().map(|op| op.key().clone()).collect();
        self.inner.write(ops).await?;
        let now = std::time::Instant::now();
        self.written.lock().unwrap().extend(keys.into_iter().map(|key| (key, now)));
        Ok(())
    }
    async fn query(&self, query: &payouts::ports::store::IndexQuery) -> Result<Vec<payouts::ports::store::Item>, payouts::ports::store::StoreError> {
        let items = self.inner.query(query).await?;
        let written = self.written.lock().unwrap();
        let fresh = |key: &payouts::ports::store::ItemKey| written.iter().any(|(k, at)| k == key && at.elapsed() < Duration::from_millis(500));
        Ok(items.into_iter().filter(|item| !fresh(&item.key)).collect())
    }
}

/// With indexes that lag behind writes: an event right after an endpoint's creation still
/// reaches it (the fan-out reads the endpoint directory by key), and a delivery retried right
/// after it was made is found.
#[tokio::test]
async fn fan_out_and_retry_do_not_miss_what_was_written_a_moment_ago_on_both_stores() {
    for h in [Harness::embedded().await, Harness::dynamodb().await] {
        let lagging = Arc::new(LaggingIndexes { inner: h.app.store.clone(), written: Default::default() });
        let app = payouts::service::App { store: lagging, ..h.app.clone() };
        let receiver = Receiver::start().await;
        let key = payouts::domain::org::ApiKeySecret::from_presented(&h.tenant.sandbox);
        let body = json!({"url": receiver.url, "events": ["payout.created"]}).to_string();
        let created = payouts::service::webhooks::create_endpoint(&app, &key, None, body.as_bytes()).await.unwrap();
        assert_eq!(created.status, 201);
        let endpoint: Value = serde_json::from_str(&created.body).unwrap();
        let event = created_event(&h, &h.tenant.sandbox).await;
        let mut d = dispatcher(&h, "0,5s", Duration::from_secs(5));
        d.app = app.clone();
        let report = d.dispatch_event(&event).await.unwrap();
        assert_eq!((report.deliveries_created, report.succeeded), (1, 1), "the endpoint made a moment ago gets the event: {report:?}");

        let webhook = endpoint["webhook_id"].as_str().unwrap();
        let listed = h.call(Method::GET, &format!("/v1/webhooks/{webhook}/deliveries"), Some(&h.tenant.sandbox), None).await;
        let delivery = listed.json["data"][0]["delivery_id"].as_str().unwrap().to_owned();
        // Written again just now (its attempt recorded): the id index does not show it yet.
        let retried = payouts::service::webhooks::retry_delivery(&app, &d, &key, webhook, &delivery).await.unwrap();
        assert_eq!(retried.status, 200);
        assert_eq!(receiver.received().len(), 2, "sent again");
    }
}

/// The due sweep made the attempt a queued retry was for, and scheduled its own: the older
/// message, arriving later, is dropped (no attempt, nothing re-enqueued), so duplicates never
/// start a chain of messages that renew themselves.
#[tokio::test]
async fn a_retry_message_for_an_attempt_already_made_is_dropped() {
    let h = Harness::embedded().await;
    let receiver = Receiver::start_with(vec![], Answer::status(503)).await;
    create_endpoint(&h, &h.tenant.sandbox, &receiver.url, &["payout.created"]).await;
    let queue = Arc::new(RecordingRetryQueue::default());
    let mut d = dispatcher(&h, "0,5s,5s,5s", Duration::from_secs(5));
    d.retry_queue = Some(queue.clone());
    let event = created_event(&h, &h.tenant.sandbox).await;

    d.dispatch_event(&event).await.unwrap();
    let first = queue.0.lock().unwrap()[0].0.clone();
    assert_eq!(first.after_attempts, Some(1));
    h.clock.advance(chrono::Duration::seconds(6));
    assert_eq!(d.run_due(100).await.unwrap().attempts, 1, "the sweep got there first");
    let second = queue.0.lock().unwrap()[1].0.clone();
    assert_eq!(second.after_attempts, Some(2));

    let report = d.on_retry_message(&first).await.unwrap();
    assert_eq!(report.attempts, 0, "stale: dropped");
    assert_eq!(queue.0.lock().unwrap().len(), 2, "and not re-enqueued");
    h.clock.advance(chrono::Duration::seconds(6));
    assert_eq!(d.on_retry_message(&second).await.unwrap().attempts, 1, "the current one is acted on");
    assert_eq!(receiver.received().len(), 3);
}

/// An organization whose endpoints were made before the endpoint directory existed: the fan-out
/// finds them through the endpoints index, and its first create or delete starts the directory
/// from them, so they count toward the ceiling.
#[tokio::test]
async fn endpoints_made_before_the_directory_still_get_events_and_count_on_both_stores() {
    use payouts::ports::store::WriteOp;
    use payouts::service::records;
    for mut h in [Harness::embedded().await, Harness::dynamodb().await] {
        h.app.limits.webhook_endpoints = 2;
        let receiver = Receiver::start().await;
        create_endpoint(&h, &h.tenant.sandbox, &receiver.url, &["payout.created"]).await;
        let directory = records::endpoint_directory_key(&h.tenant.org, payouts::domain::chain::Environment::Sandbox);
        h.app.store.write(vec![WriteOp::Delete { key: directory.clone(), condition: None }]).await.unwrap();

        let report = dispatcher(&h, "0,5s", Duration::from_secs(5)).dispatch_event(&created_event(&h, &h.tenant.sandbox).await).await.unwrap();
        assert_eq!((report.deliveries_created, report.succeeded), (1, 1), "{report:?}");

        let body = json!({"url": receiver.url, "events": ["payout.created"]}).to_string();
        assert_eq!(h.call(Method::POST, "/v1/webhooks", Some(&h.tenant.sandbox), Some(&body)).await.status, 201);
        let refused = h.call(Method::POST, "/v1/webhooks", Some(&h.tenant.sandbox), Some(&body)).await;
        assert_eq!((refused.status, refused.error().1.as_str()), (409, "endpoint_limit_reached"), "the older endpoint counts: {}", refused.json);
        let listed: records::EndpointDirectory = records::decode(&h.app.store.get(&[directory]).await.unwrap().pop().flatten().unwrap()).unwrap();
        assert_eq!(listed.endpoints.len(), 2);
    }
}
