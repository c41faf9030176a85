//! Operator actions behind `payouts-admin` (and the local runner's first-start bootstrap):
//! organizations, plans, tolerance, API keys. Never on a merchant request path.

use super::App;
use super::records::{self, api_key_item, decode, org_item, org_key};
use crate::domain::chain::Environment;
use crate::domain::ids::{ApiKeyId, OrgId};
use crate::domain::org::{ApiKey, ApiKeySecret, Organization, Plan};
use crate::domain::rate_limit::RateLimits;
use crate::domain::wallet::SenderPolicy;
use crate::ports::store::{Condition, IndexName, IndexQuery, ItemKey, StoreError, WriteOp, read_all};
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

/// How many times an operator's change is read, applied and committed when its commit loses a
/// race: more than a request's (operators' changes to one organization are rare but may come
/// together, from scripts), each after a short random pause so racing writers spread out.
const ADMIN_COMMIT_ATTEMPTS: usize = 20;

async fn back_off() {
    use rand::Rng;
    let pause = rand::rng().random_range(5..40);
    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
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
    for _ in 0..ADMIN_COMMIT_ATTEMPTS {
        let (org, org_version) = load_org(app, org_id).await?;
        let now = app.now();
        let (key, secret) = ApiKey::issue(&org, environment, now);
        let ops = vec![
            WriteOp::Put { item: api_key_item(&key, 1)?, condition: Some(Condition::Absent { now_unix: now.timestamp() }) },
            // The org must not change plan meanwhile, or this key would carry the old one: if it
            // did, the key is issued again from the organization as it is now.
            WriteOp::Check { key: org_key(&org.id), condition: Condition::Version(org_version) },
        ];
        match app.store.write(ops).await {
            Ok(()) => return Ok((key, secret)),
            Err(error) if error.lost_race() => back_off().await,
            Err(error) => return Err(error.into()),
        }
    }
    Err(StoreError::Contention.into())
}

async fn find_key(app: &App, key_id: &ApiKeyId) -> Result<(ApiKey, u64), AdminError> {
    let query = IndexQuery { limit: 1, ..IndexQuery::partition(IndexName::Gsi2, records::api_key_by_id(key_id), false, app.now().timestamp()) };
    let item = app.store.query(&query).await?.pop().ok_or_else(|| AdminError::UnknownKey(key_id.to_string()))?;
    // Index reads are eventually consistent in DynamoDB: re-read the item itself.
    let item = app.store.get(&[item.key]).await?.pop().flatten().ok_or_else(|| AdminError::UnknownKey(key_id.to_string()))?;
    Ok((decode(&item)?, item.version))
}

/// Revokes a key; it is refused (401) from the next request on. Revoking twice is harmless; a
/// change to the key meanwhile (a plan copied onto it) is read again, never lost or an error.
pub async fn revoke_key(app: &App, key_id: &ApiKeyId) -> Result<ApiKey, AdminError> {
    for _ in 0..ADMIN_COMMIT_ATTEMPTS {
        let (mut key, version) = find_key(app, key_id).await?;
        if key.revoked_at.is_some() {
            return Ok(key);
        }
        key.revoked_at = Some(app.now());
        match app.store.write(vec![WriteOp::Put { item: api_key_item(&key, version + 1)?, condition: Some(Condition::Version(version)) }]).await {
            Ok(()) => return Ok(key),
            Err(error) if error.lost_race() => back_off().await,
            Err(error) => return Err(error.into()),
        }
    }
    Err(StoreError::Contention.into())
}

/// Changes an organization record on its version; a concurrent change (another operator, a key
/// created meanwhile) makes it read again and apply `change` to what is there.
async fn update_org(app: &App, org_id: &OrgId, change: impl Fn(&mut Organization)) -> Result<Organization, AdminError> {
    for _ in 0..ADMIN_COMMIT_ATTEMPTS {
        let (mut org, version) = load_org(app, org_id).await?;
        change(&mut org);
        match app.store.write(vec![WriteOp::Put { item: org_item(&org, version + 1)?, condition: Some(Condition::Version(version)) }]).await {
            Ok(()) => return Ok(org),
            Err(error) if error.lost_race() => back_off().await,
            Err(error) => return Err(error.into()),
        }
    }
    Err(StoreError::Contention.into())
}

/// Changes an organization's plan, then the copy on each of its keys (a request reads only its
/// key): see [`copy_to_keys`].
pub async fn set_plan(app: &App, org_id: &OrgId, plan: Plan) -> Result<Organization, AdminError> {
    let org = update_org(app, org_id, |org| org.plan = plan).await?;
    copy_to_keys(app, &org, |_| true, |key| key.plan = plan).await?;
    Ok(org)
}

/// Keys written per transaction when a setting is copied onto them (DynamoDB takes 100 items).
const KEYS_PER_WRITE: usize = 50;

/// Copies a setting of the organization (already written) onto each of its keys that `applies`
/// to, any number of them: key by key on its version, 50 to a transaction, each key read again
/// first (the index that lists them is eventually consistent), a chunk that lost a race (a key
/// revoked meanwhile) read and written again. A key created after the organization was written
/// is issued with the new setting; one created just before is found by listing again until a
/// listing finds nothing left to change. Until it finishes (a few round trips per 50 keys) some
/// keys may still answer with the old setting.
async fn copy_to_keys(app: &App, org: &Organization, applies: impl Fn(&ApiKey) -> bool, update: impl Fn(&mut ApiKey)) -> Result<(), AdminError> {
    for _ in 0..COPY_PASSES {
        let listed: Vec<ItemKey> = list_keys(app, &org.id).await?.into_iter().map(|(key, _)| records::api_key_key(&key.secret_hash)).collect();
        let mut changed = 0;
        for chunk in listed.chunks(KEYS_PER_WRITE) {
            changed += copy_to_chunk(app, chunk, &applies, &update).await?;
        }
        if changed == 0 {
            return Ok(());
        }
    }
    Ok(())
}

/// Listings of an organization's keys [`copy_to_keys`] makes at most: the last finds the keys
/// that the index had not shown yet.
const COPY_PASSES: usize = 3;

/// One chunk of keys: read, updated where the update changes them, written on their versions.
/// Returns how many were changed.
async fn copy_to_chunk(app: &App, keys: &[ItemKey], applies: &impl Fn(&ApiKey) -> bool, update: &impl Fn(&mut ApiKey)) -> Result<usize, AdminError> {
    for _ in 0..ADMIN_COMMIT_ATTEMPTS {
        let mut ops = Vec::new();
        for item in app.store.get(keys).await?.into_iter().flatten() {
            let mut key: ApiKey = decode(&item)?;
            if !applies(&key) {
                continue;
            }
            let before = key.clone();
            update(&mut key);
            if key != before {
                ops.push(WriteOp::Put { item: api_key_item(&key, item.version + 1)?, condition: Some(Condition::Version(item.version)) });
            }
        }
        let changed = ops.len();
        match app.store.write(ops).await {
            Ok(()) => return Ok(changed),
            Err(error) if error.lost_race() => back_off().await,
            Err(error) => return Err(error.into()),
        }
    }
    Err(StoreError::Contention.into())
}

/// The largest tolerance an organization may set, in token units.
pub const MAX_TOLERANCE: u64 = 1_000_000;

/// Sets how far a settled amount may differ from the intent's and still settle it.
pub async fn set_amount_tolerance(app: &App, org_id: &OrgId, tolerance: Decimal) -> Result<Organization, AdminError> {
    if tolerance < Decimal::ZERO || tolerance.scale() > crate::domain::chain::TOKEN_DECIMALS || tolerance > Decimal::from(MAX_TOLERANCE) {
        return Err(AdminError::Invalid(format!("the tolerance must be an amount from 0 to {MAX_TOLERANCE} with at most 6 decimals")));
    }
    update_org(app, org_id, |org| org.amount_tolerance = tolerance).await
}

/// Sets which transfers may settle an organization's payouts in one environment.
pub async fn set_sender_policy(app: &App, org_id: &OrgId, environment: Environment, policy: SenderPolicy) -> Result<Organization, AdminError> {
    update_org(app, org_id, |org| {
        org.sender_policies.insert(environment, policy);
    })
    .await
}

/// Sets an organization's request rate limits in one environment, then copies them onto that
/// environment's keys (a request reads only its key) as [`copy_to_keys`] does.
pub async fn set_rate_limits(app: &App, org_id: &OrgId, environment: Environment, limits: RateLimits) -> Result<Organization, AdminError> {
    let org = update_org(app, org_id, |org| {
        org.rate_limits.insert(environment, limits);
    })
    .await?;
    copy_to_keys(app, &org, |key| key.environment == environment, |key| key.rate_limits = Some(limits)).await?;
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
