use crate::domain::address::TxHash;
use crate::domain::chain::Chain;
use crate::domain::ids::PayoutId;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// What execute enqueues for the chain-watcher.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxMessage {
    pub payout_id: PayoutId,
    pub chain: Chain,
    pub tx_hash: TxHash,
}

#[derive(Debug, thiserror::Error)]
#[error("tx queue unavailable: {0}")]
pub struct QueueError(pub String);

/// The tx queue: SQS in AWS, an in-process channel locally.
#[async_trait]
pub trait TxQueue: Send + Sync {
    async fn enqueue(&self, message: &TxMessage) -> Result<(), QueueError>;
}
