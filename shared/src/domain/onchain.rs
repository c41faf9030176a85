//! What a chain says about a transaction, reduced to what verification reasons about. The chain
//! port's adapters produce these; the domain's verdicts read them.

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
    /// (the chain port's `ChainReader::blocks`); `None` until then.
    pub block_timestamp: Option<u64>,
    /// Every `Transfer` log of the receipt, whatever contract emitted it.
    pub transfers: Vec<TransferLog>,
}

/// A block's identity and time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlockHeader {
    /// `0x`-prefixed lowercase hex.
    pub hash: String,
    /// Unix seconds.
    pub timestamp: u64,
}
