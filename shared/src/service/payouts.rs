//! The payout intent API: create, list, get, update (approve / cancel / pending_execution /
//! draft edits) and execute. Each mutation is one conditional atomic write that carries the
//! intent, its event record and (when given) the idempotency record.

use super::auth::{Principal, authenticate};
use super::idempotency::IdempotencyGuard;
use super::input::{AddressText, JsonObject, request_body};
use super::pagination::{ListBody, ListParams, fetch_merged_page, list_merged_page};
use super::records::{self, ATTR_DUE, PayoutReference, TxClaim, decode, payout_item, payout_key, tx_claim_item};
use super::reply::Reply;
use super::{App, COMMIT_ATTEMPTS};
use crate::domain::address::{ChainAddress, TxHash};
use crate::domain::chain::{Chain, Environment, Token};
use crate::domain::event::Event;
use crate::domain::event::EventType;
use crate::domain::ids::{OrgId, PayoutId};
use crate::domain::money::{Amount, AmountError};
use crate::domain::org::{ApiKeySecret, Feature};
use crate::domain::payout::{Currency, DraftEdits, NewPayout, PayoutIntent, PayoutStatus, ReferenceType, ReplaceHashError, TransitionError};
use crate::domain::time::{Timestamp, parse_rfc3339, sort_key, whole_seconds};
use crate::error::ApiError;
use crate::metrics::{self, Metric};
use crate::ports::queue::TxMessage;
use crate::ports::store::{AttrRange, Condition, IndexName, IndexQuery, Item, ItemKey, WriteOp};

/// `POST /v1/payouts` body. Its schema is the document's and what [`validate_new_payout`] checks
/// the body against ([`JsonObject::conform`]); the values are then parsed field by field.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CreatePayoutRequest {
    /// Where the tokens go, in `chain`'s form. Not the zero address, nor the token contract.
    recipient_address: AddressText,
    chain: Chain,
    /// USDT on tron and arbitrum, USDC on arbitrum and base.
    token: Token,
    /// JSON number, from 0.01 to 1000000000000, with at most 6 decimals (never rounded).
    #[schema(value_type = f64, minimum = 0.01, maximum = 1000000000000.0, multiple_of = 0.000001, example = 500.00)]
    amount: String,
    currency: Currency,
    #[schema(nullable, max_length = 512)]
    description: Option<String>,
    reference_type: Option<ReferenceType>,
    #[schema(nullable, max_length = 255)]
    reference_id: Option<String>,
    #[schema(nullable, format = DateTime)]
    due_date: Option<String>,
}
request_body!(CreatePayoutRequest);

/// `PATCH /v1/payouts/{id}` body: a status change and/or draft edits, at least one.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
#[allow(dead_code)]
pub struct UpdatePayoutRequest {
    #[schema(nullable = false)]
    status: Option<StatusChange>,
    #[schema(nullable, max_length = 512)]
    description: Option<String>,
    #[schema(nullable, format = DateTime)]
    due_date: Option<String>,
}
request_body!(UpdatePayoutRequest);

/// The statuses a PATCH may set: `approved` or `canceled` from draft, `pending_execution` from
/// approved. The others are reached through execute and the chain-watcher.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum StatusChange {
    Approved,
    Canceled,
    PendingExecution,
}

/// `POST /v1/payouts/{id}/execute` body.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct ExecutePayoutRequest {
    /// 64 hex characters, with or without `0x`; stored lowercase (`0x…` on EVM chains, bare on tron).
    #[schema(pattern = r"^(0x)?[0-9a-fA-F]{64}$")]
    tx_hash: String,
}
request_body!(ExecutePayoutRequest);

fn payout_not_found(id: &str) -> ApiError {
    ApiError::not_found("payout_not_found", "payout intent", id, "id")
}

/// The intent if it exists and belongs to the caller's organization and environment.
fn visible(principal: &Principal, item: Option<Item>, id: &str) -> Result<(PayoutIntent, u64), ApiError> {
    let item = item.ok_or_else(|| payout_not_found(id))?;
    let intent: PayoutIntent = decode(&item).map_err(ApiError::internal)?;
    if !principal.owns(&intent.org_id, intent.environment) {
        return Err(payout_not_found(id));
    }
    Ok((intent, item.version))
}

async fn authenticate_with_payout(app: &App, secret: &ApiKeySecret, id_text: &str) -> Result<(Principal, PayoutIntent, u64), ApiError> {
    // A malformed id cannot exist: still authenticate first so 401 wins over 404.
    let Some(id) = PayoutId::parse(id_text) else {
        let (principal, _) = authenticate(app, secret, &[]).await?;
        principal.require(Feature::Payouts)?;
        return Err(payout_not_found(id_text));
    };
    let (principal, mut items) = authenticate(app, secret, &[payout_key(&id)]).await?;
    principal.require(Feature::Payouts)?;
    let (intent, version) = visible(&principal, items.pop().flatten(), id_text)?;
    Ok((principal, intent, version))
}

async fn reload(app: &App, principal: &Principal, id: &PayoutId) -> Result<(PayoutIntent, u64), ApiError> {
    let item = app.store.get(&[payout_key(id)]).await.map_err(ApiError::internal)?.pop().flatten();
    visible(principal, item, id.as_str())
}

fn event_op(intent: &PayoutIntent, event_type: crate::domain::event::EventType, now: Timestamp) -> Result<WriteOp, ApiError> {
    let event = Event::new(event_type, intent.org_id.clone(), intent.environment, intent.id.to_string(), &intent.view(), now).map_err(ApiError::internal)?;
    let item = records::event_item(&event, 1).map_err(ApiError::internal)?;
    Ok(WriteOp::Put { item, condition: Some(Condition::Absent { now_unix: now.timestamp() }) })
}

fn transition_error(error: TransitionError) -> ApiError {
    ApiError::invalid_transition(error.from.as_str(), error.to.as_str())
}

// ---------------------------------------------------------------------------------------------
// Create

/// Validates a create body into a [`NewPayout`]. The first problem found is reported, with its field.
pub fn validate_new_payout(app: &App, principal: &Principal, body: &JsonObject) -> Result<NewPayout, ApiError> {
    body.conform::<CreatePayoutRequest>()?;
    let chain_text = body.required_string("chain")?;
    let chain = Chain::parse(&chain_text)
        .ok_or_else(|| ApiError::invalid_field("chain", format!("Unsupported chain {chain_text:?}: use one of tron, arbitrum, base.")))?;
    let token_text = body.required_string("token")?;
    let token = Token::parse(&token_text).ok_or_else(|| ApiError::invalid_field("token", format!("Unsupported token {token_text:?}: use USDT or USDC.")))?;
    if !chain.supports(token) {
        let hint = match (chain, token) {
            (Chain::Base, Token::Usdt) => "there is no official USDT on base; use USDC",
            (Chain::Tron, Token::Usdc) => "USDC on tron is not supported; use USDT",
            _ => "this pair is not supported",
        };
        return Err(ApiError::unsupported_pair("token", format!("{token} on {chain} is not supported: {hint}.")));
    }
    // A pair without a configured token contract could never be verified: refuse it up front.
    if app.chains.token_contract(principal.environment, chain, token).is_none() {
        return Err(ApiError::unsupported_pair(
            "token",
            format!("{token} on {chain} is not available in {}: no token contract is configured for it.", principal.environment),
        ));
    }
    let amount_raw = body.required_raw("amount")?;
    let amount = Amount::parse_json_number(amount_raw.get()).map_err(|error| {
        let message = match error {
            AmountError::NotANumber => format!("The 'amount' field must be a JSON number (e.g. 500.00), not {}.", body.kind_of("amount").unwrap_or("that")),
            other => format!("The 'amount' field {other}."),
        };
        ApiError::invalid_field("amount", message)
    })?;
    let currency_text = body.required_string("currency")?;
    if currency_text != "USD" {
        return Err(ApiError::invalid_field("currency", format!("Unsupported currency {currency_text:?}: only USD.")));
    }
    let address_text = body.required_string("recipient_address")?;
    let recipient_address =
        ChainAddress::parse(chain, &address_text).map_err(|e| ApiError::invalid_field("recipient_address", format!("The recipient address {e}.")))?;
    if app.chains.token_contract(principal.environment, chain, token) == Some(&recipient_address) {
        return Err(ApiError::invalid_field(
            "recipient_address",
            format!("The recipient address is the {token} token contract on {chain} itself; tokens sent there are lost."),
        ));
    }
    let description = body.nullable_string("description")?.flatten();
    let reference_type = match body.nullable_string("reference_type")?.flatten() {
        None => None,
        Some(text) => Some(ReferenceType::parse(&text).ok_or_else(|| {
            ApiError::invalid_field("reference_type", format!("Unknown reference_type {text:?}: use checkout, subscription, invoice or manual."))
        })?),
    };
    let reference_id = body.nullable_string("reference_id")?.flatten();
    let due_date = parse_due_date(body)?.flatten();
    Ok(NewPayout { recipient_address, chain, token, amount, currency: Currency::Usd, description, reference_type, reference_id, due_date })
}

fn parse_due_date(body: &JsonObject) -> Result<Option<Option<Timestamp>>, ApiError> {
    match body.nullable_string("due_date")? {
        None => Ok(None),
        Some(None) => Ok(Some(None)),
        Some(Some(text)) => parse_rfc3339(&text).map(|at| Some(Some(at))).ok_or_else(|| {
            ApiError::invalid_field("due_date", format!("The 'due_date' field must be an RFC 3339 date-time such as 2025-06-30T00:00:00Z, not {text:?}."))
        }),
    }
}

pub async fn create(app: &App, secret: &ApiKeySecret, idempotency_key: Option<&str>, body: &[u8]) -> Result<Reply, ApiError> {
    let (principal, _) = authenticate(app, secret, &[]).await?;
    principal.require(Feature::Payouts)?;
    let body = JsonObject::parse(body)?;
    let guard = IdempotencyGuard::from_header(&principal, idempotency_key, "POST /v1/payouts", &body.fingerprint())?;
    let new = validate_new_payout(app, &principal, &body)?;
    let now = app.now();
    let intent = PayoutIntent::new(PayoutId::generate(), principal.org_id.clone(), principal.environment, new, now);
    let reply = Reply::json(201, &intent.view())?;

    let mut ops = vec![
        WriteOp::Put { item: payout_item(&intent, 1).map_err(ApiError::internal)?, condition: Some(Condition::Absent { now_unix: now.timestamp() }) },
        event_op(&intent, PayoutStatus::Draft.entry_event(), now)?,
    ];
    if let Some(guard) = &guard {
        ops.push(guard.record_op(reply.status, &reply.body, now)?);
    }
    if let Some(reference) = records::payout_reference_item(&intent).map_err(ApiError::internal)? {
        ops.push(WriteOp::Put { item: reference, condition: Some(Condition::Absent { now_unix: now.timestamp() }) });
    }
    for _ in 0..COMMIT_ATTEMPTS {
        match app.store.write(ops.clone()).await {
            Ok(()) => {
                tracing::info!(payout_id = %intent.id, "payout intent created");
                metrics::payout(Metric::PayoutsCreated, intent.environment.as_str(), intent.chain.as_str());
                return Ok(reply);
            }
            // The intent and its event have fresh ids: only a concurrent duplicate (same
            // idempotency key) can win. Replay it once committed; else try again.
            Err(error) if error.lost_race() => {
                if let Some(stored) = IdempotencyGuard::after_lost_race(guard.as_ref(), app).await? {
                    return Ok(Reply::replay(stored));
                }
            }
            Err(error) => return Err(ApiError::internal(error)),
        }
    }
    Err(IdempotencyGuard::gave_up(guard.as_ref()))
}

// ---------------------------------------------------------------------------------------------
// Read

pub async fn get(app: &App, secret: &ApiKeySecret, id: &str) -> Result<Reply, ApiError> {
    let (_, intent, _) = authenticate_with_payout(app, secret, id).await?;
    Reply::json(200, &intent.view())
}

/// The filters `GET /v1/payouts` takes besides `limit` and `cursor`.
pub const LIST_FILTERS: [&str; 9] =
    ["status", "chain", "token", "reference_type", "reference_id", "created_after", "created_before", "due_date_before", "due_date_after"];

/// `GET /v1/payouts`. Every filter but the due dates is a key condition: the statuses and
/// (chain, token) pairs asked for pick index partitions (merged when several), the created range
/// bounds their sort keys, and a reference goes through the reference records (then the other
/// filters narrow that reference's few payouts). README, "Data model", lists the partitions.
pub async fn list(app: &App, secret: &ApiKeySecret, params: &[(String, String)]) -> Result<Reply, ApiError> {
    let (principal, _) = authenticate(app, secret, &[]).await?;
    principal.require(Feature::Payouts)?;
    let params = ListParams::parse(params, &LIST_FILTERS)?;
    let filters = PayoutFilters::parse(&params)?;
    let now_unix = app.now().timestamp();
    // Reference records carry no due date (a draft edit can move it): those filters then apply
    // to the few payouts of the reference, in `admits`.
    let bounded = |index: IndexName, pk: String, due_in_query: bool| {
        let mut query = IndexQuery::partition(index, pk, true, now_unix);
        query.sk_at_least = filters.created_from().as_ref().map(sort_key);
        query.sk_at_most = filters.created_until().as_ref().map(records::created_at_most);
        if due_in_query && (filters.due_after.is_some() || filters.due_before.is_some()) {
            query.filters.push(AttrRange {
                attr: ATTR_DUE.into(),
                greater_than: filters.due_after.as_ref().map(sort_key),
                less_than: filters.due_before.as_ref().map(sort_key),
                equals: None,
            });
        }
        query
    };
    let (org, environment) = (&principal.org_id, principal.environment);
    if let Some(reference) = &filters.reference {
        let queries = reference.partitions(org, environment).into_iter().map(|(index, pk)| bounded(index, pk, false)).collect();
        let page = fetch_merged_page(&app.store, &app.cursors, queries, &params).await?;
        let refs: Vec<PayoutReference> = page.items.iter().map(decode).collect::<Result<_, _>>().map_err(ApiError::internal)?;
        let keys: Vec<ItemKey> = refs.iter().map(|r| payout_key(&r.payout_id)).collect();
        let mut data = Vec::with_capacity(keys.len());
        for item in app.store.get(&keys).await.map_err(ApiError::internal)?.into_iter().flatten() {
            let intent: PayoutIntent = decode(&item).map_err(ApiError::internal)?;
            if filters.admits(&intent) {
                data.push(intent.view());
            }
        }
        return Reply::json(200, &ListBody { data, has_more: page.has_more, next_cursor: page.next_cursor });
    }
    let statuses = filters.statuses.clone().unwrap_or_else(|| PayoutStatus::ALL.to_vec());
    let queries: Vec<IndexQuery> = match (&filters.statuses, filters.pairs.len() == SupportedPair::all().len()) {
        (None, true) => vec![bounded(IndexName::Gsi1, records::payouts_of(org, environment), true)],
        (Some(_), true) => statuses.iter().map(|status| bounded(IndexName::Gsi2, records::payouts_of_status(org, environment, *status), true)).collect(),
        (_, false) => statuses
            .iter()
            .flat_map(|status| filters.pairs.iter().map(move |(chain, token)| (*status, *chain, *token)))
            .map(|(status, chain, token)| bounded(IndexName::Gsi4, records::payouts_of_status_and_pair(org, environment, status, chain, token), true))
            .collect(),
    };
    let list = list_merged_page(app, queries, &params, |intent: PayoutIntent| Some(intent.view())).await?;
    Reply::json(200, &list)
}

/// Every (chain, token) pair the service supports.
struct SupportedPair;

impl SupportedPair {
    fn all() -> Vec<(Chain, Token)> {
        Chain::ALL.into_iter().flat_map(|chain| Token::ALL.into_iter().map(move |token| (chain, token))).filter(|(c, t)| c.supports(*t)).collect()
    }
}

/// A list's filters, parsed.
struct PayoutFilters {
    /// `None`: every status.
    statuses: Option<Vec<PayoutStatus>>,
    /// The (chain, token) pairs asked for: all of them when neither is given.
    pairs: Vec<(Chain, Token)>,
    reference: Option<ReferenceFilter>,
    created_after: Option<Timestamp>,
    created_before: Option<Timestamp>,
    due_after: Option<Timestamp>,
    due_before: Option<Timestamp>,
}

impl PayoutFilters {
    fn parse(params: &ListParams<'_>) -> Result<PayoutFilters, ApiError> {
        let chain = params.filter("chain", Chain::parse, "tron, arbitrum or base")?;
        let token = params.filter("token", Token::parse, "USDT or USDC")?;
        let pairs: Vec<(Chain, Token)> =
            SupportedPair::all().into_iter().filter(|(c, t)| chain.is_none_or(|chain| chain == *c) && token.is_none_or(|token| token == *t)).collect();
        if let (Some(chain), Some(token), true) = (chain, token, pairs.is_empty()) {
            return Err(ApiError::unsupported_pair("token", format!("{token} is not offered on {chain}: no payout can match.")));
        }
        let statuses = params
            .get("status")
            .map(|text| {
                let mut statuses = Vec::new();
                for name in text.split(',') {
                    let status = PayoutStatus::parse(name).ok_or_else(|| {
                        let all: Vec<&str> = PayoutStatus::ALL.iter().map(|s| s.as_str()).collect();
                        ApiError::invalid_parameter("status", format!("Unknown status {name:?}: use one or more of {}, separated by commas.", all.join(", ")))
                    })?;
                    if !statuses.contains(&status) {
                        statuses.push(status);
                    }
                }
                Ok::<_, ApiError>(statuses)
            })
            .transpose()?;
        let date = |name: &str| {
            params
                .get(name)
                .map(|text| {
                    parse_rfc3339(text)
                        .ok_or_else(|| ApiError::invalid_parameter(name, format!("{name} must be an RFC 3339 date-time such as 2025-06-30T00:00:00Z.")))
                })
                .transpose()
        };
        let reference_type = params.filter("reference_type", ReferenceType::parse, "checkout, subscription, invoice or manual")?;
        let reference_id = params.get("reference_id");
        if reference_id.is_some_and(|id| id.is_empty() || id.chars().count() > 255) {
            return Err(ApiError::invalid_parameter("reference_id", "reference_id must be 1 to 255 characters, as given when the payout was created."));
        }
        let reference = match (reference_type, reference_id) {
            (kind, Some(id)) => Some(ReferenceFilter::Id { kind, id: id.to_owned() }),
            (Some(kind), None) => Some(ReferenceFilter::Kind(kind)),
            (None, None) => None,
        };
        Ok(PayoutFilters {
            statuses,
            pairs,
            reference,
            created_after: date("created_after")?,
            created_before: date("created_before")?,
            due_after: date("due_date_after")?,
            due_before: date("due_date_before")?,
        })
    }

    /// The earliest stored `created_at` after `created_after`. The API shows `created_at` in whole
    /// seconds, so the bounds compare what a merchant sees: after 12:00:05 is from 12:00:06.000.
    fn created_from(&self) -> Option<Timestamp> {
        self.created_after.map(|after| whole_seconds(after) + chrono::Duration::seconds(1))
    }

    /// The latest stored `created_at` before `created_before` (shown in whole seconds, as above):
    /// before 12:00:05 is until 12:00:04.999999999.
    fn created_until(&self) -> Option<Timestamp> {
        self.created_before.map(|before| {
            let ceiling = if whole_seconds(before) == before { before } else { whole_seconds(before) + chrono::Duration::seconds(1) };
            ceiling - chrono::Duration::nanoseconds(1)
        })
    }

    /// Whether a payout found through its reference passes the other filters (the created range
    /// was a key condition of the reference query already). Due dates are exclusive bounds.
    fn admits(&self, intent: &PayoutIntent) -> bool {
        let due = intent.due_date.as_ref();
        self.statuses.as_ref().is_none_or(|statuses| statuses.contains(&intent.status))
            && self.pairs.contains(&(intent.chain, intent.token))
            && self.due_after.as_ref().is_none_or(|after| due.is_some_and(|due| due > after))
            && self.due_before.as_ref().is_none_or(|before| due.is_some_and(|due| due < before))
    }
}

/// Looking payouts up by their reference.
enum ReferenceFilter {
    /// `reference_id`, of one type or (`None`) of any.
    Id { kind: Option<ReferenceType>, id: String },
    /// `reference_type` alone.
    Kind(ReferenceType),
}

impl ReferenceFilter {
    fn partitions(&self, org: &OrgId, environment: Environment) -> Vec<(IndexName, String)> {
        match self {
            ReferenceFilter::Id { kind: Some(kind), id } => vec![(IndexName::Gsi1, records::payouts_of_reference(org, environment, Some(*kind), id))],
            ReferenceFilter::Id { kind: None, id } => ReferenceType::ALL
                .into_iter()
                .map(Some)
                .chain([None])
                .map(|kind| (IndexName::Gsi1, records::payouts_of_reference(org, environment, kind, id)))
                .collect(),
            ReferenceFilter::Kind(kind) => vec![(IndexName::Gsi2, records::payouts_of_reference_type(org, environment, *kind))],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Update

/// What a PATCH asks for.
#[derive(Debug)]
pub struct UpdateRequest {
    pub status: Option<PayoutStatus>,
    pub edits: DraftEdits,
}

pub fn validate_update(body: &JsonObject) -> Result<UpdateRequest, ApiError> {
    body.conform::<UpdatePayoutRequest>()?;
    let status = match body.nullable_string("status")? {
        None => None,
        Some(None) => return Err(ApiError::invalid_field("status", "The 'status' field must not be null.")),
        Some(Some(text)) => match PayoutStatus::parse(&text) {
            Some(status @ (PayoutStatus::Approved | PayoutStatus::Canceled | PayoutStatus::PendingExecution)) => Some(status),
            _ => {
                return Err(ApiError::invalid_field(
                    "status",
                    format!(
                        "status can be set to approved, canceled or pending_execution, not {text:?}; other statuses are reached through execute and the chain-watcher."
                    ),
                ));
            }
        },
    };
    let description = body.nullable_string("description")?;
    let edits = DraftEdits { description, due_date: parse_due_date(body)? };
    if status.is_none() && edits.is_empty() {
        return Err(ApiError::invalid_field("status", "Nothing to update: give status, description or due_date."));
    }
    Ok(UpdateRequest { status, edits })
}

/// Applies the request to the intent in memory; returns the event type to record.
fn decide_update(
    intent: &mut PayoutIntent,
    request: &UpdateRequest,
    principal: &Principal,
    now: Timestamp,
) -> Result<crate::domain::event::EventType, ApiError> {
    if !request.edits.is_empty() {
        intent.edit(request.edits.clone(), now).map_err(|e| ApiError::not_editable(e.from.as_str()))?;
    }
    let event = match request.status {
        None => crate::domain::event::EventType::PayoutUpdated,
        Some(PayoutStatus::Approved) => intent.approve(principal.key_id.clone(), now).map_err(transition_error)?,
        Some(PayoutStatus::Canceled) => intent.cancel(now).map_err(transition_error)?,
        Some(PayoutStatus::PendingExecution) => intent.mark_pending_execution(now).map_err(transition_error)?,
        Some(other) => return Err(ApiError::invalid_transition(intent.status.as_str(), other.as_str())),
    };
    Ok(event)
}

pub async fn update(app: &App, secret: &ApiKeySecret, id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let (principal, mut intent, mut version) = authenticate_with_payout(app, secret, id).await?;
    let request = validate_update(&JsonObject::parse(body)?)?;
    for _ in 0..COMMIT_ATTEMPTS {
        let now = app.now();
        let event_type = decide_update(&mut intent, &request, &principal, now)?;
        let ops = vec![
            WriteOp::Put { item: payout_item(&intent, version + 1).map_err(ApiError::internal)?, condition: Some(Condition::Version(version)) },
            event_op(&intent, event_type, now)?,
        ];
        match app.store.write(ops).await {
            Ok(()) => {
                tracing::info!(payout_id = %intent.id, status = %intent.status, event = %event_type, "payout intent updated");
                if event_type == EventType::PayoutApproved {
                    metrics::payout(Metric::PayoutsApproved, intent.environment.as_str(), intent.chain.as_str());
                }
                return Reply::json(200, &intent.view());
            }
            // Someone else changed the intent since we read it: decide again on the new state.
            Err(error) if error.lost_race() => (intent, version) = reload(app, &principal, &intent.id).await?,
            Err(error) => return Err(ApiError::internal(error)),
        }
    }
    Err(ApiError::concurrent_update())
}

// ---------------------------------------------------------------------------------------------
// Execute

/// Applies an execute to the intent in memory: `approved`/`pending_execution → executed`, or, on
/// an `executed` intent whose tx was never seen, the hash replaced. Returns the event to record
/// and the hash whose claim is released.
fn decide_execute(intent: &mut PayoutIntent, tx_hash: &TxHash, now: Timestamp) -> Result<(EventType, Option<TxHash>), ApiError> {
    let same_hash = intent.expected_tx_hash.as_ref() == Some(tx_hash);
    match intent.status {
        PayoutStatus::Executed if !same_hash => match intent.replace_tx_hash(tx_hash.clone(), now) {
            Ok(replaced) => Ok((EventType::PayoutExecuted, Some(replaced))),
            Err(ReplaceHashError::AlreadySeen) => Err(ApiError::tx_already_seen(intent.status.as_str())),
            Err(ReplaceHashError::SameHash | ReplaceHashError::Status(_)) => Err(ApiError::invalid_transition(intent.status.as_str(), "executed")),
        },
        PayoutStatus::Verifying if !same_hash => Err(ApiError::tx_already_seen(intent.status.as_str())),
        _ => intent.execute(tx_hash.clone(), now).map(|event| (event, None)).map_err(transition_error),
    }
}

pub async fn execute(app: &App, secret: &ApiKeySecret, idempotency_key: Option<&str>, id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let (principal, mut intent, mut version) = authenticate_with_payout(app, secret, id).await?;
    let body = JsonObject::parse(body)?;
    let guard = IdempotencyGuard::from_header(&principal, idempotency_key, &format!("POST /v1/payouts/{id}/execute"), &body.fingerprint())?;
    body.conform::<ExecutePayoutRequest>()?;
    let tx_text = body.required_string("tx_hash")?;
    let tx_hash = TxHash::parse(intent.chain, &tx_text).map_err(|e| ApiError::invalid_field("tx_hash", format!("The tx_hash {e} (for {}).", intent.chain)))?;
    let claim_key = records::tx_claim_key(&intent.org_id, intent.environment, intent.chain, &tx_hash);

    for _ in 0..COMMIT_ATTEMPTS {
        let now = app.now();
        let mut changed = intent.clone();
        let (event_type, released) = match decide_execute(&mut changed, &tx_hash, now) {
            Ok(decided) => decided,
            Err(error) => {
                // An idempotent retry of an execute that already succeeded replays its response.
                if let Some(guard) = &guard
                    && let Some(stored) = guard.prior_response(app).await?
                {
                    return Ok(Reply::replay(stored));
                }
                return Err(error);
            }
        };
        let reply = Reply::json(200, &changed.view())?;
        let claim = TxClaim { payout_id: changed.id.clone(), org_id: changed.org_id.clone(), environment: changed.environment };
        let mut ops = vec![
            WriteOp::Put { item: payout_item(&changed, version + 1).map_err(ApiError::internal)?, condition: Some(Condition::Version(version)) },
            event_op(&changed, event_type, now)?,
            WriteOp::Put {
                item: tx_claim_item(changed.chain, &tx_hash, &claim).map_err(ApiError::internal)?,
                condition: Some(Condition::Absent { now_unix: now.timestamp() }),
            },
        ];
        if let Some(replaced) = &released {
            // The replaced hash can back another intent from now on.
            ops.push(WriteOp::Delete { key: records::tx_claim_key(&changed.org_id, changed.environment, changed.chain, replaced), condition: None });
        }
        if let Some(guard) = &guard {
            ops.push(guard.record_op(reply.status, &reply.body, now)?);
        }
        match app.store.write(ops).await {
            Ok(()) => {
                tracing::info!(payout_id = %changed.id, chain = %changed.chain, replaced = released.is_some(), "payout intent executed");
                if released.is_none() {
                    metrics::payout(Metric::PayoutsExecuted, changed.environment.as_str(), changed.chain.as_str());
                }
                let message = TxMessage { payout_id: changed.id.clone(), chain: changed.chain, tx_hash: tx_hash.clone() };
                if let Err(error) = app.tx_queue.enqueue(&message).await {
                    // The change is committed; the scheduled sweep finds every executed intent,
                    // so the message only makes verification start sooner.
                    tracing::warn!(payout_id = %changed.id, error = %error, "tx queue send failed; the sweep will pick the intent up");
                }
                return Ok(reply);
            }
            // Something the write depended on changed: read it all again and decide anew.
            Err(error) if error.lost_race() => {
                if let Some(stored) = IdempotencyGuard::after_lost_race(guard.as_ref(), app).await? {
                    return Ok(Reply::replay(stored));
                }
                let mut items = app.store.get(&[payout_key(&intent.id), claim_key.clone()]).await.map_err(ApiError::internal)?.into_iter();
                let (fresh, fresh_version) = visible(&principal, items.next().flatten(), id)?;
                let held_by = items.next().flatten().filter(|item| !item.is_expired(now.timestamp()));
                if let Some(item) = held_by {
                    let holder: TxClaim = decode(&item).map_err(ApiError::internal)?;
                    if holder.payout_id != fresh.id {
                        return Err(ApiError::tx_hash_already_used());
                    }
                }
                (intent, version) = (fresh, fresh_version);
            }
            Err(error) => return Err(ApiError::internal(error)),
        }
    }
    Err(ApiError::concurrent_update())
}
