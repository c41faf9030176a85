//! [`DataKeys`] on AWS KMS: `GenerateDataKey` (AES-256) and `Decrypt`, both with the encryption
//! context, on the stack's key (`PAYOUTS_WEBHOOK_KMS_KEY_ID`). The plaintext key is used and
//! dropped; KMS keeps the master key. And [`StackSecrets`] from `GenerateMac`.

use crate::ports::keys::{DataKey, DataKeys, KeyContext, KeyError, StackSecrets};
use async_trait::async_trait;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{DataKeySpec, MacAlgorithmSpec};

pub struct KmsDataKeys {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsDataKeys {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> KmsDataKeys {
        KmsDataKeys { client, key_id: key_id.into() }
    }
}

/// KMS's answers that mean "this ciphertext will never decrypt here".
const PERMANENT: [&str; 4] = ["InvalidCiphertextException", "IncorrectKeyException", "InvalidKeyUsageException", "NotFoundException"];

fn key_error<E: ProvideErrorMetadata + std::error::Error + 'static, R: std::fmt::Debug>(operation: &str, error: SdkError<E, R>) -> KeyError {
    let code = error.as_service_error().and_then(ProvideErrorMetadata::code).map(str::to_owned);
    match code {
        Some(code) if PERMANENT.contains(&code.as_str()) => KeyError::Invalid(format!("KMS {operation}: {code}")),
        Some(code) => KeyError::Unavailable(format!("KMS {operation}: {code}")),
        None => KeyError::Unavailable(format!("KMS {operation}: {}", DisplayErrorContext(error))),
    }
}

fn data_key_bytes(operation: &str, plaintext: Option<&Blob>) -> Result<[u8; 32], KeyError> {
    plaintext
        .map(Blob::as_ref)
        .and_then(|bytes| <[u8; 32]>::try_from(bytes).ok())
        .ok_or_else(|| KeyError::Invalid(format!("KMS {operation}: no 256-bit key in the answer")))
}

#[async_trait]
impl DataKeys for KmsDataKeys {
    async fn generate(&self, context: &KeyContext) -> Result<DataKey, KeyError> {
        let answer = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(context.name, &context.value)
            .send()
            .await
            .map_err(|e| key_error("GenerateDataKey", e))?;
        let plaintext = data_key_bytes("GenerateDataKey", answer.plaintext())?;
        let wrapped =
            answer.ciphertext_blob().map(|blob| blob.as_ref().to_vec()).ok_or_else(|| KeyError::Invalid("KMS GenerateDataKey: no ciphertext".into()))?;
        Ok(DataKey { plaintext, wrapped })
    }

    async fn unwrap(&self, wrapped: &[u8], context: &KeyContext) -> Result<[u8; 32], KeyError> {
        let answer = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(wrapped.to_vec()))
            .encryption_context(context.name, &context.value)
            .send()
            .await
            .map_err(|e| key_error("Decrypt", e))?;
        data_key_bytes("Decrypt", answer.plaintext())
    }
}

/// [`StackSecrets`] on AWS KMS: `GenerateMac` (HMAC-SHA256) of the label under the stack's HMAC
/// key (`PAYOUTS_CURSOR_KMS_KEY_ID`). The same label gives every instance the same secret; the
/// key itself never leaves KMS.
pub struct KmsStackSecrets {
    client: aws_sdk_kms::Client,
    key_id: String,
}

impl KmsStackSecrets {
    pub fn new(client: aws_sdk_kms::Client, key_id: impl Into<String>) -> KmsStackSecrets {
        KmsStackSecrets { client, key_id: key_id.into() }
    }
}

#[async_trait]
impl StackSecrets for KmsStackSecrets {
    async fn derive(&self, label: &str) -> Result<[u8; 32], KeyError> {
        let answer = self
            .client
            .generate_mac()
            .key_id(&self.key_id)
            .mac_algorithm(MacAlgorithmSpec::HmacSha256)
            .message(Blob::new(label.as_bytes().to_vec()))
            .send()
            .await
            .map_err(|e| key_error("GenerateMac", e))?;
        data_key_bytes("GenerateMac", answer.mac())
    }
}
