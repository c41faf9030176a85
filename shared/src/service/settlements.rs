//! `GET /v1/payouts/settlements`: the on-chain transfers the chain-watcher recorded, newest
//! first, optionally for one payout intent and/or one chain.

use super::App;
use super::auth::authenticate;
use super::pagination::{fetch_page, parse_limit};
use super::payouts::Reply;
use super::records::{self, decode};
use crate::domain::chain::Chain;
use crate::domain::ids::PayoutId;
use crate::domain::org::{ApiKeySecret, Feature};
use crate::domain::settlement::{Settlement, SettlementView};
use crate::error::ApiError;
use crate::ports::store::{IndexName, IndexQuery};
use serde::Serialize;

#[derive(Serialize, utoipa::ToSchema)]
pub struct SettlementList {
    pub data: Vec<SettlementView>,
    pub has_more: bool,
    #[schema(nullable)]
    pub next_cursor: Option<String>,
}

const PARAMETERS: [&str; 4] = ["payout_intent_id", "chain", "cursor", "limit"];

pub async fn list(app: &App, secret: &ApiKeySecret, params: &[(String, String)]) -> Result<Reply, ApiError> {
    let (principal, _) = authenticate(app, secret, &[]).await?;
    principal.require(Feature::Payouts)?;
    if let Some((unknown, _)) = params.iter().find(|(name, _)| !PARAMETERS.contains(&name.as_str())) {
        return Err(ApiError::unknown_parameter(unknown));
    }
    let param = |name: &str| params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
    let limit = parse_limit(param("limit"))?;
    let chain = param("chain")
        .map(|text| Chain::parse(text).ok_or_else(|| ApiError::invalid_parameter("chain", format!("Unknown chain {text:?}: use tron, arbitrum or base."))))
        .transpose()?;
    let payout = param("payout_intent_id")
        .map(|text| {
            PayoutId::parse(text).ok_or_else(|| ApiError::invalid_parameter("payout_intent_id", format!("{text:?} is not a payout intent id (po_ + 24 hex).")))
        })
        .transpose()?;
    let (index, pk) = match (&payout, chain) {
        // One intent's settlements are few; a chain given as well is checked on each.
        (Some(payout), _) => (IndexName::Gsi2, records::settlements_of_payout(&principal.org_id, principal.environment, payout)),
        (None, Some(chain)) => (IndexName::Gsi3, records::settlements_of_chain(&principal.org_id, principal.environment, chain)),
        (None, None) => (IndexName::Gsi1, records::settlements_of(&principal.org_id, principal.environment)),
    };
    let query = IndexQuery { index, pk, sk_at_most: None, after: None, filters: vec![], descending: true, limit, now_unix: app.now().timestamp() };
    let page = fetch_page(app.store.as_ref(), query, param("cursor"), limit).await?;
    let mut data = Vec::with_capacity(page.items.len());
    for item in &page.items {
        let settlement: Settlement = decode(item).map_err(ApiError::internal)?;
        if chain.is_none_or(|chain| settlement.chain == chain) {
            data.push(settlement.view());
        }
    }
    Ok(Reply {
        status: 200,
        body: serde_json::to_string(&SettlementList { data, has_more: page.has_more, next_cursor: page.next_cursor }).map_err(ApiError::internal)?,
        replayed: false,
    })
}
