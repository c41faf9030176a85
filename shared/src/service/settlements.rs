//! `GET /v1/payouts/settlements`: the on-chain transfers the chain-watcher recorded, newest
//! first, optionally for one payout intent and/or one chain.

use super::App;
use super::auth::authenticate;
use super::pagination::{ListParams, list_page};
use super::records;
use super::reply::Reply;
use crate::domain::chain::Chain;
use crate::domain::ids::PayoutId;
use crate::domain::org::{ApiKeySecret, Feature};
use crate::domain::settlement::Settlement;
use crate::error::ApiError;
use crate::ports::store::{IndexName, IndexQuery};

pub async fn list(app: &App, secret: &ApiKeySecret, params: &[(String, String)]) -> Result<Reply, ApiError> {
    let (principal, _) = authenticate(app, secret, &[]).await?;
    principal.require(Feature::Payouts)?;
    let params = ListParams::parse(params, &["payout_intent_id", "chain"])?;
    let chain = params.filter("chain", Chain::parse, "tron, arbitrum or base")?;
    let payout = params
        .get("payout_intent_id")
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
    let query = IndexQuery::partition(index, pk, true, app.now().timestamp());
    let list =
        list_page(app.store.as_ref(), query, &params, |settlement: Settlement| chain.is_none_or(|chain| settlement.chain == chain).then(|| settlement.view()))
            .await?;
    Reply::json(200, &list)
}
