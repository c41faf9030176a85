//! Envelope encryption's stored form, and its AES-256-GCM: a value encrypted under its own data
//! key, with the master key's wrapping of that data key beside it. The master key (KMS, or the
//! local key file) is never here: the service unwraps the data key through the `DataKeys` port
//! and hands it in.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub const DATA_KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = aws_lc_rs::aead::NONCE_LEN;

/// An encrypted value as stored: `{"v": 1, "key": <wrapped data key>, "nonce", "ciphertext"}`,
/// each base64. The ciphertext carries the GCM tag; the additional data is the context the data
/// key is bound to, so a sealed value moved to another record does not open.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub wrapped_key: Vec<u8>,
    pub nonce: [u8; NONCE_BYTES],
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for Sealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sealed({} bytes)", self.ciphertext.len())
    }
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the system's random source failed")]
    Random,
    #[error("the data key is not {DATA_KEY_BYTES} bytes")]
    KeyLength,
    /// Wrong key, wrong context or altered bytes: GCM's tag does not verify.
    #[error("the sealed value does not open with this key and context")]
    Open,
}

fn key(data_key: &[u8]) -> Result<aws_lc_rs::aead::LessSafeKey, SealError> {
    let unbound = aws_lc_rs::aead::UnboundKey::new(&aws_lc_rs::aead::AES_256_GCM, data_key).map_err(|_| SealError::KeyLength)?;
    Ok(aws_lc_rs::aead::LessSafeKey::new(unbound))
}

/// Random bytes from the system's generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], SealError> {
    let mut bytes = [0u8; N];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| SealError::Random)?;
    Ok(bytes)
}

/// `(nonce, ciphertext with tag)` of `plaintext` under `data_key`, bound to `additional_data`.
pub fn seal(data_key: &[u8], plaintext: &[u8], additional_data: &[u8]) -> Result<([u8; NONCE_BYTES], Vec<u8>), SealError> {
    let nonce = random_bytes::<NONCE_BYTES>()?;
    let mut in_out = plaintext.to_vec();
    key(data_key)?
        .seal_in_place_append_tag(aws_lc_rs::aead::Nonce::assume_unique_for_key(nonce), aws_lc_rs::aead::Aad::from(additional_data), &mut in_out)
        .map_err(|_| SealError::Open)?;
    Ok((nonce, in_out))
}

/// The plaintext of [`seal`]'s output.
pub fn open(data_key: &[u8], nonce: &[u8; NONCE_BYTES], ciphertext: &[u8], additional_data: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut in_out = ciphertext.to_vec();
    let plaintext = key(data_key)?
        .open_in_place(aws_lc_rs::aead::Nonce::assume_unique_for_key(*nonce), aws_lc_rs::aead::Aad::from(additional_data), &mut in_out)
        .map_err(|_| SealError::Open)?;
    Ok(plaintext.to_vec())
}

#[derive(Serialize, Deserialize)]
struct SealedJson {
    v: u8,
    key: String,
    nonce: String,
    ciphertext: String,
}

impl Serialize for Sealed {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        SealedJson { v: 1, key: BASE64.encode(&self.wrapped_key), nonce: BASE64.encode(self.nonce), ciphertext: BASE64.encode(&self.ciphertext) }.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Sealed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Sealed, D::Error> {
        let json = SealedJson::deserialize(d)?;
        if json.v != 1 {
            return Err(serde::de::Error::custom(format!("unknown sealed value version {}", json.v)));
        }
        let bytes = |text: &str| BASE64.decode(text).map_err(|_| serde::de::Error::custom("sealed value: bad base64"));
        let nonce: [u8; NONCE_BYTES] = bytes(&json.nonce)?.try_into().map_err(|_| serde::de::Error::custom("sealed value: bad nonce"))?;
        Ok(Sealed { wrapped_key: bytes(&json.key)?, nonce, ciphertext: bytes(&json.ciphertext)? })
    }
}

#[cfg(test)]
mod tests;
