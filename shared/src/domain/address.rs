//! On-chain addresses and transaction hashes, validated per chain and stored in one canonical form.
//!
//! Funds sent to a mistyped address are gone, so validation is strict: EIP-55 checksums for
//! mixed-case EVM addresses, base58check for tron, no zero address.

use super::chain::Chain;
use alloy::primitives::Address as EvmAddress;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Tron addresses are 0x41 followed by the 20-byte account id.
const TRON_ADDRESS_PREFIX: u8 = 0x41;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("is not a valid {chain} address: expected 0x followed by 40 hex characters")]
    EvmFormat { chain: Chain },
    #[error("fails the EIP-55 checksum (mixed-case addresses must be checksummed exactly)")]
    EvmChecksum,
    #[error("is the zero address")]
    Zero,
    #[error("is not a valid tron address: expected a 34-character base58check address starting with T")]
    TronFormat,
    #[error("fails the tron base58check checksum")]
    TronChecksum,
}

/// A recipient address in canonical form: EIP-55 checksummed hex for EVM chains, base58check for tron.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ChainAddress(String);

impl ChainAddress {
    pub fn parse(chain: Chain, text: &str) -> Result<ChainAddress, AddressError> {
        if chain.is_evm() { parse_evm(chain, text) } else { parse_tron(text) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 20-byte account id, as it appears in EVM logs (tron logs omit the 0x41 prefix).
    pub fn account_bytes(&self) -> Option<[u8; 20]> {
        if let Some(hex_part) = self.0.strip_prefix("0x") {
            let bytes = hex::decode(hex_part).ok()?;
            return bytes.try_into().ok();
        }
        let decoded = bs58::decode(&self.0).with_check(None).into_vec().ok()?;
        decoded.get(1..21)?.try_into().ok()
    }
}

impl fmt::Display for ChainAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ChainAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn parse_evm(chain: Chain, text: &str) -> Result<ChainAddress, AddressError> {
    let hex_part = text.strip_prefix("0x").ok_or(AddressError::EvmFormat { chain })?;
    if hex_part.len() != 40 || !hex_part.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(AddressError::EvmFormat { chain });
    }
    let all_lower = !hex_part.bytes().any(|b| b.is_ascii_uppercase());
    let all_upper = !hex_part.bytes().any(|b| b.is_ascii_lowercase());
    let address = if all_lower || all_upper {
        // Single-case addresses carry no checksum (EIP-55); accepted and stored checksummed.
        text.parse::<EvmAddress>().map_err(|_| AddressError::EvmFormat { chain })?
    } else {
        EvmAddress::parse_checksummed(text, None).map_err(|_| AddressError::EvmChecksum)?
    };
    if address == EvmAddress::ZERO {
        return Err(AddressError::Zero);
    }
    Ok(ChainAddress(address.to_checksum(None)))
}

fn parse_tron(text: &str) -> Result<ChainAddress, AddressError> {
    if text.len() != 34 || !text.starts_with('T') {
        return Err(AddressError::TronFormat);
    }
    let decoded = match bs58::decode(text).with_check(None).into_vec() {
        Ok(decoded) => decoded,
        Err(bs58::decode::Error::InvalidChecksum { .. }) => return Err(AddressError::TronChecksum),
        Err(_) => return Err(AddressError::TronFormat),
    };
    if decoded.len() != 21 || decoded[0] != TRON_ADDRESS_PREFIX {
        return Err(AddressError::TronFormat);
    }
    if decoded[1..].iter().all(|b| *b == 0) {
        return Err(AddressError::Zero);
    }
    Ok(ChainAddress(text.to_owned()))
}

/// The base58check tron address of a 20-byte account id (as found in tron JSON-RPC logs).
pub fn tron_address_from_account(account: [u8; 20]) -> String {
    let mut payload = Vec::with_capacity(21);
    payload.push(TRON_ADDRESS_PREFIX);
    payload.extend_from_slice(&account);
    bs58::encode(payload).with_check().into_string()
}

/// A transaction hash in one normalized lowercase form: `0x…` on EVM chains, bare hex on tron.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TxHash(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 64 hex characters, with or without a 0x prefix")]
pub struct TxHashError;

impl TxHash {
    pub fn parse(chain: Chain, text: &str) -> Result<TxHash, TxHashError> {
        let bare = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text);
        if bare.len() != 64 || !bare.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(TxHashError);
        }
        let lower = bare.to_ascii_lowercase();
        Ok(TxHash(if chain.is_evm() { format!("0x{lower}") } else { lower }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64 hex characters without any prefix.
    pub fn bare_hex(&self) -> &str {
        self.0.strip_prefix("0x").unwrap_or(&self.0)
    }
}

impl fmt::Display for TxHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TxHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evm_checksummed_addresses_from_eip55_pass() {
        for good in [
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
            "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
            "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
            "0xaf88d065e77c8cC2239327C5EDb3A432268e5831",
        ] {
            assert_eq!(ChainAddress::parse(Chain::Arbitrum, good).map(|a| a.to_string()), Ok(good.to_owned()));
        }
    }

    #[test]
    fn evm_single_case_is_accepted_and_stored_checksummed() {
        let lower = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed";
        assert_eq!(ChainAddress::parse(Chain::Base, lower).map(|a| a.to_string()), Ok("0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed".to_owned()));
        let upper = "0x5AAEB6053F3E94C9B9A09F33669435E7EF1BEAED";
        assert!(ChainAddress::parse(Chain::Base, upper).is_ok());
    }

    #[test]
    fn evm_bad_addresses_are_refused() {
        // One letter's case flipped: checksum fails.
        assert_eq!(ChainAddress::parse(Chain::Base, "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAeD"), Err(AddressError::EvmChecksum));
        assert_eq!(ChainAddress::parse(Chain::Base, "0x0000000000000000000000000000000000000000"), Err(AddressError::Zero));
        for bad in [
            "5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeA",
            "0xZZAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "",
            "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t",
        ] {
            assert!(matches!(ChainAddress::parse(Chain::Arbitrum, bad), Err(AddressError::EvmFormat { .. })), "{bad}");
        }
    }

    #[test]
    fn tron_addresses_are_base58check_with_0x41() {
        let usdt = ChainAddress::parse(Chain::Tron, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(usdt.account_bytes().map(hex::encode).as_deref(), Some("a614f803b6fd780986a42c78ec9c7f77e6ded13c"));
        let mut account = [0u8; 20];
        account.copy_from_slice(&hex::decode("a614f803b6fd780986a42c78ec9c7f77e6ded13c").unwrap_or_default());
        assert_eq!(tron_address_from_account(account), "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t");
        assert!(ChainAddress::parse(Chain::Tron, "TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf").is_ok());
    }

    #[test]
    fn tron_bad_addresses_are_refused() {
        // The guide's placeholder is not base58 at all (0, I, l).
        assert_eq!(ChainAddress::parse(Chain::Tron, "TXrkA1b2C3d4E5f6G7h8I9j0K1l2M3n4"), Err(AddressError::TronFormat));
        // Last character changed: checksum fails.
        assert_eq!(ChainAddress::parse(Chain::Tron, "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6u"), Err(AddressError::TronChecksum));
        assert_eq!(ChainAddress::parse(Chain::Tron, "0xaf88d065e77c8cC2239327C5EDb3A432268e5831"), Err(AddressError::TronFormat));
        // A valid base58check payload with the wrong version byte.
        let wrong_prefix = bs58::encode([0x42u8; 21]).with_check().into_string();
        assert!(ChainAddress::parse(Chain::Tron, &wrong_prefix).is_err());
        assert_eq!(ChainAddress::parse(Chain::Tron, &tron_address_from_account([0; 20])), Err(AddressError::Zero));
    }

    #[test]
    fn tx_hashes_are_normalized_per_chain() {
        let upper = "0xABC123DEF456789ABC123DEF456789ABC123DEF456789ABC123DEF456789ABCD";
        let bare = "abc123def456789abc123def456789abc123def456789abc123def456789abcd";
        assert_eq!(TxHash::parse(Chain::Base, upper).map(|h| h.to_string()), Ok(format!("0x{bare}")));
        assert_eq!(TxHash::parse(Chain::Base, bare).map(|h| h.to_string()), Ok(format!("0x{bare}")));
        assert_eq!(TxHash::parse(Chain::Tron, upper).map(|h| h.to_string()), Ok(bare.to_owned()));
        assert_eq!(TxHash::parse(Chain::Tron, bare).map(|h| h.bare_hex().to_owned()), Ok(bare.to_owned()));
        assert_eq!(TxHash::parse(Chain::Tron, &bare[1..]), Err(TxHashError));
        assert_eq!(TxHash::parse(Chain::Tron, &format!("{bare}0")), Err(TxHashError));
        assert_eq!(TxHash::parse(Chain::Arbitrum, &bare.replace('a', "g")), Err(TxHashError));
    }
}
