//! The chain port: what the chain-watcher needs to know about a chain, read in as few JSON-RPC
//! round trips as possible (receipts of many transactions and the head in one batch).

use crate::domain::address::TxHash;
use async_trait::async_trait;

/// One ERC-20 `Transfer(address indexed from, address indexed to, uint256 value)` log.
/// Addresses are the 20-byte account ids (tron logs carry them without the 0x41 prefix).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferLog {
    pub log_index: u64,
    /// The contract that emitted the log (the token).
    pub token_contract: [u8; 20],
    pub from: [u8; 20],
    pub to: [u8; 20],
    /// `None` when the value does not fit in 128 bits (never a real stablecoin amount).
    pub amount: Option<u128>,
}

/// What a transaction receipt says, reduced to what verification needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxReceipt {
    /// `status == 0x1`.
    pub succeeded: bool,
    pub block_number: u64,
    /// `0x`-prefixed lowercase hex.
    pub block_hash: String,
    /// The block's timestamp (unix seconds), read from the block itself when a verdict needs it
    /// ([`ChainReader::blocks`]); `None` until then.
    pub block_timestamp: Option<u64>,
    /// Every `Transfer` log of the receipt, whatever contract emitted it.
    pub transfers: Vec<TransferLog>,
}

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

/// A block's identity and time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// `0x`-prefixed lowercase hex.
    pub hash: String,
    /// Unix seconds.
    pub timestamp: u64,
}

#[async_trait]
pub trait ChainReader: Send + Sync {
    /// Receipts of `tx_hashes` (same order) and the head (and finalized block when
    /// `with_finalized`), in as few HTTP requests as the provider's batch limit allows.
    async fn snapshot(&self, tx_hashes: &[TxHash], with_finalized: bool) -> Result<ChainSnapshot, ChainError>;

    /// The blocks of these numbers (same order; `None`: no such block yet), batched likewise.
    async fn blocks(&self, numbers: &[u64]) -> Result<Vec<Option<BlockHeader>>, ChainError>;
}
