#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::ports::store::{IndexQuery, Item, ItemKey, Store, StoreError, WriteOp};
use async_trait::async_trait;
use std::sync::Arc;

/// A store that never answers (unit tests only).
struct DownStore;

#[async_trait]
impl Store for DownStore {
    async fn get(&self, _: &[ItemKey]) -> Result<Vec<Option<Item>>, StoreError> {
        Err(StoreError::Unavailable("connection refused".into()))
    }
    async fn write(&self, _: Vec<WriteOp>) -> Result<(), StoreError> {
        Err(StoreError::Unavailable("connection refused".into()))
    }
    async fn query(&self, _: &IndexQuery) -> Result<Vec<Item>, StoreError> {
        Err(StoreError::Unavailable("connection refused".into()))
    }
}

struct NoQueue;

#[async_trait]
impl crate::ports::TxQueue for NoQueue {
    async fn enqueue(&self, _: &crate::ports::queue::TxMessage) -> Result<(), crate::ports::queue::QueueError> {
        Ok(())
    }
}

struct NoWallets;

#[async_trait]
impl crate::ports::chain::ContractWallets for NoWallets {
    async fn accepts_signature(
        &self,
        _: crate::domain::chain::Environment,
        _: crate::domain::chain::Chain,
        _: [u8; 20],
        _: [u8; 32],
        _: &[u8],
    ) -> Result<bool, crate::ports::chain::ChainError> {
        Ok(false)
    }
}

#[tokio::test]
async fn an_unreachable_store_is_a_503_without_internals() {
    let chains = Arc::new(crate::config::ChainRegistry::from_vars(&std::collections::BTreeMap::<String, String>::new()).unwrap());
    let app = App::new(
        Arc::new(DownStore),
        Arc::new(NoQueue),
        chains,
        Arc::new(NoWallets),
        Arc::new(crate::runtime::NoDataKeys),
        Arc::new(crate::runtime::NoDataKeys),
    );
    let error = get(&app).await.err().unwrap();
    assert_eq!((error.status().as_u16(), error.code), (503, "store_unavailable"));
    assert!(!error.message.contains("connection refused"), "{}", error.message);
}
