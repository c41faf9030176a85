//! Authentication (Bearer API keys, stored hashed) and plan gating.

use super::App;
use super::rate_limit::Admission;
use super::records::{api_key_key, decode};
use crate::domain::chain::Environment;
use crate::domain::ids::{ApiKeyId, OrgId};
use crate::domain::org::{ApiKey, ApiKeySecret, Feature, Plan};
use crate::error::ApiError;
use crate::ports::store::{Item, ItemKey};

/// Who is calling: resolved from the API key, never from anything else in the request.
#[derive(Clone, Debug, PartialEq)]
pub struct Principal {
    pub key_id: ApiKeyId,
    pub org_id: OrgId,
    pub environment: Environment,
    pub plan: Plan,
}

impl Principal {
    pub fn require(&self, feature: Feature) -> Result<(), ApiError> {
        if self.plan.allows(feature, self.environment) {
            return Ok(());
        }
        let name = match feature {
            Feature::Payouts => "Payouts",
            Feature::Webhooks => "Webhooks",
            Feature::Reconciliation => "Reconciliation reports",
        };
        Err(ApiError::plan_upgrade_required(name, Plan::minimum_for(feature).as_str()))
    }

    /// Whether a record of (org, environment) is visible to this caller. Foreign ones are 404s.
    pub fn owns(&self, org_id: &OrgId, environment: Environment) -> bool {
        &self.org_id == org_id && self.environment == environment
    }
}

/// Reads the key out of `Authorization: Bearer …`.
pub fn presented_key(authorization: Option<&str>) -> Result<ApiKeySecret, ApiError> {
    let header = authorization.map(str::trim).filter(|h| !h.is_empty()).ok_or_else(ApiError::api_key_missing)?;
    let (scheme, token) = header.split_once(' ').ok_or_else(ApiError::api_key_invalid)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::api_key_invalid());
    }
    let secret = ApiKeySecret::from_presented(token.trim());
    if secret.environment().is_none() {
        return Err(ApiError::api_key_invalid());
    }
    Ok(secret)
}

/// Resolves the caller and, in the same read round trip, the items in `also_read`; then admits
/// the request under its organization's rate limit when it is metered (429 when it is over).
pub async fn authenticate(app: &App, secret: &ApiKeySecret, also_read: &[ItemKey]) -> Result<(Principal, Vec<Option<Item>>), ApiError> {
    let secret_hash = secret.hash();
    let now_unix = app.now().timestamp();
    // The tenant of a key this instance has seen before is known, so its counter is read along.
    let known_counter =
        app.meter.as_ref().and_then(|meter| app.rate_limiter.tenant_of(&secret_hash).map(|(org, environment)| meter.counter_key(&org, environment, now_unix)));
    let mut keys = Vec::with_capacity(2 + also_read.len());
    keys.push(api_key_key(&secret_hash));
    keys.extend_from_slice(also_read);
    keys.extend(known_counter.clone());
    let mut items = app.store.get(&keys).await.map_err(ApiError::internal)?;
    let counter = if known_counter.is_some() { items.pop().flatten() } else { None };
    let others = items.split_off(1);
    let key_item = items.pop().flatten().ok_or_else(ApiError::api_key_invalid)?;
    let key: ApiKey = decode(&key_item).map_err(ApiError::internal)?;
    if key.revoked_at.is_some() || Some(key.environment) != secret.environment() {
        return Err(ApiError::api_key_invalid());
    }
    if let Some(meter) = &app.meter {
        let counter_key = meter.counter_key(&key.org_id, key.environment, now_unix);
        let counter = match known_counter {
            Some(known) if known == counter_key => counter,
            // First request with this key on this instance: one read more.
            _ => app.store.get(&[counter_key]).await.map_err(ApiError::internal)?.pop().flatten(),
        };
        match meter.admit(&app.rate_limiter, app.store.as_ref(), &key, counter.as_ref(), now_unix).await {
            Ok(()) => {}
            Err(Admission::Limited) => return Err(ApiError::rate_limited(meter.status().map_or(1, |status| status.retry_after(now_unix)))),
            Err(Admission::Unavailable(error)) => return Err(ApiError::internal(error)),
        }
    }
    Ok((Principal { key_id: key.id, org_id: key.org_id, environment: key.environment, plan: key.plan }, others))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_is_parsed_strictly() {
        assert_eq!(presented_key(None).err().map(|e| e.code), Some("api_key_missing"));
        assert_eq!(presented_key(Some("")).err().map(|e| e.code), Some("api_key_missing"));
        assert_eq!(presented_key(Some("Basic abc")).err().map(|e| e.code), Some("api_key_invalid"));
        assert_eq!(presented_key(Some("Bearer pk_live_abc")).err().map(|e| e.code), Some("api_key_invalid"));
        assert_eq!(presented_key(Some("sk_live_abc")).err().map(|e| e.code), Some("api_key_invalid"));
        assert!(presented_key(Some("Bearer sk_live_abc")).is_ok());
        assert!(presented_key(Some("bearer sk_test_abc")).is_ok());
    }
}
