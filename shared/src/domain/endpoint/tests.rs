#![allow(clippy::unwrap_used)]

use super::*;
use chrono::{Duration, Utc};

#[test]
fn a_backfill_reaches_back_at_most_seven_days_and_never_into_the_future() {
    let now = Utc::now();
    let backfill = Backfill::starting(now - Duration::days(BACKFILL_MAX_DAYS), now).unwrap();
    assert_eq!((backfill.until, backfill.replayed, backfill.pending()), (now, 0, true));
    assert!(Backfill::starting(now, now).is_ok(), "from this moment: nothing to replay, but valid");
    let too_old = Backfill::starting(now - Duration::days(BACKFILL_MAX_DAYS) - Duration::seconds(1), now).unwrap_err();
    assert!(too_old.contains("at most 7 days"), "{too_old}");
    let future = Backfill::starting(now + Duration::seconds(1), now).unwrap_err();
    assert!(future.contains("future"), "{future}");
}

#[test]
fn a_backfill_stops_at_ten_thousand_events() {
    let now = Utc::now();
    let mut backfill = Backfill::starting(now - Duration::days(1), now).unwrap();
    backfill.replayed = BACKFILL_MAX_EVENTS - 1;
    assert!(backfill.has_room());
    backfill.replayed += 1;
    assert!(!backfill.has_room());
    assert_eq!(backfill.view().events_replayed, 10_000);
}

#[test]
fn a_delivery_keeps_its_latest_attempts_and_counts_the_rest() {
    let now = Utc::now();
    let mut delivery = Delivery {
        id: DeliveryId::generate(),
        webhook_id: WebhookId::generate(),
        event_id: EventId::generate(),
        event_type: EventType::PayoutCreated,
        org_id: OrgId::generate(),
        environment: Environment::Sandbox,
        status: DeliveryStatus::Pending,
        attempts: Vec::new(),
        earlier_attempts: 0,
        next_attempt_at: None,
        created_at: now,
        updated_at: now,
    };
    for i in 0..(MAX_KEPT_ATTEMPTS as u64 + 7) {
        delivery.record(Attempt { at: now, status_code: Some(500), latency_ms: i, error: None });
    }
    assert_eq!(delivery.attempts.len(), MAX_KEPT_ATTEMPTS);
    assert_eq!(delivery.attempts_made(), MAX_KEPT_ATTEMPTS + 7);
    assert_eq!(delivery.attempts[0].latency_ms, 7, "the oldest went first");
    assert_eq!(delivery.view().attempt_count, MAX_KEPT_ATTEMPTS + 7);
}
