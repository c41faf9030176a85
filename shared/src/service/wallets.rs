//! Source wallets API: register (`POST /v1/payouts/wallets`), list, get, delete, and prove
//! ownership (`POST /v1/payouts/wallets/{id}/verify`).
//!
//! Every change is one conditional write: the wallet on its version, and the address claim
//! (`WADDR#…`, one organization per environment, chain and address) created "if absent" with the
//! verification, or removed with the deletion. A write that loses a race re-reads what it
//! depended on and decides again; no write op is ever identified by its position.

use super::auth::{Principal, authenticate};
use super::idempotency::IdempotencyGuard;
use super::input::{AddressText, JsonObject, request_body};
use super::pagination::{ListParams, list_page};
use super::records::{self, WalletClaim, decode, wallet_claim_item, wallet_claim_key, wallet_item, wallet_key};
use super::reply::Reply;
use super::{App, COMMIT_ATTEMPTS};
use crate::domain::address::ChainAddress;
use crate::domain::chain::{Chain, Environment, Token};
use crate::domain::ids::WalletId;
use crate::domain::org::{ApiKeySecret, Feature};
use crate::domain::wallet::{ProofMethod, SignatureBytes, SourceWallet, WalletError, WalletStatus, contract_proof_hash, key_proof};
use crate::error::ApiError;
use crate::ports::store::{Condition, IndexName, IndexQuery, Item, ItemKey, WriteOp};

fn wallet_not_found(id: &str) -> ApiError {
    ApiError::not_found("wallet_not_found", "source wallet", id, "id")
}

/// The wallet if it exists, is not deleted, and belongs to the caller's organization and environment.
fn visible(principal: &Principal, item: Option<Item>, id: &str) -> Result<(SourceWallet, u64), ApiError> {
    let item = item.ok_or_else(|| wallet_not_found(id))?;
    let wallet: SourceWallet = decode(&item).map_err(ApiError::internal)?;
    if !principal.owns(&wallet.org_id, wallet.environment) || wallet.deleted_at.is_some() {
        return Err(wallet_not_found(id));
    }
    Ok((wallet, item.version))
}

async fn authenticate_with_wallet(app: &App, secret: &ApiKeySecret, id_text: &str) -> Result<(Principal, SourceWallet, u64), ApiError> {
    // A malformed id cannot exist: still authenticate first so 401 wins over 404.
    let Some(id) = WalletId::parse(id_text) else {
        let (principal, _) = authenticate(app, secret, &[]).await?;
        principal.require(Feature::Payouts)?;
        return Err(wallet_not_found(id_text));
    };
    let (principal, mut items) = authenticate(app, secret, &[wallet_key(&id)]).await?;
    principal.require(Feature::Payouts)?;
    let (wallet, version) = visible(&principal, items.pop().flatten(), id_text)?;
    Ok((principal, wallet, version))
}

/// The wallet and the claim on its address, read together (after a lost race).
async fn reload(app: &App, principal: &Principal, wallet: &SourceWallet) -> Result<(SourceWallet, u64, Option<WalletClaim>), ApiError> {
    let claim_key = claim_key_of(wallet)?;
    let mut items = app.store.get(&[wallet_key(&wallet.id), claim_key]).await.map_err(ApiError::internal)?.into_iter();
    let (fresh, version) = visible(principal, items.next().flatten(), wallet.id.as_str())?;
    let claim = items.next().flatten().map(|item| decode::<WalletClaim>(&item)).transpose().map_err(ApiError::internal)?;
    Ok((fresh, version, claim))
}

fn claim_key_of(wallet: &SourceWallet) -> Result<ItemKey, ApiError> {
    let account = wallet.address.account_bytes().ok_or_else(|| ApiError::internal(format!("{} has an unreadable address", wallet.id)))?;
    Ok(wallet_claim_key(wallet.environment, wallet.chain, &account))
}

/// The write op that makes the wallet's address its organization's (fails if already claimed).
fn claim_op(wallet: &SourceWallet, now_unix: i64) -> Result<WriteOp, ApiError> {
    let account = wallet.address.account_bytes().ok_or_else(|| ApiError::internal(format!("{} has an unreadable address", wallet.id)))?;
    let claim = WalletClaim { wallet_id: wallet.id.clone(), org_id: wallet.org_id.clone(), verified_at: wallet.verified_at };
    let item = wallet_claim_item(wallet.environment, wallet.chain, &account, &claim).map_err(ApiError::internal)?;
    Ok(WriteOp::Put { item, condition: Some(Condition::Absent { now_unix }) })
}

// ---------------------------------------------------------------------------------------------
// Register

/// `POST /v1/payouts/wallets` body: a wallet the organization pays from. Its schema is the
/// document's and what [`validate_new_wallet`] checks the body against.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CreateWalletRequest {
    chain: Chain,
    /// In `chain`'s form, validated like a recipient; the zero address and token contracts are
    /// refused.
    address: AddressText,
    #[schema(nullable, max_length = 100)]
    label: Option<String>,
    /// Sandbox only: the wallet is verified at once, without a proof (local development).
    #[schema(nullable)]
    skip_proof: Option<bool>,
}
request_body!(CreateWalletRequest);

/// `POST /v1/payouts/wallets/{wallet_id}/verify` body.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct VerifyWalletRequest {
    /// `0x` + hex: the EIP-191 `personal_sign` signature of `challenge` (EVM account), tron's
    /// signed-message signature of it (TronWeb `signMessageV2`), or a signature the contract
    /// wallet's EIP-1271 `isValidSignature` accepts for the EIP-191 hash of `challenge`.
    #[schema(pattern = r"^0x([0-9a-fA-F]{2})+$", max_length = 8194, example = "0x5f1c3b2a")]
    signature: String,
}
request_body!(VerifyWalletRequest);

/// What a registration asks for, validated.
pub struct NewWallet {
    pub chain: Chain,
    pub address: ChainAddress,
    pub label: Option<String>,
    pub skip_proof: bool,
}

/// Validates a registration body. Addresses follow the recipients' rules (EIP-55, base58check,
/// no zero address) and a token contract is refused: no one pays from the token itself.
pub fn validate_new_wallet(app: &App, environment: Environment, body: &JsonObject) -> Result<NewWallet, ApiError> {
    body.conform::<CreateWalletRequest>()?;
    let chain_text = body.required_string("chain")?;
    let chain = Chain::parse(&chain_text)
        .ok_or_else(|| ApiError::invalid_field("chain", format!("Unsupported chain {chain_text:?}: use one of tron, arbitrum, base.")))?;
    let address_text = body.required_string("address")?;
    let address = ChainAddress::parse(chain, &address_text).map_err(|e| ApiError::invalid_field("address", format!("The address {e}.")))?;
    if let Some(token) = Token::ALL.into_iter().find(|token| app.chains.token_contract(environment, chain, *token) == Some(&address)) {
        return Err(ApiError::invalid_field("address", format!("The address is the {token} token contract on {chain}, not a wallet.")));
    }
    let label = body.nullable_string("label")?.flatten();
    let skip_proof = body.optional_bool("skip_proof")?.unwrap_or(false);
    if skip_proof && environment == Environment::Live {
        return Err(ApiError::invalid_field("skip_proof", "skip_proof is only available in sandbox: in live, a wallet's ownership must be proven."));
    }
    Ok(NewWallet { chain, address, label, skip_proof })
}

fn nonce() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub async fn create(app: &App, secret: &ApiKeySecret, idempotency_key: Option<&str>, body: &[u8]) -> Result<Reply, ApiError> {
    let (principal, _) = authenticate(app, secret, &[]).await?;
    principal.require(Feature::Payouts)?;
    let body = JsonObject::parse(body)?;
    let guard = IdempotencyGuard::from_header(&principal, idempotency_key, "POST /v1/payouts/wallets", &body.fingerprint())?;
    let new = validate_new_wallet(app, principal.environment, &body)?;
    let now = app.now();
    let mut wallet = SourceWallet::register(principal.org_id.clone(), principal.environment, new.address, new.chain, new.label, &nonce(), now);
    if new.skip_proof {
        wallet.verify(ProofMethod::Skipped, now).map_err(ApiError::internal)?;
    }
    let reply = Reply::json(201, &wallet.view())?;
    let mut ops =
        vec![WriteOp::Put { item: wallet_item(&wallet, 1).map_err(ApiError::internal)?, condition: Some(Condition::Absent { now_unix: now.timestamp() }) }];
    if wallet.counts_as_owned() {
        ops.push(claim_op(&wallet, now.timestamp())?);
    }
    if let Some(guard) = &guard {
        ops.push(guard.record_op(reply.status, &reply.body, now)?);
    }
    for _ in 0..COMMIT_ATTEMPTS {
        match app.store.write(ops.clone()).await {
            Ok(()) => {
                tracing::info!(wallet_id = %wallet.id, chain = %wallet.chain, status = %wallet.status, "source wallet registered");
                return Ok(reply);
            }
            Err(error) if error.lost_race() => {
                if let Some(stored) = IdempotencyGuard::after_lost_race(guard.as_ref(), app).await? {
                    return Ok(Reply::replay(stored));
                }
                // The wallet's id is fresh: only the address claim (skip_proof) can be taken.
                let claimed = app.store.get(&[claim_key_of(&wallet)?]).await.map_err(ApiError::internal)?.pop().flatten();
                if wallet.counts_as_owned() && claimed.is_some() {
                    return Err(ApiError::wallet_already_claimed());
                }
            }
            Err(error) => return Err(ApiError::internal(error)),
        }
    }
    Err(IdempotencyGuard::gave_up(guard.as_ref()))
}

// ---------------------------------------------------------------------------------------------
// Read

pub async fn get(app: &App, secret: &ApiKeySecret, id: &str) -> Result<Reply, ApiError> {
    let (_, wallet, _) = authenticate_with_wallet(app, secret, id).await?;
    Reply::json(200, &wallet.view())
}

pub async fn list(app: &App, secret: &ApiKeySecret, params: &[(String, String)]) -> Result<Reply, ApiError> {
    let (principal, _) = authenticate(app, secret, &[]).await?;
    principal.require(Feature::Payouts)?;
    let params = ListParams::parse(params, &["chain", "status"])?;
    let chain = params.filter("chain", Chain::parse, "tron, arbitrum or base")?;
    let status = params.filter("status", WalletStatus::parse, "pending_verification or verified")?;
    let (index, pk) = match (chain, status) {
        // An organization has few wallets per chain; a status given as well is checked on each.
        (Some(chain), _) => (IndexName::Gsi3, records::wallets_of_chain(&principal.org_id, principal.environment, chain)),
        (None, Some(status)) => (IndexName::Gsi2, records::wallets_of_status(&principal.org_id, principal.environment, status)),
        (None, None) => (IndexName::Gsi1, records::wallets_of(&principal.org_id, principal.environment)),
    };
    let query = IndexQuery::partition(index, pk, true, app.now().timestamp());
    let list = list_page(app, query, &params, |wallet: SourceWallet| status.is_none_or(|s| wallet.status == s).then(|| wallet.view())).await?;
    Reply::json(200, &list)
}

// ---------------------------------------------------------------------------------------------
// Delete

pub async fn delete(app: &App, secret: &ApiKeySecret, id: &str) -> Result<Reply, ApiError> {
    let (principal, mut wallet, mut version) = authenticate_with_wallet(app, secret, id).await?;
    for _ in 0..COMMIT_ATTEMPTS {
        let now = app.now();
        let mut deleted = wallet.clone();
        deleted.delete(now).map_err(|_| wallet_not_found(id))?;
        let mut ops =
            vec![WriteOp::Put { item: wallet_item(&deleted, version + 1).map_err(ApiError::internal)?, condition: Some(Condition::Version(version)) }];
        if wallet.counts_as_owned() {
            // Its transfers stop counting as the organization's; another registration may claim it.
            ops.push(WriteOp::Delete { key: claim_key_of(&wallet)?, condition: None });
        }
        match app.store.write(ops).await {
            Ok(()) => {
                tracing::info!(wallet_id = %wallet.id, "source wallet deleted");
                return Ok(Reply::no_content());
            }
            Err(error) if error.lost_race() => (wallet, version, _) = reload(app, &principal, &wallet).await?,
            Err(error) => return Err(ApiError::internal(error)),
        }
    }
    Err(ApiError::concurrent_update())
}

// ---------------------------------------------------------------------------------------------
// Verify

/// Which proof the signature is, or a 400 saying what was expected.
async fn check_proof(app: &App, wallet: &SourceWallet, signature: &SignatureBytes) -> Result<ProofMethod, ApiError> {
    if let Some(method) = key_proof(wallet, signature) {
        return Ok(method);
    }
    if wallet.chain.is_evm() {
        let account = wallet.address.account_bytes().ok_or_else(|| ApiError::internal(format!("{} has an unreadable address", wallet.id)))?;
        let accepted = app
            .contract_wallets
            .accepts_signature(wallet.environment, wallet.chain, account, contract_proof_hash(&wallet.challenge), signature.as_bytes())
            .await
            .map_err(|error| {
                tracing::warn!(wallet_id = %wallet.id, error = %error, "cannot ask the contract wallet");
                ApiError::chain_unavailable(wallet.chain.as_str())
            })?;
        if accepted {
            return Ok(ProofMethod::Eip1271);
        }
        return Err(ApiError::invalid_signature(format!(
            "The signature does not prove ownership of {}: give the EIP-191 personal_sign signature of the challenge by this address's key, or a signature the contract wallet at this address accepts (EIP-1271).",
            wallet.address
        )));
    }
    Err(ApiError::invalid_signature(format!(
        "The signature does not prove ownership of {}: give the tron signed-message signature (TronWeb signMessageV2) of the challenge by this address's key.",
        wallet.address
    )))
}

pub async fn verify(app: &App, secret: &ApiKeySecret, id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let (principal, mut wallet, mut version) = authenticate_with_wallet(app, secret, id).await?;
    let body = JsonObject::parse(body)?;
    body.conform::<VerifyWalletRequest>()?;
    let text = body.required_string("signature")?;
    let signature = SignatureBytes::parse(&text).map_err(|e| ApiError::invalid_field("signature", format!("The signature {e}.")))?;
    if wallet.status == WalletStatus::Verified {
        // A retry of a verification that succeeded: the wallet as it is.
        return Reply::json(200, &wallet.view());
    }
    let method = check_proof(app, &wallet, &signature).await?;
    for _ in 0..COMMIT_ATTEMPTS {
        let now = app.now();
        let mut verified = wallet.clone();
        match verified.verify(method, now) {
            Ok(()) => {}
            Err(WalletError::AlreadyVerified) => return Reply::json(200, &wallet.view()),
            Err(WalletError::Deleted) => return Err(wallet_not_found(id)),
        }
        let ops = vec![
            WriteOp::Put { item: wallet_item(&verified, version + 1).map_err(ApiError::internal)?, condition: Some(Condition::Version(version)) },
            claim_op(&verified, now.timestamp())?,
        ];
        match app.store.write(ops).await {
            Ok(()) => {
                tracing::info!(wallet_id = %verified.id, method = method.as_str(), "source wallet verified");
                return Reply::json(200, &verified.view());
            }
            Err(error) if error.lost_race() => {
                let (fresh, fresh_version, claim) = reload(app, &principal, &wallet).await?;
                if claim.is_some_and(|claim| claim.wallet_id != fresh.id) {
                    return Err(ApiError::wallet_already_claimed());
                }
                (wallet, version) = (fresh, fresh_version);
            }
            Err(error) => return Err(ApiError::internal(error)),
        }
    }
    Err(ApiError::concurrent_update())
}
