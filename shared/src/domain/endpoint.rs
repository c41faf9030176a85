//! Webhook endpoints and deliveries: where events go, and what happened to each.

use super::chain::Environment;
use super::event::EventType;
use super::ids::{DeliveryId, EventId, OrgId, WebhookId};
use super::sealed::Sealed;
use super::time::{self, Timestamp};
use super::webhook::WebhookSecret;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    Active,
    Disabled,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct WebhookEndpoint {
    pub id: WebhookId,
    pub org_id: OrgId,
    pub environment: Environment,
    pub url: String,
    pub events: Vec<EventType>,
    pub description: Option<String>,
    pub secret: StoredSecret,
    pub status: EndpointStatus,
    /// Why it was disabled (e.g. the receiver answered 410 Gone).
    #[serde(default)]
    pub disabled_reason: Option<String>,
    /// The secret the last rotation replaced, still signing beside `secret` until its time.
    #[serde(default)]
    pub retiring_secret: Option<RetiringSecret>,
    /// Past events asked for at creation (`backfill_since`), replayed by the due sweep.
    #[serde(default)]
    pub backfill: Option<Backfill>,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
}

/// How far back a new endpoint may ask for past events, and how many it gets at most.
pub const BACKFILL_MAX_DAYS: i64 = 7;
pub const BACKFILL_MAX_EVENTS: u32 = 10_000;

/// Replaying the events of `[since, until]` (until: the endpoint's creation; later events reach
/// it as they happen) to a new endpoint, page by page, oldest first.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Backfill {
    #[serde(with = "time::rfc3339")]
    pub since: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub until: Timestamp,
    /// The index sort key of the last event looked at: where the next page starts.
    #[serde(default)]
    pub resume_after: Option<String>,
    /// Events of the endpoint's types given a delivery so far.
    pub replayed: u32,
    #[serde(default, with = "time::rfc3339::option")]
    pub completed_at: Option<Timestamp>,
}

impl Backfill {
    /// A backfill from `since` for an endpoint created `now`, or why it cannot be.
    pub fn starting(since: Timestamp, now: Timestamp) -> Result<Backfill, String> {
        if since > now {
            return Err("backfill_since must not be in the future".to_owned());
        }
        if since < now - chrono::Duration::days(BACKFILL_MAX_DAYS) {
            return Err(format!("backfill_since may go back at most {BACKFILL_MAX_DAYS} days"));
        }
        Ok(Backfill { since, until: now, resume_after: None, replayed: 0, completed_at: None })
    }

    pub fn pending(&self) -> bool {
        self.completed_at.is_none()
    }

    /// Whether another matching event may still be replayed.
    pub fn has_room(&self) -> bool {
        self.replayed < BACKFILL_MAX_EVENTS
    }

    pub fn view(&self) -> BackfillView {
        BackfillView {
            since: time::to_rfc3339(&self.since),
            until: time::to_rfc3339(&self.until),
            events_replayed: self.replayed,
            completed_at: self.completed_at.as_ref().map(time::to_rfc3339),
        }
    }
}

/// A backfill as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct BackfillView {
    #[schema(format = DateTime)]
    pub since: String,
    /// The endpoint's creation: later events reach it as they happen.
    #[schema(format = DateTime)]
    pub until: String,
    /// Past events of the endpoint's types given a delivery so far (at most 10,000).
    pub events_replayed: u32,
    /// When every past event was replayed; `null` while the backfill goes on (each minute's
    /// due sweep replays more).
    #[schema(nullable, format = DateTime)]
    pub completed_at: Option<String>,
}

/// A rotated-out secret and the end of its overlap with the new one.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RetiringSecret {
    pub secret: StoredSecret,
    #[serde(with = "time::rfc3339")]
    pub until: Timestamp,
}

impl WebhookEndpoint {
    pub fn wants(&self, event_type: EventType) -> bool {
        self.status == EndpointStatus::Active && self.events.contains(&event_type)
    }

    /// The retiring secret while its overlap lasts at `now`.
    pub fn retiring_secret_at(&self, now: Timestamp) -> Option<&RetiringSecret> {
        self.retiring_secret.as_ref().filter(|retiring| retiring.until > now)
    }

    /// The public object at `now`; the secret only when it was just made (on creation or
    /// rotation: the plaintext the caller still holds).
    pub fn view(&self, new_secret: Option<&WebhookSecret>, now: Timestamp) -> EndpointView {
        EndpointView {
            webhook_id: self.id.to_string(),
            url: self.url.clone(),
            events: self.events.clone(),
            secret: new_secret.map(|secret| secret.reveal().to_owned()),
            description: self.description.clone(),
            status: self.status,
            disabled_reason: self.disabled_reason.clone().filter(|_| self.status == EndpointStatus::Disabled),
            previous_secret_expires_at: self.retiring_secret_at(now).map(|retiring| time::to_rfc3339(&time::whole_seconds(retiring.until))),
            environment: self.environment,
            backfill: self.backfill.as_ref().map(Backfill::view),
            created_at: time::to_rfc3339(&time::whole_seconds(self.created_at)),
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EndpointView {
    #[schema(example = "we_0123456789abcdef01234567")]
    pub webhook_id: String,
    pub url: String,
    pub events: Vec<EventType>,
    /// `whsec_…`, returned only by the create and rotate_secret calls: store it securely.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[schema(nullable)]
    pub description: Option<String>,
    pub status: EndpointStatus,
    /// Why a disabled endpoint is disabled: by `PATCH`, or the receiver answered 410 Gone.
    #[schema(nullable)]
    pub disabled_reason: Option<String>,
    /// While a secret rotation's overlap lasts: when the previous secret stops signing.
    #[schema(nullable, format = DateTime)]
    pub previous_secret_expires_at: Option<String>,
    pub environment: Environment,
    /// Present when the endpoint was created with `backfill_since`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfill: Option<BackfillView>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Waiting for its next attempt (or in flight).
    Pending,
    Succeeded,
    /// Every attempt of the schedule failed, or the endpoint answered 410 Gone.
    Failed,
}

impl DeliveryStatus {
    /// Its API value.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Attempt {
    #[serde(with = "time::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub at: Timestamp,
    #[schema(nullable)]
    pub status_code: Option<u16>,
    pub latency_ms: u64,
    #[schema(nullable)]
    pub error: Option<String>,
}

/// One event to one endpoint. Keyed by (endpoint, event), so a duplicate publish of the same
/// event never makes a second delivery.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Delivery {
    pub id: DeliveryId,
    pub webhook_id: WebhookId,
    pub event_id: EventId,
    pub event_type: EventType,
    pub org_id: OrgId,
    pub environment: Environment,
    pub status: DeliveryStatus,
    /// The latest [`MAX_KEPT_ATTEMPTS`] attempts, oldest first ([`Delivery::record`]).
    pub attempts: Vec<Attempt>,
    /// Attempts made before the kept ones, counted but no longer kept.
    #[serde(default)]
    pub earlier_attempts: u32,
    /// When the next attempt is due (also a lease while one is in flight).
    #[serde(with = "time::rfc3339::option")]
    pub next_attempt_at: Option<Timestamp>,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub updated_at: Timestamp,
}

/// Attempts a delivery keeps: the schedule makes at most 50, and replays add to them, so an
/// item never grows toward DynamoDB's 400 KB limit (an attempt holds at most a 300-character
/// error).
pub const MAX_KEPT_ATTEMPTS: usize = 50;

impl Delivery {
    /// Records an attempt, keeping the latest [`MAX_KEPT_ATTEMPTS`] and counting the rest.
    pub fn record(&mut self, attempt: Attempt) {
        self.attempts.push(attempt);
        let excess = self.attempts.len().saturating_sub(MAX_KEPT_ATTEMPTS);
        if excess > 0 {
            self.attempts.drain(..excess);
            self.earlier_attempts = self.earlier_attempts.saturating_add(u32::try_from(excess).unwrap_or(u32::MAX));
        }
    }

    /// Every attempt made, kept or not.
    pub fn attempts_made(&self) -> usize {
        self.attempts.len() + self.earlier_attempts as usize
    }

    pub fn view(&self) -> DeliveryView {
        DeliveryView {
            delivery_id: self.id.to_string(),
            webhook_id: self.webhook_id.to_string(),
            event_id: self.event_id.to_string(),
            event_type: self.event_type,
            status: self.status,
            attempts: self.attempts.clone(),
            attempt_count: self.attempts_made(),
            next_attempt_at: self.next_attempt_at.as_ref().filter(|_| self.status == DeliveryStatus::Pending).map(time::to_rfc3339),
            created_at: time::to_rfc3339(&time::whole_seconds(self.created_at)),
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct DeliveryView {
    pub delivery_id: String,
    pub webhook_id: String,
    pub event_id: String,
    pub event_type: EventType,
    pub status: DeliveryStatus,
    /// The latest 50 attempts, oldest first.
    pub attempts: Vec<Attempt>,
    /// Every attempt made, including those no longer listed.
    pub attempt_count: usize,
    #[schema(nullable, format = DateTime)]
    pub next_attempt_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// An endpoint's signing secret as stored: encrypted under a data key bound to the endpoint's id
/// (`service::secrets`), so the table, its stream, backups and exports hold no secret. Endpoints
/// stored before encryption hold the text; they still sign, and say so in the log.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StoredSecret {
    Sealed(Sealed),
    Plain(#[serde(with = "plain_secret")] WebhookSecret),
}

mod plain_secret {
    use super::WebhookSecret;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(secret: &WebhookSecret, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(secret.reveal())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<WebhookSecret, D::Error> {
        let text = String::deserialize(d)?;
        WebhookSecret::parse(&text).ok_or_else(|| serde::de::Error::custom("stored webhook secret is malformed"))
    }
}

#[cfg(test)]
mod tests;
