//! A store decorator that signals after every committed write that recorded an event: the
//! local runner's stand-in for the DynamoDB stream that triggers the event relay in AWS, so
//! webhooks for API changes go out at once instead of at the next sweep.

use crate::ports::store::{IndexQuery, Item, ItemKey, Store, StoreError, WriteOp};
use async_trait::async_trait;
use std::sync::Arc;
use tokio::sync::Notify;

pub struct NotifyingStore {
    inner: Arc<dyn Store>,
    events_committed: Arc<Notify>,
}

impl NotifyingStore {
    pub fn new(inner: Arc<dyn Store>) -> (NotifyingStore, Arc<Notify>) {
        let notify = Arc::new(Notify::new());
        (NotifyingStore { inner, events_committed: notify.clone() }, notify)
    }
}

#[async_trait]
impl Store for NotifyingStore {
    async fn get(&self, keys: &[ItemKey]) -> Result<Vec<Option<Item>>, StoreError> {
        self.inner.get(keys).await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        let records_event = ops
            .iter()
            .any(|op| matches!(op, WriteOp::Put { item, condition: Some(crate::ports::store::Condition::Absent { .. }) } if item.key.pk.starts_with("EVT#")));
        self.inner.write(ops).await?;
        if records_event {
            self.events_committed.notify_one();
        }
        Ok(())
    }

    async fn query(&self, query: &IndexQuery) -> Result<Vec<Item>, StoreError> {
        self.inner.query(query).await
    }
}
