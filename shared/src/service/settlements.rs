//! `GET /v1/payouts/settlements`: the on-chain transfers the chain-watcher and the source-wallet
//! scanner recorded, newest first, optionally for one payout intent and/or one chain; as JSON
//! pages, or every one of them as CSV (`Accept: text/csv` or `format=csv`).

use super::App;
use super::auth::authenticate;
use super::csv::{CsvWriter, wants_csv};
use super::pagination::{ListParams, list_page};
use super::records;
use super::reply::Reply;
use crate::domain::chain::Chain;
use crate::domain::ids::PayoutId;
use crate::domain::org::{ApiKeySecret, Feature};
use crate::domain::settlement::Settlement;
use crate::domain::time::{self, Timestamp};
use crate::error::ApiError;
use crate::ports::store::{IndexName, IndexPosition, IndexQuery};

/// The CSV columns of `GET /v1/payouts/settlements`, in order.
pub const COLUMNS: [&str; 19] = [
    "id",
    "payout_intent_id",
    "environment",
    "chain",
    "token",
    "tx_hash",
    "log_index",
    "from_address",
    "to_address",
    "amount",
    "amount_atomic",
    "source_wallet_id",
    "block_number",
    "block_hash",
    "block_time",
    "confirmations",
    "confirmed_at",
    "detected_at",
    "created_at",
];

fn row(settlement: &Settlement) -> Vec<String> {
    let at = |t: &Timestamp| time::to_rfc3339(&time::whole_seconds(*t));
    vec![
        settlement.id.to_string(),
        settlement.payout_intent_id.as_ref().map(ToString::to_string).unwrap_or_default(),
        settlement.environment.to_string(),
        settlement.chain.to_string(),
        settlement.token.to_string(),
        settlement.tx_hash.to_string(),
        settlement.log_index.to_string(),
        settlement.from_address.clone().unwrap_or_default(),
        settlement.to_address.clone().unwrap_or_default(),
        settlement.amount_atomic.to_decimal().to_string(),
        settlement.amount_atomic.to_string(),
        settlement.source_wallet_id.as_ref().map(ToString::to_string).unwrap_or_default(),
        settlement.block_number.map(|n| n.to_string()).unwrap_or_default(),
        settlement.block_hash.clone().unwrap_or_default(),
        settlement.block_time.as_ref().map(at).unwrap_or_default(),
        settlement.confirmations.to_string(),
        settlement.confirmed_at.as_ref().map(at).unwrap_or_default(),
        at(&settlement.detected_at),
        at(&settlement.created_at),
    ]
}

pub async fn list(app: &App, secret: &ApiKeySecret, params: &[(String, String)], accept: Option<&str>) -> Result<Reply, ApiError> {
    let (principal, _) = authenticate(app, secret, &[]).await?;
    principal.require(Feature::Payouts)?;
    let params = ListParams::parse(params, &["payout_intent_id", "chain", "format"])?;
    let csv = wants_csv(&params, accept)?;
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
    if csv {
        // Every page of the filter, in one document.
        let mut writer = CsvWriter::new(&COLUMNS);
        let mut page_query = IndexQuery { after: app.cursors.open_param(&query, &params).await?, ..query };
        loop {
            let page = app.store.query(&page_query).await.map_err(ApiError::internal)?;
            for item in &page {
                let settlement: Settlement = records::decode(item).map_err(ApiError::internal)?;
                if chain.is_none_or(|chain| settlement.chain == chain) {
                    writer.row(&row(&settlement));
                }
            }
            match page.last().filter(|_| page.len() == page_query.limit) {
                Some(last) => page_query.after = IndexPosition::of(last, index),
                None => break,
            }
        }
        return Ok(Reply::csv(writer.finish(), "settlements.csv"));
    }
    let list = list_page(app, query, &params, |settlement: Settlement| chain.is_none_or(|chain| settlement.chain == chain).then(|| settlement.view())).await?;
    Reply::json(200, &list)
}
