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
