//! [`DataKeys`] without a cloud: the master key is 32 random bytes in `<data dir>/master.key`
//! (mode 0600), made on first start. Data keys are wrapped with AES-256-GCM under it, bound to
//! the context, in the same envelope format as in AWS. Stack secrets are its HMACs of their
//! labels. Keep the file with the data directory: without it no endpoint secret opens and no
//! list cursor given out before verifies.

use crate::domain::sealed::{self, DATA_KEY_BYTES};
use crate::ports::keys::{DataKey, DataKeys, KeyContext, KeyError, StackSecrets};
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The first byte of a wrapping made here (KMS ciphertexts never start with it… and if one did,
/// the GCM tag would still refuse it).
const FORMAT: u8 = b'L';
const NONCE_BYTES: usize = 12;

pub struct LocalKeyFile {
    master: [u8; DATA_KEY_BYTES],
}

impl std::fmt::Debug for LocalKeyFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LocalKeyFile(…)")
    }
}

pub fn key_file(data_dir: &Path) -> PathBuf {
    data_dir.join("master.key")
}

impl LocalKeyFile {
    /// Reads the data directory's key file, making it (0600) when there is none.
    pub fn open(data_dir: &Path) -> std::io::Result<LocalKeyFile> {
        std::fs::create_dir_all(data_dir)?;
        let path = key_file(data_dir);
        let bad = |problem: String| std::io::Error::new(std::io::ErrorKind::InvalidData, format!("{}: {problem}", path.display()));
        match std::fs::read(&path) {
            Ok(bytes) => {
                Ok(LocalKeyFile { master: bytes.try_into().map_err(|bytes: Vec<u8>| bad(format!("{} bytes, expected {DATA_KEY_BYTES}", bytes.len())))? })
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let master = sealed::random_bytes::<DATA_KEY_BYTES>().map_err(|e| bad(e.to_string()))?;
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                match options.open(&path) {
                    Ok(mut file) => {
                        file.write_all(&master)?;
                        file.sync_all()?;
                        Ok(LocalKeyFile { master })
                    }
                    // Another process made it first: use theirs.
                    Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => Self::open(data_dir),
                    Err(error) => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }
}

fn additional_data(context: &KeyContext) -> Vec<u8> {
    format!("{}={}", context.name, context.value).into_bytes()
}

#[async_trait]
impl DataKeys for LocalKeyFile {
    async fn generate(&self, context: &KeyContext) -> Result<DataKey, KeyError> {
        let plaintext = sealed::random_bytes::<DATA_KEY_BYTES>().map_err(|e| KeyError::Unavailable(e.to_string()))?;
        let (nonce, ciphertext) = sealed::seal(&self.master, &plaintext, &additional_data(context)).map_err(|e| KeyError::Unavailable(e.to_string()))?;
        let mut wrapped = vec![FORMAT];
        wrapped.extend_from_slice(&nonce);
        wrapped.extend_from_slice(&ciphertext);
        Ok(DataKey { plaintext, wrapped })
    }

    async fn unwrap(&self, wrapped: &[u8], context: &KeyContext) -> Result<[u8; 32], KeyError> {
        let invalid = |problem: &str| KeyError::Invalid(format!("local key file: {problem}"));
        let (format, rest) = wrapped.split_first().ok_or_else(|| invalid("empty wrapped key"))?;
        if *format != FORMAT || rest.len() < NONCE_BYTES {
            return Err(invalid("not wrapped by a local key file"));
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| invalid("bad nonce"))?;
        let plaintext = sealed::open(&self.master, &nonce, ciphertext, &additional_data(context))
            .map_err(|_| invalid("wrapped by another key file, or for another record"))?;
        plaintext.try_into().map_err(|_| invalid("not a 256-bit key"))
    }
}

/// The key file's HMAC-SHA256 of the label, the local counterpart of KMS `GenerateMac`: the same
/// label gives the same secret for as long as the key file is kept.
#[async_trait]
impl StackSecrets for LocalKeyFile {
    async fn derive(&self, label: &str) -> Result<[u8; 32], KeyError> {
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&self.master).map_err(|e| KeyError::Invalid(e.to_string()))?;
        mac.update(b"payouts stack secret: ");
        mac.update(label.as_bytes());
        Ok(mac.finalize().into_bytes().into())
    }
}

#[cfg(test)]
mod tests;
