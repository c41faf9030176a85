//! Authentication (Bearer API keys, stored hashed) and plan gating.

use super::App;
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

/// Resolves the caller and, in the same read round trip, the items in `also_read`.
pub async fn authenticate(app: &App, secret: &ApiKeySecret, also_read: &[ItemKey]) -> Result<(Principal, Vec<Option<Item>>), ApiError> {
    let mut keys = Vec::with_capacity(1 + also_read.len());
    keys.push(api_key_key(&secret.hash()));
    keys.extend_from_slice(also_read);
    let mut items = app.store.get(&keys).await.map_err(ApiError::internal)?;
    let others = items.split_off(1);
    let key_item = items.pop().flatten().ok_or_else(ApiError::api_key_invalid)?;
    let key: ApiKey = decode(&key_item).map_err(ApiError::internal)?;
    if key.revoked_at.is_some() || Some(key.environment) != secret.environment() {
        return Err(ApiError::api_key_invalid());
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
