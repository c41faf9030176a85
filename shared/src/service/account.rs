//! `GET /v1/account`: who the key belongs to (organization, plan, environment), so a client —
//! the dashboard first — can always say which organization and environment it is acting in.

use super::App;
use super::auth::authenticate;
use super::records::{decode, org_key};
use super::reply::Reply;
use crate::domain::chain::Environment;
use crate::domain::org::{ApiKeySecret, Feature, Organization, Plan};
use crate::error::ApiError;
use serde::Serialize;

/// The calling key's organization and environment.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AccountView {
    pub org_id: String,
    pub org_name: String,
    pub plan: Plan,
    pub environment: Environment,
    /// The id of the API key making the call.
    pub key_id: String,
    /// Which features this key's plan allows in its environment (`payouts`, `webhooks`,
    /// `reconciliation`).
    pub features: Vec<&'static str>,
    /// Per chain of this environment: its block explorer's transaction page (append the tx
    /// hash), or `null` when none is configured (a local devnet).
    pub explorers: std::collections::BTreeMap<crate::domain::chain::Chain, Option<String>>,
    /// Per chain: the confirmations the chain-watcher waits for.
    pub confirmations: std::collections::BTreeMap<crate::domain::chain::Chain, u64>,
}

pub async fn get(app: &App, secret: &ApiKeySecret) -> Result<Reply, ApiError> {
    let (principal, _) = authenticate(app, secret, &[]).await?;
    let stored = app.store.get(&[org_key(&principal.org_id)]).await.map_err(ApiError::internal)?.pop().flatten();
    let org: Organization = stored.map(|item| decode(&item)).transpose().map_err(ApiError::internal)?.ok_or_else(ApiError::api_key_invalid)?;
    let features = [(Feature::Payouts, "payouts"), (Feature::Webhooks, "webhooks"), (Feature::Reconciliation, "reconciliation")]
        .into_iter()
        .filter(|(feature, _)| principal.plan.allows(*feature, principal.environment))
        .map(|(_, name)| name)
        .collect();
    Reply::json(
        200,
        &AccountView {
            org_id: principal.org_id.to_string(),
            org_name: org.name,
            plan: org.plan,
            environment: principal.environment,
            key_id: principal.key_id.to_string(),
            features,
            explorers: app.chains.all().iter().filter(|c| c.environment == principal.environment).map(|c| (c.chain, c.explorer_tx_url.clone())).collect(),
            confirmations: app.chains.all().iter().filter(|c| c.environment == principal.environment).map(|c| (c.chain, c.confirmations)).collect(),
        },
    )
}
