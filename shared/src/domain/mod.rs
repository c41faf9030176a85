//! Pure domain: no I/O, no SDKs.

pub mod address;
pub mod chain;
pub mod endpoint;
pub mod event;
pub mod ids;
pub mod money;
pub mod onchain;
pub mod org;
pub mod payout;
pub mod rate_limit;
pub mod reconciliation;
pub mod sealed;
pub mod settlement;
pub mod time;
pub mod verification;
pub mod wallet;
pub mod webhook;
