//! The source-wallet scanner: finds every confirmed token transfer sent by a verified source
//! wallet, whether or not an intent was executed with it, so that reconciliation can report the
//! transfers that back no intent ("unexpected settlements").
//!
//! Per (environment, chain), from a persisted cursor up to the confirmation depth (or the
//! finalized block): one `eth_getLogs` per block range for all of that chain's wallets (topic1
//! an array of their addresses) and all of its token contracts. Ranges halve when the provider
//! refuses them and grow back after successes. Logs flagged `removed` are ignored, and the
//! blocks of the others are read again before anything is recorded: a block whose hash changed
//! meanwhile (a reorg at the depth) stops the run without moving the cursor, so a transfer that
//! vanished is never reported.
//!
//! Each transfer is a settlement under its identity `(environment, chain, tx_hash, log_index)`,
//! written "if absent": the watcher and the scanner book it once between them, whoever comes first.
//! A transfer whose hash an intent of the wallet's organization claimed, to that intent's
//! recipient and token, is linked to it; the watcher's verdict still decides the intent's status.

use super::App;
use super::records::{self, ScanCursor, TxClaim, WalletClaim, decode};
use crate::domain::chain::{Chain, Environment, FinalityPolicy, Token};
use crate::domain::ids::SettlementId;
use crate::domain::money::AtomicAmount;
use crate::domain::payout::PayoutIntent;
use crate::domain::settlement::{Settlement, display_account};
use crate::domain::time::Timestamp;
use crate::domain::verification::CLOCK_SKEW_ALLOWANCE;
use crate::ports::chain::{ChainError, ChainReader, LoggedTransfer, LogsError, TransferQuery};
use crate::ports::store::{Condition, IndexName, IndexQuery, ItemKey, StoreError, WriteOp, read_all};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

#[derive(Clone, Debug)]
pub struct ScannerConfig {
    /// The largest block range asked in one `eth_getLogs` (and the first one tried).
    pub max_span: u64,
    /// At most this many `eth_getLogs` per (environment, chain) per run.
    pub max_requests: usize,
}

impl Default for ScannerConfig {
    fn default() -> Self {
        ScannerConfig { max_span: 2_000, max_requests: 200 }
    }
}

/// Successful requests at one span before it doubles again…
const GROW_AFTER: u32 = 4;
/// …or, when doubling would reach a span the provider refused, before it tries that again.
const REPROBE_AFTER: u32 = 64;
/// Settlements written per store write.
const WRITE_BATCH: usize = 25;

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanReport {
    /// `eth_getLogs` requests made.
    pub log_requests: usize,
    /// Of those, refused by the provider as too large.
    pub refused: usize,
    /// Settlements written by this run (transfers the watcher had not booked yet).
    pub recorded: usize,
    /// Of those, linked to the intent that claimed their hash.
    pub linked: usize,
    /// Where each (environment, chain) stands after the run: the first block not scanned yet.
    pub next_block: BTreeMap<(Environment, Chain), u64>,
    /// (environment, chain) that could not be scanned this time (RPC or store trouble, a reorg
    /// at the depth): scanned from the same place on the next run.
    pub interrupted: Vec<(Environment, Chain)>,
}

#[derive(Debug, thiserror::Error)]
enum ScanError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Chain(#[from] ChainError),
}

pub struct Scanner {
    pub app: App,
    readers: HashMap<(Environment, Chain), Arc<dyn ChainReader>>,
    pub config: ScannerConfig,
}

/// One chain's wallets and tokens, for one run.
struct Scope {
    environment: Environment,
    chain: Chain,
    wallets: HashMap<[u8; 20], WalletClaim>,
    tokens: HashMap<[u8; 20], Token>,
}

impl Scanner {
    pub fn new(app: App, readers: HashMap<(Environment, Chain), Arc<dyn ChainReader>>, config: ScannerConfig) -> Scanner {
        Scanner { app, readers, config }
    }

    /// Scans every configured (environment, chain) once. One chain's trouble never stops another.
    pub async fn run(&self) -> ScanReport {
        let mut report = ScanReport::default();
        let mut chains: Vec<_> = self.readers.keys().copied().collect();
        chains.sort();
        for (environment, chain) in chains {
            if let Err(error) = self.scan(environment, chain, &mut report).await {
                tracing::warn!(%environment, %chain, error = %error, "source-wallet scan interrupted; resumes from its cursor");
                report.interrupted.push((environment, chain));
            }
        }
        report
    }

    async fn scan(&self, environment: Environment, chain: Chain, report: &mut ScanReport) -> Result<(), ScanError> {
        let (Some(reader), Some(settings)) = (self.readers.get(&(environment, chain)), self.app.chains.get(environment, chain)) else { return Ok(()) };
        let now = self.app.now();
        let scope = Scope {
            environment,
            chain,
            wallets: self.wallets(environment, chain, now).await?,
            tokens: settings.token_contracts.iter().filter_map(|(token, address)| Some((address.account_bytes()?, *token))).collect(),
        };
        if scope.wallets.is_empty() || scope.tokens.is_empty() {
            return Ok(());
        }
        let snapshot = reader.snapshot(&[], settings.finality == FinalityPolicy::Finalized).await?;
        let deep_enough = (snapshot.head + 1).saturating_sub(settings.confirmations.max(1));
        let safe = match settings.finality {
            FinalityPolicy::Confirmations => deep_enough,
            FinalityPolicy::Finalized => deep_enough.min(snapshot.finalized.unwrap_or(0)),
        };
        let cursor_key = records::scan_cursor_key(environment, chain);
        let stored = self.app.store.get(std::slice::from_ref(&cursor_key)).await?.pop().flatten();
        let (mut cursor, mut version) = match stored {
            Some(item) => (decode::<ScanCursor>(&item)?, item.version),
            None => {
                // First run: from the block current when the earliest wallet was verified.
                let earliest = scope.wallets.values().filter_map(|claim| claim.verified_at).min().unwrap_or(now);
                let start = first_block_at(reader.as_ref(), earliest, snapshot.head).await?;
                (ScanCursor { next_block: start, span: self.config.max_span.max(1), successes: 0, ceiling: None }, 0)
            }
        };
        cursor.span = cursor.span.clamp(1, self.config.max_span.max(1));
        let senders: Vec<[u8; 20]> = scope.wallets.keys().copied().collect();
        let token_contracts: Vec<[u8; 20]> = scope.tokens.keys().copied().collect();
        let mut requests = 0;
        let result = loop {
            if cursor.next_block > safe || requests >= self.config.max_requests {
                break Ok(());
            }
            let to_block = cursor.next_block.saturating_add(cursor.span - 1).min(safe);
            let query = TransferQuery { from_block: cursor.next_block, to_block, token_contracts: token_contracts.clone(), senders: senders.clone() };
            requests += 1;
            report.log_requests += 1;
            match reader.transfers(&query).await {
                Err(LogsError::RangeRefused(why)) => {
                    report.refused += 1;
                    if cursor.span == 1 {
                        break Err(ScanError::Chain(ChainError(format!("the provider refuses even one block: {why}"))));
                    }
                    cursor.ceiling = Some(cursor.ceiling.map_or(cursor.span, |ceiling| ceiling.min(cursor.span)));
                    cursor.span = (cursor.span / 2).max(1);
                    cursor.successes = 0;
                    tracing::info!(%environment, %chain, span = cursor.span, "block range refused; halving it");
                }
                Err(LogsError::Unavailable(error)) => break Err(error.into()),
                Ok(logs) => {
                    let logs: Vec<LoggedTransfer> = logs
                        .into_iter()
                        .filter(|log| !log.removed && scope.tokens.contains_key(&log.transfer.token_contract) && scope.wallets.contains_key(&log.transfer.from))
                        .collect();
                    if let Err(error) = self.record(reader.as_ref(), &scope, logs, snapshot.head, report).await {
                        break Err(error);
                    }
                    cursor.next_block = to_block + 1;
                    cursor.successes += 1;
                    let grown = (cursor.span * 2).min(self.config.max_span);
                    let patience = if cursor.ceiling.is_some_and(|ceiling| grown >= ceiling) { REPROBE_AFTER } else { GROW_AFTER };
                    if cursor.successes >= patience && cursor.span < self.config.max_span {
                        if cursor.ceiling.is_some_and(|ceiling| grown >= ceiling) {
                            // Probing the refused size again: the provider's limit may have changed.
                            cursor.ceiling = None;
                        }
                        cursor.span = grown;
                        cursor.successes = 0;
                    }
                }
            }
            // Saved after every request, on its version: a concurrent scanner's progress is never
            // overwritten (it wins; this run stops).
            let condition = if version == 0 { Condition::Absent { now_unix: now.timestamp() } } else { Condition::Version(version) };
            let item = records::scan_cursor_item(environment, chain, &cursor, version + 1)?;
            self.app.store.write(vec![WriteOp::Put { item, condition: Some(condition) }]).await?;
            version += 1;
        };
        report.next_block.insert((environment, chain), cursor.next_block);
        result
    }

    /// The verified wallets of one (environment, chain), whichever organization's.
    async fn wallets(&self, environment: Environment, chain: Chain, now: Timestamp) -> Result<HashMap<[u8; 20], WalletClaim>, StoreError> {
        let items =
            read_all(self.app.store.as_ref(), IndexQuery::partition(IndexName::Gsi3, records::wallets_on_chain(environment, chain), false, now.timestamp()))
                .await?;
        let mut wallets = HashMap::with_capacity(items.len());
        for item in &items {
            if let Some(account) = records::claimed_account(item)
                && let Some(claim) = records::decode_or_skip::<WalletClaim>(item, "wallet address claim")
            {
                wallets.insert(account, claim);
            }
        }
        Ok(wallets)
    }

    /// Books the transfers of one range not booked yet, after checking that their blocks are
    /// still the ones the logs name.
    async fn record(&self, reader: &dyn ChainReader, scope: &Scope, logs: Vec<LoggedTransfer>, head: u64, report: &mut ScanReport) -> Result<(), ScanError> {
        if logs.is_empty() {
            return Ok(());
        }
        let mut numbers: Vec<u64> = logs.iter().map(|log| log.block_number).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let headers: HashMap<u64, _> = numbers.iter().copied().zip(reader.blocks(&numbers).await?).collect();
        let mut timed = Vec::with_capacity(logs.len());
        for log in logs {
            match headers.get(&log.block_number).and_then(Option::as_ref) {
                Some(header) if header.hash == log.block_hash => timed.push((log, header.timestamp)),
                _ => return Err(ChainError(format!("block {} changed while it was scanned (a reorg at the depth)", log.block_number)).into()),
            }
        }
        // A wallet's transfers count from its verification on.
        timed.retain(|(log, block_time)| {
            let verified_at = scope.wallets.get(&log.transfer.from).and_then(|claim| claim.verified_at);
            verified_at.is_none_or(|at| i64::try_from(*block_time).unwrap_or(i64::MAX) >= at.timestamp())
        });
        let keys: Vec<ItemKey> =
            timed.iter().map(|(log, _)| records::settlement_key(scope.environment, scope.chain, &log.tx_hash, log.transfer.log_index)).collect();
        let booked = self.app.store.get(&keys).await?;
        let fresh: Vec<(LoggedTransfer, u64)> = timed.into_iter().zip(booked).filter(|(_, existing)| existing.is_none()).map(|(log, _)| log).collect();
        if fresh.is_empty() {
            return Ok(());
        }
        let claimants = self.claimants(scope, &fresh).await?;
        let now = self.app.now();
        let mut settlements = Vec::with_capacity(fresh.len());
        for (log, block_time) in &fresh {
            let Some(owner) = scope.wallets.get(&log.transfer.from) else { continue };
            let Some(token) = scope.tokens.get(&log.transfer.token_contract).copied() else { continue };
            let block_time = DateTime::<Utc>::from_timestamp(i64::try_from(*block_time).unwrap_or(i64::MAX), 0);
            let linked = claimants.get(&log.tx_hash.to_string()).filter(|intent| backs(intent, log, token, block_time));
            settlements.push(Settlement {
                id: SettlementId::generate(),
                org_id: owner.org_id.clone(),
                environment: scope.environment,
                payout_intent_id: linked.map(|intent| intent.id.clone()),
                chain: scope.chain,
                tx_hash: log.tx_hash.clone(),
                log_index: log.transfer.log_index,
                from_address: Some(display_account(scope.chain, log.transfer.from)),
                to_address: Some(display_account(scope.chain, log.transfer.to)),
                token,
                amount_atomic: AtomicAmount(log.transfer.amount.unwrap_or(0)),
                source_wallet_id: Some(owner.wallet_id.clone()),
                block_number: Some(log.block_number),
                block_hash: Some(log.block_hash.clone()),
                block_time,
                confirmations: head.saturating_sub(log.block_number) + 1,
                confirmed_at: Some(now),
                detected_at: now,
                created_at: now,
            });
        }
        for batch in settlements.chunks(WRITE_BATCH) {
            let ops = batch
                .iter()
                .map(|settlement| {
                    Ok(WriteOp::Put { item: records::settlement_item(settlement, 1)?, condition: Some(Condition::Absent { now_unix: now.timestamp() }) })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            let written: Vec<&Settlement> = match self.app.store.write(ops.clone()).await {
                Ok(()) => batch.iter().collect(),
                // One of them was booked meanwhile (by the watcher): the others one by one.
                Err(error) if error.lost_race() => {
                    let mut written = Vec::new();
                    for (settlement, op) in batch.iter().zip(ops) {
                        match self.app.store.write(vec![op]).await {
                            Ok(()) => written.push(settlement),
                            Err(error) if error.lost_race() => {}
                            Err(error) => return Err(error.into()),
                        }
                    }
                    written
                }
                Err(error) => return Err(error.into()),
            };
            for settlement in written {
                report.recorded += 1;
                report.linked += usize::from(settlement.payout_intent_id.is_some());
                tracing::info!(
                    settlement_id = %settlement.id,
                    org_id = %settlement.org_id,
                    tx_hash = %settlement.tx_hash,
                    payout_intent_id = settlement.payout_intent_id.as_ref().map(ToString::to_string).unwrap_or_default(),
                    "transfer from a source wallet recorded"
                );
            }
        }
        Ok(())
    }

    /// The intents of the wallets' organizations that claimed these transfers' hashes (two
    /// batched reads: the claims, then the intents), by tx hash.
    async fn claimants(&self, scope: &Scope, logs: &[(LoggedTransfer, u64)]) -> Result<HashMap<String, PayoutIntent>, StoreError> {
        let mut keys = Vec::new();
        for (log, _) in logs {
            if let Some(owner) = scope.wallets.get(&log.transfer.from) {
                keys.push(records::tx_claim_key(&owner.org_id, scope.environment, scope.chain, &log.tx_hash));
            }
        }
        keys.sort();
        keys.dedup();
        let mut payout_keys = Vec::new();
        // An unreadable claim or intent leaves its transfer unlinked (booked as sent by the
        // wallet's organization, which the watcher may still book onto the intent), never the
        // scan of every organization's wallets on this chain stopped.
        for item in self.app.store.get(&keys).await?.into_iter().flatten() {
            if let Some(claim) = records::decode_or_skip::<TxClaim>(&item, "tx-hash claim") {
                payout_keys.push(records::payout_key(&claim.payout_id));
            }
        }
        let mut by_hash = HashMap::new();
        for item in self.app.store.get(&payout_keys).await?.into_iter().flatten() {
            let Some(intent) = records::decode_or_skip::<PayoutIntent>(&item, "payout intent") else { continue };
            if let Some(hash) = &intent.expected_tx_hash {
                by_hash.insert(hash.to_string(), intent);
            }
        }
        Ok(by_hash)
    }
}

/// Whether a transfer is the one an intent that claimed its hash describes: its recipient, its
/// token, and not older than the intent (what the watcher will check too, amount aside).
fn backs(intent: &PayoutIntent, log: &LoggedTransfer, token: Token, block_time: Option<Timestamp>) -> bool {
    intent.token == token
        && intent.recipient_address.account_bytes() == Some(log.transfer.to)
        && block_time.is_none_or(|at| at >= intent.created_at - CLOCK_SKEW_ALLOWANCE)
}

/// The first block at or after `at` (a binary search over block times; `head + 1` when the head
/// is older). Only the very first run of a chain needs it.
async fn first_block_at(reader: &dyn ChainReader, at: Timestamp, head: u64) -> Result<u64, ChainError> {
    let wanted = u64::try_from(at.timestamp()).unwrap_or(0);
    let (mut low, mut high) = (0u64, head + 1);
    while low < high {
        let middle = low + (high - low) / 2;
        let header = reader.blocks(&[middle]).await?.pop().flatten().ok_or_else(|| ChainError(format!("block {middle} is unknown to the node")))?;
        if header.timestamp >= wanted {
            high = middle;
        } else {
            low = middle + 1;
        }
    }
    Ok(low)
}
