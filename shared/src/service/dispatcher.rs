//! The webhook dispatcher: fans each published event out to the organization's active
//! endpoints of that environment subscribed to its type, one delivery per (endpoint, event),
//! signed, retried on a schedule kept in configuration, every attempt recorded.
//!
//! An attempt first claims the delivery (a conditional write that pushes its due time out by a
//! lease), so the retry queue, the due sweep and a manual replay never send it twice at once;
//! a crash mid-attempt only delays it until the lease runs out.

use super::records::{self, decode};
use super::{App, COMMIT_ATTEMPTS};
use crate::domain::endpoint::{Attempt, Delivery, DeliveryStatus, EndpointStatus, WebhookEndpoint};
use crate::domain::event::Event;
use crate::domain::ids::{DeliveryId, EventId, WebhookId};
use crate::domain::time::{Timestamp, sort_key};
use crate::domain::webhook::RetrySchedule;
use crate::metrics::{self, Metric};
use crate::ports::keys::KeyError;
use crate::ports::store::{Condition, IndexName, IndexQuery, StoreError, WriteOp, read_all};
use crate::ports::webhook::{WebhookRequest, WebhookSender};
use async_trait::async_trait;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// The shortest time a claimed attempt holds its delivery.
const MIN_LEASE: Duration = Duration::seconds(60);
/// How much longer than the sender's whole-attempt timeout a claim holds (signing, recording
/// the outcome), so a slow attempt is never taken over by a second one while it still runs.
const LEASE_MARGIN: Duration = Duration::seconds(30);
/// Endpoints a sweep backfills, and pages of 100 events it reads for each: a run replays at most
/// 25 × 500 events, so the 10,000 of one endpoint take about twenty minutes of sweeps.
const BACKFILLS_PER_RUN: usize = 25;
const BACKFILL_PAGES_PER_RUN: usize = 5;
/// SQS cannot delay a message longer than this.
pub const MAX_QUEUE_DELAY_SECONDS: i64 = 900;

/// A retry to make later: which delivery, and how many attempts it had made when the retry was
/// scheduled. A message for a state the delivery has left (another worker, the due sweep, made
/// the attempt meanwhile and scheduled its own retry) is stale and dropped, so duplicates never
/// start chains of messages that renew themselves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryMessage {
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    /// `None` in messages from before this field: always acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_attempts: Option<usize>,
}

/// Where retries wait (an SQS queue with per-message delay in AWS). Delays beyond
/// [`MAX_QUEUE_DELAY_SECONDS`] are re-enqueued on arrival, and the due sweep catches anything else.
#[async_trait]
pub trait RetryQueue: Send + Sync {
    async fn schedule(&self, message: &RetryMessage, delay_seconds: i64) -> Result<(), String>;
}

/// What asks for an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Trigger {
    /// The schedule: made only when due and pending; from a retry message, only while the
    /// delivery has made the attempts the message was scheduled after.
    Scheduled(Option<usize>),
    /// A manual replay: now, whatever the delivery's status.
    Forced,
}

pub struct Dispatcher {
    pub app: App,
    pub sender: Arc<dyn WebhookSender>,
    pub schedule: RetrySchedule,
    pub retry_queue: Option<Arc<dyn RetryQueue>>,
}

/// What happened to one delivery, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DispatchReport {
    pub deliveries_created: usize,
    pub attempts: usize,
    pub succeeded: usize,
    pub failed_for_good: usize,
    /// Deliveries of a due run that could not be attempted (logged; tried again next run).
    pub errors: usize,
}

impl DispatchReport {
    fn absorb(&mut self, other: DispatchReport) {
        self.deliveries_created += other.deliveries_created;
        self.attempts += other.attempts;
        self.succeeded += other.succeeded;
        self.failed_for_good += other.failed_for_good;
        self.errors += other.errors;
    }
}

impl Dispatcher {
    /// Fans one event out. Safe to call again for the same event: existing deliveries are kept.
    pub async fn dispatch_event(&self, event: &Event) -> Result<DispatchReport, StoreError> {
        let mut report = DispatchReport::default();
        let now = self.app.now();
        let mut created = Vec::new();
        for endpoint in self.endpoints_for(event).await? {
            // A duplicate publish of the same event finds its delivery there, running its course.
            if self.create_delivery(&endpoint.id, event, now).await? {
                report.deliveries_created += 1;
                created.push(endpoint.id);
            }
        }
        // Only now does the event leave the outbox: had anything above failed, the relay would
        // publish it again (and this run would find the deliveries made so far).
        self.acknowledge_fan_out(&event.id).await?;
        // Every delivery exists (and is due) before the first attempt: if this run is cut short,
        // the retry path and the due sweep still find all of them.
        for webhook_id in created {
            self.run_attempt(&webhook_id, &event.id, Trigger::Scheduled(None), &mut report).await?;
        }
        Ok(report)
    }

    /// How long a claim holds a delivery: derived from the sender's attempt timeout, never
    /// shorter than it.
    pub fn lease(&self) -> Duration {
        let timeout = Duration::from_std(self.sender.attempt_timeout()).unwrap_or(Duration::minutes(15));
        (timeout + LEASE_MARGIN).max(MIN_LEASE)
    }

    /// Records on the event that its deliveries exist, which takes it out of the outbox. A
    /// concurrent republish (the relay's mark) is read again and the acknowledgement retried.
    async fn acknowledge_fan_out(&self, event_id: &EventId) -> Result<(), StoreError> {
        let key = records::event_key(event_id);
        for _ in 0..COMMIT_ATTEMPTS {
            // An event that is not stored (or no longer readable) has no outbox entry to end.
            let Some(item) = self.app.store.get(std::slice::from_ref(&key)).await?.pop().flatten() else { return Ok(()) };
            let Some(mut event) = records::decode_or_skip::<Event>(&item, "event") else { return Ok(()) };
            if event.fanned_out_at.is_some() {
                return Ok(());
            }
            let now = self.app.now();
            event.fanned_out_at = Some(now);
            // It reached the dispatcher, so it was published, whether or not the relay's mark
            // got in first.
            event.published_at.get_or_insert(now);
            let op = WriteOp::Put { item: records::event_item(&event, item.version + 1)?, condition: Some(Condition::Version(item.version)) };
            match self.app.store.write(vec![op]).await {
                Ok(()) => return Ok(()),
                Err(error) if error.lost_race() => continue,
                Err(error) => return Err(error),
            }
        }
        Err(StoreError::Contention)
    }

    /// The delivery of `event` to an endpoint, due now; `false` if it exists already (the
    /// identity is (endpoint, event), so a republished event or a backfill never sends twice).
    async fn create_delivery(&self, webhook_id: &WebhookId, event: &Event, now: Timestamp) -> Result<bool, StoreError> {
        let delivery = Delivery {
            id: DeliveryId::generate(),
            webhook_id: webhook_id.clone(),
            event_id: event.id.clone(),
            event_type: event.event_type,
            org_id: event.org_id.clone(),
            environment: event.environment,
            status: DeliveryStatus::Pending,
            attempts: Vec::new(),
            earlier_attempts: 0,
            next_attempt_at: Some(now),
            created_at: now,
            updated_at: now,
        };
        let op = WriteOp::Put { item: records::delivery_item(&delivery, 1)?, condition: Some(Condition::Absent { now_unix: now.timestamp() }) };
        match self.app.store.write(vec![op]).await {
            Ok(()) => Ok(true),
            Err(StoreError::ConditionFailed { .. }) => Ok(false),
            Err(error) => Err(error),
        }
    }

    /// The scheduled sweep: past events for new endpoints that asked for them, then every
    /// delivery whose time has come (the backfill's among them).
    pub async fn sweep(&self, limit: usize) -> Result<DispatchReport, StoreError> {
        let mut report = self.run_backfills().await?;
        report.absorb(self.run_due(limit).await?);
        Ok(report)
    }

    /// Replays past events to endpoints created with `backfill_since`, at most
    /// [`BACKFILL_PAGES_PER_RUN`] pages of events per endpoint per run, each replayed event a
    /// delivery due now; progress is kept on the endpoint, so the next run goes on from there.
    pub async fn run_backfills(&self) -> Result<DispatchReport, StoreError> {
        let now = self.app.now();
        let query = IndexQuery { limit: BACKFILLS_PER_RUN, ..IndexQuery::partition(IndexName::Gsi2, records::BACKFILL_PARTITION, false, now.timestamp()) };
        let mut report = DispatchReport::default();
        for item in self.app.store.query(&query).await? {
            // One bad record must not hold up the other endpoints' backfills.
            if let Some(endpoint) = records::decode_or_skip::<WebhookEndpoint>(&item, "webhook endpoint") {
                self.backfill(endpoint, item.version, &mut report).await?;
            }
        }
        Ok(report)
    }

    async fn backfill(&self, mut endpoint: WebhookEndpoint, version: u64, report: &mut DispatchReport) -> Result<(), StoreError> {
        // A disabled endpoint's backfill waits for it to be re-enabled.
        let Some(mut backfill) = endpoint.backfill.clone().filter(|b| b.pending() && endpoint.status == EndpointStatus::Active) else { return Ok(()) };
        let now = self.app.now();
        let mut query = IndexQuery {
            sk_at_least: Some(sort_key(&backfill.since)),
            sk_at_most: Some(records::created_at_most(&backfill.until)),
            after: backfill.resume_after.as_deref().and_then(records::event_position),
            ..IndexQuery::partition(IndexName::Gsi1, records::events_of(&endpoint.org_id, endpoint.environment), false, now.timestamp())
        };
        let mut finished = false;
        'pages: for _ in 0..BACKFILL_PAGES_PER_RUN {
            let page = self.app.store.query(&query).await?;
            for item in &page {
                backfill.resume_after = item.index(IndexName::Gsi1).map(|key| key.sk.clone());
                let Some(event) = records::decode_or_skip::<Event>(item, "event") else { continue };
                if endpoint.events.contains(&event.event_type) {
                    if !backfill.has_room() {
                        finished = true;
                        break 'pages;
                    }
                    // Each due a moment after the last, so the sweep sends them in event order.
                    if self.create_delivery(&endpoint.id, &event, self.app.now()).await? {
                        report.deliveries_created += 1;
                    }
                    backfill.replayed += 1;
                }
            }
            if page.len() < query.limit {
                finished = true;
                break;
            }
            query.after = backfill.resume_after.as_deref().and_then(records::event_position);
        }
        if finished {
            backfill.completed_at = Some(now);
        }
        tracing::info!(webhook_id = %endpoint.id, replayed = backfill.replayed, finished, "webhook backfill");
        endpoint.backfill = Some(backfill);
        let progress = WriteOp::Put { item: records::endpoint_item(&endpoint, version + 1)?, condition: Some(Condition::Version(version)) };
        match self.app.store.write(vec![progress]).await {
            // A change to the endpoint got in first: the next run goes on from the progress kept,
            // and the deliveries made meanwhile are found again, not doubled.
            Ok(()) | Err(StoreError::ConditionFailed { .. } | StoreError::Contention) => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Active endpoints of the event's organization and environment subscribed to its type: from
    /// the endpoint directory and the endpoints themselves, read by key (strongly consistent), so
    /// an endpoint created a moment before the event is never missed. An organization whose
    /// endpoints predate the directory is read through the endpoints index.
    async fn endpoints_for(&self, event: &Event) -> Result<Vec<WebhookEndpoint>, StoreError> {
        let directory_key = records::endpoint_directory_key(&event.org_id, event.environment);
        let items = match self.app.store.get(std::slice::from_ref(&directory_key)).await?.pop().flatten() {
            Some(item) => {
                let directory: records::EndpointDirectory = decode(&item)?;
                let keys: Vec<_> = directory.endpoints.iter().map(records::endpoint_key).collect();
                self.app.store.get(&keys).await?.into_iter().flatten().collect()
            }
            None => {
                let query = IndexQuery::partition(IndexName::Gsi1, records::endpoints_of(&event.org_id, event.environment), false, self.app.now().timestamp());
                read_all(self.app.store.as_ref(), query).await?
            }
        };
        let mut endpoints = Vec::new();
        for item in items {
            // An endpoint that cannot be read gets nothing until repaired; the others get theirs.
            let Some(endpoint) = records::decode_or_skip::<WebhookEndpoint>(&item, "webhook endpoint") else { continue };
            if endpoint.wants(event.event_type) {
                endpoints.push(endpoint);
            }
        }
        Ok(endpoints)
    }

    /// A retry-queue message arrived: attempt if due, or wait longer (re-enqueue).
    pub async fn on_retry_message(&self, message: &RetryMessage) -> Result<DispatchReport, StoreError> {
        let mut report = DispatchReport::default();
        self.run_attempt(&message.webhook_id, &message.event_id, Trigger::Scheduled(message.after_attempts), &mut report).await?;
        Ok(report)
    }

    /// Attempts every pending delivery whose time has come (the scheduled safety net, and the
    /// local runner's retry loop).
    pub async fn run_due(&self, limit: usize) -> Result<DispatchReport, StoreError> {
        let now = self.app.now();
        let query = IndexQuery {
            sk_at_most: Some(records::due_by(&now)),
            limit,
            ..IndexQuery::partition(IndexName::Gsi3, records::DUE_PARTITION, false, now.timestamp())
        };
        let mut report = DispatchReport::default();
        for item in self.app.store.query(&query).await? {
            let Some(delivery) = records::decode_or_skip::<Delivery>(&item, "delivery") else { continue };
            // One delivery that cannot be attempted (its records unreadable, a write refused)
            // never holds up the others of the run; it stays due and is tried again next run.
            if let Err(error) = self.run_attempt(&delivery.webhook_id, &delivery.event_id, Trigger::Scheduled(None), &mut report).await {
                tracing::error!(delivery_id = %delivery.id, webhook_id = %delivery.webhook_id, event_id = %delivery.event_id, error = %error, "delivery attempt failed; the run goes on");
                report.errors += 1;
            }
        }
        Ok(report)
    }

    /// A manual replay: sends now whatever the delivery's status; returns the delivery after.
    pub async fn attempt_now(&self, webhook_id: &WebhookId, event_id: &EventId) -> Result<Option<Delivery>, StoreError> {
        let mut report = DispatchReport::default();
        self.run_attempt(webhook_id, event_id, Trigger::Forced, &mut report).await
    }

    /// Claim → send → record. A forced attempt sends even when not due or no longer pending.
    async fn run_attempt(
        &self,
        webhook_id: &WebhookId,
        event_id: &EventId,
        trigger: Trigger,
        report: &mut DispatchReport,
    ) -> Result<Option<Delivery>, StoreError> {
        let force = trigger == Trigger::Forced;
        let keys = [records::delivery_key(webhook_id, event_id), records::endpoint_key(webhook_id), records::event_key(event_id)];
        let mut items = self.app.store.get(&keys).await?.into_iter();
        let (Some(delivery_item), endpoint_item, event_item) = (items.next().flatten(), items.next().flatten(), items.next().flatten()) else {
            return Ok(None);
        };
        let mut delivery: Delivery = decode(&delivery_item)?;
        let now = self.app.now();
        if let Trigger::Scheduled(Some(after)) = trigger
            && after != delivery.attempts_made()
        {
            tracing::debug!(delivery_id = %delivery.id, "a retry message for an attempt already made; dropped");
            return Ok(Some(delivery));
        }
        if !force {
            if delivery.status != DeliveryStatus::Pending {
                return Ok(Some(delivery));
            }
            if let Some(due) = delivery.next_attempt_at
                && due > now
            {
                self.enqueue_retry(&delivery, due - now).await;
                return Ok(Some(delivery));
            }
        }

        // Claim: push the due time out by a lease; a concurrent attempt loses this race.
        let mut version = delivery_item.version;
        delivery.status = DeliveryStatus::Pending;
        delivery.next_attempt_at = Some(now + self.lease());
        delivery.updated_at = now;
        let claim = WriteOp::Put { item: records::delivery_item(&delivery, version + 1)?, condition: Some(Condition::Version(version)) };
        match self.app.store.write(vec![claim]).await {
            Ok(()) => version += 1,
            Err(error) if error.lost_race() => return Ok(None),
            Err(error) => return Err(error),
        }

        let endpoint = endpoint_item.as_ref().map(decode::<WebhookEndpoint>).transpose()?;
        let event = event_item.as_ref().map(decode::<Event>).transpose()?;
        let (endpoint_version, endpoint, event) = match (endpoint, event) {
            (Some(endpoint), Some(event)) if endpoint.status == EndpointStatus::Active => (endpoint_item.map(|i| i.version).unwrap_or(0), endpoint, event),
            (endpoint, _) => {
                let why = if endpoint.is_none() { "endpoint deleted" } else { "endpoint disabled or event missing" };
                delivery.record(Attempt { at: now, status_code: None, latency_ms: 0, error: Some(why.into()) });
                delivery.status = DeliveryStatus::Failed;
                delivery.next_attempt_at = None;
                self.save(&delivery, version).await?;
                report.failed_for_good += 1;
                return Ok(Some(delivery));
            }
        };

        let body = serde_json::to_vec(&event.view()).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let request = self.signed_request(&endpoint, event.id.as_str(), body).await?;
        let outcome = self.sender.send(&request).await;
        report.attempts += 1;
        let environment = [("Environment", endpoint.environment.as_str())];
        metrics::count(Metric::WebhookAttempts, &environment, 1);
        metrics::count(Metric::WebhookFailures, &environment, u64::from(!outcome.succeeded()));
        let at = self.app.now();
        delivery.record(Attempt {
            at,
            status_code: outcome.status,
            latency_ms: u64::try_from(outcome.latency.as_millis()).unwrap_or(u64::MAX),
            error: outcome.error.clone(),
        });
        delivery.updated_at = at;
        if outcome.succeeded() {
            delivery.status = DeliveryStatus::Succeeded;
            delivery.next_attempt_at = None;
            report.succeeded += 1;
        } else if outcome.status == Some(410) {
            // 410 Gone: the receiver asks us to stop for good.
            delivery.status = DeliveryStatus::Failed;
            delivery.next_attempt_at = None;
            report.failed_for_good += 1;
            self.disable(endpoint, endpoint_version, "the endpoint answered 410 Gone", at).await?;
        } else {
            let made = delivery.attempts_made();
            match self.schedule.next_delay(made, outcome.retry_after, &mut rand::rng()) {
                Some(delay) => {
                    let delay = Duration::from_std(delay).unwrap_or(Duration::hours(24));
                    delivery.next_attempt_at = Some(at + delay);
                }
                None => {
                    delivery.status = DeliveryStatus::Failed;
                    delivery.next_attempt_at = None;
                    report.failed_for_good += 1;
                }
            }
        }
        tracing::info!(
            delivery_id = %delivery.id, webhook_id = %delivery.webhook_id, event_id = %delivery.event_id,
            attempt = delivery.attempts_made(), status_code = outcome.status.map(u64::from), error = outcome.error.as_deref().unwrap_or(""),
            detail = outcome.detail.as_deref().unwrap_or(""), outcome = delivery.status.as_str(),
            "webhook attempt"
        );
        self.save(&delivery, version).await?;
        if delivery.status == DeliveryStatus::Pending
            && let Some(due) = delivery.next_attempt_at
        {
            self.enqueue_retry(&delivery, due - at).await;
        }
        Ok(Some(delivery))
    }

    /// `body` to `endpoint`, signed at this moment with its signing secrets (both during a
    /// rotation's overlap), `msg_id` being the Standard Webhooks message id (the event id).
    pub async fn signed_request(&self, endpoint: &WebhookEndpoint, msg_id: &str, body: Vec<u8>) -> Result<WebhookRequest, StoreError> {
        let now = self.app.now();
        let (current, retiring) = self.app.vault.signing_secrets(endpoint, now).await.map_err(|error| match error {
            // Nothing is sent, nothing recorded: the delivery stays due and is tried again.
            KeyError::Unavailable(problem) => StoreError::Unavailable(problem),
            KeyError::Invalid(problem) => StoreError::Corrupt(format!("endpoint {}: {problem}", endpoint.id)),
        })?;
        let headers = current.signature_headers(retiring.as_ref(), msg_id, now.timestamp(), &body);
        Ok(WebhookRequest { url: endpoint.url.clone(), headers, body: body.into(), environment: endpoint.environment })
    }

    async fn save(&self, delivery: &Delivery, version: u64) -> Result<(), StoreError> {
        let op = WriteOp::Put { item: records::delivery_item(delivery, version + 1)?, condition: Some(Condition::Version(version)) };
        match self.app.store.write(vec![op]).await {
            // Only a manual replay can take a claimed delivery over; its own record stands, and
            // this attempt (already sent) goes unrecorded rather than failing the whole run.
            Err(error) if error.lost_race() => {
                tracing::warn!(delivery_id = %delivery.id, "delivery changed during the attempt; its newer record stands");
                Ok(())
            }
            other => other,
        }
    }

    async fn disable(&self, mut endpoint: WebhookEndpoint, version: u64, reason: &str, _now: Timestamp) -> Result<(), StoreError> {
        endpoint.status = EndpointStatus::Disabled;
        endpoint.disabled_reason = Some(reason.to_owned());
        tracing::warn!(webhook_id = %endpoint.id, reason, "webhook endpoint disabled");
        match self
            .app
            .store
            .write(vec![WriteOp::Put { item: records::endpoint_item(&endpoint, version + 1)?, condition: Some(Condition::Version(version)) }])
            .await
        {
            Ok(()) => Ok(()),
            // Changed or deleted meanwhile: that change stands.
            Err(error) if error.lost_race() => Ok(()),
            Err(error) => Err(error),
        }
    }

    async fn enqueue_retry(&self, delivery: &Delivery, wait: Duration) {
        let Some(queue) = &self.retry_queue else { return };
        let delay = wait.num_seconds().clamp(0, MAX_QUEUE_DELAY_SECONDS);
        let message =
            RetryMessage { webhook_id: delivery.webhook_id.clone(), event_id: delivery.event_id.clone(), after_attempts: Some(delivery.attempts_made()) };
        if let Err(error) = queue.schedule(&message, delay).await {
            // The due sweep still finds it.
            tracing::warn!(delivery_id = %delivery.id, error = %error, "could not enqueue a retry; the due sweep will attempt it");
        }
    }
}
