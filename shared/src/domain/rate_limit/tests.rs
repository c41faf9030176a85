//! Unit tests of rate-limit windows, bounds and the headers' arithmetic.

use super::*;

#[test]
fn windows_are_aligned_minutes() {
    assert_eq!(Window::containing(120), Window { start: 120 });
    assert_eq!(Window::containing(179), Window { start: 120 });
    assert_eq!(Window::containing(180).resets_at(), 240);
    assert_eq!(Window::containing(-1), Window { start: -60 });
}

#[test]
fn limits_are_bounded_and_say_which_is_wrong() {
    assert!(RateLimits::new(1, MAX_PER_MINUTE).is_ok());
    assert_eq!(RateLimits::new(0, 5).err().as_deref(), Some("the reads limit must be 1 to 60000 a minute, not 0"));
    assert!(RateLimits::new(5, MAX_PER_MINUTE + 1).err().is_some_and(|e| e.starts_with("the writes limit")));
    assert!(RateLimits::default_for(Environment::Sandbox).writes_per_minute < RateLimits::default_for(Environment::Live).writes_per_minute);
}

#[test]
fn status_counts_down_to_zero_and_never_below() {
    let status = RateStatus { limit: 3, used: 2, resets_at: 60, exceeded: false };
    assert_eq!(status.remaining(), 1);
    assert_eq!(RateStatus { used: 9, ..status }.remaining(), 0);
    assert_eq!(RateStatus { exceeded: true, used: 1, ..status }.remaining(), 0);
    assert_eq!(status.retry_after(30), 30);
    assert_eq!(status.retry_after(60), 1, "never zero: a client would retry at once");
}
