//! Configuration, read from the environment once at start (as Lambda passes it), failing fast
//! with a message naming the variable.

use crate::domain::address::ChainAddress;
pub use crate::domain::chain::FinalityPolicy;
use crate::domain::chain::{Chain, Environment, Token, default_rpc_url, default_token_contract};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
#[error("configuration: {variable}: {problem}")]
pub struct ConfigError {
    pub variable: String,
    pub problem: String,
}

/// A source of variables; the process environment in production, a map in tests.
pub trait Vars {
    fn get(&self, name: &str) -> Option<String>;
}

pub struct ProcessEnv;

impl Vars for ProcessEnv {
    fn get(&self, name: &str) -> Option<String> {
        std::env::var(name).ok().filter(|v| !v.trim().is_empty())
    }
}

impl Vars for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        BTreeMap::get(self, name).cloned()
    }
}

pub fn required(vars: &dyn Vars, name: &str) -> Result<String, ConfigError> {
    vars.get(name).ok_or_else(|| ConfigError { variable: name.to_owned(), problem: "is required".to_owned() })
}

pub fn parse_var<T: std::str::FromStr>(vars: &dyn Vars, name: &str, default: T) -> Result<T, ConfigError> {
    match vars.get(name) {
        None => Ok(default),
        Some(text) => text.trim().parse().map_err(|_| ConfigError { variable: name.to_owned(), problem: format!("cannot parse {text:?}") }),
    }
}

/// One (environment, chain): its RPC endpoint, token contracts and confirmation policy.
#[derive(Clone, Debug)]
pub struct ChainSettings {
    pub environment: Environment,
    pub chain: Chain,
    pub rpc_url: String,
    /// Extra HTTP headers for the RPC provider (e.g. `TRON-PRO-API-KEY`). Values are secrets.
    pub rpc_headers: Vec<(String, String)>,
    pub confirmations: u64,
    pub finality: FinalityPolicy,
    pub token_contracts: BTreeMap<Token, ChainAddress>,
    /// A block explorer's transaction page, the tx hash appended (`None`: no explorer, e.g. a
    /// local devnet: `…_EXPLORER_TX_URL=none`).
    pub explorer_tx_url: Option<String>,
}

/// Every (environment, chain) the service knows, from `PAYOUTS_<ENVIRONMENT>_<CHAIN>_…` variables
/// with the documented mainnet/testnet defaults.
#[derive(Clone, Debug)]
pub struct ChainRegistry {
    settings: Vec<ChainSettings>,
}

impl ChainRegistry {
    pub fn from_vars(vars: &dyn Vars) -> Result<ChainRegistry, ConfigError> {
        let mut settings = Vec::new();
        for environment in Environment::ALL {
            for chain in Chain::ALL {
                let prefix = format!("PAYOUTS_{}_{}", environment.as_str().to_uppercase(), chain.as_str().to_uppercase());
                let rpc_url = vars.get(&format!("{prefix}_RPC_URL")).unwrap_or_else(|| default_rpc_url(environment, chain).to_owned());
                let confirmations = parse_var(vars, &format!("{prefix}_CONFIRMATIONS"), chain.default_confirmations())?;
                let finality = match vars.get(&format!("{prefix}_FINALITY")).as_deref() {
                    None | Some("confirmations") => FinalityPolicy::Confirmations,
                    Some("finalized") => FinalityPolicy::Finalized,
                    Some(other) => {
                        return Err(ConfigError {
                            variable: format!("{prefix}_FINALITY"),
                            problem: format!("{other:?} is not one of confirmations, finalized"),
                        });
                    }
                };
                let mut rpc_headers = Vec::new();
                if let Some(api_key) = vars.get(&format!("{prefix}_RPC_API_KEY")) {
                    rpc_headers.push(("TRON-PRO-API-KEY".to_owned(), api_key));
                }
                if let Some(raw) = vars.get(&format!("{prefix}_RPC_HEADERS")) {
                    for pair in raw.split(',').filter(|p| !p.trim().is_empty()) {
                        let (name, value) = pair.split_once(':').ok_or_else(|| ConfigError {
                            variable: format!("{prefix}_RPC_HEADERS"),
                            problem: "expected comma-separated Name:Value pairs".to_owned(),
                        })?;
                        rpc_headers.push((name.trim().to_owned(), value.trim().to_owned()));
                    }
                }
                let mut token_contracts = BTreeMap::new();
                for token in Token::ALL.into_iter().filter(|t| chain.supports(*t)) {
                    let variable = format!("{prefix}_{}_CONTRACT", token.as_str());
                    let configured = vars.get(&variable);
                    let Some(text) = configured.as_deref().or(default_token_contract(environment, chain, token)) else {
                        continue;
                    };
                    let address = ChainAddress::parse(chain, text).map_err(|e| ConfigError { variable: variable.clone(), problem: format!("{text:?} {e}") })?;
                    token_contracts.insert(token, address);
                }
                let explorer_tx_url = match vars.get(&format!("{prefix}_EXPLORER_TX_URL")) {
                    Some(text) if text.trim().eq_ignore_ascii_case("none") => None,
                    Some(text) => Some(text.trim().to_owned()),
                    None => Some(crate::domain::chain::default_explorer_tx_url(environment, chain).to_owned()),
                };
                settings.push(ChainSettings { environment, chain, rpc_url, rpc_headers, confirmations, finality, token_contracts, explorer_tx_url });
            }
        }
        Ok(ChainRegistry { settings })
    }

    pub fn get(&self, environment: Environment, chain: Chain) -> Option<&ChainSettings> {
        self.settings.iter().find(|s| s.environment == environment && s.chain == chain)
    }

    pub fn token_contract(&self, environment: Environment, chain: Chain, token: Token) -> Option<&ChainAddress> {
        self.get(environment, chain).and_then(|s| s.token_contracts.get(&token))
    }

    pub fn all(&self) -> &[ChainSettings] {
        &self.settings
    }
}

/// Which store a process uses: `PAYOUTS_STORE=embedded|dynamodb`.
#[derive(Clone, Debug)]
pub enum StoreChoice {
    Embedded { data_dir: PathBuf },
    DynamoDb { table: String },
}

impl StoreChoice {
    pub fn from_vars(vars: &dyn Vars, default_embedded: bool) -> Result<StoreChoice, ConfigError> {
        let kind = vars.get("PAYOUTS_STORE").unwrap_or_else(|| if default_embedded { "embedded".into() } else { "dynamodb".into() });
        match kind.as_str() {
            "embedded" => Ok(StoreChoice::Embedded { data_dir: PathBuf::from(vars.get("PAYOUTS_DATA_DIR").unwrap_or_else(|| "./.payouts".into())) }),
            "dynamodb" => Ok(StoreChoice::DynamoDb { table: required(vars, "PAYOUTS_TABLE_NAME")? }),
            other => Err(ConfigError { variable: "PAYOUTS_STORE".into(), problem: format!("{other:?} is not one of embedded, dynamodb") }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_contracts_and_confirmations() {
        let registry = ChainRegistry::from_vars(&BTreeMap::new()).unwrap_or_else(|e| panic!("{e}"));
        let tron = registry.get(Environment::Live, Chain::Tron).unwrap_or_else(|| panic!("tron"));
        assert_eq!(tron.confirmations, 20);
        assert_eq!(tron.token_contracts.get(&Token::Usdt).map(|a| a.as_str()), Some("TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t"));
        assert_eq!(registry.get(Environment::Live, Chain::Base).map(|s| s.confirmations), Some(12));
        assert!(registry.token_contract(Environment::Live, Chain::Base, Token::Usdt).is_none());
    }

    #[test]
    fn variables_override_and_bad_values_fail_fast() {
        let mut vars = BTreeMap::new();
        vars.insert("PAYOUTS_SANDBOX_ARBITRUM_USDC_CONTRACT".to_owned(), "0x5FbDB2315678afecb367f032d93F642f64180aa3".to_owned());
        vars.insert("PAYOUTS_SANDBOX_ARBITRUM_CONFIRMATIONS".to_owned(), "3".to_owned());
        let registry = ChainRegistry::from_vars(&vars).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            registry.token_contract(Environment::Sandbox, Chain::Arbitrum, Token::Usdc).map(|a| a.as_str()),
            Some("0x5FbDB2315678afecb367f032d93F642f64180aa3")
        );
        assert_eq!(registry.get(Environment::Sandbox, Chain::Arbitrum).map(|s| s.confirmations), Some(3));
        vars.insert("PAYOUTS_LIVE_BASE_CONFIRMATIONS".to_owned(), "many".to_owned());
        let error = ChainRegistry::from_vars(&vars).err().map(|e| e.variable);
        assert_eq!(error.as_deref(), Some("PAYOUTS_LIVE_BASE_CONFIRMATIONS"));
    }
}
