//! Ports: the small traits the services talk through. Each has a real adapter and an embedded
//! one (see `adapters`), and the same contract tests run against both.

pub mod bus;
pub mod chain;
pub mod clock;
pub mod keys;
pub mod queue;
pub mod store;
pub mod webhook;

pub use bus::EventBus;
pub use clock::{Clock, SystemClock};
pub use keys::{DataKeys, StackSecrets};
pub use queue::{TxMessage, TxQueue};
pub use store::{Condition, IndexName, IndexQuery, Item, ItemKey, Store, StoreError, WriteOp};
