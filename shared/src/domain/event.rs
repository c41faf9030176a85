//! Event records: one per state change, committed atomically with it. They are what webhooks
//! deliver and what `GET /v1/events` lists, so none may be lost or doubled.

use super::chain::Environment;
use super::ids::{EventId, OrgId, PayoutId};
use super::org::Feature;
use super::time::{self, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub enum EventType {
    #[serde(rename = "payout.created")]
    PayoutCreated,
    #[serde(rename = "payout.updated")]
    PayoutUpdated,
    #[serde(rename = "payout.approved")]
    PayoutApproved,
    #[serde(rename = "payout.pending_execution")]
    PayoutPendingExecution,
    #[serde(rename = "payout.canceled")]
    PayoutCanceled,
    #[serde(rename = "payout.executed")]
    PayoutExecuted,
    #[serde(rename = "payout.verifying")]
    PayoutVerifying,
    #[serde(rename = "payout.settled")]
    PayoutSettled,
    #[serde(rename = "payout.failed")]
    PayoutFailed,
    /// Reconciliation found a settlement whose amount differs from its intent's.
    #[serde(rename = "reconciliation.discrepancy")]
    ReconciliationDiscrepancy,
    /// A verified source wallet sent a transfer that backs no payout intent.
    #[serde(rename = "settlement.unexpected")]
    SettlementUnexpected,
}

impl EventType {
    /// The plan feature of the resource the event carries: reading the event needs what reading
    /// that resource needs (a reconciliation item; otherwise a payout intent or a settlement).
    pub fn feature(self) -> Feature {
        match self {
            EventType::ReconciliationDiscrepancy => Feature::Reconciliation,
            EventType::PayoutCreated
            | EventType::PayoutUpdated
            | EventType::PayoutApproved
            | EventType::PayoutPendingExecution
            | EventType::PayoutCanceled
            | EventType::PayoutExecuted
            | EventType::PayoutVerifying
            | EventType::PayoutSettled
            | EventType::PayoutFailed
            | EventType::SettlementUnexpected => Feature::Payouts,
        }
    }

    pub const ALL: [EventType; 11] = [
        EventType::PayoutCreated,
        EventType::PayoutUpdated,
        EventType::PayoutApproved,
        EventType::PayoutPendingExecution,
        EventType::PayoutCanceled,
        EventType::PayoutExecuted,
        EventType::PayoutVerifying,
        EventType::PayoutSettled,
        EventType::PayoutFailed,
        EventType::ReconciliationDiscrepancy,
        EventType::SettlementUnexpected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::PayoutCreated => "payout.created",
            EventType::PayoutUpdated => "payout.updated",
            EventType::PayoutApproved => "payout.approved",
            EventType::PayoutPendingExecution => "payout.pending_execution",
            EventType::PayoutCanceled => "payout.canceled",
            EventType::PayoutExecuted => "payout.executed",
            EventType::PayoutVerifying => "payout.verifying",
            EventType::PayoutSettled => "payout.settled",
            EventType::PayoutFailed => "payout.failed",
            EventType::ReconciliationDiscrepancy => "reconciliation.discrepancy",
            EventType::SettlementUnexpected => "settlement.unexpected",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One event record. `data` is the public object as it was right after the change.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub event_type: EventType,
    pub org_id: OrgId,
    pub environment: Environment,
    /// The resource the event is about (e.g. the payout id), for filtering and tracing.
    pub subject_id: String,
    /// The payout the event concerns, when there is one: the subject of a `payout.*` event, the
    /// intent of a reconciliation discrepancy (`GET /v1/events?payout_intent_id=`).
    #[serde(default)]
    pub payout_id: Option<PayoutId>,
    pub data: Box<serde_json::value::RawValue>,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    /// When the event was last put on the bus; unpublished events are picked up by sweeps.
    #[serde(default, with = "time::rfc3339::option")]
    pub published_at: Option<Timestamp>,
    /// When the webhook dispatcher had created every delivery of the event. Until then the event
    /// stays in the outbox and is published again [`REPUBLISH_AFTER`] after each publish, so a
    /// dispatcher that failed every retry of its invocation loses nothing.
    #[serde(default, with = "time::rfc3339::option")]
    pub fanned_out_at: Option<Timestamp>,
}

/// How long a published event may wait for the dispatcher to fan it out before the relay
/// publishes it again: past Lambda's own retries of a failed invocation (about 1 and 2 minutes
/// later), so a republish is for a fan-out that was given up, not one still under way.
pub const REPUBLISH_AFTER: chrono::Duration = chrono::Duration::minutes(5);

impl Event {
    /// When the relay should (next) publish it: at once until published, then
    /// [`REPUBLISH_AFTER`] the last publish; `None` once fanned out.
    pub fn publish_due_at(&self) -> Option<Timestamp> {
        if self.fanned_out_at.is_some() {
            return None;
        }
        Some(self.published_at.map_or(self.created_at, |published| published + REPUBLISH_AFTER))
    }
}

impl Event {
    pub fn new(
        event_type: EventType,
        org_id: OrgId,
        environment: Environment,
        subject_id: String,
        data: &impl Serialize,
        now: Timestamp,
    ) -> Result<Event, serde_json::Error> {
        let data = serde_json::value::to_raw_value(data)?;
        let payout_id = PayoutId::parse(&subject_id);
        Ok(Event {
            id: EventId::generate(),
            event_type,
            org_id,
            environment,
            subject_id,
            payout_id,
            data,
            created_at: now,
            published_at: None,
            fanned_out_at: None,
        })
    }

    /// The public shape, also the webhook delivery body: `{event_id, type, data, created_at}`.
    pub fn view(&self) -> EventView {
        EventView {
            event_id: self.id.to_string(),
            event_type: self.event_type,
            data: self.data.clone(),
            created_at: time::to_rfc3339(&time::whole_seconds(self.created_at)),
        }
    }
}

#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct EventView {
    #[schema(example = "evt_0123456789abcdef01234567")]
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    /// The payout intent as it was right after the change.
    #[schema(value_type = crate::domain::payout::PayoutView)]
    pub data: Box<serde_json::value::RawValue>,
    #[schema(format = DateTime)]
    pub created_at: String,
}
