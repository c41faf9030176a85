//! The payout intent and its state machine.

use super::address::{ChainAddress, TxHash};
use super::chain::{Chain, Environment, Token};
use super::event::EventType;
use super::ids::{ApiKeyId, OrgId, PayoutId};
use super::money::{Amount, AtomicAmount};
use super::time::{self, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

/// `draft → approved → (pending_execution →) executed → verifying → settled | failed`;
/// `draft → canceled`; `executed → failed`. No status ever moves backwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PayoutStatus {
    Draft,
    Approved,
    PendingExecution,
    Executed,
    Verifying,
    Settled,
    Failed,
    Canceled,
}

impl PayoutStatus {
    pub const ALL: [PayoutStatus; 8] = [
        PayoutStatus::Draft,
        PayoutStatus::Approved,
        PayoutStatus::PendingExecution,
        PayoutStatus::Executed,
        PayoutStatus::Verifying,
        PayoutStatus::Settled,
        PayoutStatus::Failed,
        PayoutStatus::Canceled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PayoutStatus::Draft => "draft",
            PayoutStatus::Approved => "approved",
            PayoutStatus::PendingExecution => "pending_execution",
            PayoutStatus::Executed => "executed",
            PayoutStatus::Verifying => "verifying",
            PayoutStatus::Settled => "settled",
            PayoutStatus::Failed => "failed",
            PayoutStatus::Canceled => "canceled",
        }
    }

    pub fn parse(text: &str) -> Option<PayoutStatus> {
        PayoutStatus::ALL.into_iter().find(|status| status.as_str() == text)
    }

    pub fn is_terminal(self) -> bool {
        match self {
            PayoutStatus::Settled | PayoutStatus::Failed | PayoutStatus::Canceled => true,
            PayoutStatus::Draft | PayoutStatus::Approved | PayoutStatus::PendingExecution | PayoutStatus::Executed | PayoutStatus::Verifying => false,
        }
    }

    /// Whether the chain-watcher still has work on an intent in this status.
    pub fn awaits_chain(self) -> bool {
        match self {
            PayoutStatus::Executed | PayoutStatus::Verifying => true,
            PayoutStatus::Draft
            | PayoutStatus::Approved
            | PayoutStatus::PendingExecution
            | PayoutStatus::Settled
            | PayoutStatus::Failed
            | PayoutStatus::Canceled => false,
        }
    }

    /// The one table of legal transitions. Every arm is explicit so a new status forces a decision.
    pub fn can_become(self, next: PayoutStatus) -> bool {
        use PayoutStatus::*;
        match self {
            Draft => matches!(next, Approved | Canceled),
            // The guide: an approved intent cannot be canceled through the API.
            Approved => matches!(next, PendingExecution | Executed),
            PendingExecution => matches!(next, Executed),
            Executed => matches!(next, Verifying | Failed),
            Verifying => matches!(next, Settled | Failed),
            Settled | Failed | Canceled => false,
        }
    }

    /// The event recorded when an intent enters this status.
    pub fn entry_event(self) -> EventType {
        match self {
            PayoutStatus::Draft => EventType::PayoutCreated,
            PayoutStatus::Approved => EventType::PayoutApproved,
            PayoutStatus::PendingExecution => EventType::PayoutPendingExecution,
            PayoutStatus::Executed => EventType::PayoutExecuted,
            PayoutStatus::Verifying => EventType::PayoutVerifying,
            PayoutStatus::Settled => EventType::PayoutSettled,
            PayoutStatus::Failed => EventType::PayoutFailed,
            PayoutStatus::Canceled => EventType::PayoutCanceled,
        }
    }
}

impl fmt::Display for PayoutStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why the chain-watcher failed an intent (machine-readable, shown as `failure_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureReason {
    TxReverted,
    TokenMismatch,
    RecipientMismatch,
    AmountMismatch,
    TxNotFound,
    /// The transfer was not sent by a verified source wallet of the intent's organization
    /// (under the `registered` sender policy), or was sent by another organization's.
    SenderNotRegistered,
    /// The transfer's block is older than the intent (minus the clock-skew allowance).
    TxPredatesIntent,
    /// Another payout intent already settled on this very transfer.
    TransferAlreadySettled,
}

impl FailureReason {
    pub const ALL: [FailureReason; 8] = [
        FailureReason::TxReverted,
        FailureReason::TokenMismatch,
        FailureReason::RecipientMismatch,
        FailureReason::AmountMismatch,
        FailureReason::TxNotFound,
        FailureReason::SenderNotRegistered,
        FailureReason::TxPredatesIntent,
        FailureReason::TransferAlreadySettled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::TxReverted => "tx_reverted",
            FailureReason::TokenMismatch => "token_mismatch",
            FailureReason::RecipientMismatch => "recipient_mismatch",
            FailureReason::AmountMismatch => "amount_mismatch",
            FailureReason::TxNotFound => "tx_not_found",
            FailureReason::SenderNotRegistered => "sender_not_registered",
            FailureReason::TxPredatesIntent => "tx_predates_intent",
            FailureReason::TransferAlreadySettled => "transfer_already_settled",
        }
    }

    /// Whether the failure leaves the transfer unbooked, so that the intent's tx-hash claim is
    /// released in the same write and the hash can back a new intent. An `amount_mismatch`
    /// records the transfer as a settlement: its claim stays, so it is never booked twice.
    pub fn releases_tx_claim(self) -> bool {
        match self {
            FailureReason::TxReverted
            | FailureReason::TokenMismatch
            | FailureReason::RecipientMismatch
            | FailureReason::TxNotFound
            | FailureReason::SenderNotRegistered
            | FailureReason::TxPredatesIntent
            | FailureReason::TransferAlreadySettled => true,
            FailureReason::AmountMismatch => false,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReferenceType {
    Checkout,
    Subscription,
    Invoice,
    Manual,
}

impl ReferenceType {
    pub const ALL: [ReferenceType; 4] = [ReferenceType::Checkout, ReferenceType::Subscription, ReferenceType::Invoice, ReferenceType::Manual];

    pub fn as_str(self) -> &'static str {
        match self {
            ReferenceType::Checkout => "checkout",
            ReferenceType::Subscription => "subscription",
            ReferenceType::Invoice => "invoice",
            ReferenceType::Manual => "manual",
        }
    }

    pub fn parse(text: &str) -> Option<ReferenceType> {
        ReferenceType::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// Where the chain-watcher has seen the intent's transaction (block number and hash when first
/// included), kept to detect reorgs at the confirmation point. Not part of the public object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainObservation {
    pub block_number: u64,
    pub block_hash: String,
    #[serde(with = "time::rfc3339")]
    pub seen_at: Timestamp,
    /// Blocks on top of (and including) the tx's block at the watcher's last look.
    #[serde(default)]
    pub confirmations: u64,
    /// What the chain's configuration asks for before the verdict.
    #[serde(default)]
    pub required_confirmations: u64,
}

/// A payout intent as stored. The public JSON shape is [`PayoutView`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayoutIntent {
    pub id: PayoutId,
    pub org_id: OrgId,
    pub environment: Environment,
    pub recipient_address: ChainAddress,
    pub chain: Chain,
    pub token: Token,
    pub amount: Amount,
    pub amount_atomic: Option<AtomicAmount>,
    pub currency: Currency,
    pub status: PayoutStatus,
    pub description: Option<String>,
    pub reference_type: Option<ReferenceType>,
    pub reference_id: Option<String>,
    #[serde(with = "time::rfc3339::option")]
    pub due_date: Option<Timestamp>,
    #[serde(with = "time::rfc3339::option")]
    pub approved_at: Option<Timestamp>,
    pub approved_by: Option<ApiKeyId>,
    #[serde(with = "time::rfc3339::option")]
    pub executed_at: Option<Timestamp>,
    pub expected_tx_hash: Option<TxHash>,
    #[serde(with = "time::rfc3339::option")]
    pub verified_at: Option<Timestamp>,
    #[serde(with = "time::rfc3339::option")]
    pub failed_at: Option<Timestamp>,
    #[serde(with = "time::rfc3339::option")]
    pub canceled_at: Option<Timestamp>,
    pub failure_reason: Option<FailureReason>,
    #[serde(with = "time::rfc3339")]
    pub created_at: Timestamp,
    #[serde(with = "time::rfc3339")]
    pub updated_at: Timestamp,
    /// Chain-watcher bookkeeping (absent until the tx is seen in a block).
    #[serde(default)]
    pub observation: Option<ChainObservation>,
    /// Chain-watcher bookkeeping: when to look at this intent again (backoff for a tx not seen).
    #[serde(default, with = "time::rfc3339::option")]
    pub next_check_at: Option<Timestamp>,
    /// Chain-watcher bookkeeping: when the tx was first seen in a block (kept across reorgs;
    /// the settlement's `detected_at`).
    #[serde(default, with = "time::rfc3339::option")]
    pub first_seen_at: Option<Timestamp>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub enum Currency {
    #[serde(rename = "USD")]
    Usd,
}

/// A refused state change: names where the intent is, so the caller can tell what happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("payout intent is {from}; it cannot become {to}")]
pub struct TransitionError {
    pub from: PayoutStatus,
    pub to: PayoutStatus,
}

/// Why an executed intent's hash cannot be replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplaceHashError {
    #[error("the transaction was already seen on-chain")]
    AlreadySeen,
    #[error("the intent already carries this hash")]
    SameHash,
    #[error("the payout intent is {0}")]
    Status(PayoutStatus),
}

/// Everything a new intent needs; validated before it gets here.
#[derive(Clone, Debug)]
pub struct NewPayout {
    pub recipient_address: ChainAddress,
    pub chain: Chain,
    pub token: Token,
    pub amount: Amount,
    pub currency: Currency,
    pub description: Option<String>,
    pub reference_type: Option<ReferenceType>,
    pub reference_id: Option<String>,
    pub due_date: Option<Timestamp>,
}

/// Draft-only edits. `Some(None)` clears a field; `None` leaves it alone.
#[derive(Clone, Debug, Default)]
pub struct DraftEdits {
    pub description: Option<Option<String>>,
    pub due_date: Option<Option<Timestamp>>,
}

impl DraftEdits {
    pub fn is_empty(&self) -> bool {
        self.description.is_none() && self.due_date.is_none()
    }
}

impl PayoutIntent {
    pub fn new(id: PayoutId, org_id: OrgId, environment: Environment, new: NewPayout, now: Timestamp) -> PayoutIntent {
        PayoutIntent {
            id,
            org_id,
            environment,
            recipient_address: new.recipient_address,
            chain: new.chain,
            token: new.token,
            amount: new.amount,
            amount_atomic: None,
            currency: new.currency,
            status: PayoutStatus::Draft,
            description: new.description,
            reference_type: new.reference_type,
            reference_id: new.reference_id,
            due_date: new.due_date,
            approved_at: None,
            approved_by: None,
            executed_at: None,
            expected_tx_hash: None,
            verified_at: None,
            failed_at: None,
            canceled_at: None,
            failure_reason: None,
            created_at: now,
            updated_at: now,
            observation: None,
            next_check_at: None,
            first_seen_at: None,
        }
    }

    fn enter(&mut self, next: PayoutStatus, now: Timestamp) -> Result<EventType, TransitionError> {
        if !self.status.can_become(next) {
            return Err(TransitionError { from: self.status, to: next });
        }
        self.status = next;
        self.updated_at = now;
        Ok(next.entry_event())
    }

    /// Fixes `amount_atomic` at approval time: from here on the on-chain amount is settled.
    pub fn approve(&mut self, by: ApiKeyId, now: Timestamp) -> Result<EventType, TransitionError> {
        let event = self.enter(PayoutStatus::Approved, now)?;
        self.amount_atomic = Some(self.amount.to_atomic());
        self.approved_at = Some(now);
        self.approved_by = Some(by);
        Ok(event)
    }

    pub fn cancel(&mut self, now: Timestamp) -> Result<EventType, TransitionError> {
        let event = self.enter(PayoutStatus::Canceled, now)?;
        self.canceled_at = Some(now);
        Ok(event)
    }

    pub fn mark_pending_execution(&mut self, now: Timestamp) -> Result<EventType, TransitionError> {
        self.enter(PayoutStatus::PendingExecution, now)
    }

    pub fn execute(&mut self, tx_hash: TxHash, now: Timestamp) -> Result<EventType, TransitionError> {
        let event = self.enter(PayoutStatus::Executed, now)?;
        self.expected_tx_hash = Some(tx_hash);
        self.executed_at = Some(now);
        Ok(event)
    }

    /// Replaces the hash of an executed intent whose tx was never seen on-chain (a wallet's
    /// speed-up or replacement, or a typo). `executed_at` becomes now: the not-found window
    /// starts again for the new hash. Returns the hash replaced.
    pub fn replace_tx_hash(&mut self, tx_hash: TxHash, now: Timestamp) -> Result<TxHash, ReplaceHashError> {
        if self.status != PayoutStatus::Executed || self.first_seen_at.is_some() || self.observation.is_some() {
            return Err(match self.status {
                PayoutStatus::Verifying | PayoutStatus::Executed => ReplaceHashError::AlreadySeen,
                other => ReplaceHashError::Status(other),
            });
        }
        let old = self.expected_tx_hash.replace(tx_hash.clone()).ok_or(ReplaceHashError::Status(self.status))?;
        if old == tx_hash {
            self.expected_tx_hash = Some(old);
            return Err(ReplaceHashError::SameHash);
        }
        self.executed_at = Some(now);
        self.next_check_at = None;
        self.updated_at = now;
        Ok(old)
    }

    /// Applies draft-only edits. Refused outside `draft`, naming the current status.
    pub fn edit(&mut self, edits: DraftEdits, now: Timestamp) -> Result<(), TransitionError> {
        if self.status != PayoutStatus::Draft {
            return Err(TransitionError { from: self.status, to: self.status });
        }
        if let Some(description) = edits.description {
            self.description = description;
        }
        if let Some(due_date) = edits.due_date {
            self.due_date = due_date;
        }
        self.updated_at = now;
        Ok(())
    }

    /// The chain-watcher saw the tx in a block.
    pub fn start_verifying(&mut self, observation: ChainObservation, now: Timestamp) -> Result<EventType, TransitionError> {
        let event = self.enter(PayoutStatus::Verifying, now)?;
        self.first_seen_at = self.first_seen_at.or(Some(observation.seen_at));
        self.observation = Some(observation);
        Ok(event)
    }

    /// The tx moved to another block (or was first seen while already verifying): re-recorded,
    /// no status change.
    pub fn re_observe(&mut self, observation: ChainObservation, now: Timestamp) {
        self.first_seen_at = self.first_seen_at.or(Some(observation.seen_at));
        self.observation = Some(observation);
        self.updated_at = now;
    }

    /// The tx was reorged out: back to waiting for it to be mined again.
    pub fn forget_observation(&mut self, now: Timestamp) {
        self.observation = None;
        self.updated_at = now;
    }

    pub fn settle(&mut self, now: Timestamp) -> Result<EventType, TransitionError> {
        let event = self.enter(PayoutStatus::Settled, now)?;
        self.verified_at = Some(now);
        self.next_check_at = None;
        Ok(event)
    }

    pub fn fail(&mut self, reason: FailureReason, now: Timestamp) -> Result<EventType, TransitionError> {
        let event = self.enter(PayoutStatus::Failed, now)?;
        self.failed_at = Some(now);
        self.failure_reason = Some(reason);
        self.next_check_at = None;
        Ok(event)
    }

    pub fn view(&self) -> PayoutView {
        let at = |t: &Option<Timestamp>| t.as_ref().map(public_time);
        PayoutView {
            id: self.id.to_string(),
            org_id: self.org_id.to_string(),
            recipient_address: self.recipient_address.to_string(),
            chain: self.chain,
            token: self.token,
            amount: self.amount,
            amount_atomic: self.amount_atomic.map(|a| a.to_string()),
            currency: self.currency,
            status: self.status,
            description: self.description.clone(),
            reference_type: self.reference_type,
            reference_id: self.reference_id.clone(),
            due_date: at(&self.due_date),
            approved_at: at(&self.approved_at),
            approved_by: self.approved_by.as_ref().map(ToString::to_string),
            executed_at: at(&self.executed_at),
            expected_tx_hash: self.expected_tx_hash.as_ref().map(ToString::to_string),
            verified_at: at(&self.verified_at),
            failed_at: at(&self.failed_at),
            canceled_at: at(&self.canceled_at),
            failure_reason: self.failure_reason,
            environment: self.environment,
            created_at: public_time(&self.created_at),
            updated_at: public_time(&self.updated_at),
            verification: self.observation.as_ref().filter(|_| self.status == PayoutStatus::Verifying).map(|seen| VerificationProgress {
                tx_block_number: seen.block_number,
                confirmations: seen.confirmations,
                required_confirmations: seen.required_confirmations,
            }),
        }
    }
}

/// How deep the transaction is while the intent is `verifying`.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct VerificationProgress {
    /// The block the transaction is in.
    pub tx_block_number: u64,
    /// Blocks on top of (and including) it when the chain-watcher last looked.
    pub confirmations: u64,
    /// Confirmations the chain's configuration asks for before the verdict.
    pub required_confirmations: u64,
}

/// Server-set times are kept exactly inside and shown to the second, as in the guide.
fn public_time(at: &Timestamp) -> String {
    time::to_rfc3339(&time::whole_seconds(*at))
}

/// The public payout intent object: every field present, nulls included, in the guide's order.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct PayoutView {
    #[schema(example = "po_e5f6a7b8c9d0e1f2a3b4c5d6")]
    pub id: String,
    pub org_id: String,
    pub recipient_address: String,
    pub chain: Chain,
    pub token: Token,
    /// JSON number with the scale it was created with (`500.00`).
    #[schema(value_type = f64, example = 500.00)]
    pub amount: Amount,
    /// Token amount in its smallest unit, as a string; set at approval.
    #[schema(nullable, example = "500000000")]
    pub amount_atomic: Option<String>,
    pub currency: Currency,
    pub status: PayoutStatus,
    #[schema(nullable)]
    pub description: Option<String>,
    #[schema(nullable)]
    pub reference_type: Option<ReferenceType>,
    #[schema(nullable)]
    pub reference_id: Option<String>,
    #[schema(nullable, format = DateTime)]
    pub due_date: Option<String>,
    #[schema(nullable, format = DateTime)]
    pub approved_at: Option<String>,
    /// The id of the API key that approved.
    #[schema(nullable)]
    pub approved_by: Option<String>,
    #[schema(nullable, format = DateTime)]
    pub executed_at: Option<String>,
    #[schema(nullable)]
    pub expected_tx_hash: Option<String>,
    #[schema(nullable, format = DateTime)]
    pub verified_at: Option<String>,
    #[schema(nullable, format = DateTime)]
    pub failed_at: Option<String>,
    #[schema(nullable, format = DateTime)]
    pub canceled_at: Option<String>,
    #[schema(nullable)]
    pub failure_reason: Option<FailureReason>,
    pub environment: Environment,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// While `verifying`: how deep the transaction is (`null` otherwise).
    #[schema(nullable)]
    pub verification: Option<VerificationProgress>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use PayoutStatus::*;

    #[test]
    fn every_pair_of_statuses_follows_the_documented_machine() {
        let allowed = [
            (Draft, Approved),
            (Draft, Canceled),
            (Approved, PendingExecution),
            (Approved, Executed),
            (PendingExecution, Executed),
            (Executed, Verifying),
            (Executed, Failed),
            (Verifying, Settled),
            (Verifying, Failed),
        ];
        for from in PayoutStatus::ALL {
            for to in PayoutStatus::ALL {
                assert_eq!(from.can_become(to), allowed.contains(&(from, to)), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn terminal_statuses_have_no_way_out() {
        for status in PayoutStatus::ALL {
            let has_exit = PayoutStatus::ALL.into_iter().any(|next| status.can_become(next));
            assert_eq!(status.is_terminal(), !has_exit, "{status}");
        }
    }

    #[test]
    fn status_names_round_trip() {
        for status in PayoutStatus::ALL {
            assert_eq!(PayoutStatus::parse(status.as_str()), Some(status));
            let json = serde_json::to_string(&status).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
    }
}
