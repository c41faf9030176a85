//! Application services: one pipeline per operation — validate → load → decide (pure domain) →
//! persist conditionally → publish. HTTP handlers and Lambda binaries call into here.

pub mod account;
pub mod admin;
pub mod auth;
pub mod csv;
pub mod dispatcher;
pub mod health;
pub mod idempotency;
pub mod input;
pub mod pagination;
pub mod payouts;
pub mod rate_limit;
pub mod reconciliation;
pub mod records;
pub mod reply;
pub mod scanner;
pub mod secrets;
pub mod settlements;
pub mod wallets;
pub mod watcher;
pub mod webhooks;

/// How many times a service reads, decides and commits a change whose commit loses a race (a
/// version, or a concurrent duplicate, changed under it) before giving up with a 409.
/// Not to be confused with a webhook's delivery attempts (`domain::webhook::MAX_ATTEMPTS`).
pub(crate) const COMMIT_ATTEMPTS: usize = 3;

use crate::config::ChainRegistry;
use crate::ports::chain::ContractWallets;
use crate::ports::{Clock, DataKeys, StackSecrets, Store, TxQueue};
use std::sync::Arc;

/// Everything a request needs, built once per process (per Lambda instance) and shared.
#[derive(Clone)]
pub struct App {
    pub store: Arc<dyn Store>,
    pub tx_queue: Arc<dyn TxQueue>,
    pub clock: Arc<dyn Clock>,
    pub chains: Arc<ChainRegistry>,
    /// EIP-1271 checks of contract wallets (wallet verification only).
    pub contract_wallets: Arc<dyn ContractWallets>,
    /// Seals and opens webhook signing secrets (creating endpoints, signing deliveries).
    pub vault: Arc<secrets::SecretVault>,
    /// Seals and opens list cursors (list routes only).
    pub cursors: Arc<pagination::Cursors>,
    /// Which tenant each API key seen by this instance belongs to (rate-limit counters).
    pub rate_limiter: Arc<rate_limit::RateLimiter>,
    /// The meter of the request being served, on a request's own copy of the app
    /// ([`App::metered`]); `None` for work that is not counted (jobs, the CLI, unmetered routes).
    pub meter: Option<Arc<rate_limit::Meter>>,
    /// Per-tenant ceilings on resources (webhook endpoints).
    pub limits: ServiceLimits,
}

/// Ceilings on what one organization may hold in one environment, so no tenant can turn the
/// service into a tool (an endpoint list long enough to scan a network with) or a cost.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServiceLimits {
    /// Webhook endpoints per organization and environment (`PAYOUTS_MAX_WEBHOOK_ENDPOINTS`).
    pub webhook_endpoints: u32,
}

impl ServiceLimits {
    pub const DEFAULT_WEBHOOK_ENDPOINTS: u32 = 20;
}

impl Default for ServiceLimits {
    fn default() -> ServiceLimits {
        ServiceLimits { webhook_endpoints: ServiceLimits::DEFAULT_WEBHOOK_ENDPOINTS }
    }
}

impl App {
    /// An app on the system clock.
    pub fn new(
        store: Arc<dyn Store>,
        tx_queue: Arc<dyn TxQueue>,
        chains: Arc<ChainRegistry>,
        contract_wallets: Arc<dyn ContractWallets>,
        keys: Arc<dyn DataKeys>,
        stack_secrets: Arc<dyn StackSecrets>,
    ) -> App {
        App {
            store,
            tx_queue,
            clock: Arc::new(crate::ports::SystemClock),
            chains,
            contract_wallets,
            vault: Arc::new(secrets::SecretVault::new(keys)),
            cursors: Arc::new(pagination::Cursors::new(stack_secrets)),
            rate_limiter: Arc::new(rate_limit::RateLimiter::new()),
            meter: None,
            limits: ServiceLimits::default(),
        }
    }

    /// This app for one request counted by `meter`: a mutation's store carries the count in its
    /// first write.
    pub fn metered(&self, meter: Arc<rate_limit::Meter>) -> App {
        let mut app = self.clone();
        if meter.charges_in_commit() {
            app.store = Arc::new(rate_limit::MeteredStore::new(self.store.clone(), meter.clone()));
        }
        app.meter = Some(meter);
        app
    }

    pub fn now(&self) -> crate::domain::time::Timestamp {
        self.clock.now()
    }
}
