//! The chain-watcher: proves on-chain that executed payouts happened as intended, then records
//! the settlement and moves the intent `executed → verifying → settled | failed`.
//!
//! Two entry points share one pipeline: [`Watcher::check_payouts`] (the tx-queue consumer,
//! right after execute) and [`Watcher::sweep`] (scheduled; every executed/verifying intent via
//! the `WATCH#…` index, then the event outbox), so progress never depends on one message.
//!
//! Per chain: one batched JSON-RPC snapshot (head + receipts) → a pure verdict per intent
//! (`domain::verification`) → one conditional atomic write per changed intent (intent + event +
//! settlement) → publish the event. Duplicate deliveries, overlapping sweeps and concurrent
//! Lambdas lose the version race and change nothing.

use super::App;
use super::records::{self, WalletClaim, payout_item, settlement_item};
use crate::config::FinalityPolicy;
use crate::domain::address::TxHash;
use crate::domain::chain::{Chain, Environment, TOKEN_DECIMALS};
use crate::domain::event::Event;
use crate::domain::ids::{OrgId, PayoutId, SettlementId, WalletId};
use crate::domain::org::Organization;
use crate::domain::payout::{FailureReason, PayoutIntent, PayoutStatus};
use crate::domain::settlement::{Settlement, display_account};
use crate::domain::time::Timestamp;
use crate::domain::verification::{CLOCK_SKEW_ALLOWANCE, SenderRules, Verdict, VerificationRules, decide};
use crate::domain::wallet::SenderPolicy;
use crate::metrics::{self, Metric};
use crate::ports::bus::EventBus;
use crate::ports::chain::{BlockHeader, ChainError, ChainReader, TransferLog, TxReceipt};
use crate::ports::store::{Condition, IndexName, IndexPosition, IndexQuery, ItemKey, StoreError, WriteOp};
use chrono::Duration;
use rust_decimal::Decimal;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// Why a payout's verification rules cannot be built: it then waits, never judged by a default.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RulesHeld {
    NoTokenContract,
    UnreadableRecipient,
    /// The organization's tolerance does not fit in atomic units: a tolerance read as "anything"
    /// would settle any amount, one read as zero would fail honest ones.
    UnscalableTolerance,
}

impl RulesHeld {
    fn as_str(self) -> &'static str {
        match self {
            RulesHeld::NoTokenContract => "no_token_contract",
            RulesHeld::UnreadableRecipient => "unreadable_recipient",
            RulesHeld::UnscalableTolerance => "unscalable_tolerance",
        }
    }
}

/// A tolerance in atomic units (6 decimals), or `None` when it cannot be held exactly: too large,
/// negative, or finer than one atomic unit.
fn scaled_tolerance(tolerance: Decimal) -> Option<u128> {
    let scaled = tolerance.checked_mul(Decimal::from(10u64.pow(TOKEN_DECIMALS)))?;
    if scaled.is_sign_negative() || scaled.fract() != Decimal::ZERO {
        return None;
    }
    u128::try_from(scaled.trunc().mantissa()).ok()
}

/// The verified wallets among a sweep's senders, and the senders whose claim does not decode.
#[derive(Default)]
struct Senders {
    owners: HashMap<[u8; 20], WalletClaim>,
    unreadable: HashSet<[u8; 20]>,
}

/// Published events marked per write (well under DynamoDB's 100 items per transaction).
const MARK_BATCH: usize = 25;

#[derive(Clone, Debug)]
pub struct WatcherConfig {
    /// An executed tx not seen in a block within this window fails with `tx_not_found`.
    pub not_found_window: Duration,
    /// At most this many intents per (environment, chain) per sweep.
    pub sweep_limit: usize,
    /// At most this many outbox events per sweep.
    pub outbox_limit: usize,
}

impl Default for WatcherConfig {
    fn default() -> Self {
        WatcherConfig { not_found_window: Duration::hours(24), sweep_limit: 5_000, outbox_limit: 1_000 }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// What one run did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchReport {
    pub checked: usize,
    pub changed: usize,
    pub published: usize,
    /// (environment, chain) whose RPC could not be read this time: retried on the next run.
    pub unavailable: Vec<(Environment, Chain)>,
    /// Intents that could not be checked this time (RPC trouble or store errors).
    pub deferred: Vec<PayoutId>,
}

pub struct Watcher {
    pub app: App,
    pub bus: Arc<dyn EventBus>,
    readers: HashMap<(Environment, Chain), Arc<dyn ChainReader>>,
    pub config: WatcherConfig,
}

/// One intent's verdict, before it is turned into a write.
type Decided = (PayoutIntent, u64, Verdict, Option<TxReceipt>);

/// Settlements already recorded under the keys a verdict may book, with their versions.
type Booked = HashMap<ItemKey, (Settlement, u64)>;

/// One intent's verdict, ready to commit.
struct Prepared {
    intent: PayoutIntent,
    ops: Vec<WriteOp>,
    event: Option<Event>,
    /// Only the confirmation count moved: not a change worth reporting.
    progress_only: bool,
}

/// Intents whose verdicts are committed in one write (usually 3 ops each)…
const VERDICT_BATCH: usize = 25;
/// …and never more ops than one DynamoDB transaction takes.
const MAX_OPS_PER_WRITE: usize = 100;
/// A tx not seen yet is looked at on every sweep this long after execute (real ones are mined
/// by then), then with a backoff of a tenth of its age, within the bounds below.
const UNSEEN_GRACE: Duration = Duration::minutes(2);
const MIN_UNSEEN_BACKOFF: Duration = Duration::seconds(5);
const MAX_UNSEEN_BACKOFF: Duration = Duration::minutes(10);

impl Watcher {
    pub fn new(app: App, bus: Arc<dyn EventBus>, readers: HashMap<(Environment, Chain), Arc<dyn ChainReader>>, config: WatcherConfig) -> Watcher {
        Watcher { app, bus, readers, config }
    }

    /// The tx-queue path: checks these intents now (unknown or finished ones are skipped).
    pub async fn check_payouts(&self, ids: &[PayoutId]) -> Result<WatchReport, WatchError> {
        // The same payout named twice (duplicate deliveries in one batch) is checked once.
        let mut ids = ids.to_vec();
        ids.sort();
        ids.dedup();
        let keys: Vec<_> = ids.iter().map(records::payout_key).collect();
        let mut intents = Vec::new();
        for item in self.app.store.get(&keys).await?.into_iter().flatten() {
            if let Some(intent) = records::decode_or_skip::<PayoutIntent>(&item, "payout intent") {
                intents.push((intent, item.version));
            }
        }
        let mut report = WatchReport::default();
        let mut groups: BTreeMap<(Environment, Chain), Vec<(PayoutIntent, u64)>> = BTreeMap::new();
        for (intent, version) in intents.into_iter().filter(|(intent, _)| intent.status.awaits_chain()) {
            groups.entry((intent.environment, intent.chain)).or_default().push((intent, version));
        }
        for ((environment, chain), group) in groups {
            self.check_group(environment, chain, group, &mut report).await?;
        }
        Ok(report)
    }

    /// The scheduled path: every executed/verifying intent of every chain, then the outbox.
    pub async fn sweep(&self) -> Result<WatchReport, WatchError> {
        let mut report = WatchReport::default();
        let now = self.app.now();
        for (environment, chain) in self.chains() {
            let group = self.pending(environment, chain, now).await?;
            // Every sweep reports each environment, 0 when nothing waits, so a sweep that
            // stopped running shows as missing data rather than as an old value.
            let oldest = group.iter().filter_map(|(intent, _)| intent.executed_at).map(|at| (now - at).num_seconds().max(0)).max().unwrap_or(0);
            metrics::maximum(Metric::OldestUnsettledAgeSeconds, &[("Environment", environment.as_str())], oldest as f64);
            if !group.is_empty() {
                self.check_group(environment, chain, group, &mut report).await?;
            }
        }
        report.published += self.relay_outbox().await?;
        Ok(report)
    }

    fn chains(&self) -> Vec<(Environment, Chain)> {
        let mut chains: Vec<_> = self.readers.keys().copied().collect();
        chains.sort();
        chains
    }

    /// Intents of one (environment, chain) due for a check, via the sparse index, at most
    /// `sweep_limit` per sweep. Each sweep resumes where the last one stopped and wraps around
    /// (the position is kept in the store), so however many intents wait, every one is looked at
    /// within a few sweeps: none can hold the front of the index.
    async fn pending(&self, environment: Environment, chain: Chain, now: Timestamp) -> Result<Vec<(PayoutIntent, u64)>, WatchError> {
        let cursor_key = records::sweep_cursor_key(environment, chain);
        let resume =
            self.app.store.get(std::slice::from_ref(&cursor_key)).await?.pop().flatten().and_then(|item| records::sweep_cursor_position(&item).ok()).flatten();
        let base = IndexQuery {
            sk_at_most: Some(records::due_by(&now)),
            limit: self.config.sweep_limit.clamp(1, 1_000),
            ..IndexQuery::partition(IndexName::Gsi3, records::watch_partition(environment, chain), false, now.timestamp())
        };
        let mut intents = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut wrapped = resume.is_none();
        let previous = resume.clone();
        let mut query = IndexQuery { after: resume, ..base.clone() };
        loop {
            let page = self.app.store.query(&query).await?;
            let full = page.len() == query.limit;
            for item in &page {
                if !seen.insert(item.key.clone()) {
                    // Wrapped around to where this sweep began: everything due was read.
                    return self.finish_pending((environment, chain), intents, previous, None).await;
                }
                // One record that does not decode (a manual edit, a newer writer) is skipped and
                // reported; it never stops verification for every other intent.
                if let Some(intent) = records::decode_or_skip::<PayoutIntent>(item, "payout intent") {
                    intents.push((intent, item.version));
                }
                if intents.len() >= self.config.sweep_limit {
                    return self.finish_pending((environment, chain), intents, previous, IndexPosition::of(item, IndexName::Gsi3)).await;
                }
            }
            match page.last().filter(|_| full) {
                Some(item) => query.after = IndexPosition::of(item, IndexName::Gsi3),
                None if !wrapped => {
                    wrapped = true;
                    query = base.clone();
                }
                None => return self.finish_pending((environment, chain), intents, previous, None).await,
            }
        }
    }

    /// Saves where the next sweep resumes (`None`: from the start). Overlapping sweeps may
    /// overwrite each other's position; either is a fine place to resume.
    async fn finish_pending(
        &self,
        (environment, chain): (Environment, Chain),
        intents: Vec<(PayoutIntent, u64)>,
        previous: Option<IndexPosition>,
        resume_after: Option<IndexPosition>,
    ) -> Result<Vec<(PayoutIntent, u64)>, WatchError> {
        if previous == resume_after {
            return Ok(intents);
        }
        let item = records::sweep_cursor_item(environment, chain, resume_after.as_ref())?;
        self.app.store.write(vec![WriteOp::Put { item, condition: None }]).await?;
        Ok(intents)
    }

    async fn check_group(&self, environment: Environment, chain: Chain, group: Vec<(PayoutIntent, u64)>, report: &mut WatchReport) -> Result<(), WatchError> {
        let (Some(reader), Some(settings)) = (self.readers.get(&(environment, chain)), self.app.chains.get(environment, chain)) else {
            tracing::warn!(%environment, %chain, "no chain reader configured");
            report.unavailable.push((environment, chain));
            report.deferred.extend(group.into_iter().map(|(intent, _)| intent.id));
            return Ok(());
        };
        // Execute always sets the hash; an intent without one cannot be verified and is reported.
        let (group, broken): (Vec<_>, Vec<_>) = group.into_iter().partition(|(intent, _)| intent.expected_tx_hash.is_some());
        for (intent, _) in broken {
            tracing::error!(payout_id = %intent.id, "intent awaits the chain but has no tx hash");
            report.deferred.push(intent.id);
        }
        let hashes: Vec<_> = group.iter().filter_map(|(intent, _)| intent.expected_tx_hash.clone()).collect();
        let with_finalized = settings.finality == FinalityPolicy::Finalized;
        let snapshot = match reader.snapshot(&hashes, with_finalized).await {
            Ok(snapshot) => snapshot,
            Err(error) => {
                // RPC trouble is never a verdict: everything stays as it is until the next run.
                tracing::warn!(%environment, %chain, error = %error, "chain unavailable; will retry");
                report.unavailable.push((environment, chain));
                report.deferred.extend(group.into_iter().map(|(intent, _)| intent.id));
                return Ok(());
            }
        };
        let orgs = self.orgs(group.iter().map(|(intent, _)| intent.org_id.clone())).await?;
        let Senders { owners: senders, unreadable } = self.wallet_owners(environment, chain, snapshot.receipts.iter().flatten()).await?;
        let now = self.app.now();
        let mut decided = Vec::with_capacity(group.len());
        for ((intent, version), receipt) in group.into_iter().zip(snapshot.receipts) {
            report.checked += 1;
            // Whose wallet a sender is cannot be read: no verdict (a failure is as final as a
            // settlement) until an operator repairs the record.
            if receipt.as_ref().is_some_and(|receipt| receipt.transfers.iter().any(|t| unreadable.contains(&t.from))) {
                tracing::error!(payout_id = %intent.id, "a sender's wallet claim does not decode; the payout waits");
                report.deferred.push(intent.id);
                continue;
            }
            let rules = match self.rules(&intent, settings, &orgs, &senders) {
                Ok(rules) => rules,
                // Fail closed: a payout whose rules cannot be built is never judged by a default.
                Err(held) => {
                    tracing::error!(payout_id = %intent.id, environment = %environment, chain = %chain, reason = held.as_str(), "payout not verified: its rules cannot be built");
                    metrics::count(Metric::VerificationsHeld, &[("Environment", environment.as_str()), ("Chain", chain.as_str())], 1);
                    report.deferred.push(intent.id);
                    continue;
                }
            };
            let verdict = decide(&intent, receipt.as_ref(), snapshot.head, snapshot.finalized, &rules, now);
            decided.push((intent, version, verdict, receipt, rules));
        }
        let decided = self.with_block_times(reader.as_ref(), decided, (snapshot.head, snapshot.finalized), now, report).await;
        let (decided, booked) = self.refuse_booked_transfers(environment, chain, decided).await?;
        let mut to_publish = Vec::new();
        let mut prepared = Vec::new();
        for (intent, version, verdict, receipt) in decided {
            let id = intent.id.clone();
            match self.prepare(intent, version, verdict, receipt.as_ref(), &booked, (snapshot.head, now)) {
                Ok(Some(one)) => prepared.push(one),
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(payout_id = %id, error = %error, "cannot record a verdict");
                    report.deferred.push(id);
                }
            }
        }
        self.commit(prepared, report, &mut to_publish).await;
        // Committed changes are already safe in the outbox; publishing them now only makes the
        // webhooks go out sooner.
        report.published += self.publish(to_publish).await;
        Ok(())
    }

    async fn orgs(&self, orgs: impl Iterator<Item = OrgId>) -> Result<HashMap<OrgId, Organization>, WatchError> {
        let mut ids: Vec<OrgId> = orgs.collect();
        ids.sort();
        ids.dedup();
        let keys: Vec<_> = ids.iter().map(records::org_key).collect();
        let mut found = HashMap::new();
        for item in self.app.store.get(&keys).await?.into_iter().flatten() {
            // Unreadable: its intents get the environment's default policy (`registered` in live).
            if let Some(org) = records::decode_or_skip::<Organization>(&item, "organization") {
                found.insert(org.id.clone(), org);
            }
        }
        Ok(found)
    }

    /// Which senders of these receipts' transfers are verified wallets, and whose (one read).
    async fn wallet_owners<'a>(&self, environment: Environment, chain: Chain, receipts: impl Iterator<Item = &'a TxReceipt>) -> Result<Senders, WatchError> {
        let mut senders: Vec<[u8; 20]> = receipts.flat_map(|receipt| receipt.transfers.iter().map(|t| t.from)).collect();
        senders.sort();
        senders.dedup();
        let keys: Vec<_> = senders.iter().map(|account| records::wallet_claim_key(environment, chain, account)).collect();
        let mut found = Senders::default();
        for (account, item) in senders.into_iter().zip(self.app.store.get(&keys).await?) {
            let Some(item) = item else { continue };
            match records::decode_or_skip::<WalletClaim>(&item, "wallet address claim") {
                Some(claim) => {
                    found.owners.insert(account, claim);
                }
                None => {
                    found.unreadable.insert(account);
                }
            }
        }
        Ok(found)
    }

    /// Verdicts waiting for their block's time get it (one batched read of those blocks) and are
    /// decided again. A block that no longer has the receipt's hash leaves the verdict waiting
    /// (the next run sees where the tx is now); RPC trouble defers them.
    async fn with_block_times(
        &self,
        reader: &dyn ChainReader,
        decided: Vec<(PayoutIntent, u64, Verdict, Option<TxReceipt>, VerificationRules)>,
        (head, finalized): (u64, Option<u64>),
        now: Timestamp,
        report: &mut WatchReport,
    ) -> Vec<Decided> {
        let numbers: Vec<u64> = decided
            .iter()
            .filter(|(_, _, verdict, _, _)| *verdict == Verdict::NeedsBlockTime)
            .filter_map(|(_, _, _, receipt, _)| receipt.as_ref().map(|r| r.block_number))
            .collect();
        let headers = if numbers.is_empty() {
            Ok(Vec::new())
        } else {
            reader.blocks(&numbers).await.inspect_err(|error| tracing::warn!(error = %error, "cannot read block times; will retry"))
        };
        let headers: HashMap<u64, BlockHeader> = match headers {
            Ok(headers) => numbers.into_iter().zip(headers).filter_map(|(number, header)| Some((number, header?))).collect(),
            Err(_) => HashMap::new(),
        };
        decided
            .into_iter()
            .map(|(intent, version, verdict, mut receipt, rules)| {
                if verdict != Verdict::NeedsBlockTime {
                    return (intent, version, verdict, receipt);
                }
                let Some(found) = receipt.as_mut() else { return (intent, version, Verdict::Wait, receipt) };
                match headers.get(&found.block_number).filter(|header| header.hash == found.block_hash) {
                    Some(header) => found.block_timestamp = Some(header.timestamp),
                    None => {
                        report.deferred.push(intent.id.clone());
                        return (intent, version, Verdict::Wait, receipt);
                    }
                }
                let verdict = decide(&intent, receipt.as_ref(), head, finalized, &rules, now);
                (intent, version, verdict, receipt)
            })
            .collect()
    }

    /// A transfer already booked as another intent's settlement cannot settle (or be booked for)
    /// this one: such verdicts become `transfer_already_settled`. A race lost to a settlement
    /// written meanwhile fails the write, and the next run decides this way.
    ///
    /// Also returns the settlements already recorded for the transfers of these receipts (by
    /// the source-wallet scanner, say), with their versions: a verdict books onto such a record
    /// (same id, conditional on its version) instead of writing a second one.
    async fn refuse_booked_transfers(&self, environment: Environment, chain: Chain, decided: Vec<Decided>) -> Result<(Vec<Decided>, Booked), WatchError> {
        let booking = |verdict: &Verdict| match verdict {
            Verdict::Settle { transfer, .. } | Verdict::Fail { transfer: Some(transfer), .. } => Some(transfer.log_index),
            Verdict::Wait | Verdict::Observed(_) | Verdict::Vanished | Verdict::NeedsBlockTime | Verdict::Fail { transfer: None, .. } => None,
        };
        let terminal = |verdict: &Verdict| matches!(verdict, Verdict::Settle { .. } | Verdict::Fail { .. });
        // Every transfer of a receipt about to get a final verdict: the booked one, and any other
        // the scanner may have linked to this intent.
        let mut keys: Vec<ItemKey> = Vec::new();
        for (intent, _, verdict, receipt) in &decided {
            let (Some(hash), Some(receipt)) = (intent.expected_tx_hash.as_ref(), receipt.as_ref()) else { continue };
            if terminal(verdict) {
                keys.extend(receipt.transfers.iter().map(|t| records::settlement_key(environment, chain, hash, t.log_index)));
            }
        }
        keys.sort();
        keys.dedup();
        let mut booked: Booked = HashMap::new();
        let mut unreadable = HashSet::new();
        if !keys.is_empty() {
            for item in self.app.store.get(&keys).await?.into_iter().flatten() {
                match records::decode_or_skip::<Settlement>(&item, "settlement") {
                    Some(settlement) => {
                        booked.insert(item.key.clone(), (settlement, item.version));
                    }
                    None => {
                        unreadable.insert(item.key.clone());
                    }
                }
            }
        }
        let decided = decided
            .into_iter()
            .map(|(intent, version, verdict, receipt)| {
                let key = intent.expected_tx_hash.as_ref().zip(booking(&verdict)).map(|(hash, log)| records::settlement_key(environment, chain, hash, log));
                let holder = key.and_then(|key| booked.get(&key));
                // Booked for this intent, or unlinked and sent by this intent's organization: ours to book onto.
                let ours = |settlement: &Settlement| match &settlement.payout_intent_id {
                    Some(holder) => holder == &intent.id,
                    None => settlement.org_id == intent.org_id,
                };
                // A transfer of this receipt is booked in a record that cannot be read: whose it
                // is stays unknown, so no final verdict yet.
                let blocked = intent.expected_tx_hash.as_ref().zip(receipt.as_ref()).is_some_and(|(hash, receipt)| {
                    receipt.transfers.iter().any(|t| unreadable.contains(&records::settlement_key(environment, chain, hash, t.log_index)))
                });
                let verdict = match (holder, verdict) {
                    (_, Verdict::Settle { .. } | Verdict::Fail { .. }) if blocked => {
                        tracing::error!(payout_id = %intent.id, "a settlement of this transaction does not decode; the payout waits");
                        Verdict::Wait
                    }
                    (Some((settlement, _)), Verdict::Settle { confirmations, .. } | Verdict::Fail { confirmations, .. }) if !ours(settlement) => {
                        tracing::warn!(payout_id = %intent.id, "the transfer already settled another payout intent");
                        Verdict::Fail { reason: FailureReason::TransferAlreadySettled, transfer: None, confirmations, source_wallet: None }
                    }
                    (_, verdict) => verdict,
                };
                (intent, version, verdict, receipt)
            })
            .collect();
        Ok((decided, booked))
    }

    fn rules(
        &self,
        intent: &PayoutIntent,
        settings: &crate::config::ChainSettings,
        orgs: &HashMap<OrgId, Organization>,
        senders: &HashMap<[u8; 20], WalletClaim>,
    ) -> Result<VerificationRules, RulesHeld> {
        let token_contract = settings.token_contracts.get(&intent.token).and_then(|contract| contract.account_bytes()).ok_or(RulesHeld::NoTokenContract)?;
        let recipient = intent.recipient_address.account_bytes().ok_or(RulesHeld::UnreadableRecipient)?;
        let expected_amount = intent.amount_atomic.unwrap_or_else(|| intent.amount.to_atomic()).0;
        let org = orgs.get(&intent.org_id);
        let tolerance = scaled_tolerance(org.map(|org| org.amount_tolerance).unwrap_or_default()).ok_or(RulesHeld::UnscalableTolerance)?;
        let mut own_wallets = HashMap::new();
        let mut foreign_wallets = HashSet::new();
        for (account, claim) in senders {
            if claim.org_id == intent.org_id {
                own_wallets.insert(*account, claim.wallet_id.clone());
            } else {
                foreign_wallets.insert(*account);
            }
        }
        // An organization that cannot be read gets the environment's default policy.
        let policy = org.map(|org| org.sender_policy(intent.environment)).unwrap_or(SenderPolicy::default_for(intent.environment));
        Ok(VerificationRules {
            token_contract,
            recipient,
            expected_amount,
            tolerance,
            confirmations: settings.confirmations,
            finality: settings.finality,
            not_found_window: self.config.not_found_window,
            senders: SenderRules { policy, own_wallets, foreign_wallets },
            not_before: intent.created_at - CLOCK_SKEW_ALLOWANCE,
        })
    }

    /// Turns a verdict into the one conditional write that records it (intent on its version,
    /// the event if the status changed, the settlement if any). `None`: nothing to record.
    fn prepare(
        &self,
        mut intent: PayoutIntent,
        version: u64,
        verdict: Verdict,
        receipt: Option<&TxReceipt>,
        booked: &Booked,
        (head, now): (u64, Timestamp),
    ) -> Result<Option<Prepared>, StoreError> {
        let tx_hash = intent.expected_tx_hash.clone().ok_or_else(|| StoreError::Corrupt(format!("{} has no tx hash", intent.id)))?;
        let mut settlement = None;
        let mut release_claim = false;
        let event_type = match verdict {
            Verdict::Wait => {
                // A seen tx waits for depth; its progress is recorded when it grew, so the
                // intent shows how deep it is (`verification`), without an event.
                if let Some(seen) = intent.observation.as_mut() {
                    let depth = head.saturating_sub(seen.block_number) + 1;
                    if intent.status != crate::domain::payout::PayoutStatus::Verifying || depth <= seen.confirmations {
                        return Ok(None);
                    }
                    seen.confirmations = depth;
                    let ops = vec![WriteOp::Put { item: payout_item(&intent, version + 1)?, condition: Some(Condition::Version(version)) }];
                    return Ok(Some(Prepared { intent, ops, event: None, progress_only: true }));
                }
                // A tx not seen yet is looked at again with a growing backoff, so intents with
                // hashes that never appear move to the back of the sweep instead of holding
                // its front for the whole not-found window.
                let age = now - intent.executed_at.unwrap_or(intent.updated_at);
                if age < UNSEEN_GRACE || intent.next_check_at.is_some_and(|due| due > now) {
                    return Ok(None);
                }
                intent.next_check_at = Some(now + (age / 10).clamp(MIN_UNSEEN_BACKOFF, MAX_UNSEEN_BACKOFF));
                None
            }
            Verdict::Observed(observation) => {
                intent.next_check_at = None;
                match intent.start_verifying(observation.clone(), now) {
                    Ok(event_type) => Some(event_type),
                    Err(_) => {
                        intent.re_observe(observation, now);
                        None
                    }
                }
            }
            // Only reached when the block could not be read: the next run tries again.
            Verdict::NeedsBlockTime => return Ok(None),
            Verdict::Vanished => {
                tracing::warn!(payout_id = %intent.id, "transaction left its block (reorg); waiting for it again");
                intent.forget_observation(now);
                None
            }
            Verdict::Settle { transfer, confirmations, source_wallet } => {
                settlement = Some(self.settlement(&intent, tx_hash.clone(), (&transfer, source_wallet), receipt, confirmations, now));
                intent.settle(now).ok()
            }
            Verdict::Fail { reason, transfer, confirmations, source_wallet } => {
                if let Some(transfer) = &transfer {
                    settlement = Some(self.settlement(&intent, tx_hash.clone(), (transfer, source_wallet), receipt, confirmations, now));
                }
                release_claim = reason.releases_tx_claim() && settlement.is_none();
                intent.fail(reason, now).ok()
            }
        };
        let mut ops = vec![WriteOp::Put { item: payout_item(&intent, version + 1)?, condition: Some(Condition::Version(version)) }];
        if release_claim {
            // Nothing was booked: the hash may back a new intent (a typo, a replaced transaction).
            ops.push(WriteOp::Delete { key: records::tx_claim_key(&intent.org_id, intent.environment, intent.chain, &tx_hash), condition: None });
        }
        let mut event = None;
        if let Some(event_type) = event_type {
            let record = Event::new(event_type, intent.org_id.clone(), intent.environment, intent.id.to_string(), &intent.view(), now)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            ops.push(WriteOp::Put { item: records::event_item(&record, 1)?, condition: Some(Condition::Absent { now_unix: now.timestamp() }) });
            event = Some(record);
        }
        if intent.status.is_terminal() {
            ops.extend(self.booking_ops(&intent, &tx_hash, settlement, booked, now)?);
        }
        Ok(Some(Prepared { intent, ops, event, progress_only: false }))
    }

    /// The settlement writes of a final verdict: the booked transfer, written afresh or onto the
    /// record the scanner made of it (same id, on its version); and any other transfer of the tx
    /// the scanner linked to this intent, unlinked again (the verdict decides which one it is).
    fn booking_ops(
        &self,
        intent: &PayoutIntent,
        tx_hash: &TxHash,
        settlement: Option<Settlement>,
        booked: &Booked,
        now: Timestamp,
    ) -> Result<Vec<WriteOp>, StoreError> {
        let mut ops = Vec::new();
        let booked_key = settlement.as_ref().map(|s| records::settlement_key(s.environment, s.chain, &s.tx_hash, s.log_index));
        if let (Some(mut settlement), Some(key)) = (settlement, booked_key.clone()) {
            let condition = match booked.get(&key) {
                Some((existing, version)) => {
                    settlement.id = existing.id.clone();
                    settlement.created_at = existing.created_at;
                    settlement.detected_at = settlement.detected_at.min(existing.detected_at);
                    settlement.block_time = existing.block_time;
                    settlement.confirmed_at = existing.confirmed_at.or(settlement.confirmed_at);
                    settlement.source_wallet_id = settlement.source_wallet_id.or(existing.source_wallet_id.clone());
                    ops.push(WriteOp::Put { item: settlement_item(&settlement, version + 1)?, condition: Some(Condition::Version(*version)) });
                    return self.unlink_others(intent, tx_hash, booked_key.as_ref(), booked, ops);
                }
                None => Condition::Absent { now_unix: now.timestamp() },
            };
            ops.push(WriteOp::Put { item: settlement_item(&settlement, 1)?, condition: Some(condition) });
        }
        self.unlink_others(intent, tx_hash, booked_key.as_ref(), booked, ops)
    }

    fn unlink_others(
        &self,
        intent: &PayoutIntent,
        tx_hash: &TxHash,
        booked_key: Option<&ItemKey>,
        booked: &Booked,
        mut ops: Vec<WriteOp>,
    ) -> Result<Vec<WriteOp>, StoreError> {
        for (key, (existing, version)) in booked {
            let same_tx = existing.tx_hash == *tx_hash && existing.chain == intent.chain && existing.environment == intent.environment;
            if same_tx && Some(key) != booked_key && existing.payout_intent_id.as_ref() == Some(&intent.id) {
                let mut unlinked = existing.clone();
                unlinked.payout_intent_id = None;
                ops.push(WriteOp::Put { item: settlement_item(&unlinked, version + 1)?, condition: Some(Condition::Version(*version)) });
            }
        }
        Ok(ops)
    }

    /// Commits prepared verdicts, several intents per write; a batch refused as a whole is
    /// retried one intent at a time, so one intent changed meanwhile does not hold the others.
    async fn commit(&self, prepared: Vec<Prepared>, report: &mut WatchReport, to_publish: &mut Vec<(Event, u64)>) {
        // Batches of whole intents, within DynamoDB's 100 operations per transaction.
        let mut batches: Vec<&[Prepared]> = Vec::new();
        let (mut start, mut ops_in_batch) = (0, 0);
        for (position, one) in prepared.iter().enumerate() {
            if position > start && (position - start >= VERDICT_BATCH || ops_in_batch + one.ops.len() > MAX_OPS_PER_WRITE) {
                batches.push(&prepared[start..position]);
                (start, ops_in_batch) = (position, 0);
            }
            ops_in_batch += one.ops.len();
        }
        if start < prepared.len() {
            batches.push(&prepared[start..]);
        }
        for batch in batches {
            let ops: Vec<WriteOp> = batch.iter().flat_map(|p| p.ops.iter().cloned()).collect();
            if batch.len() > 1 && self.app.store.write(ops).await.is_ok() {
                for done in batch {
                    self.recorded(done, report, to_publish);
                }
                continue;
            }
            for one in batch {
                match self.app.store.write(one.ops.clone()).await {
                    Ok(()) => self.recorded(one, report, to_publish),
                    Err(StoreError::ConditionFailed { .. }) => {
                        tracing::info!(payout_id = %one.intent.id, "intent changed concurrently; the other change stands");
                    }
                    Err(error) => {
                        tracing::warn!(payout_id = %one.intent.id, error = %error, "could not record a verdict; will retry");
                        report.deferred.push(one.intent.id.clone());
                    }
                }
            }
        }
    }

    fn recorded(&self, done: &Prepared, report: &mut WatchReport, to_publish: &mut Vec<(Event, u64)>) {
        if done.progress_only {
            return;
        }
        report.changed += 1;
        tracing::info!(payout_id = %done.intent.id, status = %done.intent.status, failure_reason = done.intent.failure_reason.map(|reason| reason.as_str()).unwrap_or(""), "verdict recorded");
        let outcome = match done.intent.status {
            PayoutStatus::Settled => Some(Metric::PayoutsSettled),
            PayoutStatus::Failed => Some(Metric::PayoutsFailed),
            _ => None,
        };
        if let Some(metric) = outcome {
            metrics::payout(metric, done.intent.environment.as_str(), done.intent.chain.as_str());
        }
        if let Some(event) = &done.event {
            to_publish.push((event.clone(), 1));
        }
    }

    fn settlement(
        &self,
        intent: &PayoutIntent,
        tx_hash: TxHash,
        (transfer, source_wallet_id): (&TransferLog, Option<WalletId>),
        receipt: Option<&TxReceipt>,
        confirmations: u64,
        now: Timestamp,
    ) -> Settlement {
        Settlement {
            id: SettlementId::generate(),
            org_id: intent.org_id.clone(),
            environment: intent.environment,
            payout_intent_id: Some(intent.id.clone()),
            chain: intent.chain,
            tx_hash,
            log_index: transfer.log_index,
            from_address: Some(display_account(intent.chain, transfer.from)),
            to_address: Some(display_account(intent.chain, transfer.to)),
            token: intent.token,
            amount_atomic: crate::domain::money::AtomicAmount(transfer.amount.unwrap_or(0)),
            source_wallet_id,
            block_number: receipt.map(|r| r.block_number),
            block_hash: receipt.map(|r| r.block_hash.clone()),
            block_time: receipt.and_then(|r| r.block_timestamp).and_then(|at| chrono::DateTime::from_timestamp(i64::try_from(at).ok()?, 0)),
            confirmations,
            confirmed_at: Some(now),
            detected_at: intent.first_seen_at.or(intent.observation.as_ref().map(|o| o.seen_at)).unwrap_or(now),
            created_at: now,
        }
    }

    /// Publishes events and marks the accepted ones published. Returns how many were marked.
    async fn publish(&self, events: Vec<(Event, u64)>) -> usize {
        if events.is_empty() {
            return 0;
        }
        let records: Vec<Event> = events.iter().map(|(event, _)| event.clone()).collect();
        let accepted = match self.bus.publish(&records).await {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(error = %error, "event bus unavailable; the outbox keeps the events");
                return 0;
            }
        };
        let accepted: std::collections::HashSet<_> = accepted.into_iter().collect();
        let now = self.app.now();
        let mut marks = Vec::new();
        for (mut event, version) in events.into_iter().filter(|(event, _)| accepted.contains(&event.id)) {
            event.published_at = Some(now);
            if let Ok(item) = records::event_item(&event, version + 1) {
                marks.push(WriteOp::Put { item, condition: Some(Condition::Version(version)) });
            }
        }
        // Marked in batches (one round trip each); a batch refused as a whole is retried one by
        // one, so one event changed meanwhile does not keep the others in the outbox.
        let mut marked = 0;
        for batch in marks.chunks(MARK_BATCH) {
            match self.app.store.write(batch.to_vec()).await {
                Ok(()) => marked += batch.len(),
                Err(_) => {
                    for op in batch {
                        match self.app.store.write(vec![op.clone()]).await {
                            Ok(()) => marked += 1,
                            // Published twice is harmless; the next relay tries the mark again.
                            Err(error) => tracing::debug!(pk = %op.key().pk, error = %error, "published, but not marked yet"),
                        }
                    }
                }
            }
        }
        marked
    }

    /// Publishes every event record not yet on the bus, and again every one published
    /// [`crate::domain::event::REPUBLISH_AFTER`] ago that the dispatcher has not fanned out yet
    /// (oldest due first). A republish is harmless: a delivery's identity is (endpoint, event).
    pub async fn relay_outbox(&self) -> Result<usize, WatchError> {
        let now = self.app.now();
        let query = IndexQuery {
            limit: self.config.outbox_limit,
            sk_at_most: Some(records::due_by(&now)),
            ..IndexQuery::partition(IndexName::Gsi3, records::OUTBOX_PARTITION, false, now.timestamp())
        };
        let items = self.app.store.query(&query).await?;
        let mut events = Vec::with_capacity(items.len());
        for item in &items {
            if let Some(event) = records::decode_or_skip::<Event>(item, "event") {
                if let Some(published) = event.published_at {
                    tracing::warn!(event_id = %event.id, event_type = %event.event_type, published_at = %crate::domain::time::to_rfc3339(&published), "event not fanned out to webhooks since its last publish; publishing it again");
                }
                events.push((event, item.version));
            }
        }
        let mut published = 0;
        for chunk in events.chunks(50) {
            published += self.publish(chunk.to_vec()).await;
        }
        Ok(published)
    }
}

#[cfg(test)]
mod tests;
