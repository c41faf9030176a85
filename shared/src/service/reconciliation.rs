//! Reconciliation: `GET /v1/payouts/reconciliation` (the summary), `GET
//! /v1/payouts/reconciliation/items` (the lines behind it, JSON or CSV), and the scheduled job
//! that stores each organization's summary and emits `reconciliation.discrepancy` and
//! `settlement.unexpected` once per item.
//!
//! Computing streams the organization's records a page at a time: its settlements (each page's
//! intents in one batched read) and its intents still awaiting a settlement (the status
//! partitions). Memory holds one page and the figures, never every intent.

use super::App;
use super::auth::{Principal, authenticate};
use super::csv::{CsvWriter, wants_csv};
use super::pagination::{ListBody, ListParams};
use super::records::{self, decode};
use super::reply::Reply;
use crate::domain::chain::{Chain, Environment, Token};
use crate::domain::event::{Event, EventType};
use crate::domain::ids::OrgId;
use crate::domain::money::{accounting, serialize_optional_decimal};
use crate::domain::org::{ApiKeySecret, Feature, Organization};
use crate::domain::payout::{PayoutIntent, PayoutStatus, PayoutView};
use crate::domain::reconciliation::{self as recon, Category, Filters, Item, Reason, Summary, Tally};
use crate::domain::settlement::{Settlement, SettlementView};
use crate::domain::time::{self, Timestamp};
use crate::error::ApiError;
use crate::ports::store::{AttrRange, Condition, IndexName, IndexPosition, IndexQuery, Store, StoreError, WriteOp, read_all};
use rust_decimal::Decimal;
use serde::Serialize;
use std::collections::HashMap;

/// Records read per store query while streaming.
const PAGE: usize = 100;

/// A record's item (`None`: in no category, or filtered out) and its position in the index read.
type Placed = (Option<Item>, Option<IndexPosition>);

// ---------------------------------------------------------------------------------------------
// Streaming the records.

/// The intents of a page of settlements, in one batched read.
async fn intents_of(store: &dyn Store, settlements: &[Settlement]) -> Result<HashMap<String, PayoutIntent>, StoreError> {
    let mut keys: Vec<_> = settlements.iter().filter_map(|s| s.payout_intent_id.as_ref()).map(records::payout_key).collect();
    keys.sort();
    keys.dedup();
    let mut intents = HashMap::with_capacity(keys.len());
    for item in store.get(&keys).await?.into_iter().flatten() {
        let intent: PayoutIntent = decode(&item)?;
        intents.insert(intent.id.to_string(), intent);
    }
    Ok(intents)
}

/// The items of one page of settlements (`None`: in no category, or filtered out), each with its
/// position in the index.
async fn settlement_items(
    store: &dyn Store,
    page: &[crate::ports::store::Item],
    index: IndexName,
    filters: &Filters,
    now: Timestamp,
) -> Result<Vec<Placed>, StoreError> {
    let settlements = page.iter().map(decode::<Settlement>).collect::<Result<Vec<_>, _>>()?;
    let intents = intents_of(store, &settlements).await?;
    Ok(settlements
        .iter()
        .zip(page)
        .map(|(settlement, stored)| {
            let intent = settlement.payout_intent_id.as_ref().and_then(|id| intents.get(id.as_str()));
            let item = recon::settled(settlement, intent, now).filter(|item| match (&item.intent, item.category) {
                (Some(intent), _) => filters.admits_intent(intent),
                (None, _) => filters.admits_unexpected(settlement),
            });
            (item, IndexPosition::of(stored, index))
        })
        .collect())
}

fn intent_items(page: &[crate::ports::store::Item], index: IndexName, filters: &Filters, now: Timestamp) -> Result<Vec<Placed>, StoreError> {
    page.iter()
        .map(|stored| {
            let intent: PayoutIntent = decode(stored)?;
            Ok((recon::unmatched(&intent, now).filter(|_| filters.admits_intent(&intent)), IndexPosition::of(stored, index)))
        })
        .collect()
}

/// What a full computation yields: the summary, and the items that may need an event.
pub struct Computed {
    pub summary: Summary,
    /// Discrepancies and unexpected settlements (few, by nature).
    pub notable: Vec<Item>,
}

/// Computes an organization's reconciliation over every record, streaming.
pub async fn compute(store: &dyn Store, org: &OrgId, environment: Environment, filters: &Filters, now: Timestamp) -> Result<Computed, StoreError> {
    let mut tally = Tally::default();
    let mut notable = Vec::new();
    let mut add = |item: Item, tally: &mut Tally| {
        tally.add(&item);
        if matches!(item.category, Category::Discrepancy | Category::Unexpected) {
            notable.push(item);
        }
    };
    let mut query = IndexQuery { limit: PAGE, ..IndexQuery::partition(IndexName::Gsi1, records::settlements_of(org, environment), false, now.timestamp()) };
    loop {
        let page = store.query(&query).await?;
        for (item, _) in settlement_items(store, &page, IndexName::Gsi1, filters, now).await? {
            if let Some(item) = item {
                add(item, &mut tally);
            }
        }
        match page.last().filter(|_| page.len() == query.limit) {
            Some(last) => query.after = IndexPosition::of(last, IndexName::Gsi1),
            None => break,
        }
    }
    // Only the intents still waiting are read here: settled and failed ones came with their settlements.
    for status in [PayoutStatus::Approved, PayoutStatus::PendingExecution, PayoutStatus::Executed, PayoutStatus::Verifying] {
        let mut query =
            IndexQuery { limit: PAGE, ..IndexQuery::partition(IndexName::Gsi2, records::payouts_of_status(org, environment, status), false, now.timestamp()) };
        loop {
            let page = store.query(&query).await?;
            for (item, _) in intent_items(&page, IndexName::Gsi2, filters, now)? {
                if let Some(item) = item {
                    add(item, &mut tally);
                }
            }
            match page.last().filter(|_| page.len() == query.limit) {
                Some(last) => query.after = IndexPosition::of(last, IndexName::Gsi2),
                None => break,
            }
        }
    }
    Ok(Computed { summary: tally.summary(environment, filters, now), notable })
}

/// The approved and pending intents an unexpected transfer could back.
async fn suggestion_candidates(store: &dyn Store, org: &OrgId, environment: Environment, now: Timestamp) -> Result<Vec<PayoutIntent>, StoreError> {
    let mut candidates = Vec::new();
    for status in [PayoutStatus::Approved, PayoutStatus::PendingExecution] {
        let query = IndexQuery::partition(IndexName::Gsi2, records::payouts_of_status(org, environment, status), true, now.timestamp());
        for item in read_all(store, query).await? {
            candidates.push(decode(&item)?);
        }
    }
    Ok(candidates)
}

fn with_suggestions(mut items: Vec<Item>, candidates: &[PayoutIntent]) -> Vec<Item> {
    for item in &mut items {
        if let (Category::Unexpected, Some(settlement)) = (item.category, &item.settlement) {
            item.suggested_payout_intent_id = recon::suggestion(settlement, candidates);
        }
    }
    items
}

// ---------------------------------------------------------------------------------------------
// The public shapes.

/// One reconciliation item as the API shows it.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct ItemView {
    pub category: Category,
    /// The payout intent (`null` for an unexpected settlement).
    #[schema(nullable)]
    pub payout_intent: Option<PayoutView>,
    /// The settlement (`null` for an unmatched payout).
    #[schema(nullable)]
    pub settlement: Option<SettlementView>,
    /// The intent's amount, exact (`null` for an unexpected settlement).
    #[schema(value_type = Option<f64>, nullable, example = 500.0)]
    #[serde(serialize_with = "serialize_optional_decimal")]
    pub expected_amount: Option<Decimal>,
    /// The amount the transfer carried, exact (`null` for an unmatched payout).
    #[schema(value_type = Option<f64>, nullable, example = 499.95)]
    #[serde(serialize_with = "serialize_optional_decimal")]
    pub actual_amount: Option<Decimal>,
    /// `actual_amount − expected_amount`, when both are known.
    #[schema(value_type = Option<f64>, nullable, example = -0.05)]
    #[serde(serialize_with = "serialize_optional_decimal")]
    pub difference: Option<Decimal>,
    /// Why the item is where it is, field by field.
    pub reasons: Vec<Reason>,
    /// Seconds since the settlement was confirmed, or since the intent was executed (approved, if
    /// not executed yet).
    pub age_seconds: i64,
    /// An unmatched payout past its `due_date`, or executed more than 24 hours ago.
    pub overdue: bool,
    /// For an unexpected settlement: the one approved or pending intent of the same chain,
    /// token, recipient and amount, if exactly one exists. Execute it with the settlement's
    /// `tx_hash` to link the two.
    #[schema(nullable)]
    pub suggested_payout_intent_id: Option<String>,
}

pub fn view(item: &Item) -> ItemView {
    ItemView {
        category: item.category,
        payout_intent: item.intent.as_ref().map(PayoutIntent::view),
        settlement: item.settlement.as_ref().map(Settlement::view),
        expected_amount: item.expected_amount.map(accounting),
        actual_amount: item.actual_amount.map(accounting),
        difference: item.difference().map(accounting),
        reasons: item.reasons.clone(),
        age_seconds: item.age_seconds,
        overdue: item.overdue,
        suggested_payout_intent_id: item.suggested_payout_intent_id.as_ref().map(ToString::to_string),
    }
}

/// The CSV columns of `GET /v1/payouts/reconciliation/items`, in order.
pub const ITEM_COLUMNS: [&str; 22] = [
    "category",
    "payout_intent_id",
    "settlement_id",
    "environment",
    "chain",
    "token",
    "recipient_address",
    "expected_amount",
    "actual_amount",
    "difference",
    "amount_atomic",
    "tx_hash",
    "log_index",
    "from_address",
    "source_wallet_id",
    "payout_status",
    "failure_reason",
    "overdue",
    "age_seconds",
    "reasons",
    "suggested_payout_intent_id",
    "confirmed_at",
];

fn item_row(item: &Item) -> Vec<String> {
    let intent = item.intent.as_ref();
    let settlement = item.settlement.as_ref();
    let decimal = |d: Option<Decimal>| d.map(|d| accounting(d).to_string()).unwrap_or_default();
    let chain = intent.map(|i| i.chain).or(settlement.map(|s| s.chain));
    let token = intent.map(|i| i.token).or(settlement.map(|s| s.token));
    let environment = intent.map(|i| i.environment).or(settlement.map(|s| s.environment));
    vec![
        item.category.to_string(),
        intent.map(|i| i.id.to_string()).unwrap_or_default(),
        settlement.map(|s| s.id.to_string()).unwrap_or_default(),
        environment.map(|e| e.to_string()).unwrap_or_default(),
        chain.map(|c| c.to_string()).unwrap_or_default(),
        token.map(|t| t.to_string()).unwrap_or_default(),
        intent.map(|i| i.recipient_address.as_str().to_owned()).or(settlement.and_then(|s| s.to_address.clone())).unwrap_or_default(),
        decimal(item.expected_amount),
        decimal(item.actual_amount),
        decimal(item.difference()),
        settlement.map(|s| s.amount_atomic.to_string()).unwrap_or_default(),
        settlement.map(|s| s.tx_hash.to_string()).or(intent.and_then(|i| i.expected_tx_hash.as_ref().map(ToString::to_string))).unwrap_or_default(),
        settlement.map(|s| s.log_index.to_string()).unwrap_or_default(),
        settlement.and_then(|s| s.from_address.clone()).unwrap_or_default(),
        settlement.and_then(|s| s.source_wallet_id.as_ref().map(ToString::to_string)).unwrap_or_default(),
        intent.map(|i| i.status.to_string()).unwrap_or_default(),
        intent.and_then(|i| i.failure_reason).map(|r| r.as_str().to_owned()).unwrap_or_default(),
        item.overdue.to_string(),
        item.age_seconds.to_string(),
        item.reasons.iter().map(|r| format!("{}: {}", r.field, r.message)).collect::<Vec<_>>().join("; "),
        item.suggested_payout_intent_id.as_ref().map(ToString::to_string).unwrap_or_default(),
        settlement.and_then(|s| s.confirmed_at.as_ref()).map(|t| time::to_rfc3339(&time::whole_seconds(*t))).unwrap_or_default(),
    ]
}

// ---------------------------------------------------------------------------------------------
// The routes.

const FILTERS: [&str; 4] = ["chain", "token", "from", "to"];

fn parse_filters(params: &ListParams<'_>) -> Result<Filters, ApiError> {
    let time = |name: &str| {
        params
            .get(name)
            .map(|text| {
                time::parse_rfc3339(text)
                    .ok_or_else(|| ApiError::invalid_parameter(name, format!("{name} must be an RFC 3339 timestamp such as 2026-06-30T00:00:00Z.")))
            })
            .transpose()
    };
    let filters = Filters {
        chain: params.filter("chain", Chain::parse, "tron, arbitrum or base")?,
        token: params.filter("token", Token::parse, "USDT or USDC")?,
        from: time("from")?,
        to: time("to")?,
    };
    // `from` is inclusive and `to` exclusive: equal, they are an empty window (all zeros).
    if let (Some(from), Some(to)) = (filters.from, filters.to)
        && from > to
    {
        return Err(ApiError::invalid_parameter("to", "to must not be earlier than from."));
    }
    Ok(filters)
}

async fn reconciliation_principal(app: &App, secret: &ApiKeySecret) -> Result<Principal, ApiError> {
    let (principal, _) = authenticate(app, secret, &[]).await?;
    principal.require(Feature::Reconciliation)?;
    Ok(principal)
}

/// `GET /v1/payouts/reconciliation`: the latest stored summary (one read) when no filter is
/// given; computed now otherwise, or when the job has not stored one yet.
pub async fn summary(app: &App, secret: &ApiKeySecret, params: &[(String, String)]) -> Result<Reply, ApiError> {
    let principal = reconciliation_principal(app, secret).await?;
    let params = ListParams::parse_only(params, &FILTERS)?;
    let filters = parse_filters(&params)?;
    if filters.is_empty() {
        let key = records::reconciliation_report_key(&principal.org_id, principal.environment);
        if let Some(stored) = app.store.get(std::slice::from_ref(&key)).await.map_err(ApiError::internal)?.pop().flatten() {
            // Stored as the summary's JSON text: answered as is, so every amount keeps its exact
            // decimal form (decoding would go through `Decimal`'s serde and lose the scale).
            return Ok(Reply::stored_json(200, stored.body));
        }
    }
    let computed = compute(app.store.as_ref(), &principal.org_id, principal.environment, &filters, app.now()).await.map_err(ApiError::internal)?;
    Reply::json(200, &computed.summary)
}

/// `GET /v1/payouts/reconciliation/items?category=…`: the items of one category, newest first,
/// paginated; or all of them as CSV (`Accept: text/csv` or `format=csv`).
pub async fn items(app: &App, secret: &ApiKeySecret, params: &[(String, String)], accept: Option<&str>) -> Result<Reply, ApiError> {
    let principal = reconciliation_principal(app, secret).await?;
    let params = ListParams::parse(params, &["category", "chain", "token", "from", "to", "format"])?;
    let csv = wants_csv(&params, accept)?;
    let category = params.get("category").ok_or_else(|| ApiError::missing_parameter("category"))?;
    let category = Category::parse(category)
        .ok_or_else(|| ApiError::invalid_parameter("category", format!("Unknown category {category:?}: use matched, discrepancy, unmatched or unexpected.")))?;
    let filters = parse_filters(&params)?;
    let now = app.now();
    let query = items_query(&principal, category, now);
    let candidates = if category == Category::Unexpected {
        suggestion_candidates(app.store.as_ref(), &principal.org_id, principal.environment, now).await.map_err(ApiError::internal)?
    } else {
        Vec::new()
    };
    if csv {
        let mut writer = CsvWriter::new(&ITEM_COLUMNS);
        let mut page_query = IndexQuery { after: app.cursors.open_param(&query, &params).await?, limit: PAGE, ..query };
        loop {
            let (found, next) = items_in_page(app.store.as_ref(), &page_query, category, &filters, now).await.map_err(ApiError::internal)?;
            for item in with_suggestions(found.into_iter().map(|(item, _)| item).collect(), &candidates) {
                writer.row(&item_row(&item));
            }
            match next {
                Some(position) => page_query.after = Some(position),
                None => break,
            }
        }
        return Ok(Reply::csv(writer.finish(), &format!("reconciliation-{category}.csv")));
    }
    let after = app.cursors.open_param(&query, &params).await?;
    let (items, more_after) = items_page(app.store.as_ref(), &query, after, params.limit, (category, &filters, now)).await.map_err(ApiError::internal)?;
    let has_more = more_after.is_some();
    let next_cursor = match more_after {
        Some(position) => Some(app.cursors.seal(&query, &position).await?),
        None => None,
    };
    let data = with_suggestions(items, &candidates).iter().map(view).collect();
    Reply::json(200, &ListBody { data, has_more, next_cursor })
}

/// The index a category's items come from, newest first: intents awaiting settlement, or
/// settlements linked to an intent, or not.
fn items_query(principal: &Principal, category: Category, now: Timestamp) -> IndexQuery {
    let (pk, attr) = match category {
        Category::Unmatched => (records::payouts_of(&principal.org_id, principal.environment), records::ATTR_OPEN),
        Category::Matched | Category::Discrepancy => (records::settlements_of(&principal.org_id, principal.environment), records::ATTR_LINKED),
        Category::Unexpected => (records::settlements_of(&principal.org_id, principal.environment), records::ATTR_UNLINKED),
    };
    IndexQuery { filters: vec![AttrRange::present(attr)], ..IndexQuery::partition(IndexName::Gsi1, pk, true, now.timestamp()) }
}

/// One store page of `query`: its items of `category`, each with its index position, and where
/// the next store page starts (`None`: the index is exhausted).
async fn items_in_page(
    store: &dyn Store,
    query: &IndexQuery,
    category: Category,
    filters: &Filters,
    now: Timestamp,
) -> Result<(Vec<(Item, Option<IndexPosition>)>, Option<IndexPosition>), StoreError> {
    let page = store.query(query).await?;
    let classified = match category {
        Category::Unmatched => intent_items(&page, query.index, filters, now)?,
        Category::Matched | Category::Discrepancy | Category::Unexpected => settlement_items(store, &page, query.index, filters, now).await?,
    };
    let items = classified.into_iter().filter_map(|(item, position)| Some((item.filter(|item| item.category == category)?, position))).collect();
    let next = page.last().filter(|_| page.len() == query.limit).and_then(|last| IndexPosition::of(last, query.index));
    Ok((items, next))
}

/// Up to `limit` items after `after`, and the position of the last one when more follow.
async fn items_page(
    store: &dyn Store,
    base: &IndexQuery,
    after: Option<IndexPosition>,
    limit: usize,
    (category, filters, now): (Category, &Filters, Timestamp),
) -> Result<(Vec<Item>, Option<IndexPosition>), StoreError> {
    let mut query = IndexQuery { after, limit: PAGE, ..base.clone() };
    let mut items = Vec::new();
    let mut last_returned = None;
    loop {
        let (found, next) = items_in_page(store, &query, category, filters, now).await?;
        for (item, position) in found {
            if items.len() == limit {
                // One more exists: the page ends at the last item returned.
                return Ok((items, last_returned));
            }
            items.push(item);
            last_returned = position;
        }
        match next {
            Some(position) => query.after = Some(position),
            None => return Ok((items, None)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The scheduled job.

/// What one run of the job did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JobReport {
    /// (organization, environment) summaries stored.
    pub reports: usize,
    /// Events emitted for new discrepancies and unexpected settlements.
    pub events: usize,
    /// Organizations whose report could not be made this time (retried on the next run).
    pub failed: usize,
}

/// For every organization and environment its plan allows: the summary, stored; one event per
/// new discrepancy or unexpected settlement. One organization's trouble never stops the others.
pub async fn run_job(app: &App) -> Result<JobReport, StoreError> {
    let mut report = JobReport::default();
    let mut query = IndexQuery { limit: PAGE, ..IndexQuery::partition(IndexName::Gsi1, records::ORGS_PARTITION, false, app.now().timestamp()) };
    loop {
        let page = app.store.query(&query).await?;
        for item in &page {
            let Some(org) = records::decode_or_skip::<Organization>(item, "organization") else {
                report.failed += 1;
                continue;
            };
            for environment in Environment::ALL {
                if !org.plan.allows(Feature::Reconciliation, environment) {
                    continue;
                }
                match reconcile_org(app, &org.id, environment).await {
                    Ok(events) => {
                        report.reports += 1;
                        report.events += events;
                    }
                    Err(error) => {
                        tracing::warn!(org_id = %org.id, %environment, error = %error, "reconciliation failed; retried on the next run");
                        report.failed += 1;
                    }
                }
            }
        }
        match page.last().filter(|_| page.len() == query.limit) {
            Some(last) => query.after = IndexPosition::of(last, IndexName::Gsi1),
            None => return Ok(report),
        }
    }
}

/// One organization and environment: computes, stores the summary, emits the new events.
pub async fn reconcile_org(app: &App, org: &OrgId, environment: Environment) -> Result<usize, StoreError> {
    let now = app.now();
    let computed = compute(app.store.as_ref(), org, environment, &Filters::default(), now).await?;
    let key = records::reconciliation_report_key(org, environment);
    let version = app.store.get(std::slice::from_ref(&key)).await?.pop().flatten().map(|item| item.version);
    let condition = match version {
        Some(version) => Condition::Version(version),
        None => Condition::Absent { now_unix: now.timestamp() },
    };
    let item = records::reconciliation_report_item(org, environment, &computed.summary, version.unwrap_or(0) + 1)?;
    match app.store.write(vec![WriteOp::Put { item, condition: Some(condition) }]).await {
        Ok(()) => {}
        // Another run stored its report at the same moment: as fresh as this one.
        Err(error) if error.lost_race() => {}
        Err(error) => return Err(error),
    }
    let notable = if computed.notable.iter().any(|item| item.category == Category::Unexpected) {
        with_suggestions(computed.notable, &suggestion_candidates(app.store.as_ref(), org, environment, now).await?)
    } else {
        computed.notable
    };
    emit_once(app, org, environment, &notable, now).await
}

/// One event per item not announced yet: the event and its marker in one write, the marker
/// "if absent", so reruns and concurrent runs announce each item once.
async fn emit_once(app: &App, org: &OrgId, environment: Environment, items: &[Item], now: Timestamp) -> Result<usize, StoreError> {
    let announced: Vec<(&Item, &Settlement)> = items.iter().filter_map(|item| Some((item, item.settlement.as_ref()?))).collect();
    let keys: Vec<_> = announced.iter().map(|(item, settlement)| records::reconciliation_marker_key(&settlement.id, item.category)).collect();
    let markers = app.store.get(&keys).await?;
    let mut emitted = 0;
    for ((item, settlement), marker) in announced.into_iter().zip(markers) {
        if marker.is_some() {
            continue;
        }
        let event_type = match item.category {
            Category::Discrepancy => EventType::ReconciliationDiscrepancy,
            Category::Unexpected => EventType::SettlementUnexpected,
            Category::Matched | Category::Unmatched => continue,
        };
        let mut event =
            Event::new(event_type, org.clone(), environment, settlement.id.to_string(), &view(item), now).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        event.payout_id = item.intent.as_ref().map(|intent| intent.id.clone());
        let absent = Some(Condition::Absent { now_unix: now.timestamp() });
        let ops = vec![
            WriteOp::Put { item: records::reconciliation_marker_item(&settlement.id, item.category, &event.id)?, condition: absent.clone() },
            WriteOp::Put { item: records::event_item(&event, 1)?, condition: absent },
        ];
        match app.store.write(ops).await {
            Ok(()) => {
                emitted += 1;
                tracing::info!(event_id = %event.id, event_type = %event_type, settlement_id = %settlement.id, "reconciliation event emitted");
            }
            Err(error) if error.lost_race() => {}
            Err(error) => return Err(error),
        }
    }
    Ok(emitted)
}
