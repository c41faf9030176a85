//! Chains, tokens and environments, and which pairs are supported.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Every supported token has 6 decimals on every supported chain.
pub const TOKEN_DECIMALS: u32 = 6;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Chain {
    Tron,
    Arbitrum,
    Base,
}

impl Chain {
    pub const ALL: [Chain; 3] = [Chain::Tron, Chain::Arbitrum, Chain::Base];

    pub fn as_str(self) -> &'static str {
        match self {
            Chain::Tron => "tron",
            Chain::Arbitrum => "arbitrum",
            Chain::Base => "base",
        }
    }

    pub fn parse(text: &str) -> Option<Chain> {
        Chain::ALL.into_iter().find(|chain| chain.as_str() == text)
    }

    /// Tron addresses are base58check; the two L2s are EVM hex addresses.
    pub fn is_evm(self) -> bool {
        match self {
            Chain::Tron => false,
            Chain::Arbitrum | Chain::Base => true,
        }
    }

    /// Tokens this service accepts on the chain. Bridged look-alikes (USDC.e, USDbC) are never listed.
    pub fn supports(self, token: Token) -> bool {
        match (self, token) {
            (Chain::Tron, Token::Usdt) => true,
            (Chain::Tron, Token::Usdc) => false,
            (Chain::Arbitrum, Token::Usdt | Token::Usdc) => true,
            (Chain::Base, Token::Usdc) => true,
            (Chain::Base, Token::Usdt) => false,
        }
    }

    /// Confirmations required before a transfer counts as settled (billing.io's published defaults).
    pub fn default_confirmations(self) -> u64 {
        match self {
            Chain::Tron => 20,
            Chain::Arbitrum | Chain::Base => 12,
        }
    }
}

impl fmt::Display for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Token {
    #[serde(rename = "USDT")]
    Usdt,
    #[serde(rename = "USDC")]
    Usdc,
}

impl Token {
    pub const ALL: [Token; 2] = [Token::Usdt, Token::Usdc];

    pub fn as_str(self) -> &'static str {
        match self {
            Token::Usdt => "USDT",
            Token::Usdc => "USDC",
        }
    }

    pub fn parse(text: &str) -> Option<Token> {
        Token::ALL.into_iter().find(|token| token.as_str() == text)
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `live` (keys `sk_live_…`, mainnets) or `sandbox` (keys `sk_test_…`, test networks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Live,
    Sandbox,
}

impl Environment {
    pub const ALL: [Environment; 2] = [Environment::Live, Environment::Sandbox];

    pub fn as_str(self) -> &'static str {
        match self {
            Environment::Live => "live",
            Environment::Sandbox => "sandbox",
        }
    }

    pub fn parse(text: &str) -> Option<Environment> {
        Environment::ALL.into_iter().find(|env| env.as_str() == text)
    }

    /// The secret-key prefix that selects this environment.
    pub fn key_prefix(self) -> &'static str {
        match self {
            Environment::Live => "sk_live_",
            Environment::Sandbox => "sk_test_",
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a chain's confirmations are counted from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FinalityPolicy {
    /// `confirmations` blocks on top of the tx's block (head − block + 1).
    Confirmations,
    /// The tx's block must be at or below the chain's `finalized` block (stricter).
    Finalized,
}

/// Default token contracts (mainnet for live, public testnets for sandbox), from the contract notes.
/// Every one of them can be replaced by configuration (see `config::ChainSettings`).
pub fn default_token_contract(environment: Environment, chain: Chain, token: Token) -> Option<&'static str> {
    match (environment, chain, token) {
        (Environment::Live, Chain::Tron, Token::Usdt) => Some("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"),
        (Environment::Live, Chain::Arbitrum, Token::Usdc) => Some("0xaf88d065e77c8cC2239327C5EDb3A432268e5831"),
        (Environment::Live, Chain::Arbitrum, Token::Usdt) => Some("0xFd086bC7CD5C481DCC9C85ebE478A1C0b69FCbb9"),
        (Environment::Live, Chain::Base, Token::Usdc) => Some("0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913"),
        (Environment::Sandbox, Chain::Tron, Token::Usdt) => Some("TXYZopYRdj2D9XRtbG411XZZ3kM5VkAeBf"),
        (Environment::Sandbox, Chain::Arbitrum, Token::Usdc) => Some("0x75faf114eafb1BDbe2F0316DF893fd58CE46AA4d"),
        (Environment::Sandbox, Chain::Base, Token::Usdc) => Some("0x036CbD53842c5426634e7929541eC2318f3dCF7e"),
        // No official testnet USDT on arbitrum sepolia is listed in the notes: must be configured.
        (Environment::Sandbox, Chain::Arbitrum, Token::Usdt) => None,
        (_, Chain::Tron, Token::Usdc) | (_, Chain::Base, Token::Usdt) => None,
    }
}

/// Default JSON-RPC endpoints (public; production deployments configure their own provider).
pub fn default_rpc_url(environment: Environment, chain: Chain) -> &'static str {
    match (environment, chain) {
        (Environment::Live, Chain::Tron) => "https://api.trongrid.io/jsonrpc",
        (Environment::Live, Chain::Arbitrum) => "https://arb1.arbitrum.io/rpc",
        (Environment::Live, Chain::Base) => "https://mainnet.base.org",
        (Environment::Sandbox, Chain::Tron) => "https://nile.trongrid.io/jsonrpc",
        (Environment::Sandbox, Chain::Arbitrum) => "https://sepolia-rollup.arbitrum.io/rpc",
        (Environment::Sandbox, Chain::Base) => "https://sepolia.base.org",
    }
}

/// Where a block explorer shows a transaction: the tx hash is appended (in the chain's own form).
pub fn default_explorer_tx_url(environment: Environment, chain: Chain) -> &'static str {
    match (environment, chain) {
        (Environment::Live, Chain::Tron) => "https://tronscan.org/#/transaction/",
        (Environment::Live, Chain::Arbitrum) => "https://arbiscan.io/tx/",
        (Environment::Live, Chain::Base) => "https://basescan.org/tx/",
        (Environment::Sandbox, Chain::Tron) => "https://nile.tronscan.org/#/transaction/",
        (Environment::Sandbox, Chain::Arbitrum) => "https://sepolia.arbiscan.io/tx/",
        (Environment::Sandbox, Chain::Base) => "https://sepolia.basescan.org/tx/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_pairs_are_exactly_the_documented_ones() {
        let supported: Vec<(Chain, Token)> =
            Chain::ALL.into_iter().flat_map(|c| Token::ALL.into_iter().map(move |t| (c, t))).filter(|(c, t)| c.supports(*t)).collect();
        assert_eq!(supported, vec![(Chain::Tron, Token::Usdt), (Chain::Arbitrum, Token::Usdt), (Chain::Arbitrum, Token::Usdc), (Chain::Base, Token::Usdc)]);
    }

    #[test]
    fn names_round_trip() {
        for chain in Chain::ALL {
            assert_eq!(Chain::parse(chain.as_str()), Some(chain));
        }
        for token in Token::ALL {
            assert_eq!(Token::parse(token.as_str()), Some(token));
        }
        assert_eq!(Chain::parse("Tron"), None);
        assert_eq!(Token::parse("usdt"), None);
    }
}
