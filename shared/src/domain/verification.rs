//! The chain-watcher's decision, as a pure function of the intent and what the chain says now.
//! No I/O here, so every verdict (and every reorg case) is unit-tested.
//!
//! Rules (contract notes, "Chain-watcher"):
//! - No receipt: wait; after the not-found window, `tx_not_found`. A receipt that was seen and is
//!   gone again was reorged out: back to waiting, never to settled.
//! - A receipt is first recorded (block number and hash): `executed → verifying`.
//! - Nothing is concluded from a receipt until it is deep enough (confirmations, or finalized)
//!   AND still in the very block recorded earlier; a moved tx is re-recorded and waited for again.
//! - Then the receipt decides, in this order: reverted; no transfer of the intent's token
//!   (token mismatch); none to the recipient (recipient mismatch); a block older than the intent
//!   minus [`CLOCK_SKEW_ALLOWANCE`] (tx predates intent); no transfer from an allowed sender
//!   (sender not registered: under `registered` only the org's verified wallets are allowed,
//!   under `any` everyone but another org's verified wallet); then the amount (amount mismatch
//!   outside the org's tolerance, or settled).

use super::chain::FinalityPolicy;
use super::ids::WalletId;
use super::onchain::{TransferLog, TxReceipt};
use super::payout::{ChainObservation, FailureReason, PayoutIntent, PayoutStatus};
use super::time::Timestamp;
use super::wallet::SenderPolicy;
use chrono::Duration;
use std::collections::{HashMap, HashSet};

/// How much earlier than the intent's `created_at` a transfer's block may be and still count:
/// block timestamps and the service's clock may disagree by this much.
pub const CLOCK_SKEW_ALLOWANCE: Duration = Duration::minutes(10);

/// Which senders may settle the intent.
#[derive(Clone, Debug)]
pub struct SenderRules {
    pub policy: SenderPolicy,
    /// The intent's organization's verified wallets on its environment and chain, by account.
    pub own_wallets: HashMap<[u8; 20], WalletId>,
    /// Accounts that are verified wallets of other organizations.
    pub foreign_wallets: HashSet<[u8; 20]>,
}

impl SenderRules {
    /// Whether a transfer from `sender` may settle the intent.
    pub fn allows(&self, sender: &[u8; 20]) -> bool {
        match self.policy {
            SenderPolicy::Registered => self.own_wallets.contains_key(sender),
            SenderPolicy::Any => !self.foreign_wallets.contains(sender),
        }
    }
}

/// Everything the verdict depends on besides the intent and the receipt.
#[derive(Clone, Debug)]
pub struct VerificationRules {
    /// The intent's token contract on its chain and environment (20-byte account).
    pub token_contract: [u8; 20],
    /// The intent's recipient (20-byte account).
    pub recipient: [u8; 20],
    /// The intent's amount in atomic units.
    pub expected_amount: u128,
    /// Accepted difference in atomic units (0: exact match only).
    pub tolerance: u128,
    pub confirmations: u64,
    pub finality: FinalityPolicy,
    pub not_found_window: Duration,
    pub senders: SenderRules,
    /// A transfer in a block older than this predates the intent (`created_at` minus the allowance).
    pub not_before: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing to record.
    Wait,
    /// First sighting, or the tx moved to another block: record where it is now.
    Observed(ChainObservation),
    /// The tx was seen before and is gone (reorged out): forget the sighting and wait again.
    Vanished,
    /// Deep enough and to the recipient: the block's time is needed to go on (the caller reads
    /// the block, sets the receipt's `block_timestamp` and decides again).
    NeedsBlockTime,
    /// Deep enough, same block: settled by this transfer (sent by `source_wallet` when it is one
    /// of the org's verified wallets).
    Settle { transfer: TransferLog, confirmations: u64, source_wallet: Option<WalletId> },
    /// Failed; `transfer` is the recipient's transfer when the amount was wrong (still recorded
    /// as a settlement so reconciliation shows the discrepancy).
    Fail { reason: FailureReason, transfer: Option<TransferLog>, confirmations: u64, source_wallet: Option<WalletId> },
}

/// Confirmations of a tx in `block` when the head is `head` (the tx's own block counts as 1).
pub fn confirmations(head: u64, block: u64) -> u64 {
    if head >= block { head - block + 1 } else { 0 }
}

pub fn decide(intent: &PayoutIntent, receipt: Option<&TxReceipt>, head: u64, finalized: Option<u64>, rules: &VerificationRules, now: Timestamp) -> Verdict {
    if !intent.status.awaits_chain() {
        return Verdict::Wait;
    }
    let Some(receipt) = receipt else {
        if intent.observation.is_some() {
            return Verdict::Vanished;
        }
        let since = intent.executed_at.unwrap_or(intent.updated_at);
        return if now - since >= rules.not_found_window {
            Verdict::Fail { reason: FailureReason::TxNotFound, transfer: None, confirmations: 0, source_wallet: None }
        } else {
            Verdict::Wait
        };
    };
    let observed_here = intent.observation.as_ref().is_some_and(|seen| seen.block_hash == receipt.block_hash && seen.block_number == receipt.block_number);
    if !observed_here || intent.status == PayoutStatus::Executed {
        return Verdict::Observed(ChainObservation {
            block_number: receipt.block_number,
            block_hash: receipt.block_hash.clone(),
            seen_at: now,
            confirmations: confirmations(head, receipt.block_number),
            required_confirmations: rules.confirmations,
        });
    }
    let depth = confirmations(head, receipt.block_number);
    let deep_enough = match rules.finality {
        FinalityPolicy::Confirmations => depth >= rules.confirmations,
        FinalityPolicy::Finalized => finalized.is_some_and(|f| f >= receipt.block_number),
    };
    if !deep_enough {
        return Verdict::Wait;
    }
    judge(receipt, rules, depth)
}

/// The verdict on a receipt that is deep enough and still where it was first seen.
fn judge(receipt: &TxReceipt, rules: &VerificationRules, confirmations: u64) -> Verdict {
    let fail = |reason| Verdict::Fail { reason, transfer: None, confirmations, source_wallet: None };
    if !receipt.succeeded {
        return fail(FailureReason::TxReverted);
    }
    let of_token: Vec<&TransferLog> = receipt.transfers.iter().filter(|t| t.token_contract == rules.token_contract).collect();
    if of_token.is_empty() {
        return fail(FailureReason::TokenMismatch);
    }
    let to_recipient: Vec<&TransferLog> = of_token.into_iter().filter(|t| t.to == rules.recipient).collect();
    if to_recipient.is_empty() {
        return fail(FailureReason::RecipientMismatch);
    }
    let Some(block_time) = receipt.block_timestamp.and_then(|seconds| chrono::DateTime::from_timestamp(i64::try_from(seconds).ok()?, 0)) else {
        return Verdict::NeedsBlockTime;
    };
    if block_time < rules.not_before {
        return fail(FailureReason::TxPredatesIntent);
    }
    // Of the recipient's transfers from allowed senders, the one closest to the expected amount
    // decides (the exact one when present; the first of equally close ones).
    let closest = to_recipient
        .into_iter()
        .filter(|t| rules.senders.allows(&t.from))
        .min_by_key(|t| t.amount.map(|amount| amount.abs_diff(rules.expected_amount)).unwrap_or(u128::MAX));
    let Some(closest) = closest else {
        return fail(FailureReason::SenderNotRegistered);
    };
    let source_wallet = rules.senders.own_wallets.get(&closest.from).cloned();
    let within_tolerance = closest.amount.is_some_and(|amount| amount.abs_diff(rules.expected_amount) <= rules.tolerance);
    if within_tolerance {
        Verdict::Settle { transfer: closest.clone(), confirmations, source_wallet }
    } else {
        Verdict::Fail { reason: FailureReason::AmountMismatch, transfer: Some(closest.clone()), confirmations, source_wallet }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::address::{ChainAddress, TxHash};
    use crate::domain::chain::{Chain, Environment, Token};
    use crate::domain::ids::{ApiKeyId, OrgId, PayoutId};
    use crate::domain::money::Amount;
    use crate::domain::payout::{Currency, NewPayout};
    use chrono::Utc;

    const TOKEN: [u8; 20] = [0x11; 20];
    const RECIPIENT: [u8; 20] = [0x22; 20];
    const HASH_A: &str = "0xaaaa";
    const HASH_B: &str = "0xbbbb";

    fn rules() -> VerificationRules {
        VerificationRules {
            token_contract: TOKEN,
            recipient: RECIPIENT,
            expected_amount: 500_000_000,
            tolerance: 0,
            confirmations: 12,
            finality: FinalityPolicy::Confirmations,
            not_found_window: Duration::hours(24),
            senders: SenderRules { policy: SenderPolicy::Any, own_wallets: HashMap::new(), foreign_wallets: HashSet::new() },
            not_before: Utc::now() - CLOCK_SKEW_ALLOWANCE,
        }
    }

    fn executed_intent(now: Timestamp) -> PayoutIntent {
        let new = NewPayout {
            recipient_address: ChainAddress::parse(Chain::Base, "0x2222222222222222222222222222222222222222").unwrap_or_else(|e| panic!("{e}")),
            chain: Chain::Base,
            token: Token::Usdc,
            amount: Amount::parse_json_number("500.00").unwrap_or_else(|e| panic!("{e}")),
            currency: Currency::Usd,
            description: None,
            reference_type: None,
            reference_id: None,
            due_date: None,
        };
        let mut intent = PayoutIntent::new(PayoutId::generate(), OrgId::generate(), Environment::Sandbox, new, now);
        let _ = intent.approve(ApiKeyId::generate(), now);
        let hash = TxHash::parse(Chain::Base, &"ab".repeat(32)).unwrap_or_else(|e| panic!("{e}"));
        let _ = intent.execute(hash, now);
        intent
    }

    fn transfer(token: [u8; 20], to: [u8; 20], amount: u128, log_index: u64) -> TransferLog {
        TransferLog { log_index, token_contract: token, from: [0x33; 20], to, amount: Some(amount) }
    }

    fn receipt(block: u64, hash: &str, transfers: Vec<TransferLog>) -> TxReceipt {
        TxReceipt { succeeded: true, block_number: block, block_hash: hash.into(), block_timestamp: Some(Utc::now().timestamp() as u64), transfers }
    }

    /// An intent already seen at block 100 in HASH_A.
    fn verifying_intent(now: Timestamp) -> PayoutIntent {
        let mut intent = executed_intent(now);
        let _ = intent.start_verifying(
            ChainObservation { block_number: 100, block_hash: HASH_A.into(), seen_at: now, confirmations: 1, required_confirmations: 12 },
            now,
        );
        intent
    }

    #[test]
    fn first_sighting_is_recorded_even_when_already_deep() {
        let now = Utc::now();
        let intent = executed_intent(now);
        let good = receipt(100, HASH_A, vec![transfer(TOKEN, RECIPIENT, 500_000_000, 0)]);
        assert!(
            matches!(decide(&intent, Some(&good), 500, None, &rules(), now), Verdict::Observed(seen) if seen.block_number == 100 && seen.block_hash == HASH_A)
        );
    }

    #[test]
    fn settles_only_at_the_required_depth_in_the_same_block() {
        let now = Utc::now();
        let intent = verifying_intent(now);
        let good = receipt(100, HASH_A, vec![transfer(TOKEN, RECIPIENT, 500_000_000, 3)]);
        assert_eq!(decide(&intent, Some(&good), 110, None, &rules(), now), Verdict::Wait, "11 confirmations");
        assert_eq!(
            decide(&intent, Some(&good), 111, None, &rules(), now),
            Verdict::Settle { transfer: transfer(TOKEN, RECIPIENT, 500_000_000, 3), confirmations: 12, source_wallet: None }
        );
        // Reorged into another block: re-recorded, never settled on the old sighting.
        let moved = receipt(101, HASH_B, good.transfers.clone());
        assert!(matches!(decide(&intent, Some(&moved), 200, None, &rules(), now), Verdict::Observed(seen) if seen.block_hash == HASH_B));
        let same_height_other_hash = receipt(100, HASH_B, good.transfers.clone());
        assert!(matches!(decide(&intent, Some(&same_height_other_hash), 200, None, &rules(), now), Verdict::Observed(_)));
        assert_eq!(decide(&intent, None, 200, None, &rules(), now), Verdict::Vanished);
    }

    #[test]
    fn finalized_policy_waits_for_the_finalized_block() {
        let now = Utc::now();
        let intent = verifying_intent(now);
        let mut strict = rules();
        strict.finality = FinalityPolicy::Finalized;
        let good = receipt(100, HASH_A, vec![transfer(TOKEN, RECIPIENT, 500_000_000, 0)]);
        assert_eq!(decide(&intent, Some(&good), 500, Some(99), &strict, now), Verdict::Wait);
        assert_eq!(decide(&intent, Some(&good), 500, None, &strict, now), Verdict::Wait);
        assert!(matches!(decide(&intent, Some(&good), 500, Some(100), &strict, now), Verdict::Settle { .. }));
    }

    #[test]
    fn each_failure_has_its_reason() {
        let now = Utc::now();
        let intent = verifying_intent(now);
        let verdict = |transfers: Vec<TransferLog>, succeeded: bool| {
            let mut r = receipt(100, HASH_A, transfers);
            r.succeeded = succeeded;
            decide(&intent, Some(&r), 200, None, &rules(), now)
        };
        let reason = |v: Verdict| match v {
            Verdict::Fail { reason, .. } => Some(reason),
            _ => None,
        };
        assert_eq!(reason(verdict(vec![], false)), Some(FailureReason::TxReverted));
        assert_eq!(reason(verdict(vec![], true)), Some(FailureReason::TokenMismatch));
        assert_eq!(reason(verdict(vec![transfer([0x99; 20], RECIPIENT, 500_000_000, 0)], true)), Some(FailureReason::TokenMismatch), "lookalike token");
        assert_eq!(reason(verdict(vec![transfer(TOKEN, [0x44; 20], 500_000_000, 0)], true)), Some(FailureReason::RecipientMismatch));
        let low = verdict(vec![transfer(TOKEN, RECIPIENT, 499_950_000, 7)], true);
        assert_eq!(
            low,
            Verdict::Fail {
                reason: FailureReason::AmountMismatch,
                transfer: Some(transfer(TOKEN, RECIPIENT, 499_950_000, 7)),
                confirmations: 101,
                source_wallet: None
            }
        );
        assert_eq!(reason(verdict(vec![transfer(TOKEN, RECIPIENT, 500_000_001, 0)], true)), Some(FailureReason::AmountMismatch));
        // Several logs: the exact one wins; without one, the closest decides and is recorded.
        let mut lenient = rules();
        lenient.tolerance = 50_000;
        let near_second = receipt(100, HASH_A, vec![transfer(TOKEN, RECIPIENT, 1, 0), transfer(TOKEN, RECIPIENT, 499_990_000, 1)]);
        assert!(matches!(decide(&intent, Some(&near_second), 200, None, &lenient, now), Verdict::Settle { transfer, .. } if transfer.log_index == 1));
        let both_far = receipt(100, HASH_A, vec![transfer(TOKEN, RECIPIENT, 1, 0), transfer(TOKEN, RECIPIENT, 400_000_000, 1)]);
        assert!(matches!(decide(&intent, Some(&both_far), 200, None, &rules(), now), Verdict::Fail { transfer: Some(t), .. } if t.log_index == 1));
        let several = verdict(vec![transfer(TOKEN, [0x44; 20], 1, 0), transfer(TOKEN, RECIPIENT, 1, 1), transfer(TOKEN, RECIPIENT, 500_000_000, 2)], true);
        assert!(matches!(several, Verdict::Settle { transfer, .. } if transfer.log_index == 2));
    }

    #[test]
    fn tolerance_settles_near_amounts_only() {
        let now = Utc::now();
        let intent = verifying_intent(now);
        let mut lenient = rules();
        lenient.tolerance = 50_000;
        let near = receipt(100, HASH_A, vec![transfer(TOKEN, RECIPIENT, 499_950_000, 0)]);
        assert!(matches!(decide(&intent, Some(&near), 200, None, &lenient, now), Verdict::Settle { .. }));
        let far = receipt(100, HASH_A, vec![transfer(TOKEN, RECIPIENT, 499_949_999, 0)]);
        assert!(matches!(decide(&intent, Some(&far), 200, None, &lenient, now), Verdict::Fail { reason: FailureReason::AmountMismatch, .. }));
    }

    #[test]
    fn a_transfer_older_than_the_intent_predates_it() {
        let now = Utc::now();
        let intent = verifying_intent(now);
        let mut r = receipt(100, HASH_A, vec![transfer(TOKEN, RECIPIENT, 500_000_000, 0)]);
        let rules = rules();
        let at = |t: Timestamp| Some(t.timestamp() as u64);
        r.block_timestamp = at(rules.not_before - Duration::seconds(1));
        assert!(matches!(decide(&intent, Some(&r), 200, None, &rules, now), Verdict::Fail { reason: FailureReason::TxPredatesIntent, transfer: None, .. }));
        r.block_timestamp = at(rules.not_before + Duration::seconds(1));
        assert!(matches!(decide(&intent, Some(&r), 200, None, &rules, now), Verdict::Settle { .. }));
        r.block_timestamp = None;
        assert_eq!(decide(&intent, Some(&r), 200, None, &rules, now), Verdict::NeedsBlockTime, "no block time: no verdict");
    }

    #[test]
    fn only_allowed_senders_settle() {
        let now = Utc::now();
        let intent = verifying_intent(now);
        let own = [0x33; 20];
        let wallet = WalletId::generate();
        let r = receipt(100, HASH_A, vec![transfer(TOKEN, RECIPIENT, 500_000_000, 0)]);
        let with = |policy, own_wallets: HashMap<[u8; 20], WalletId>, foreign: &[[u8; 20]]| {
            let mut rules = rules();
            rules.senders = SenderRules { policy, own_wallets, foreign_wallets: foreign.iter().copied().collect() };
            decide(&intent, Some(&r), 200, None, &rules, now)
        };
        let registered_nobody = with(SenderPolicy::Registered, HashMap::new(), &[]);
        assert!(matches!(registered_nobody, Verdict::Fail { reason: FailureReason::SenderNotRegistered, transfer: None, .. }));
        let registered_own = with(SenderPolicy::Registered, HashMap::from([(own, wallet.clone())]), &[]);
        assert!(matches!(registered_own, Verdict::Settle { source_wallet: Some(w), .. } if w == wallet));
        assert!(matches!(with(SenderPolicy::Any, HashMap::new(), &[]), Verdict::Settle { source_wallet: None, .. }));
        let any_foreign = with(SenderPolicy::Any, HashMap::new(), &[own]);
        assert!(matches!(any_foreign, Verdict::Fail { reason: FailureReason::SenderNotRegistered, .. }), "another org's verified wallet");
        // Two transfers to the recipient: the allowed sender's one decides, even if less close.
        let mut two = receipt(100, HASH_A, vec![transfer(TOKEN, RECIPIENT, 500_000_000, 0), transfer(TOKEN, RECIPIENT, 1, 1)]);
        two.transfers[1].from = [0x44; 20];
        let mut rules = rules();
        rules.senders =
            SenderRules { policy: SenderPolicy::Registered, own_wallets: HashMap::from([([0x44; 20], wallet.clone())]), foreign_wallets: HashSet::new() };
        assert!(
            matches!(decide(&intent, Some(&two), 200, None, &rules, now), Verdict::Fail { reason: FailureReason::AmountMismatch, transfer: Some(t), source_wallet: Some(_), .. } if t.log_index == 1)
        );
    }

    #[test]
    fn unseen_tx_fails_only_after_the_window() {
        let now = Utc::now();
        let intent = executed_intent(now);
        assert_eq!(decide(&intent, None, 10, None, &rules(), now + Duration::hours(23)), Verdict::Wait);
        assert!(matches!(decide(&intent, None, 10, None, &rules(), now + Duration::hours(24)), Verdict::Fail { reason: FailureReason::TxNotFound, .. }));
    }

    #[test]
    fn confirmation_count_includes_the_block_itself() {
        assert_eq!(confirmations(100, 100), 1);
        assert_eq!(confirmations(111, 100), 12);
        assert_eq!(confirmations(99, 100), 0);
    }
}
