//! The store port: a small item store with atomic conditional writes and index queries —
//! the subset of DynamoDB the service needs, so the embedded adapter can honour it exactly.
//!
//! Items live under a (pk, sk) key, carry a version (optimistic concurrency), an optional
//! expiry (treated as absent once passed, like DynamoDB TTL which deletes late), up to three
//! index keys (sparse global secondary indexes), a few string attributes that queries may filter
//! on, and a JSON body; or, for rate limits, a counter (`WriteOp::Count`). The domain's records
//! and key design are in `service::records`.

use async_trait::async_trait;
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey {
    pub pk: String,
    pub sk: String,
}

impl ItemKey {
    pub fn new(pk: impl Into<String>, sk: impl Into<String>) -> ItemKey {
        ItemKey { pk: pk.into(), sk: sk.into() }
    }
}

/// The three sparse indexes. Names are the DynamoDB GSI names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IndexName {
    /// Everything of one kind for one owner, newest first (lists).
    Gsi1,
    /// The same, narrowed by one more dimension (status, event type, …).
    Gsi2,
    /// Global work queues across tenants (intents awaiting the chain, unpublished events, due deliveries).
    Gsi3,
    /// A second narrowing: payouts by status, chain and token; events by the payout they are about.
    Gsi4,
}

impl IndexName {
    pub const ALL: [IndexName; 4] = [IndexName::Gsi1, IndexName::Gsi2, IndexName::Gsi3, IndexName::Gsi4];

    pub fn position(self) -> usize {
        match self {
            IndexName::Gsi1 => 0,
            IndexName::Gsi2 => 1,
            IndexName::Gsi3 => 2,
            IndexName::Gsi4 => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            IndexName::Gsi1 => "gsi1",
            IndexName::Gsi2 => "gsi2",
            IndexName::Gsi3 => "gsi3",
            IndexName::Gsi4 => "gsi4",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexKey {
    pub pk: String,
    pub sk: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Item {
    pub key: ItemKey,
    /// Starts at 1; every replace is conditioned on the previous version.
    pub version: u64,
    /// Unix seconds after which the item counts as absent.
    pub expires_at: Option<i64>,
    /// Index keys by [`IndexName::position`]; `None` keeps the item out of that index.
    pub indexes: [Option<IndexKey>; 4],
    /// String attributes a query may filter on (never key attributes).
    pub attrs: BTreeMap<String, String>,
    /// The record itself, as JSON.
    pub body: String,
}

impl Item {
    pub fn index(&self, index: IndexName) -> Option<&IndexKey> {
        self.indexes[index.position()].as_ref()
    }

    pub fn is_expired(&self, now_unix: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now_unix)
    }
}

/// A precondition on one item, checked atomically with the whole write.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// No item under the key, or one that expired at or before `now_unix`.
    Absent { now_unix: i64 },
    /// The item exists with exactly this version.
    Version(u64),
}

// Puts dominate every write; boxing the item would only add an allocation per op.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WriteOp {
    Put {
        item: Item,
        condition: Option<Condition>,
    },
    Delete {
        key: ItemKey,
        condition: Option<Condition>,
    },
    /// Writes nothing; fails the whole write when its condition does not hold.
    Check {
        key: ItemKey,
        condition: Condition,
    },
    /// Adds one to a counter item (created at 1; its [`Item::version`] is the count, its body
    /// empty) and sets its expiry. Its condition is that the count is below `limit`: at the limit
    /// the whole write fails with [`StoreError::ConditionFailed`] at this op's position.
    Count {
        key: ItemKey,
        limit: u64,
        expires_at: i64,
    },
}

impl WriteOp {
    pub fn key(&self) -> &ItemKey {
        match self {
            WriteOp::Put { item, .. } => &item.key,
            WriteOp::Delete { key, .. } | WriteOp::Check { key, .. } | WriteOp::Count { key, .. } => key,
        }
    }
}

/// A filter on an item attribute: present, equal to `equals` if given, and strictly between the
/// bounds given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AttrRange {
    pub attr: String,
    pub greater_than: Option<String>,
    pub less_than: Option<String>,
    pub equals: Option<String>,
}

impl AttrRange {
    /// The attribute is present.
    pub fn present(attr: &str) -> AttrRange {
        AttrRange { attr: attr.to_owned(), ..AttrRange::default() }
    }

    /// The attribute is exactly `value`.
    pub fn equal_to(attr: &str, value: &str) -> AttrRange {
        AttrRange { attr: attr.to_owned(), equals: Some(value.to_owned()), ..AttrRange::default() }
    }
}

/// Where a page stopped: the index sort key and the item key of the last item returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexPosition {
    pub index_sk: String,
    pub key: ItemKey,
}

impl IndexPosition {
    /// Where `item` stands in `index` (`None` if it is not in that index).
    pub fn of(item: &Item, index: IndexName) -> Option<IndexPosition> {
        Some(IndexPosition { index_sk: item.index(index)?.sk.clone(), key: item.key.clone() })
    }
}

#[derive(Clone, Debug)]
pub struct IndexQuery {
    pub index: IndexName,
    pub pk: String,
    /// Only index sort keys `>=` this (e.g. "created since").
    pub sk_at_least: Option<String>,
    /// Only index sort keys `<=` this (e.g. "due before now").
    pub sk_at_most: Option<String>,
    /// Resume strictly after this position.
    pub after: Option<IndexPosition>,
    pub filters: Vec<AttrRange>,
    /// Index sort key descending (newest first) or ascending (oldest first).
    pub descending: bool,
    /// At most this many matching items are returned.
    pub limit: usize,
    /// Unix seconds; expired items are skipped.
    pub now_unix: i64,
}

impl IndexQuery {
    /// One partition of an index, unfiltered, from its start, 100 items per call.
    pub fn partition(index: IndexName, pk: impl Into<String>, descending: bool, now_unix: i64) -> IndexQuery {
        IndexQuery { index, pk: pk.into(), sk_at_least: None, sk_at_most: None, after: None, filters: Vec::new(), descending, limit: 100, now_unix }
    }
}

/// Every item of a query, following its pages: for the few reads that need a whole partition.
pub async fn read_all(store: &dyn Store, mut query: IndexQuery) -> Result<Vec<Item>, StoreError> {
    let mut items = Vec::new();
    loop {
        let page = store.query(&query).await?;
        let full = page.len() == query.limit;
        query.after = page.last().filter(|_| full).and_then(|last| IndexPosition::of(last, query.index));
        items.extend(page);
        if query.after.is_none() {
            return Ok(items);
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The write was refused as a whole; these are the positions of the ops whose condition failed.
    #[error("condition failed on write op(s) {failed:?}")]
    ConditionFailed { failed: Vec<usize> },
    /// Another write to the same items won at the same moment (DynamoDB's TransactionConflict):
    /// nothing was written; re-read and decide again.
    #[error("write contention on the same items")]
    Contention,
    /// The backend could not be reached or answered an error; nothing is known to be written.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Data in the store does not decode: a bug or a manual edit.
    #[error("corrupt record: {0}")]
    Corrupt(String),
    /// The request's rate-limit counter, added to this write by the metering store, was at its
    /// limit: nothing was written, and the caller is answered 429 (never a retry).
    #[error("the organization's request rate limit is reached; nothing was written")]
    LimitReached,
}

impl StoreError {
    /// Lost a race (a condition or a concurrent transaction): re-reading and deciding again is right.
    pub fn lost_race(&self) -> bool {
        matches!(self, StoreError::ConditionFailed { .. } | StoreError::Contention)
    }
}

#[async_trait]
pub trait Store: Send + Sync {
    /// Strongly consistent reads of several items in one round trip, in the order asked.
    /// Expired items are returned as they are; callers decide (see [`Item::is_expired`]).
    async fn get(&self, keys: &[ItemKey]) -> Result<Vec<Option<Item>>, StoreError>;

    /// All ops or none, each under its condition, in one round trip.
    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError>;

    /// Items of one index partition in sort-key order, after `after`, matching every filter.
    async fn query(&self, query: &IndexQuery) -> Result<Vec<Item>, StoreError>;
}
