//! Through the AWS emulator: an event record published with the EventBridge adapter reaches the
//! dispatcher through the bus's rule (moto routes the rule to an SQS target; in AWS the rule
//! targets the dispatcher Lambda directly with the same envelope), and the merchant's receiver
//! gets it signed. Also the SQS retry queue with per-message delay.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts::adapters::eventbridge::{EVENT_SOURCE, EventBridgeBus};
use payouts::adapters::webhook_sender::{HttpWebhookSender, WebhookSenderOptions};
use payouts::domain::event::Event;
use payouts::domain::webhook::RetrySchedule;
use payouts::ports::bus::EventBus;
use payouts::service::dispatcher::Dispatcher;
use payouts_tests::receiver::Receiver;
use payouts_tests::{Harness, aws, guide_body};
use serde_json::json;
use std::sync::Arc;

#[tokio::test]
async fn an_event_on_the_bus_reaches_the_dispatcher_through_the_rule() {
    let config = aws::sdk_config().await;
    let events_client = aws_sdk_eventbridge::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);
    let bus_name = aws::unique_name("bus");
    events_client.create_event_bus().name(&bus_name).send().await.unwrap();
    let queue_url = sqs.create_queue().queue_name(aws::unique_name("dispatch")).send().await.unwrap().queue_url().unwrap().to_owned();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes()
        .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
        .clone();
    events_client.put_rule().name("to-dispatcher").event_bus_name(&bus_name).event_pattern(json!({"source": [EVENT_SOURCE]}).to_string()).send().await.unwrap();
    events_client
        .put_targets()
        .rule("to-dispatcher")
        .event_bus_name(&bus_name)
        .targets(aws_sdk_eventbridge::types::Target::builder().id("dispatcher").arn(queue_arn).build().unwrap())
        .send()
        .await
        .unwrap();

    let h = Harness::embedded().await;
    let receiver = Receiver::start().await;
    let created = h
        .call(http::Method::POST, "/v1/webhooks", Some(&h.tenant.sandbox), Some(&json!({"url": receiver.url, "events": ["payout.created"]}).to_string()))
        .await;
    assert_eq!(created.status, 201);
    let payout_id = h.create(&h.tenant.sandbox, &guide_body()).await.id();
    let event: Event = h.outbox().await.remove(0);
    assert_eq!(event.subject_id, payout_id);

    let bus = EventBridgeBus::new(events_client, bus_name);
    assert_eq!(bus.publish(std::slice::from_ref(&event)).await.unwrap(), vec![event.id.clone()]);

    let mut bodies = Vec::new();
    for _ in 0..20 {
        let received = sqs.receive_message().queue_url(&queue_url).wait_time_seconds(1).send().await.unwrap();
        bodies.extend(received.messages().iter().filter_map(|m| m.body().map(str::to_owned)));
        if !bodies.is_empty() {
            break;
        }
    }
    assert_eq!(bodies.len(), 1, "the rule delivered the event once");
    let envelope: payouts::jobs::webhooks::BusEvent = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(envelope.source, EVENT_SOURCE);
    assert_eq!(envelope.detail_type, "payout.created");

    let options = WebhookSenderOptions { timeout: std::time::Duration::from_secs(5), ..WebhookSenderOptions::default() };
    let dispatcher =
        Dispatcher { app: h.app.clone(), sender: Arc::new(HttpWebhookSender::new(options).unwrap()), schedule: RetrySchedule::default(), retry_queue: None };
    let report = payouts::jobs::webhooks::handle_bus_event(&dispatcher, envelope).await.unwrap();
    assert_eq!(report.succeeded, 1);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["event_id"], json!(event.id.to_string()));
    assert_eq!(got[0].json()["data"]["id"], json!(payout_id));
}

#[tokio::test]
async fn the_retry_queue_delays_messages() {
    use payouts::service::dispatcher::{RetryMessage, RetryQueue};
    let config = aws::sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue_url = sqs.create_queue().queue_name(aws::unique_name("retries")).send().await.unwrap().queue_url().unwrap().to_owned();
    let queue = payouts::adapters::sqs::SqsRetryQueue::new(sqs.clone(), queue_url.clone());
    let message =
        RetryMessage { webhook_id: payouts::domain::ids::WebhookId::generate(), event_id: payouts::domain::ids::EventId::generate(), after_attempts: Some(1) };
    queue.schedule(&message, 2).await.unwrap();
    let early = sqs.receive_message().queue_url(&queue_url).send().await.unwrap();
    assert!(early.messages().is_empty(), "not visible before its delay");
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    let later = sqs.receive_message().queue_url(&queue_url).wait_time_seconds(2).send().await.unwrap();
    let body: RetryMessage = serde_json::from_str(later.messages()[0].body().unwrap()).unwrap();
    assert_eq!(body, message);
}

/// `PutEvents` can answer 200 with some entries failed: those (and only those) are sent again,
/// and an entry that keeps failing is left out of what the adapter reports as published, so it
/// stays in the outbox for the next relay.
#[tokio::test]
async fn put_events_partial_failures_are_retried_and_never_reported_published() {
    use payouts_tests::receiver::{Answer, Receiver};
    let fake = Receiver::start_with(
        vec![
            Answer::json(200, json!({"FailedEntryCount": 2, "Entries": [{"EventId": "ok-1"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "try again"}, {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}]})),
            Answer::json(200, json!({"FailedEntryCount": 1, "Entries": [{"EventId": "ok-2"}, {"ErrorCode": "InternalFailure", "ErrorMessage": "still failing"}]})),
        ],
        Answer::json(200, json!({"FailedEntryCount": 1, "Entries": [{"ErrorCode": "InternalFailure", "ErrorMessage": "still failing"}]})),
    )
    .await;
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(fake.url.trim_end_matches("/hooks"))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_eventbridge::config::Credentials::new("test", "test", None, None, "tests"))
        .load()
        .await;
    let bus = EventBridgeBus::new(aws_sdk_eventbridge::Client::new(&config), "bus".into());

    let h = Harness::embedded().await;
    for _ in 0..3 {
        h.create(&h.tenant.sandbox, &guide_body()).await;
    }
    let events: Vec<Event> = h.outbox().await;
    assert_eq!(events.len(), 3);

    let accepted = bus.publish(&events).await.unwrap();
    assert_eq!(accepted, vec![events[0].id.clone(), events[1].id.clone()], "the first on the first call, the second on the retry, the third never");
    let calls = fake.received();
    assert_eq!(calls.len(), 3, "one call and two retries");
    let entries = |n: usize| -> Vec<String> {
        calls[n].json()["Entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| serde_json::from_str::<serde_json::Value>(e["Detail"].as_str().unwrap()).unwrap()["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(entries(0), events.iter().map(|e| e.id.to_string()).collect::<Vec<_>>());
    assert_eq!(entries(1), [events[1].id.to_string(), events[2].id.to_string()], "only the failed entries are sent again");
    assert_eq!(entries(2), [events[2].id.to_string()]);
    assert_eq!(calls[0].json()["Entries"][0]["DetailType"], "payout.created");
    assert_eq!(calls[0].json()["Entries"][0]["Source"], EVENT_SOURCE);
}
