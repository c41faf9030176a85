//! Data keys for envelope encryption: a fresh key per secret, wrapped by a master key that never
//! leaves its keeper (KMS in AWS, a key file of the data directory locally).

use async_trait::async_trait;

/// What a data key is bound to: KMS's encryption context (`{name: value}`), and the additional
/// data of the local wrapping. Unwrapping with another context fails.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyContext {
    pub name: &'static str,
    pub value: String,
}

/// A new data key: its plaintext (used once, then dropped) and the master key's wrapping of it
/// (stored beside the ciphertext).
pub struct DataKey {
    pub plaintext: [u8; 32],
    pub wrapped: Vec<u8>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(…)")
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The keeper could not be reached or refused for a reason that may pass.
    #[error("key service unavailable: {0}")]
    Unavailable(String),
    /// The wrapped key does not unwrap (another master key or context, or corrupted): retrying
    /// cannot help.
    #[error("the data key does not unwrap: {0}")]
    Invalid(String),
}

#[async_trait]
pub trait DataKeys: Send + Sync {
    async fn generate(&self, context: &KeyContext) -> Result<DataKey, KeyError>;
    async fn unwrap(&self, wrapped: &[u8], context: &KeyContext) -> Result<[u8; 32], KeyError>;
}

/// A secret every instance of the stack derives alike for one purpose (`label`), stored nowhere:
/// KMS `GenerateMac` under the stack's HMAC key in AWS (the key never leaves KMS), an HMAC under
/// the key file locally. For what one instance makes and another must verify, like list cursors.
#[async_trait]
pub trait StackSecrets: Send + Sync {
    async fn derive(&self, label: &str) -> Result<[u8; 32], KeyError>;
}
