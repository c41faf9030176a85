//! Per-tenant request rate limits: how many reads and how many writes one organization may make
//! per minute in one environment, counted in fixed one-minute windows.
//!
//! Fixed windows keep the count in one counter per (tenant, class, minute), which a conditional
//! increment can hold exactly; the price is that a burst straddling a boundary can see up to
//! twice the limit within sixty seconds (the README's "Rate limits" section says so).

use super::chain::Environment;
use serde::{Deserialize, Serialize};

/// Length of one counting window.
pub const WINDOW_SECONDS: i64 = 60;

/// The largest per-minute limit an operator may set: 1,000 a second, what one DynamoDB item
/// (the counter) can take in writes.
pub const MAX_PER_MINUTE: u32 = 60_000;

/// Which counter a request draws on: GETs are reads; everything that can change state is a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitClass {
    Reads,
    Writes,
}

impl LimitClass {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitClass::Reads => "reads",
            LimitClass::Writes => "writes",
        }
    }
}

/// One organization's limits in one environment, per minute.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RateLimits {
    pub reads_per_minute: u32,
    pub writes_per_minute: u32,
}

impl RateLimits {
    /// What an organization gets until an operator sets its own: in live 1,800 reads and 600
    /// writes a minute (30 and 10 a second, sustained); in sandbox half of that.
    pub fn default_for(environment: Environment) -> RateLimits {
        match environment {
            Environment::Live => RateLimits { reads_per_minute: 1_800, writes_per_minute: 600 },
            Environment::Sandbox => RateLimits { reads_per_minute: 900, writes_per_minute: 300 },
        }
    }

    /// Both limits within 1 ..= [`MAX_PER_MINUTE`], or a sentence saying which is not.
    pub fn new(reads_per_minute: u32, writes_per_minute: u32) -> Result<RateLimits, String> {
        for (name, value) in [("reads", reads_per_minute), ("writes", writes_per_minute)] {
            if !(1..=MAX_PER_MINUTE).contains(&value) {
                return Err(format!("the {name} limit must be 1 to {MAX_PER_MINUTE} a minute, not {value}"));
            }
        }
        Ok(RateLimits { reads_per_minute, writes_per_minute })
    }

    pub fn per_minute(self, class: LimitClass) -> u32 {
        match class {
            LimitClass::Reads => self.reads_per_minute,
            LimitClass::Writes => self.writes_per_minute,
        }
    }
}

/// The fixed window an instant falls in, as unix seconds `[start, start + WINDOW_SECONDS)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: i64,
}

impl Window {
    pub fn containing(now_unix: i64) -> Window {
        Window { start: now_unix - now_unix.rem_euclid(WINDOW_SECONDS) }
    }

    /// When the next window starts (`X-RateLimit-Reset`).
    pub fn resets_at(self) -> i64 {
        self.start + WINDOW_SECONDS
    }
}

/// What a response tells the caller about its limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateStatus {
    pub limit: u32,
    /// Requests counted in this window, this one included when it was admitted.
    pub used: u64,
    pub resets_at: i64,
    /// This request was refused for the limit.
    pub exceeded: bool,
}

impl RateStatus {
    pub fn remaining(&self) -> u64 {
        if self.exceeded { 0 } else { u64::from(self.limit).saturating_sub(self.used) }
    }

    /// Whole seconds until the window resets, at least 1 (`Retry-After`).
    pub fn retry_after(&self, now_unix: i64) -> u64 {
        u64::try_from(self.resets_at - now_unix).unwrap_or(0).max(1)
    }
}

#[cfg(test)]
mod tests;
