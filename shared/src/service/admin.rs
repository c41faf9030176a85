//! Operator actions behind `payouts-admin` (and the local runner's first-start bootstrap):
//! organizations, plans, tolerance, API keys. Never on a merchant request path.

use super::App;
use super::records::{self, api_key_item, decode, org_item, org_key};
use crate::domain::chain::Environment;
use crate::domain::ids::{ApiKeyId, OrgId};
use crate::domain::org::{ApiKey, ApiKeySecret, Organization, Plan};
use crate::domain::rate_limit::RateLimits;
use crate::domain::wallet::SenderPolicy;
use crate::ports::store::{Condition, IndexName, IndexQuery, StoreError, WriteOp, read_all};
use rust_decimal::Decimal;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("no organization {0}")]
    UnknownOrg(String),
    #[error("no API key {0}")]
    UnknownKey(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn create_org(app: &App, name: &str, plan: Plan) -> Result<Organization, AdminError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(AdminError::Invalid("the organization name must be 1 to 200 characters".into()));
    }
    let now = app.now();
    let org = Organization::new(name.to_owned(), plan, now);
    app.store.write(vec![WriteOp::Put { item: org_item(&org, 1)?, condition: Some(Condition::Absent { now_unix: now.timestamp() }) }]).await?;
    Ok(org)
}

pub async fn load_org(app: &App, org_id: &OrgId) -> Result<(Organization, u64), AdminError> {
    let item = app.store.get(&[org_key(org_id)]).await?.pop().flatten().ok_or_else(|| AdminError::UnknownOrg(org_id.to_string()))?;
    Ok((decode(&item)?, item.version))
}

/// Every organization, oldest first. One whose record does not decode is left out (logged and
/// counted), never hiding the others.
pub async fn list_orgs(app: &App) -> Result<Vec<Organization>, AdminError> {
    let query = IndexQuery::partition(IndexName::Gsi1, records::ORGS_PARTITION, false, app.now().timestamp());
    let items = read_all(app.store.as_ref(), query).await?;
    Ok(items.iter().filter_map(|item| records::decode_or_skip::<Organization>(item, "organization")).collect())
}

/// The development organization `payouts-local` made on this store's first start, if it did.
pub async fn dev_org(app: &App) -> Result<Option<Organization>, AdminError> {
    #[derive(serde::Deserialize)]
    struct Marker {
        org_id: OrgId,
    }
    let Some(item) = app.store.get(&[records::bootstrap_marker_key()]).await?.pop().flatten() else { return Ok(None) };
    let marker: Marker = decode(&item)?;
    match load_org(app, &marker.org_id).await {
        Ok((org, _)) => Ok(Some(org)),
        Err(AdminError::UnknownOrg(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Every key of an organization, oldest first.
pub async fn list_keys(app: &App, org_id: &OrgId) -> Result<Vec<(ApiKey, u64)>, AdminError> {
    let query = IndexQuery::partition(IndexName::Gsi1, records::api_keys_of_org(org_id), false, app.now().timestamp());
    let items = read_all(app.store.as_ref(), query).await?;
    Ok(items.iter().map(|item| decode::<ApiKey>(item).map(|key| (key, item.version))).collect::<Result<_, _>>()?)
}

/// Creates a key and returns its secret: the only time it is ever available.
pub async fn create_key(app: &App, org_id: &OrgId, environment: Environment) -> Result<(ApiKey, ApiKeySecret), AdminError> {
    let (org, org_version) = load_org(app, org_id).await?;
    let now = app.now();
    let (key, secret) = ApiKey::issue(&org, environment, now);
    app.store
        .write(vec![
            WriteOp::Put { item: api_key_item(&key, 1)?, condition: Some(Condition::Absent { now_unix: now.timestamp() }) },
            // The org must not change plan meanwhile, or this key would carry the old one.
            WriteOp::Check { key: org_key(&org.id), condition: Condition::Version(org_version) },
        ])
        .await?;
    Ok((key, secret))
}

async fn find_key(app: &App, key_id: &ApiKeyId) -> Result<(ApiKey, u64), AdminError> {
    let query = IndexQuery { limit: 1, ..IndexQuery::partition(IndexName::Gsi2, records::api_key_by_id(key_id), false, app.now().timestamp()) };
    let item = app.store.query(&query).await?.pop().ok_or_else(|| AdminError::UnknownKey(key_id.to_string()))?;
    // Index reads are eventually consistent in DynamoDB: re-read the item itself.
    let item = app.store.get(&[item.key]).await?.pop().flatten().ok_or_else(|| AdminError::UnknownKey(key_id.to_string()))?;
    Ok((decode(&item)?, item.version))
}

/// Revokes a key; it is refused (401) from the next request on. Revoking twice is harmless.
pub async fn revoke_key(app: &App, key_id: &ApiKeyId) -> Result<ApiKey, AdminError> {
    let (mut key, version) = find_key(app, key_id).await?;
    if key.revoked_at.is_some() {
        return Ok(key);
    }
    key.revoked_at = Some(app.now());
    app.store.write(vec![WriteOp::Put { item: api_key_item(&key, version + 1)?, condition: Some(Condition::Version(version)) }]).await?;
    Ok(key)
}

/// Changes an organization's plan and, in the same atomic write, the copy on each of its keys.
pub async fn set_plan(app: &App, org_id: &OrgId, plan: Plan) -> Result<Organization, AdminError> {
    let (mut org, version) = load_org(app, org_id).await?;
    let keys = list_keys(app, org_id).await?;
    org.plan = plan;
    let mut ops = vec![WriteOp::Put { item: org_item(&org, version + 1)?, condition: Some(Condition::Version(version)) }];
    for (mut key, key_version) in keys {
        key.plan = plan;
        ops.push(WriteOp::Put { item: api_key_item(&key, key_version + 1)?, condition: Some(Condition::Version(key_version)) });
    }
    app.store.write(ops).await?;
    Ok(org)
}

/// The largest tolerance an organization may set, in token units.
pub const MAX_TOLERANCE: u64 = 1_000_000;

/// Sets how far a settled amount may differ from the intent's and still settle it.
pub async fn set_amount_tolerance(app: &App, org_id: &OrgId, tolerance: Decimal) -> Result<Organization, AdminError> {
    if tolerance < Decimal::ZERO || tolerance.scale() > crate::domain::chain::TOKEN_DECIMALS || tolerance > Decimal::from(MAX_TOLERANCE) {
        return Err(AdminError::Invalid(format!("the tolerance must be an amount from 0 to {MAX_TOLERANCE} with at most 6 decimals")));
    }
    let (mut org, version) = load_org(app, org_id).await?;
    org.amount_tolerance = tolerance;
    app.store.write(vec![WriteOp::Put { item: org_item(&org, version + 1)?, condition: Some(Condition::Version(version)) }]).await?;
    Ok(org)
}

/// Sets which transfers may settle an organization's payouts in one environment.
pub async fn set_sender_policy(app: &App, org_id: &OrgId, environment: Environment, policy: SenderPolicy) -> Result<Organization, AdminError> {
    let (mut org, version) = load_org(app, org_id).await?;
    org.sender_policies.insert(environment, policy);
    app.store.write(vec![WriteOp::Put { item: org_item(&org, version + 1)?, condition: Some(Condition::Version(version)) }]).await?;
    Ok(org)
}

/// Sets an organization's request rate limits in one environment. The limits are copied onto
/// that environment's keys in the same write (a request reads only its key), so they hold from
/// the next request on every instance.
pub async fn set_rate_limits(app: &App, org_id: &OrgId, environment: Environment, limits: RateLimits) -> Result<Organization, AdminError> {
    let (mut org, version) = load_org(app, org_id).await?;
    let keys = list_keys(app, org_id).await?;
    org.rate_limits.insert(environment, limits);
    let mut ops = vec![WriteOp::Put { item: org_item(&org, version + 1)?, condition: Some(Condition::Version(version)) }];
    for (mut key, key_version) in keys.into_iter().filter(|(key, _)| key.environment == environment) {
        key.rate_limits = Some(limits);
        ops.push(WriteOp::Put { item: api_key_item(&key, key_version + 1)?, condition: Some(Condition::Version(key_version)) });
    }
    app.store.write(ops).await?;
    Ok(org)
}

/// What a fresh local data directory starts with.
pub struct DevBootstrap {
    pub org: Organization,
    pub live: (ApiKey, ApiKeySecret),
    pub sandbox: (ApiKey, ApiKeySecret),
}

/// On a fresh store, creates a development organization (plan enterprise) with one live and one
/// sandbox key, all in one write; `None` when the store was bootstrapped before.
pub async fn bootstrap_dev_org(app: &App) -> Result<Option<DevBootstrap>, AdminError> {
    if app.store.get(&[records::bootstrap_marker_key()]).await?.pop().flatten().is_some() {
        return Ok(None);
    }
    let now = app.now();
    let org = Organization::new("Local development".into(), Plan::Enterprise, now);
    let live = ApiKey::issue(&org, Environment::Live, now);
    let sandbox = ApiKey::issue(&org, Environment::Sandbox, now);
    let absent = || Some(Condition::Absent { now_unix: now.timestamp() });
    let ops = vec![
        WriteOp::Put { item: records::bootstrap_marker_item(&org.id)?, condition: absent() },
        WriteOp::Put { item: org_item(&org, 1)?, condition: absent() },
        WriteOp::Put { item: api_key_item(&live.0, 1)?, condition: absent() },
        WriteOp::Put { item: api_key_item(&sandbox.0, 1)?, condition: absent() },
    ];
    match app.store.write(ops).await {
        Ok(()) => Ok(Some(DevBootstrap { org, live, sandbox })),
        // Another process bootstrapped the same directory at the same moment (the org and keys
        // have fresh ids: only the marker can already be there).
        Err(StoreError::ConditionFailed { .. }) => Ok(None),
        Err(error) => Err(error.into()),
    }
}
