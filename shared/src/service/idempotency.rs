//! `Idempotency-Key` on the creating/executing POSTs: the first successful response is stored
//! for 24 hours in the same atomic write as the change it produced, and replayed for the same
//! key; the same key with a different request is a 409. Scoped per organization and environment.
//!
//! Because the record is written with the change under an "absent" condition, concurrent
//! duplicates cannot both apply: the loser's whole write is refused and it replays the winner's.

use super::App;
use super::auth::Principal;
use super::records::{IdempotencyRecord, decode, idempotency_item, idempotency_key};
use crate::domain::time::Timestamp;
use crate::error::ApiError;
use crate::ports::keys::KeyContext;
use crate::ports::store::{Condition, ItemKey, WriteOp};
use sha2::{Digest, Sha256};

/// How long a stored response is replayed.
pub const RETENTION_SECONDS: i64 = 24 * 60 * 60;
const MAX_KEY_LENGTH: usize = 255;

/// The idempotency key of one request, bound to what that request asks.
#[derive(Clone, Debug)]
pub struct IdempotencyGuard {
    item_key: ItemKey,
    key_hash: String,
    fingerprint: String,
}

/// A response to send again, exactly as first sent.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: String,
}

impl IdempotencyGuard {
    /// `None` when the request carries no key. `operation` and `body_fingerprint` together say
    /// what the request asks (e.g. `POST /v1/payouts/po_…/execute` and its body's digest).
    pub fn from_header(principal: &Principal, header: Option<&str>, operation: &str, body_fingerprint: &str) -> Result<Option<IdempotencyGuard>, ApiError> {
        let Some(key) = header else { return Ok(None) };
        if key.is_empty() || key.len() > MAX_KEY_LENGTH || !key.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(ApiError::invalid_idempotency_key(format!("Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters.")));
        }
        let key_hash = hex::encode(Sha256::digest(key.as_bytes()));
        let fingerprint = hex::encode(Sha256::digest(format!("{operation}\n{body_fingerprint}").as_bytes()));
        Ok(Some(IdempotencyGuard { item_key: idempotency_key(&principal.org_id, principal.environment, &key_hash), key_hash, fingerprint }))
    }

    /// The write op that stores this request's response; fails if a live record exists.
    pub fn record_op(&self, status: u16, body: &str, now: Timestamp) -> Result<WriteOp, ApiError> {
        self.record(IdempotencyRecord { fingerprint: self.fingerprint.clone(), status, body: body.to_owned(), sealed_body: None, created_at: now }, now)
    }

    /// [`Self::record_op`] for a response that shows a secret: it is stored sealed under this
    /// key ([`super::secrets`]), so the record holds no secret; [`Self::prior_response`] opens it.
    pub async fn record_sealed_op(&self, app: &App, status: u16, body: &str, now: Timestamp) -> Result<WriteOp, ApiError> {
        let sealed_body = app.vault.seal(body.as_bytes(), &self.key_context()).await.map_err(ApiError::internal)?;
        self.record(
            IdempotencyRecord { fingerprint: self.fingerprint.clone(), status, body: String::new(), sealed_body: Some(sealed_body), created_at: now },
            now,
        )
    }

    /// What a sealed response of this key is bound to.
    fn key_context(&self) -> KeyContext {
        KeyContext { name: "idempotency_key", value: self.key_hash.clone() }
    }

    fn record(&self, record: IdempotencyRecord, now: Timestamp) -> Result<WriteOp, ApiError> {
        let item = idempotency_item(self.item_key.clone(), &record, now.timestamp() + RETENTION_SECONDS).map_err(ApiError::internal)?;
        Ok(WriteOp::Put { item, condition: Some(Condition::Absent { now_unix: now.timestamp() }) })
    }

    /// Looks for an earlier response under this key: `Ok(Some)` to replay, `Ok(None)` if there is
    /// none (or it expired), a 409 if the key was used for a different request.
    pub async fn prior_response(&self, app: &App) -> Result<Option<StoredResponse>, ApiError> {
        let item = app.store.get(std::slice::from_ref(&self.item_key)).await.map_err(ApiError::internal)?.pop().flatten();
        let now = app.now().timestamp();
        let Some(item) = item.filter(|item| !item.is_expired(now)) else { return Ok(None) };
        let record: IdempotencyRecord = decode(&item).map_err(ApiError::internal)?;
        if record.fingerprint != self.fingerprint {
            return Err(ApiError::idempotency_key_reused());
        }
        let body = match &record.sealed_body {
            Some(sealed) => {
                let opened = app.vault.open(sealed, &self.key_context()).await.map_err(ApiError::internal)?;
                String::from_utf8(opened).map_err(ApiError::internal)?
            }
            None => record.body,
        };
        Ok(Some(StoredResponse { status: record.status, body }))
    }

    /// After a write that carried this request's record lost a race: the response to replay if
    /// a record under the key won (it is committed, so it reads back), `None` if the race was on
    /// something else (re-read and decide again), or a 409 for a different request.
    /// What a create answers when every attempt lost a race: with a key, a concurrent duplicate
    /// is still being written (retry shortly); without one, a plain conflict.
    pub fn gave_up(guard: Option<&IdempotencyGuard>) -> ApiError {
        if guard.is_some() { ApiError::idempotency_in_progress() } else { ApiError::concurrent_update() }
    }

    pub async fn after_lost_race(guard: Option<&IdempotencyGuard>, app: &App) -> Result<Option<StoredResponse>, ApiError> {
        match guard {
            Some(guard) => guard.prior_response(app).await,
            None => Ok(None),
        }
    }
}
