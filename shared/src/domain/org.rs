//! Organizations (tenants), their plans, and API keys.

use super::chain::Environment;
use super::ids::{ApiKeyId, OrgId};
use super::rate_limit::RateLimits;
use super::time::{self, Timestamp};
use super::wallet::SenderPolicy;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Plan {
    Free,
    Starter,
    Growth,
    Scale,
    Enterprise,
}

/// What a plan unlocks in `live` (sandbox works on every plan).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    Payouts,
    Webhooks,
    Reconciliation,
}

impl Plan {
    pub const ALL: [Plan; 5] = [Plan::Free, Plan::Starter, Plan::Growth, Plan::Scale, Plan::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Free => "free",
            Plan::Starter => "starter",
            Plan::Growth => "growth",
            Plan::Scale => "scale",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn parse(text: &str) -> Option<Plan> {
        Plan::ALL.into_iter().find(|p| p.as_str() == text)
    }

    pub fn minimum_for(feature: Feature) -> Plan {
        match feature {
            Feature::Payouts => Plan::Scale,
            Feature::Webhooks => Plan::Starter,
            Feature::Reconciliation => Plan::Enterprise,
        }
    }

    pub fn allows(self, feature: Feature, environment: Environment) -> bool {
        match environment {
            Environment::Sandbox => true,
            Environment::Live => self >= Plan::minimum_for(feature),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Organization {
    pub id: OrgId,
    pub name: String,
    pub plan: Plan,
    /// How far (in token units, either way) a settled amount may differ from the intent's and
    /// still settle it. Zero: exact match only.
    #[serde(default, with = "rust_decimal::serde::str")]
    pub amount_tolerance: Decimal,
    /// Sender policies chosen per environment; an environment not listed has its default
    /// (`registered` in live, `any` in sandbox).
    #[serde(default)]
    pub sender_policies: BTreeMap<Environment, SenderPolicy>,
    /// Request rate limits set per environment; an environment not listed has the defaults.
    #[serde(default)]
    pub rate_limits: BTreeMap<Environment, RateLimits>,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
}

impl Organization {
    pub fn new(name: String, plan: Plan, now: Timestamp) -> Organization {
        Organization {
            id: OrgId::generate(),
            name,
            plan,
            amount_tolerance: Decimal::ZERO,
            sender_policies: BTreeMap::new(),
            rate_limits: BTreeMap::new(),
            created_at: now,
        }
    }

    /// Which transfers may settle this organization's payouts in `environment`.
    pub fn sender_policy(&self, environment: Environment) -> SenderPolicy {
        self.sender_policies.get(&environment).copied().unwrap_or(SenderPolicy::default_for(environment))
    }

    /// This organization's request rate limits in `environment`.
    pub fn rate_limits(&self, environment: Environment) -> RateLimits {
        self.rate_limits.get(&environment).copied().unwrap_or(RateLimits::default_for(environment))
    }
}

/// A secret API key as handed to the merchant once. `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKeySecret(String);

impl ApiKeySecret {
    /// `sk_live_…` / `sk_test_…` followed by 48 hex characters (24 random bytes).
    pub fn generate(environment: Environment) -> ApiKeySecret {
        use rand::RngCore;
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        ApiKeySecret(format!("{}{}", environment.key_prefix(), hex::encode(bytes)))
    }

    pub fn from_presented(text: &str) -> ApiKeySecret {
        ApiKeySecret(text.to_owned())
    }

    /// Which environment the key selects, from its prefix; `None` for anything else.
    pub fn environment(&self) -> Option<Environment> {
        Environment::ALL.into_iter().find(|env| self.0.starts_with(env.key_prefix()))
    }

    /// What is stored: the SHA-256 of the key. Keys have 192 random bits, so a fast hash is enough.
    pub fn hash(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// A recognisable, non-secret hint: prefix plus the last 4 characters.
    pub fn hint(&self) -> String {
        let prefix = self.environment().map(Environment::key_prefix).unwrap_or("sk_");
        let tail = self.0.get(self.0.len().saturating_sub(4)..).unwrap_or("");
        format!("{prefix}…{tail}")
    }

    /// For printing once, on creation.
    pub fn reveal(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKeySecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeySecret({})", self.hint())
    }
}

/// An API key as stored: only the hash of the secret. The organization's plan and rate limits
/// are copied here so authenticating a request costs one read; `payouts-admin set-plan` and
/// `set-rate-limits` rewrite the keys with the org.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ApiKey {
    pub id: ApiKeyId,
    pub org_id: OrgId,
    pub environment: Environment,
    pub plan: Plan,
    /// The limits an operator set for the org in this key's environment; absent means the
    /// defaults of the running code.
    #[serde(default)]
    pub rate_limits: Option<RateLimits>,
    pub secret_hash: String,
    pub hint: String,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[serde(default, with = "time::rfc3339::option")]
    pub revoked_at: Option<Timestamp>,
}

impl ApiKey {
    /// A new key of `org` in `environment`, and its secret (shown once, never stored).
    pub fn issue(org: &Organization, environment: Environment, now: Timestamp) -> (ApiKey, ApiKeySecret) {
        let secret = ApiKeySecret::generate(environment);
        let key = ApiKey {
            id: ApiKeyId::generate(),
            org_id: org.id.clone(),
            environment,
            plan: org.plan,
            rate_limits: org.rate_limits.get(&environment).copied(),
            secret_hash: secret.hash(),
            hint: secret.hint(),
            created_at: now,
            revoked_at: None,
        };
        (key, secret)
    }

    /// The limits requests made with this key are counted against.
    pub fn rate_limits(&self) -> RateLimits {
        self.rate_limits.unwrap_or(RateLimits::default_for(self.environment))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_gating_matches_the_contract() {
        for plan in Plan::ALL {
            assert!(plan.allows(Feature::Payouts, Environment::Sandbox));
            assert!(plan.allows(Feature::Reconciliation, Environment::Sandbox));
        }
        assert!(!Plan::Growth.allows(Feature::Payouts, Environment::Live));
        assert!(Plan::Scale.allows(Feature::Payouts, Environment::Live));
        assert!(Plan::Enterprise.allows(Feature::Payouts, Environment::Live));
        assert!(!Plan::Scale.allows(Feature::Reconciliation, Environment::Live));
        assert!(!Plan::Free.allows(Feature::Webhooks, Environment::Live));
        assert!(Plan::Starter.allows(Feature::Webhooks, Environment::Live));
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let key = ApiKeySecret::generate(Environment::Live);
        assert!(key.reveal().starts_with("sk_live_"));
        assert_eq!(key.reveal().len(), 8 + 48);
        assert!(!format!("{key:?}").contains(&key.reveal()[8..20]));
        assert_eq!(key.environment(), Some(Environment::Live));
        assert_eq!(ApiKeySecret::from_presented("sk_test_x").environment(), Some(Environment::Sandbox));
        assert_eq!(ApiKeySecret::from_presented("pk_live_x").environment(), None);
        assert_ne!(key.hash(), ApiKeySecret::generate(Environment::Live).hash());
    }
}
