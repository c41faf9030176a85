//! Settlements: one on-chain token transfer, identified by (environment, chain, tx_hash,
//! log_index): a transfer is booked once, and a sandbox pointed at the same network as live can
//! never block live.

use super::address::{TxHash, tron_address_from_account};
use super::chain::{Chain, Environment, Token};
use super::ids::{OrgId, PayoutId, SettlementId, WalletId};
use super::money::AtomicAmount;
use super::time::{self, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Settlement {
    pub id: SettlementId,
    pub org_id: OrgId,
    pub environment: Environment,
    /// `None` for a transfer that belongs to no intent (reconciliation's "unexpected").
    pub payout_intent_id: Option<PayoutId>,
    pub chain: Chain,
    pub tx_hash: TxHash,
    pub log_index: u64,
    pub from_address: Option<String>,
    pub to_address: Option<String>,
    pub token: Token,
    pub amount_atomic: AtomicAmount,
    /// The organization's verified wallet that sent the transfer, if it was one.
    #[serde(default)]
    pub source_wallet_id: Option<WalletId>,
    pub block_number: Option<u64>,
    pub block_hash: Option<String>,
    /// The block's own time, when it was read (the source-wallet scanner reads it).
    #[serde(default, with = "time::rfc3339::option")]
    pub block_time: Option<Timestamp>,
    pub confirmations: u64,
    #[serde(with = "time::rfc3339::option")]
    pub confirmed_at: Option<Timestamp>,
    #[serde(with = "time::rfc3339")]
    pub detected_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
}

/// The chain's own spelling of a 20-byte account: base58check on tron, EIP-55 hex elsewhere.
pub fn display_account(chain: Chain, account: [u8; 20]) -> String {
    if chain.is_evm() { alloy::primitives::Address::from(account).to_checksum(None) } else { tron_address_from_account(account) }
}

impl Settlement {
    pub fn view(&self) -> SettlementView {
        let at = |t: &Timestamp| time::to_rfc3339(&time::whole_seconds(*t));
        SettlementView {
            id: self.id.to_string(),
            org_id: self.org_id.to_string(),
            payout_intent_id: self.payout_intent_id.as_ref().map(ToString::to_string),
            chain: self.chain,
            tx_hash: self.tx_hash.to_string(),
            log_index: self.log_index,
            from_address: self.from_address.clone(),
            to_address: self.to_address.clone(),
            token: self.token,
            amount: self.amount_atomic.to_decimal(),
            amount_atomic: self.amount_atomic.to_string(),
            source_wallet_id: self.source_wallet_id.as_ref().map(ToString::to_string),
            block_number: self.block_number,
            block_hash: self.block_hash.clone(),
            confirmations: self.confirmations,
            confirmed_at: self.confirmed_at.as_ref().map(at),
            detected_at: at(&self.detected_at),
            environment: self.environment,
            created_at: at(&self.created_at),
        }
    }
}

/// The public settlement object, every contract field present.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct SettlementView {
    pub id: String,
    pub org_id: String,
    #[schema(nullable)]
    pub payout_intent_id: Option<String>,
    pub chain: Chain,
    pub tx_hash: String,
    pub log_index: u64,
    #[schema(nullable)]
    pub from_address: Option<String>,
    #[schema(nullable)]
    pub to_address: Option<String>,
    pub token: Token,
    /// The amount in token units, as an exact JSON number (`25.000000`).
    #[schema(value_type = f64, example = 500.0)]
    #[serde(serialize_with = "super::money::serialize_decimal")]
    pub amount: rust_decimal::Decimal,
    /// The amount in the token's smallest unit, as a string.
    pub amount_atomic: String,
    /// The verified source wallet of the organization that sent it (`null`: the sender is none).
    #[schema(nullable)]
    pub source_wallet_id: Option<String>,
    #[schema(nullable)]
    pub block_number: Option<u64>,
    #[schema(nullable)]
    pub block_hash: Option<String>,
    pub confirmations: u64,
    #[schema(nullable, format = DateTime)]
    pub confirmed_at: Option<String>,
    #[schema(format = DateTime)]
    pub detected_at: String,
    pub environment: Environment,
    #[schema(format = DateTime)]
    pub created_at: String,
}
