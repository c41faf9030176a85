//! Metering requests against their organization's rate limits (`domain::rate_limit`).
//!
//! Each tenant request gets a [`Meter`]. Authentication tells it the tenant; then:
//! - a request charged **up front** (reads, and the webhook test, which sends before it writes)
//!   counts itself with one conditional increment before the handler runs;
//! - a mutation counts itself **in its commit**: the [`MeteredStore`] it runs on adds the
//!   counter's increment to its first write, so a mutation costs no extra DynamoDB round trip,
//!   and a refused increment refuses the whole write. A mutation that commits nothing (a 400, a
//!   404, an idempotent replay) is charged once it is answered.
//!
//! The count is one DynamoDB item per (tenant, class, minute) under a conditional `ADD`, so the
//! limit holds exactly across any number of Lambda instances. `X-RateLimit-Remaining` comes
//! from the counter as read at authentication, so under concurrency it is an estimate.

use super::records::rate_counter_key;
use crate::domain::chain::Environment;
use crate::domain::ids::OrgId;
use crate::domain::org::ApiKey;
use crate::domain::rate_limit::{LimitClass, RateStatus, WINDOW_SECONDS, Window};
use crate::ports::store::{IndexQuery, Item, ItemKey, Store, StoreError, WriteOp};
use async_trait::async_trait;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How many API keys an instance remembers the tenant of; past it the memory starts over.
const KNOWN_KEYS: usize = 10_000;

/// How many times a write carrying the counter is tried when a concurrent transaction held the
/// counter item (DynamoDB's `TransactionConflict`): one tenant's own requests collide on it.
const CONTENTION_ATTEMPTS: u32 = 4;

/// The process-wide part: which tenant each API key seen by this instance belongs to, so the
/// counter can be read in the same round trip as the key.
#[derive(Default)]
pub struct RateLimiter {
    tenants: Mutex<HashMap<String, (OrgId, Environment)>>,
}

impl RateLimiter {
    pub fn new() -> RateLimiter {
        RateLimiter::default()
    }

    /// The tenant a key (by its secret's hash) was last seen with, if any.
    pub fn tenant_of(&self, secret_hash: &str) -> Option<(OrgId, Environment)> {
        self.tenants.lock().unwrap_or_else(PoisonError::into_inner).get(secret_hash).cloned()
    }

    fn remember(&self, secret_hash: &str, org: &OrgId, environment: Environment) {
        let mut tenants = self.tenants.lock().unwrap_or_else(PoisonError::into_inner);
        if tenants.len() >= KNOWN_KEYS && !tenants.contains_key(secret_hash) {
            tenants.clear();
        }
        tenants.insert(secret_hash.to_owned(), (org.clone(), environment));
    }
}

/// When a request's count is taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charge {
    /// Before the handler runs, by one conditional increment.
    Upfront,
    /// In the request's first committed write; after the answer if it committed nothing.
    InCommit,
}

#[derive(Debug)]
struct Tenant {
    counter: ItemKey,
    limit: u32,
    window: Window,
    /// The count as read at authentication.
    observed: u64,
    charged: bool,
    limited: bool,
}

/// One request's meter.
#[derive(Debug)]
pub struct Meter {
    class: LimitClass,
    charge: Charge,
    tenant: Mutex<Option<Tenant>>,
}

impl Meter {
    pub fn new(class: LimitClass, charge: Charge) -> Meter {
        Meter { class, charge, tenant: Mutex::new(None) }
    }

    pub fn charges_in_commit(&self) -> bool {
        self.charge == Charge::InCommit
    }

    fn tenant(&self) -> std::sync::MutexGuard<'_, Option<Tenant>> {
        self.tenant.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The counter this request is counted on, for a tenant, in the window of `now_unix`.
    pub fn counter_key(&self, org: &OrgId, environment: Environment, now_unix: i64) -> ItemKey {
        rate_counter_key(org, environment, self.class, Window::containing(now_unix).start)
    }

    /// Admits the request for the authenticated tenant, or answers that it is over its limit
    /// (`Err(())`; the response becomes a 429). `observed` is the counter as just read.
    pub async fn admit(&self, limiter: &RateLimiter, store: &dyn Store, key: &ApiKey, observed: Option<&Item>, now_unix: i64) -> Result<(), Admission> {
        if let Some(tenant) = self.tenant().as_ref() {
            // Admitted (or refused) already: a handler that authenticates twice counts once.
            return if tenant.limited { Err(Admission::Limited) } else { Ok(()) };
        }
        limiter.remember(&key.secret_hash, &key.org_id, key.environment);
        let window = Window::containing(now_unix);
        let counter = self.counter_key(&key.org_id, key.environment, now_unix);
        let limit = key.rate_limits().per_minute(self.class);
        let observed = observed.map_or(0, |item| item.version);
        let over = observed >= u64::from(limit);
        *self.tenant() = Some(Tenant { counter: counter.clone(), limit, window, observed, charged: false, limited: over });
        if over {
            return Err(Admission::Limited);
        }
        if self.charge == Charge::Upfront {
            return self.charge_now(store).await;
        }
        Ok(())
    }

    /// Counts the request on its own (one conditional increment), unless it already was.
    async fn charge_now(&self, store: &dyn Store) -> Result<(), Admission> {
        let Some(op) = self.pending_count() else { return Ok(()) };
        match write_retrying(store, vec![op]).await {
            Ok(()) => {
                self.mark(|tenant| tenant.charged = true);
                Ok(())
            }
            Err(StoreError::ConditionFailed { .. }) => {
                self.mark(|tenant| tenant.limited = true);
                Err(Admission::Limited)
            }
            Err(error) => Err(Admission::Unavailable(error)),
        }
    }

    /// A mutation that committed nothing is charged after it was answered. A failure is only
    /// logged: the answer stands, and a count missed errs in the tenant's favour.
    pub async fn finish(&self, store: &dyn Store) {
        if self.charge != Charge::InCommit {
            return;
        }
        match self.charge_now(store).await {
            Ok(()) | Err(Admission::Limited) => {}
            Err(Admission::Unavailable(error)) => tracing::warn!(error = %error, "a request could not be counted against its rate limit"),
        }
    }

    /// The increment still owed, if the tenant is known and neither counted nor refused.
    fn pending_count(&self) -> Option<WriteOp> {
        let tenant = self.tenant();
        let tenant = tenant.as_ref().filter(|tenant| !tenant.charged && !tenant.limited)?;
        Some(WriteOp::Count { key: tenant.counter.clone(), limit: u64::from(tenant.limit), expires_at: tenant.window.resets_at() + WINDOW_SECONDS })
    }

    fn mark(&self, change: impl FnOnce(&mut Tenant)) {
        if let Some(tenant) = self.tenant().as_mut() {
            change(tenant);
        }
    }

    /// Whether the request was refused for its limit.
    pub fn limited(&self) -> bool {
        self.tenant().as_ref().is_some_and(|tenant| tenant.limited)
    }

    /// What the response's rate-limit headers say; `None` before a tenant is known.
    pub fn status(&self) -> Option<RateStatus> {
        let tenant = self.tenant();
        let tenant = tenant.as_ref()?;
        Some(RateStatus {
            limit: tenant.limit,
            used: tenant.observed + u64::from(tenant.charged),
            resets_at: tenant.window.resets_at(),
            exceeded: tenant.limited,
        })
    }
}

/// Why a request was not admitted.
#[derive(Debug)]
pub enum Admission {
    Limited,
    Unavailable(StoreError),
}

/// Retries a write that lost only to a concurrent transaction on one of its items, as the
/// counter's item is for a busy tenant.
async fn write_retrying(store: &dyn Store, ops: Vec<WriteOp>) -> Result<(), StoreError> {
    let mut attempt = 1;
    loop {
        match store.write(ops.clone()).await {
            Err(StoreError::Contention) if attempt < CONTENTION_ATTEMPTS => {
                tokio::time::sleep(contention_backoff(attempt)).await;
                attempt += 1;
            }
            result => return result,
        }
    }
}

/// 5, 10, 20 ms, each with up to as much again of jitter, so colliding requests spread out.
fn contention_backoff(attempt: u32) -> Duration {
    use rand::Rng;
    let base = 5u64 << (attempt - 1).min(4);
    Duration::from_millis(base + rand::rng().random_range(0..=base))
}

/// The store a metered mutation runs on: its first write carries the request's count.
pub struct MeteredStore {
    inner: Arc<dyn Store>,
    meter: Arc<Meter>,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn Store>, meter: Arc<Meter>) -> MeteredStore {
        MeteredStore { inner, meter }
    }
}

#[async_trait]
impl Store for MeteredStore {
    async fn get(&self, keys: &[ItemKey]) -> Result<Vec<Option<Item>>, StoreError> {
        self.inner.get(keys).await
    }

    async fn query(&self, query: &IndexQuery) -> Result<Vec<Item>, StoreError> {
        self.inner.query(query).await
    }

    async fn write(&self, mut ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let Some(count) = self.meter.pending_count() else { return self.inner.write(ops).await };
        // Last, so the positions the service checks in a failed write are its own.
        let counter_position = ops.len();
        ops.push(count);
        match write_retrying(self.inner.as_ref(), ops).await {
            Ok(()) => {
                self.meter.mark(|tenant| tenant.charged = true);
                Ok(())
            }
            Err(StoreError::ConditionFailed { failed }) if failed.contains(&counter_position) => {
                self.meter.mark(|tenant| tenant.limited = true);
                Err(StoreError::LimitReached)
            }
            Err(error) => Err(error),
        }
    }
}

#[cfg(test)]
mod tests;
