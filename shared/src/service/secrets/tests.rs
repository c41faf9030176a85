use super::*;
use crate::ports::keys::DataKey;
use async_trait::async_trait;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A master key in memory that counts unwraps (the real adapters are tested against moto's KMS
/// and on disk).
#[derive(Default)]
struct CountingKeys {
    unwraps: AtomicUsize,
}

#[async_trait]
impl DataKeys for CountingKeys {
    async fn generate(&self, context: &KeyContext) -> Result<DataKey, KeyError> {
        let plaintext = sealed::random_bytes::<DATA_KEY_BYTES>()?;
        let mut wrapped = plaintext.to_vec();
        wrapped.extend_from_slice(context.value.as_bytes());
        Ok(DataKey { plaintext, wrapped })
    }
    async fn unwrap(&self, wrapped: &[u8], context: &KeyContext) -> Result<[u8; 32], KeyError> {
        self.unwraps.fetch_add(1, Ordering::SeqCst);
        if !wrapped.ends_with(context.value.as_bytes()) {
            return Err(KeyError::Invalid("context".into()));
        }
        wrapped[..DATA_KEY_BYTES].try_into().map_err(|_| KeyError::Invalid("length".into()))
    }
}

#[tokio::test]
async fn an_endpoint_secret_is_sealed_opened_once_per_process_and_bound_to_its_endpoint() {
    let keys = Arc::new(CountingKeys::default());
    let vault = SecretVault::new(keys.clone());
    let id = WebhookId::generate();
    let secret = WebhookSecret::generate();
    let stored = vault.seal_endpoint_secret(&id, &secret).await.unwrap_or_else(|e| panic!("{e}"));
    let json = serde_json::to_string(&stored).unwrap_or_default();
    assert!(!json.contains("whsec_"), "{json}");
    let StoredSecret::Sealed(sealed) = &stored else { panic!("sealed") };
    for _ in 0..3 {
        let opened = vault.open(sealed, &endpoint_context(&id)).await.unwrap_or_default();
        assert_eq!(opened, secret.reveal().as_bytes());
    }
    assert_eq!(keys.unwraps.load(Ordering::SeqCst), 1, "the data key is unwrapped once");
    let other = WebhookId::generate();
    assert!(vault.open(sealed, &endpoint_context(&other)).await.is_err(), "another endpoint's context does not open it");
}
