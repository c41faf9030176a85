//! Source wallets: the addresses an organization pays from, proven to be its own by signing a
//! challenge the service issued. Settlements are bound to them: under the `registered` sender
//! policy only a transfer sent by one of the organization's verified wallets can settle its
//! payouts, and one address is a verified wallet of one organization only (per environment and
//! chain), so nobody can settle on, or squat, another merchant's transfer.
//!
//! Proofs (no elliptic-curve code here: alloy's signature type recovers the signer):
//! - EVM account: EIP-191 `personal_sign` of the challenge, recovering to the address;
//! - tron: tron's signed-message scheme (`"\x19TRON Signed Message:\n" + length + message`,
//!   keccak-256, secp256k1), recovering to the same 20 bytes;
//! - EVM contract wallet (Safe and other multisigs): EIP-1271 `isValidSignature(hash, signature)`
//!   answering `0x1626ba7e` for the EIP-191 hash of the challenge. That needs the chain, so this
//!   module only says what to ask ([`contract_proof_hash`]); the service asks it.

use super::address::ChainAddress;
use super::chain::{Chain, Environment};
use super::ids::{OrgId, WalletId};
use super::time::{self, Timestamp};
use alloy::primitives::{B256, Signature, eip191_hash_message, keccak256};
use serde::{Deserialize, Serialize};
use std::fmt;

/// The magic value an EIP-1271 wallet returns for a valid signature (`isValidSignature.selector`).
pub const EIP1271_MAGIC_VALUE: [u8; 4] = [0x16, 0x26, 0xba, 0x7e];

/// Tron's signed-message prefix (TIP-191, TronWeb's `signMessageV2`).
const TRON_MESSAGE_PREFIX: &str = "\x19TRON Signed Message:\n";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WalletStatus {
    /// Registered; its challenge has not been signed yet. It does not count as the org's.
    PendingVerification,
    /// Ownership proven (or, in sandbox, the proof was skipped): transfers from it are the org's.
    Verified,
}

impl WalletStatus {
    pub const ALL: [WalletStatus; 2] = [WalletStatus::PendingVerification, WalletStatus::Verified];

    pub fn as_str(self) -> &'static str {
        match self {
            WalletStatus::PendingVerification => "pending_verification",
            WalletStatus::Verified => "verified",
        }
    }

    pub fn parse(text: &str) -> Option<WalletStatus> {
        WalletStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }
}

impl fmt::Display for WalletStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a wallet's ownership was proven.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProofMethod {
    /// EIP-191 `personal_sign` by the account's key.
    Eip191,
    /// Tron's signed-message scheme by the account's key.
    TronMessage,
    /// EIP-1271 `isValidSignature` of the contract wallet.
    Eip1271,
    /// Sandbox only: registered with `skip_proof`.
    Skipped,
}

impl ProofMethod {
    /// Its API value.
    pub fn as_str(self) -> &'static str {
        match self {
            ProofMethod::Eip191 => "eip191",
            ProofMethod::TronMessage => "tron_message",
            ProofMethod::Eip1271 => "eip1271",
            ProofMethod::Skipped => "skipped",
        }
    }
}

/// Which transfers may settle an organization's payouts, per environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SenderPolicy {
    /// Only transfers sent by one of the organization's verified wallets (default in live).
    Registered,
    /// Any sender except another organization's verified wallet (default in sandbox).
    Any,
}

impl SenderPolicy {
    pub const ALL: [SenderPolicy; 2] = [SenderPolicy::Registered, SenderPolicy::Any];

    pub fn as_str(self) -> &'static str {
        match self {
            SenderPolicy::Registered => "registered",
            SenderPolicy::Any => "any",
        }
    }

    pub fn parse(text: &str) -> Option<SenderPolicy> {
        SenderPolicy::ALL.into_iter().find(|policy| policy.as_str() == text)
    }

    /// The policy of an environment whose organization never chose one.
    pub fn default_for(environment: Environment) -> SenderPolicy {
        match environment {
            Environment::Live => SenderPolicy::Registered,
            Environment::Sandbox => SenderPolicy::Any,
        }
    }
}

impl fmt::Display for SenderPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A source wallet as stored. The public JSON shape is [`WalletView`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SourceWallet {
    pub id: WalletId,
    pub org_id: OrgId,
    pub environment: Environment,
    pub chain: Chain,
    pub address: ChainAddress,
    pub label: Option<String>,
    pub status: WalletStatus,
    /// The exact text to sign.
    pub challenge: String,
    pub proof_method: Option<ProofMethod>,
    #[serde(with = "time::rfc3339::option")]
    pub verified_at: Option<Timestamp>,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub updated_at: Timestamp,
    /// Set by DELETE: the wallet no longer counts as the organization's. The record stays, so
    /// settlements it sent keep pointing at it.
    #[serde(default, with = "time::rfc3339::option")]
    pub deleted_at: Option<Timestamp>,
}

/// A refused wallet change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WalletError {
    #[error("the wallet is already verified")]
    AlreadyVerified,
    #[error("the wallet was deleted")]
    Deleted,
}

impl SourceWallet {
    /// A new wallet awaiting its proof; `nonce` makes its challenge unguessable and unique.
    pub fn register(
        org_id: OrgId,
        environment: Environment,
        address: ChainAddress,
        chain: Chain,
        label: Option<String>,
        nonce: &str,
        now: Timestamp,
    ) -> SourceWallet {
        let id = WalletId::generate();
        let challenge = challenge_text(&id, &org_id, environment, chain, &address, nonce);
        SourceWallet {
            id,
            org_id,
            environment,
            chain,
            address,
            label,
            status: WalletStatus::PendingVerification,
            challenge,
            proof_method: None,
            verified_at: None,
            created_at: now,
            updated_at: now,
            deleted_at: None,
        }
    }

    pub fn verify(&mut self, method: ProofMethod, now: Timestamp) -> Result<(), WalletError> {
        if self.deleted_at.is_some() {
            return Err(WalletError::Deleted);
        }
        if self.status == WalletStatus::Verified {
            return Err(WalletError::AlreadyVerified);
        }
        self.status = WalletStatus::Verified;
        self.proof_method = Some(method);
        self.verified_at = Some(now);
        self.updated_at = now;
        Ok(())
    }

    pub fn delete(&mut self, now: Timestamp) -> Result<(), WalletError> {
        if self.deleted_at.is_some() {
            return Err(WalletError::Deleted);
        }
        self.deleted_at = Some(now);
        self.updated_at = now;
        Ok(())
    }

    /// Whether transfers from this wallet count as its organization's.
    pub fn counts_as_owned(&self) -> bool {
        self.status == WalletStatus::Verified && self.deleted_at.is_none()
    }

    pub fn view(&self) -> WalletView {
        let at = |t: &Timestamp| time::to_rfc3339(&time::whole_seconds(*t));
        WalletView {
            id: self.id.to_string(),
            org_id: self.org_id.to_string(),
            environment: self.environment,
            chain: self.chain,
            address: self.address.to_string(),
            label: self.label.clone(),
            status: self.status,
            challenge: self.challenge.clone(),
            proof_method: self.proof_method,
            verified_at: self.verified_at.as_ref().map(at),
            created_at: at(&self.created_at),
        }
    }
}

/// The message a wallet's owner signs. Every line binds the proof to one wallet record, so a
/// signature can be replayed neither for another organization, environment, chain or address,
/// nor for a later registration of the same address (the nonce).
pub fn challenge_text(id: &WalletId, org_id: &OrgId, environment: Environment, chain: Chain, address: &ChainAddress, nonce: &str) -> String {
    format!(
        "payouts: prove ownership of a source wallet\nwallet: {id}\norganization: {org_id}\nenvironment: {environment}\nchain: {chain}\naddress: {address}\nnonce: {nonce}"
    )
}

/// A signature as given: `0x` + hex (any case), any length (contract wallets define their own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureBytes(Vec<u8>);

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("must be 0x followed by an even number of hex characters (at most 8192)")]
pub struct SignatureFormatError;

impl SignatureBytes {
    pub fn parse(text: &str) -> Result<SignatureBytes, SignatureFormatError> {
        let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).ok_or(SignatureFormatError)?;
        if digits.is_empty() || digits.len() > 8192 {
            return Err(SignatureFormatError);
        }
        hex::decode(digits).map(SignatureBytes).map_err(|_| SignatureFormatError)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

/// The signer's 20-byte account of a 65-byte `r‖s‖v` signature over `prehash`, if it is one.
fn recover(signature: &SignatureBytes, prehash: &B256) -> Option<[u8; 20]> {
    let signature = Signature::from_raw(signature.as_bytes()).ok()?;
    signature.recover_address_from_prehash(prehash).ok().map(|address| address.into_array())
}

/// The hash tron's signed-message scheme signs.
pub fn tron_message_hash(message: &str) -> B256 {
    let mut prefixed = Vec::with_capacity(TRON_MESSAGE_PREFIX.len() + 20 + message.len());
    prefixed.extend_from_slice(TRON_MESSAGE_PREFIX.as_bytes());
    prefixed.extend_from_slice(message.len().to_string().as_bytes());
    prefixed.extend_from_slice(message.as_bytes());
    keccak256(prefixed)
}

/// The hash an EIP-1271 contract wallet is asked about: the EIP-191 hash of the challenge.
pub fn contract_proof_hash(challenge: &str) -> [u8; 32] {
    eip191_hash_message(challenge).0
}

/// Whether `signature` is the key-holder's signature of the wallet's challenge, by the scheme of
/// its chain. `None`: not a key signature of this address (an EVM contract wallet may still
/// prove it through EIP-1271).
pub fn key_proof(wallet: &SourceWallet, signature: &SignatureBytes) -> Option<ProofMethod> {
    let account = wallet.address.account_bytes()?;
    let (hash, method) = if wallet.chain.is_evm() {
        (eip191_hash_message(&wallet.challenge), ProofMethod::Eip191)
    } else {
        (tron_message_hash(&wallet.challenge), ProofMethod::TronMessage)
    };
    (recover(signature, &hash)? == account).then_some(method)
}

/// The public source wallet object.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct WalletView {
    #[schema(example = "wal_0a1b2c3d4e5f60718293a4b5")]
    pub id: String,
    pub org_id: String,
    pub environment: Environment,
    pub chain: Chain,
    /// EIP-55 checksummed on arbitrum/base, base58check on tron.
    pub address: String,
    #[schema(nullable)]
    pub label: Option<String>,
    pub status: WalletStatus,
    /// The exact message to sign (UTF-8, lines separated by `\n`): EIP-191 `personal_sign` for an
    /// EVM account, tron's signed-message scheme on tron, or whatever the contract wallet's
    /// EIP-1271 `isValidSignature` accepts for the EIP-191 hash of this text.
    pub challenge: String,
    /// How ownership was proven (`skipped`: sandbox `skip_proof`).
    #[schema(nullable)]
    pub proof_method: Option<ProofMethod>,
    #[schema(nullable, format = DateTime)]
    pub verified_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;

    fn wallet(chain: Chain, address: &str) -> SourceWallet {
        let address = ChainAddress::parse(chain, address).unwrap_or_else(|e| panic!("{e}"));
        SourceWallet::register(OrgId::generate(), Environment::Sandbox, address, chain, None, "00", Utc::now())
    }

    #[test]
    fn the_challenge_names_everything_it_binds() {
        let w = wallet(Chain::Base, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        for part in [w.id.as_str(), w.org_id.as_str(), "sandbox", "base", "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "nonce: 00"] {
            assert!(w.challenge.contains(part), "{part} missing from {:?}", w.challenge);
        }
    }

    #[test]
    fn signatures_are_hex_with_0x() {
        assert_eq!(SignatureBytes::parse("0xabCD").map(|s| s.as_bytes().to_vec()), Ok(vec![0xab, 0xcd]));
        for bad in ["abcd", "0x", "0xabc", "0xzz", ""] {
            assert_eq!(SignatureBytes::parse(bad), Err(SignatureFormatError), "{bad}");
        }
    }

    /// Signatures of `VECTOR_MESSAGE` by anvil's dev key 0 (`0xf39F…2266`), made by independent
    /// implementations: foundry's `cast wallet sign` (EIP-191) and TronWeb 6.5.1 `signMessageV2`.
    const VECTOR_MESSAGE: &str = "payouts test vector\nnonce: 00112233";
    const CAST_SIGNATURE: &str =
        "0x7d4e5939559f1d3041bf31e1ace5c789e4cec51846569683e898e67eef6c73594e62c49fa93a8067e1a993127d9065467b9fdce882d83befd5a6268d915f54981b";
    const TRONWEB_SIGNATURE: &str =
        "0xff299a1bcc541c3fa1e6185417244e6f94542e6220ec24e4223eabc1393dfba42c6778e67327e7e4c8c89feb2c0c4aeb2763872ac9872e317f3464dc3a3810e21c";

    fn signature(text: &str) -> SignatureBytes {
        SignatureBytes::parse(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn independent_signers_recover_to_the_key_holder() {
        let account = hex::decode("f39fd6e51aad88f6f4ce6ab8827279cfffb92266").unwrap_or_default();
        let eip191 = recover(&signature(CAST_SIGNATURE), &eip191_hash_message(VECTOR_MESSAGE));
        assert_eq!(eip191.map(|a| a.to_vec()), Some(account.clone()));
        let tron = recover(&signature(TRONWEB_SIGNATURE), &tron_message_hash(VECTOR_MESSAGE));
        assert_eq!(tron.map(|a| a.to_vec()), Some(account.clone()));
        let tron_account: [u8; 20] = account.clone().try_into().unwrap_or([0; 20]);
        assert_eq!(super::super::address::tron_address_from_account(tron_account), "TYBNgWfhGuNzdLtjKtxXTfskAhTbMcqbaG", "TronWeb's address of the key");
        // Each scheme's signature proves nothing in the other scheme.
        assert_ne!(recover(&signature(CAST_SIGNATURE), &tron_message_hash(VECTOR_MESSAGE)).map(|a| a.to_vec()), Some(account.clone()));
        assert_ne!(recover(&signature(TRONWEB_SIGNATURE), &eip191_hash_message(VECTOR_MESSAGE)).map(|a| a.to_vec()), Some(account));
    }

    #[test]
    fn a_garbage_signature_proves_nothing() {
        let w = wallet(Chain::Base, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        let garbage = SignatureBytes::parse(&format!("0x{}", "11".repeat(65))).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key_proof(&w, &garbage), None);
        let short = SignatureBytes::parse("0x1234").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(key_proof(&w, &short), None);
    }

    #[test]
    fn verify_and_delete_follow_the_lifecycle() {
        let mut w = wallet(Chain::Base, "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        assert!(!w.counts_as_owned());
        assert_eq!(w.verify(ProofMethod::Eip191, Utc::now()), Ok(()));
        assert!(w.counts_as_owned());
        assert_eq!(w.verify(ProofMethod::Eip191, Utc::now()), Err(WalletError::AlreadyVerified));
        assert_eq!(w.delete(Utc::now()), Ok(()));
        assert!(!w.counts_as_owned());
        assert_eq!(w.delete(Utc::now()), Err(WalletError::Deleted));
    }
}
