//! Envelope encryption of what must not sit in the table in clear: webhook signing secrets and
//! the idempotency record of `POST /v1/webhooks` (whose stored response shows the secret). Each
//! value gets a fresh data key from the [`DataKeys`] port (KMS `GenerateDataKey` in AWS, the
//! data directory's key file locally), bound to a context (the endpoint id, the idempotency key)
//! so a sealed value copied into another record does not open.
//!
//! Unwrapped data keys are kept per process (a Lambda instance asks KMS once per endpoint, not
//! once per delivery).

use crate::domain::endpoint::{StoredSecret, WebhookEndpoint};
use crate::domain::ids::WebhookId;
use crate::domain::sealed::{self, DATA_KEY_BYTES, SealError, Sealed};
use crate::domain::time::Timestamp;
use crate::domain::webhook::WebhookSecret;
use crate::ports::keys::{DataKeys, KeyContext, KeyError};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Unwrapped data keys kept at most; past that the cache starts again (a sweep over more
/// endpoints than this asks the key service again, which is only slower).
const CACHED_KEYS_MAX: usize = 10_000;

/// A wrapped data key and the context it was unwrapped with.
type UnwrappedKey = (Vec<u8>, String);

pub struct SecretVault {
    keys: Arc<dyn DataKeys>,
    unwrapped: Mutex<HashMap<UnwrappedKey, [u8; DATA_KEY_BYTES]>>,
}

impl From<SealError> for KeyError {
    fn from(error: SealError) -> Self {
        match error {
            SealError::Random => KeyError::Unavailable(error.to_string()),
            SealError::KeyLength | SealError::Open => KeyError::Invalid(error.to_string()),
        }
    }
}

fn additional_data(context: &KeyContext) -> Vec<u8> {
    format!("{}={}", context.name, context.value).into_bytes()
}

/// The context an endpoint's secret is sealed under.
pub fn endpoint_context(id: &WebhookId) -> KeyContext {
    KeyContext { name: "webhook_id", value: id.to_string() }
}

impl SecretVault {
    pub fn new(keys: Arc<dyn DataKeys>) -> SecretVault {
        SecretVault { keys, unwrapped: Mutex::default() }
    }

    pub async fn seal(&self, plaintext: &[u8], context: &KeyContext) -> Result<Sealed, KeyError> {
        let data_key = self.keys.generate(context).await?;
        let (nonce, ciphertext) = sealed::seal(&data_key.plaintext, plaintext, &additional_data(context))?;
        Ok(Sealed { wrapped_key: data_key.wrapped, nonce, ciphertext })
    }

    pub async fn open(&self, sealed: &Sealed, context: &KeyContext) -> Result<Vec<u8>, KeyError> {
        let cache_key = (sealed.wrapped_key.clone(), format!("{}={}", context.name, context.value));
        let cached = self.unwrapped.lock().ok().and_then(|cache| cache.get(&cache_key).copied());
        let data_key = match cached {
            Some(data_key) => data_key,
            None => {
                let data_key = self.keys.unwrap(&sealed.wrapped_key, context).await?;
                if let Ok(mut cache) = self.unwrapped.lock() {
                    if cache.len() >= CACHED_KEYS_MAX {
                        cache.clear();
                    }
                    cache.insert(cache_key, data_key);
                }
                data_key
            }
        };
        Ok(sealed::open(&data_key, &sealed.nonce, &sealed.ciphertext, &additional_data(context))?)
    }

    /// A new endpoint's secret, sealed for storing.
    pub async fn seal_endpoint_secret(&self, id: &WebhookId, secret: &WebhookSecret) -> Result<StoredSecret, KeyError> {
        Ok(StoredSecret::Sealed(self.seal(secret.reveal().as_bytes(), &endpoint_context(id)).await?))
    }

    /// The secret an endpoint's deliveries are signed with.
    /// The secrets that sign an attempt at `now`: the current one, and the retiring one while a
    /// rotation's overlap lasts.
    pub async fn signing_secrets(&self, endpoint: &WebhookEndpoint, now: Timestamp) -> Result<(WebhookSecret, Option<WebhookSecret>), KeyError> {
        let current = self.endpoint_secret(endpoint).await?;
        let retiring = match endpoint.retiring_secret_at(now) {
            Some(retiring) => Some(self.stored_secret(endpoint, &retiring.secret).await?),
            None => None,
        };
        Ok((current, retiring))
    }

    pub async fn endpoint_secret(&self, endpoint: &WebhookEndpoint) -> Result<WebhookSecret, KeyError> {
        self.stored_secret(endpoint, &endpoint.secret).await
    }

    async fn stored_secret(&self, endpoint: &WebhookEndpoint, stored: &StoredSecret) -> Result<WebhookSecret, KeyError> {
        match stored {
            StoredSecret::Sealed(sealed) => {
                let plaintext = self.open(sealed, &endpoint_context(&endpoint.id)).await?;
                let text = String::from_utf8(plaintext).map_err(|_| KeyError::Invalid("the sealed secret is not text".into()))?;
                WebhookSecret::parse(&text).ok_or_else(|| KeyError::Invalid("the sealed secret is malformed".into()))
            }
            StoredSecret::Plain(secret) => {
                tracing::warn!(webhook_id = %endpoint.id, "endpoint secret stored in clear (made before envelope encryption); delete and recreate the endpoint to encrypt it");
                Ok(secret.clone())
            }
        }
    }
}

#[cfg(test)]
mod tests;
