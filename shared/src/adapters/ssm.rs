//! Secrets of the configuration from SSM Parameter Store: a variable `NAME_SSM` names the
//! SecureString that holds `NAME`'s value (`PAYOUTS_LIVE_BASE_RPC_URL_SSM=/payouts/prod/live-base-rpc`
//! gives `PAYOUTS_LIVE_BASE_RPC_URL`). They are read once, at start (one `GetParameters` per ten
//! names, decrypted), kept in memory only, and never logged; a process whose environment names
//! none makes no SSM client at all.

use crate::config::{ConfigError, Vars};
use std::collections::BTreeMap;

/// The suffix of a variable that names a parameter instead of holding a value.
pub const SSM_SUFFIX: &str = "_SSM";
/// `GetParameters` takes at most ten names.
const NAMES_PER_CALL: usize = 10;

/// `(variable, parameter name)` for every non-empty `…_SSM` variable of `environment`.
pub fn parameter_references(environment: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut references: Vec<(String, String)> = environment
        .filter_map(|(name, value)| {
            let variable = name.strip_suffix(SSM_SUFFIX)?.to_owned();
            let parameter = value.trim().to_owned();
            (!parameter.is_empty() && variable.starts_with("PAYOUTS_")).then_some((variable, parameter))
        })
        .collect();
    references.sort();
    references
}

/// Reads the named SecureStrings: `variable → value`. A name SSM does not know fails the start,
/// naming the variable.
pub async fn read_parameters(client: &aws_sdk_ssm::Client, references: &[(String, String)]) -> Result<BTreeMap<String, String>, ConfigError> {
    let mut values = BTreeMap::new();
    for chunk in references.chunks(NAMES_PER_CALL) {
        let names: Vec<String> = chunk.iter().map(|(_, parameter)| parameter.clone()).collect();
        let answer = client.get_parameters().set_names(Some(names)).with_decryption(true).send().await.map_err(|e| ConfigError {
            variable: chunk.iter().map(|(variable, _)| format!("{variable}{SSM_SUFFIX}")).collect::<Vec<_>>().join(", "),
            problem: format!("SSM GetParameters failed: {}", aws_sdk_ssm::error::DisplayErrorContext(e)),
        })?;
        let found: BTreeMap<&str, &str> = answer.parameters().iter().filter_map(|p| Some((p.name()?, p.value()?))).collect();
        for (variable, parameter) in chunk {
            let value = found.get(parameter.as_str()).ok_or_else(|| ConfigError {
                variable: format!("{variable}{SSM_SUFFIX}"),
                problem: format!("SSM has no parameter {parameter} (or this function may not read it)"),
            })?;
            values.insert(variable.clone(), (*value).to_owned());
        }
    }
    Ok(values)
}

/// The configuration with the parameters read from SSM over the variables themselves.
pub struct WithParameters<V> {
    pub vars: V,
    pub parameters: BTreeMap<String, String>,
}

impl<V: Vars> Vars for WithParameters<V> {
    fn get(&self, name: &str) -> Option<String> {
        self.parameters.get(name).cloned().filter(|v| !v.trim().is_empty()).or_else(|| self.vars.get(name))
    }
}

#[cfg(test)]
mod tests;
