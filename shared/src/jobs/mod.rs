//! Non-HTTP Lambda handlers: each takes the platform's event JSON and hands it to a service.

pub mod reconciliation;
pub mod watcher;
pub mod webhooks;
