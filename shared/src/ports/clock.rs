use crate::domain::time::Timestamp;
use chrono::{SubsecRound, Utc};

/// Time, as a port, so expiry windows (idempotency, tx-not-found) can be tested without waiting.
pub trait Clock: Send + Sync {
    fn now(&self) -> Timestamp;
}

#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    /// Microsecond precision: what every store keeps exactly.
    fn now(&self) -> Timestamp {
        Utc::now().trunc_subsecs(6)
    }
}
