//! DynamoDB adapter of the store port: one table, four sparse GSIs, TTL on `ttl`.
//!
//! The semantics are exactly those of the embedded store (the same contract suite runs against
//! both, see `shared/tests/store_contract.rs`). Every port call is one DynamoDB round trip,
//! except a query whose filters drop items (DynamoDB applies `Limit` before the filter, so the
//! adapter follows `LastEvaluatedKey` until it has enough) and the rare retry of keys a
//! `BatchGetItem` left unprocessed.
//!
//! # Table definition
//! [`create_table`] creates the table for tests and local runs; `template.yaml` declares the same:
//! - key: `pk` (S, HASH), `sk` (S, RANGE); billing `PAY_PER_REQUEST`;
//! - GSIs `gsi1` … `gsi4`: key `gsiNpk` (S, HASH), `gsiNsk` (S, RANGE), projection `ALL`;
//!   sparse: an item carries `gsiNpk`/`gsiNsk` only when its index key is set;
//! - TTL on `ttl` (N, unix seconds, [`Item::expires_at`]).
//!
//! Other attributes: `v` (N, version), `body` (S, the record's JSON), `a_<name>` (S, the
//! filterable attributes of [`Item::attrs`]).

use crate::ports::store::{AttrRange, Condition, IndexKey, IndexName, IndexQuery, Item, ItemKey, Store, StoreError, WriteOp};
use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::{BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextRef};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, Delete, GlobalSecondaryIndex, KeySchemaElement, KeyType, KeysAndAttributes, Projection,
    ProjectionType, Put, ScalarAttributeType, TableStatus, TimeToLiveSpecification, TimeToLiveStatus, TransactWriteItem, Update,
};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PK: &str = "pk";
const SK: &str = "sk";
const VERSION: &str = "v";
const TTL: &str = "ttl";
const BODY: &str = "body";
const ATTR_PREFIX: &str = "a_";

/// DynamoDB's limits on one `BatchGetItem` and one `TransactWriteItems`.
const BATCH_GET_MAX_KEYS: usize = 100;
const TRANSACT_MAX_OPS: usize = 100;
/// Rounds of retrying `UnprocessedKeys` (throttling) before giving up as unavailable.
const UNPROCESSED_RETRIES: u32 = 8;
/// Items read per `Query` page when attribute filters may drop most of them; bounded to keep
/// one page's read cost small.
const FILTERED_PAGE_MIN: usize = 20;
const PAGE_MAX: usize = 1000;

fn index_attrs(index: IndexName) -> (&'static str, &'static str) {
    match index {
        IndexName::Gsi1 => ("gsi1pk", "gsi1sk"),
        IndexName::Gsi2 => ("gsi2pk", "gsi2sk"),
        IndexName::Gsi3 => ("gsi3pk", "gsi3sk"),
        IndexName::Gsi4 => ("gsi4pk", "gsi4sk"),
    }
}

pub struct DynamoDbStore {
    client: Client,
    table: String,
}

impl DynamoDbStore {
    pub fn new(client: Client, table: impl Into<String>) -> DynamoDbStore {
        DynamoDbStore { client, table: table.into() }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl std::fmt::Debug for DynamoDbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamoDbStore").field("table", &self.table).finish()
    }
}

// ---------------------------------------------------------------------------------------------
// Errors

/// Any SDK error as `Unavailable`: the operation, the service's error code and message (or the
/// transport error chain). Neither carries credentials or item contents.
fn unavailable<E, R>(operation: &str, error: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error.as_service_error() {
        Some(service) => StoreError::Unavailable(format!(
            "DynamoDB {operation}: {}: {}",
            service.code().unwrap_or("unknown error"),
            service.message().unwrap_or("no message")
        )),
        None => StoreError::Unavailable(format!("DynamoDB {operation}: {}", DisplayErrorContext(error))),
    }
}

fn build_error(what: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(format!("DynamoDB request {what} could not be built: {error}"))
}

fn corrupt(key: Option<&ItemKey>, what: impl std::fmt::Display) -> StoreError {
    match key {
        Some(key) => StoreError::Corrupt(format!("DynamoDB item {key:?}: {what}")),
        None => StoreError::Corrupt(format!("DynamoDB item: {what}")),
    }
}

// ---------------------------------------------------------------------------------------------
// Items ↔ attribute maps

type Attrs = HashMap<String, AttributeValue>;

fn key_attrs(key: &ItemKey) -> Attrs {
    HashMap::from([(PK.to_owned(), AttributeValue::S(key.pk.clone())), (SK.to_owned(), AttributeValue::S(key.sk.clone()))])
}

fn item_attrs(item: &Item) -> Attrs {
    let mut attrs = key_attrs(&item.key);
    attrs.insert(VERSION.to_owned(), AttributeValue::N(item.version.to_string()));
    if let Some(expires_at) = item.expires_at {
        attrs.insert(TTL.to_owned(), AttributeValue::N(expires_at.to_string()));
    }
    for index in IndexName::ALL {
        if let Some(key) = item.index(index) {
            let (pk, sk) = index_attrs(index);
            attrs.insert(pk.to_owned(), AttributeValue::S(key.pk.clone()));
            attrs.insert(sk.to_owned(), AttributeValue::S(key.sk.clone()));
        }
    }
    for (name, value) in &item.attrs {
        attrs.insert(format!("{ATTR_PREFIX}{name}"), AttributeValue::S(value.clone()));
    }
    attrs.insert(BODY.to_owned(), AttributeValue::S(item.body.clone()));
    attrs
}

fn string_attr(attrs: &Attrs, name: &str) -> Result<Option<String>, StoreError> {
    match attrs.get(name) {
        None => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value.clone())),
        Some(_) => Err(corrupt(None, format!("attribute {name} is not a string"))),
    }
}

fn number_attr<T: std::str::FromStr>(attrs: &Attrs, name: &str, key: &ItemKey) -> Result<Option<T>, StoreError>
where
    T::Err: std::fmt::Display,
{
    match attrs.get(name) {
        None => Ok(None),
        Some(AttributeValue::N(value)) => value.parse().map(Some).map_err(|e| corrupt(Some(key), format!("attribute {name}={value:?}: {e}"))),
        Some(_) => Err(corrupt(Some(key), format!("attribute {name} is not a number"))),
    }
}

fn decode_item(attrs: &Attrs) -> Result<Item, StoreError> {
    let pk = string_attr(attrs, PK)?.ok_or_else(|| corrupt(None, "no pk"))?;
    let sk = string_attr(attrs, SK)?.ok_or_else(|| corrupt(None, "no sk"))?;
    let key = ItemKey { pk, sk };
    let with_key = |error: StoreError| match error {
        StoreError::Corrupt(message) => StoreError::Corrupt(format!("{message} (key {key:?})")),
        other => other,
    };
    let version = number_attr::<u64>(attrs, VERSION, &key)?.ok_or_else(|| corrupt(Some(&key), "no version"))?;
    let expires_at = number_attr::<i64>(attrs, TTL, &key)?;
    let mut indexes: [Option<IndexKey>; 4] = [None, None, None, None];
    for index in IndexName::ALL {
        let (pk_name, sk_name) = index_attrs(index);
        let index_pk = string_attr(attrs, pk_name).map_err(with_key)?;
        let index_sk = string_attr(attrs, sk_name).map_err(with_key)?;
        if let (Some(pk), Some(sk)) = (index_pk, index_sk) {
            indexes[index.position()] = Some(IndexKey { pk, sk });
        }
    }
    let mut item_attrs = BTreeMap::new();
    for (name, value) in attrs {
        if let Some(attr) = name.strip_prefix(ATTR_PREFIX) {
            match value {
                AttributeValue::S(value) => {
                    item_attrs.insert(attr.to_owned(), value.clone());
                }
                _ => return Err(corrupt(Some(&key), format!("attribute {name} is not a string"))),
            }
        }
    }
    let body = string_attr(attrs, BODY).map_err(with_key)?.ok_or_else(|| corrupt(Some(&key), "no body"))?;
    Ok(Item { key, version, expires_at, indexes, attrs: item_attrs, body })
}

// ---------------------------------------------------------------------------------------------
// Expressions

/// A condition or filter expression with its placeholders.
#[derive(Default)]
struct Expression {
    text: String,
    names: HashMap<String, String>,
    values: Attrs,
}

impl Expression {
    fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }

    fn values(&self) -> Option<Attrs> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

fn condition_expression(condition: &Condition) -> Expression {
    match condition {
        // Expired counts as absent: DynamoDB deletes TTL-expired items late (moto never).
        Condition::Absent { now_unix } => Expression {
            text: "attribute_not_exists(#pk) OR #ttl <= :now".to_owned(),
            names: HashMap::from([("#pk".to_owned(), PK.to_owned()), ("#ttl".to_owned(), TTL.to_owned())]),
            values: HashMap::from([(":now".to_owned(), AttributeValue::N(now_unix.to_string()))]),
        },
        Condition::Version(version) => Expression {
            text: "#v = :v".to_owned(),
            names: HashMap::from([("#v".to_owned(), VERSION.to_owned())]),
            values: HashMap::from([(":v".to_owned(), AttributeValue::N(version.to_string()))]),
        },
    }
}

/// Not expired, and every attribute range holds (a missing attribute fails its range).
fn filter_expression(now_unix: i64, filters: &[AttrRange]) -> Expression {
    let mut expression = Expression {
        text: "(attribute_not_exists(#ttl) OR #ttl > :now)".to_owned(),
        names: HashMap::from([("#ttl".to_owned(), TTL.to_owned())]),
        values: HashMap::from([(":now".to_owned(), AttributeValue::N(now_unix.to_string()))]),
    };
    for (n, filter) in filters.iter().enumerate() {
        let name = format!("#f{n}");
        expression.names.insert(name.clone(), format!("{ATTR_PREFIX}{}", filter.attr));
        expression.text.push_str(&format!(" AND attribute_exists({name})"));
        if let Some(bound) = &filter.greater_than {
            let value = format!(":f{n}gt");
            expression.text.push_str(&format!(" AND {name} > {value}"));
            expression.values.insert(value, AttributeValue::S(bound.clone()));
        }
        if let Some(bound) = &filter.less_than {
            let value = format!(":f{n}lt");
            expression.text.push_str(&format!(" AND {name} < {value}"));
            expression.values.insert(value, AttributeValue::S(bound.clone()));
        }
        if let Some(wanted) = &filter.equals {
            let value = format!(":f{n}eq");
            expression.text.push_str(&format!(" AND {name} = {value}"));
            expression.values.insert(value, AttributeValue::S(wanted.clone()));
        }
    }
    expression
}

/// The condition an op is written under (a counter's: below its limit).
fn op_condition(op: &WriteOp) -> Option<Expression> {
    match op {
        WriteOp::Put { condition, .. } | WriteOp::Delete { condition, .. } => condition.as_ref().map(condition_expression),
        WriteOp::Check { condition, .. } => Some(condition_expression(condition)),
        WriteOp::Count { limit, .. } => Some(Expression {
            text: "attribute_not_exists(#v) OR #v < :limit".to_owned(),
            names: HashMap::from([("#v".to_owned(), VERSION.to_owned())]),
            values: HashMap::from([(":limit".to_owned(), AttributeValue::N(limit.to_string()))]),
        }),
    }
}

/// A counter's update, whose placeholders join its condition's: the count is the version
/// attribute, so the item reads back like any other.
fn count_update(expires_at: i64, condition: &mut Expression) -> String {
    condition.names.insert("#body".to_owned(), BODY.to_owned());
    condition.names.insert("#ttl".to_owned(), TTL.to_owned());
    condition.values.insert(":empty".to_owned(), AttributeValue::S(String::new()));
    condition.values.insert(":ttl".to_owned(), AttributeValue::N(expires_at.to_string()));
    condition.values.insert(":one".to_owned(), AttributeValue::N("1".to_owned()));
    "SET #body = if_not_exists(#body, :empty), #ttl = :ttl ADD #v :one".to_owned()
}

/// What a write op sends besides its key or item: its condition (text and placeholders) and, for
/// a counter, its update expression.
struct OpExpressions {
    update: Option<String>,
    text: Option<String>,
    names: Option<HashMap<String, String>>,
    values: Option<Attrs>,
}

fn op_expressions(op: &WriteOp) -> OpExpressions {
    let mut expression = op_condition(op);
    let update = match (op, expression.as_mut()) {
        (WriteOp::Count { expires_at, .. }, Some(expression)) => Some(count_update(*expires_at, expression)),
        _ => None,
    };
    match expression {
        Some(expression) => OpExpressions { update, text: Some(expression.text.clone()), names: expression.names(), values: expression.values() },
        None => OpExpressions { update, text: None, names: None, values: None },
    }
}

// ---------------------------------------------------------------------------------------------
// The port

impl DynamoDbStore {
    async fn get_one(&self, key: &ItemKey) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attrs(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", &e))?;
        output.item.as_ref().map(decode_item).transpose()
    }

    /// Reads distinct keys (at most [`BATCH_GET_MAX_KEYS`]) with one `BatchGetItem`, plus one
    /// more per round of `UnprocessedKeys` (DynamoDB returns some only when throttled or over
    /// 16 MB; retrying just those keys is still a correct consistent read).
    async fn batch_get(&self, keys: &[ItemKey], found: &mut HashMap<ItemKey, Item>) -> Result<(), StoreError> {
        let mut pending = KeysAndAttributes::builder()
            .set_keys(Some(keys.iter().map(key_attrs).collect()))
            .consistent_read(true)
            .build()
            .map_err(|e| build_error("BatchGetItem", e))?;
        for attempt in 0..=UNPROCESSED_RETRIES {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(25 << attempt.min(6))).await;
            }
            let output = self.client.batch_get_item().request_items(&self.table, pending).send().await.map_err(|e| unavailable("BatchGetItem", &e))?;
            for attrs in output.responses.unwrap_or_default().remove(&self.table).unwrap_or_default() {
                let item = decode_item(&attrs)?;
                found.insert(item.key.clone(), item);
            }
            match output.unprocessed_keys.unwrap_or_default().remove(&self.table) {
                Some(unprocessed) if !unprocessed.keys.is_empty() => pending = unprocessed,
                _ => return Ok(()),
            }
        }
        Err(StoreError::Unavailable(format!("DynamoDB BatchGetItem: keys still unprocessed after {UNPROCESSED_RETRIES} retries (throttled)")))
    }

    async fn write_one(&self, position: usize, op: WriteOp) -> Result<(), StoreError> {
        // A conditional put or delete goes as a one-item transaction: if its response is lost,
        // the SDK's retry carries the same ClientRequestToken and DynamoDB answers it as the
        // write already made, where a plain PutItem retried would fail its own condition (a
        // claim reported lost, a create answered 409). It costs twice the write units.
        if matches!(op, WriteOp::Put { condition: Some(_), .. } | WriteOp::Delete { condition: Some(_), .. }) {
            return self.transact(vec![op]).await;
        }
        let OpExpressions { update, text, names, values } = op_expressions(&op);
        let condition_failed = || StoreError::ConditionFailed { failed: vec![position] };
        match op {
            // Unconditional from here on: a retry after a lost answer writes the same again.
            WriteOp::Put { item, .. } => {
                let result = self.client.put_item().table_name(&self.table).set_item(Some(item_attrs(&item))).send().await;
                match result {
                    Ok(_) => Ok(()),
                    // The item is in another request's transaction at this moment: a race to retry.
                    Err(e) if e.as_service_error().is_some_and(|e| e.is_transaction_conflict_exception()) => Err(StoreError::Contention),
                    Err(e) => Err(unavailable("PutItem", &e)),
                }
            }
            WriteOp::Delete { key, .. } => {
                let result = self.client.delete_item().table_name(&self.table).set_key(Some(key_attrs(&key))).send().await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) if e.as_service_error().is_some_and(|e| e.is_transaction_conflict_exception()) => Err(StoreError::Contention),
                    Err(e) => Err(unavailable("DeleteItem", &e)),
                }
            }
            // A lone check: a one-item transaction evaluates the condition server side.
            check @ WriteOp::Check { .. } => self.transact(vec![check]).await,
            WriteOp::Count { key, .. } => {
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(&key)))
                    .set_update_expression(update)
                    .set_condition_expression(text)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(()),
                    Err(e) if e.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()) => Err(condition_failed()),
                    // A transaction holding the counter at this moment (another request's commit).
                    Err(e) if e.as_service_error().is_some_and(|e| e.is_transaction_conflict_exception()) => Err(StoreError::Contention),
                    Err(e) => Err(unavailable("UpdateItem", &e)),
                }
            }
        }
    }

    fn transact_item(&self, op: &WriteOp) -> Result<TransactWriteItem, StoreError> {
        let OpExpressions { update, text, names, values } = op_expressions(op);
        let item = match op {
            WriteOp::Put { item, .. } => TransactWriteItem::builder().put(
                Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item_attrs(item)))
                    .set_condition_expression(text)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(|e| build_error("TransactWriteItems.Put", e))?,
            ),
            WriteOp::Delete { key, .. } => TransactWriteItem::builder().delete(
                Delete::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .set_condition_expression(text)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(|e| build_error("TransactWriteItems.Delete", e))?,
            ),
            WriteOp::Check { key, .. } => TransactWriteItem::builder().condition_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .set_condition_expression(text)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(|e| build_error("TransactWriteItems.ConditionCheck", e))?,
            ),
            WriteOp::Count { key, .. } => TransactWriteItem::builder().update(
                Update::builder()
                    .table_name(&self.table)
                    .set_key(Some(key_attrs(key)))
                    .set_update_expression(update)
                    .set_condition_expression(text)
                    .set_expression_attribute_names(names)
                    .set_expression_attribute_values(values)
                    .build()
                    .map_err(|e| build_error("TransactWriteItems.Update", e))?,
            ),
        };
        Ok(item.build())
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        if ops.len() > TRANSACT_MAX_OPS {
            return Err(StoreError::Unavailable(format!(
                "DynamoDB TransactWriteItems: {} ops in one write, at most {TRANSACT_MAX_OPS} can be atomic",
                ops.len()
            )));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(op) = ops.iter().find(|op| !seen.insert(op.key().clone())) {
            return Err(StoreError::Unavailable(format!("DynamoDB TransactWriteItems: two ops on {:?} in one write (DynamoDB refuses that)", op.key())));
        }
        let items = ops.iter().map(|op| self.transact_item(op)).collect::<Result<Vec<_>, _>>()?;
        // The SDK fills ClientRequestToken, so on AWS its own retries of this call are
        // idempotent; the attempts are counted for the check below.
        let attempts = Arc::new(AtomicU32::new(0));
        let result = self.client.transact_write_items().set_transact_items(Some(items)).customize().interceptor(AttemptCounter(attempts.clone())).send().await;
        match Self::transaction_failure(result) {
            // The SDK retried (the first attempt's answer was lost or late) and the retry failed
            // its condition, where the request token did not answer it first (an emulator, a
            // token past its 10 minutes): if the table holds what the write leaves, the first
            // attempt made it.
            Err(StoreError::ConditionFailed { failed }) if attempts.load(Ordering::SeqCst) > 1 => {
                if self.holds_the_result_of(&ops).await? {
                    tracing::info!(ops = ops.len(), "a retried write refused by its condition is in the table as written: its first attempt made it");
                    Ok(())
                } else {
                    Err(StoreError::ConditionFailed { failed })
                }
            }
            other => other,
        }
    }

    /// Whether every item `ops` put is in the table exactly as put (version and body) and every
    /// item they delete is gone; `false` for a write that leaves nothing to recognise (checks and
    /// counts only).
    async fn holds_the_result_of(&self, ops: &[WriteOp]) -> Result<bool, StoreError> {
        let left: Vec<(&ItemKey, Option<&Item>)> = ops
            .iter()
            .filter_map(|op| match op {
                WriteOp::Put { item, .. } => Some((&item.key, Some(item))),
                WriteOp::Delete { key, .. } => Some((key, None)),
                WriteOp::Check { .. } | WriteOp::Count { .. } => None,
            })
            .collect();
        if left.is_empty() {
            return Ok(false);
        }
        let keys: Vec<ItemKey> = left.iter().map(|(key, _)| (*key).clone()).collect();
        let stored = self.get(&keys).await?;
        Ok(left.iter().zip(&stored).all(|((_, expected), stored)| match (expected, stored) {
            (Some(put), Some(stored)) => stored.version == put.version && stored.body == put.body,
            (None, None) => true,
            _ => false,
        }))
    }

    fn transaction_failure(
        result: Result<
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput,
            SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
        >,
    ) -> Result<(), StoreError> {
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let reasons = cancelled.cancellation_reasons();
                    let code = |reason: &aws_sdk_dynamodb::types::CancellationReason| reason.code().unwrap_or("None").to_owned();
                    let failed: Vec<usize> =
                        reasons.iter().enumerate().filter(|(_, reason)| code(reason) == "ConditionalCheckFailed").map(|(position, _)| position).collect();
                    let other: Vec<String> = reasons.iter().map(code).filter(|code| code != "None" && code != "ConditionalCheckFailed").collect();
                    if !failed.is_empty() && other.is_empty() {
                        Err(StoreError::ConditionFailed { failed })
                    } else if !other.is_empty() && other.iter().all(|code| code == "TransactionConflict") {
                        // Another transaction touched the same items at the same moment: nothing
                        // was written; the caller re-reads and decides again.
                        Err(StoreError::Contention)
                    } else {
                        // Cancelled for another reason (TransactionConflict, throttling, …) too:
                        // nothing was written, and the failing positions may be incomplete, so
                        // the caller retries.
                        Err(StoreError::Unavailable(format!(
                            "DynamoDB TransactWriteItems: transaction cancelled ({})",
                            reasons.iter().map(code).collect::<Vec<_>>().join(", ")
                        )))
                    }
                }
                _ => Err(unavailable("TransactWriteItems", &error)),
            },
        }
    }
}

/// Counts the attempts of one SDK call (its retries included).
#[derive(Debug)]
struct AttemptCounter(Arc<AtomicU32>);

impl Intercept for AttemptCounter {
    fn name(&self) -> &'static str {
        "AttemptCounter"
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

impl DynamoDbStore {
    async fn query_page(
        &self,
        query: &IndexQuery,
        filter: &Expression,
        start: Option<Attrs>,
        page_limit: usize,
    ) -> Result<(Vec<Item>, Option<Attrs>), StoreError> {
        let (pk_name, sk_name) = index_attrs(query.index);
        let mut names = filter.names.clone();
        let mut values = filter.values.clone();
        names.insert("#ipk".to_owned(), pk_name.to_owned());
        values.insert(":ipk".to_owned(), AttributeValue::S(query.pk.clone()));
        let mut key_condition = "#ipk = :ipk".to_owned();
        // One condition on the sort key, as DynamoDB allows: a range, or either bound.
        let bound = |values: &mut Attrs, name: &str, value: &String| {
            values.insert(name.to_owned(), AttributeValue::S(value.clone()));
        };
        let sk_condition = match (&query.sk_at_least, &query.sk_at_most) {
            (Some(low), Some(high)) => {
                bound(&mut values, ":isklo", low);
                bound(&mut values, ":iskhi", high);
                Some(" AND #isk BETWEEN :isklo AND :iskhi")
            }
            (Some(low), None) => {
                bound(&mut values, ":isklo", low);
                Some(" AND #isk >= :isklo")
            }
            (None, Some(high)) => {
                bound(&mut values, ":iskhi", high);
                Some(" AND #isk <= :iskhi")
            }
            (None, None) => None,
        };
        if let Some(sk_condition) = sk_condition {
            names.insert("#isk".to_owned(), sk_name.to_owned());
            key_condition.push_str(sk_condition);
        }
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(query.index.as_str())
            .key_condition_expression(key_condition)
            .filter_expression(&filter.text)
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .scan_index_forward(!query.descending)
            .set_exclusive_start_key(start)
            .limit(i32::try_from(page_limit).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| unavailable("Query", &e))?;
        let items = output.items.unwrap_or_default().iter().map(decode_item).collect::<Result<Vec<_>, _>>()?;
        Ok((items, output.last_evaluated_key.filter(|key| !key.is_empty())))
    }
}

#[async_trait]
impl Store for DynamoDbStore {
    async fn get(&self, keys: &[ItemKey]) -> Result<Vec<Option<Item>>, StoreError> {
        match keys {
            [] => Ok(Vec::new()),
            [key] => Ok(vec![self.get_one(key).await?]),
            _ => {
                // BatchGetItem refuses duplicate keys; ask each once and answer in the order asked.
                let mut distinct: Vec<ItemKey> = keys.to_vec();
                distinct.sort();
                distinct.dedup();
                let mut found = HashMap::with_capacity(distinct.len());
                for chunk in distinct.chunks(BATCH_GET_MAX_KEYS) {
                    if let [key] = chunk {
                        if let Some(item) = self.get_one(key).await? {
                            found.insert(item.key.clone(), item);
                        }
                    } else {
                        self.batch_get(chunk, &mut found).await?;
                    }
                }
                Ok(keys.iter().map(|key| found.get(key).cloned()).collect())
            }
        }
    }

    async fn write(&self, mut ops: Vec<WriteOp>) -> Result<(), StoreError> {
        match ops.len() {
            0 => Ok(()),
            1 => match ops.pop() {
                Some(op) => self.write_one(0, op).await,
                None => Ok(()),
            },
            _ => self.transact(ops).await,
        }
    }

    async fn query(&self, query: &IndexQuery) -> Result<Vec<Item>, StoreError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let filter = filter_expression(query.now_unix, &query.filters);
        let (pk_name, sk_name) = index_attrs(query.index);
        let mut start = query.after.as_ref().map(|after| {
            let mut key = key_attrs(&after.key);
            key.insert(pk_name.to_owned(), AttributeValue::S(query.pk.clone()));
            key.insert(sk_name.to_owned(), AttributeValue::S(after.index_sk.clone()));
            key
        });
        let mut items = Vec::new();
        loop {
            let remaining = query.limit - items.len();
            // DynamoDB applies Limit before the filter: without attribute filters nearly every
            // item read matches, so read what is needed; with them, read more per page.
            let page_limit = if query.filters.is_empty() { remaining } else { remaining.saturating_mul(4).max(FILTERED_PAGE_MIN) };
            let (page, next) = self.query_page(query, &filter, start.take(), page_limit.clamp(1, PAGE_MAX)).await?;
            items.extend(page);
            if items.len() >= query.limit {
                items.truncate(query.limit);
                return Ok(items);
            }
            match next {
                Some(next) => start = Some(next),
                None => return Ok(items),
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Table creation

/// Creates the table (see the module docs) with TTL on `ttl`, and waits until it is active.
/// An existing table of that name is left as it is (TTL is still ensured).
pub async fn create_table(client: &Client, table_name: &str) -> Result<(), StoreError> {
    let string_attr = |name: &str| {
        AttributeDefinition::builder().attribute_name(name).attribute_type(ScalarAttributeType::S).build().map_err(|e| build_error("CreateTable", e))
    };
    let key = |hash: &str, range: &str| -> Result<Vec<KeySchemaElement>, StoreError> {
        Ok(vec![
            KeySchemaElement::builder().attribute_name(hash).key_type(KeyType::Hash).build().map_err(|e| build_error("CreateTable", e))?,
            KeySchemaElement::builder().attribute_name(range).key_type(KeyType::Range).build().map_err(|e| build_error("CreateTable", e))?,
        ])
    };
    let mut definitions = vec![string_attr(PK)?, string_attr(SK)?];
    let mut indexes = Vec::new();
    for index in IndexName::ALL {
        let (pk, sk) = index_attrs(index);
        definitions.push(string_attr(pk)?);
        definitions.push(string_attr(sk)?);
        indexes.push(
            GlobalSecondaryIndex::builder()
                .index_name(index.as_str())
                .set_key_schema(Some(key(pk, sk)?))
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(|e| build_error("CreateTable", e))?,
        );
    }
    let created = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(definitions))
        .set_key_schema(Some(key(PK, SK)?))
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_in_use_exception()) => {}
        Err(e) => return Err(unavailable("CreateTable", &e)),
    }

    // Real DynamoDB takes seconds to create a table; moto is immediate.
    let mut active = false;
    for _ in 0..120 {
        let described = client.describe_table().table_name(table_name).send().await.map_err(|e| unavailable("DescribeTable", &e))?;
        if described.table.as_ref().and_then(|table| table.table_status()) == Some(&TableStatus::Active) {
            active = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if !active {
        return Err(StoreError::Unavailable(format!("DynamoDB table {table_name} did not become active within 60 s")));
    }

    let ttl = client.describe_time_to_live().table_name(table_name).send().await.map_err(|e| unavailable("DescribeTimeToLive", &e))?;
    let ttl_on = ttl.time_to_live_description.as_ref().is_some_and(|description| {
        description.attribute_name() == Some(TTL) && matches!(description.time_to_live_status(), Some(TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling))
    });
    if !ttl_on {
        client
            .update_time_to_live()
            .table_name(table_name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder().enabled(true).attribute_name(TTL).build().map_err(|e| build_error("UpdateTimeToLive", e))?,
            )
            .send()
            .await
            .map_err(|e| unavailable("UpdateTimeToLive", &e))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Counting SDK calls (for round-trip budget tests)

/// An SDK interceptor that records the name of every operation a client starts ("GetItem",
/// "TransactWriteItems", "SendMessage", …), once per operation whatever the retries. Clones
/// share the record, so one counter can be attached to a DynamoDB and an SQS client at once.
#[derive(Clone, Debug, Default)]
pub struct CallCounter {
    calls: Arc<Mutex<Vec<String>>>,
}

impl CallCounter {
    pub fn new() -> CallCounter {
        CallCounter::default()
    }

    /// The operations started so far, in order.
    pub fn snapshot(&self) -> Vec<String> {
        self.calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// How many operations of this name were started.
    pub fn count(&self, operation: &str) -> usize {
        self.snapshot().iter().filter(|name| *name == operation).count()
    }

    pub fn reset(&self) {
        self.calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).clear();
    }
}

impl Intercept for CallCounter {
    fn name(&self) -> &'static str {
        "CallCounter"
    }

    // Once per operation, after the operation's config (its `Metadata`) is in the bag: a client
    // interceptor's `read_before_execution` runs before that, and per-attempt hooks would count
    // retries.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let operation = cfg.load::<Metadata>().map_or_else(|| "unknown".to_owned(), |metadata| metadata.name().to_owned());
        self.calls.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push(operation);
        Ok(())
    }
}

/// A DynamoDB client from `sdk_config` whose calls `counter` records.
pub fn counted_client(sdk_config: &aws_config::SdkConfig, counter: &CallCounter) -> Client {
    Client::from_conf(aws_sdk_dynamodb::config::Builder::from(sdk_config).interceptor(counter.clone()).build())
}
