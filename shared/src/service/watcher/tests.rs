//! Unit tests of the watcher's pure parts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use std::str::FromStr;

#[test]
fn a_tolerance_scales_exactly_or_not_at_all() {
    let scaled = |text: &str| scaled_tolerance(Decimal::from_str(text).unwrap());
    assert_eq!(scaled("0"), Some(0));
    assert_eq!(scaled("0.5"), Some(500_000));
    assert_eq!(scaled("1000000"), Some(1_000_000_000_000));
    assert_eq!(scaled("0.000001"), Some(1));
    assert_eq!(scaled("0.0000001"), None, "finer than one atomic unit is not read as zero");
    assert_eq!(scaled("-1"), None);
    assert_eq!(scaled_tolerance(Decimal::MAX), None, "too large is not read as anything");
}
