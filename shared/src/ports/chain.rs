//! The chain port: what the chain-watcher needs to know about a chain, read in as few JSON-RPC
//! round trips as possible (receipts of many transactions and the head in one batch).

use crate::domain::address::TxHash;
pub use crate::domain::onchain::{BlockHeader, TransferLog, TxReceipt};
use async_trait::async_trait;

/// The chain as seen at one moment: its head, its finalized block (when asked for), and the
/// receipt of each asked transaction (`None`: not in any block the node knows).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChainSnapshot {
    pub head: u64,
    pub finalized: Option<u64>,
    pub receipts: Vec<Option<TxReceipt>>,
}

/// RPC trouble: timeouts, 5xx, 429, connection errors, malformed answers. Never a verdict about
/// a transaction: the intent stays where it is and is looked at again later.
#[derive(Debug, Clone, thiserror::Error)]
#[error("chain RPC unavailable: {0}")]
pub struct ChainError(pub String);

/// EIP-1271 contract wallets: asks a wallet whether it accepts a signature of a hash.
#[async_trait]
pub trait ContractWallets: Send + Sync {
    /// Whether `isValidSignature(hash, signature)` on `wallet` answers the EIP-1271 magic value
    /// (`false` for an account without code, a revert, or any other answer). RPC trouble is an error.
    async fn accepts_signature(
        &self,
        environment: crate::domain::chain::Environment,
        chain: crate::domain::chain::Chain,
        wallet: [u8; 20],
        hash: [u8; 32],
        signature: &[u8],
    ) -> Result<bool, ChainError>;
}

/// Token transfers sent by any of `senders`, from any of `token_contracts`, in the blocks
/// `from_block..=to_block` (one `eth_getLogs`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferQuery {
    pub from_block: u64,
    pub to_block: u64,
    pub token_contracts: Vec<[u8; 20]>,
    pub senders: Vec<[u8; 20]>,
}

/// One transfer log as `eth_getLogs` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedTransfer {
    pub tx_hash: TxHash,
    pub block_number: u64,
    /// `0x`-prefixed lowercase hex.
    pub block_hash: String,
    pub transfer: TransferLog,
    /// The node flagged the log as removed by a reorg.
    pub removed: bool,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum LogsError {
    /// The provider refuses a range this large (too many results, range too wide, a timeout):
    /// a smaller range may pass.
    #[error("the provider refused the block range: {0}")]
    RangeRefused(String),
    #[error(transparent)]
    Unavailable(#[from] ChainError),
}

#[async_trait]
pub trait ChainReader: Send + Sync {
    /// Receipts of `tx_hashes` (same order) and the head (and finalized block when
    /// `with_finalized`), in as few HTTP requests as the provider's batch limit allows.
    async fn snapshot(&self, tx_hashes: &[TxHash], with_finalized: bool) -> Result<ChainSnapshot, ChainError>;

    /// The blocks of these numbers (same order; `None`: no such block yet), batched likewise.
    async fn blocks(&self, numbers: &[u64]) -> Result<Vec<Option<BlockHeader>>, ChainError>;

    /// The ERC-20 transfers a [`TransferQuery`] selects, in one request.
    async fn transfers(&self, query: &TransferQuery) -> Result<Vec<LoggedTransfer>, LogsError>;
}
