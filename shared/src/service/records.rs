//! The key design: how each record maps onto store items, keys and indexes. This is the one
//! place to read to know what is stored where (the README's DynamoDB section mirrors it).
//!
//! | record | pk | sk | gsi1 (pk / sk) | gsi2 (pk / sk) | gsi3 (pk / sk) |
//! |---|---|---|---|---|---|
//! | organization | `ORG#{org}` | `ORG` | `ORGS` / `{created}#{org}` | — | — |
//! | API key | `APIKEY#{sha256}` | `APIKEY` | `ORG#{org}#KEYS` / `{created}#{key}` | `KEYID#{key}` / `KEY` | — |
//! | payout intent | `PO#{po}` | `PO` | `{org}#{env}#PO` / `{created}#{po}` | `{org}#{env}#PO#{status}` / `{created}#{po}` | `WATCH#{env}#{chain}` / `{next_check}#{po}` while executed/verifying |
//! | tx-hash claim | `TX#{org}#{env}#{chain}#{hash}` | `TX` | — | — | — |
//! | source wallet | `WAL#{wal}` | `WAL` | `{org}#{env}#WAL` / `{created}#{wal}` | `{org}#{env}#WAL#{status}` / `{created}#{wal}` | `{org}#{env}#WAL#CHAIN#{chain}` / `{created}#{wal}` (none once deleted) |
//! | wallet address claim | `WADDR#{env}#{chain}#{account hex}` | `WADDR` | — | — | `WALLETS#{env}#{chain}` / `{account hex}` |
//! | settlement | `STL#{env}#{chain}#{tx}#{log_index}` | `STL` | `{org}#{env}#STL` / `{created}#{stl}` | `{org}#{env}#STL#{po}` / `{created}#{stl}` | `{org}#{env}#STL#CHAIN#{chain}` / `{created}#{stl}` |
//! | event | `EVT#{evt}` | `EVT` | `{org}#{env}#EVT` / `{created}#{evt}` | `{org}#{env}#EVT#{type}` / `{created}#{evt}` | `OUTBOX` / `{created}#{evt}` until published |
//! | scanner cursor | `SCAN#{env}#{chain}` | `CURSOR` | — | — | — |
//! | reconciliation report | `RECON#{org}#{env}` | `REPORT` | — | — | — |
//! | reconciliation event marker | `RECONEVT#{stl}#{category}` | `RECONEVT` | — | — | — |
//! | idempotency record | `IDEM#{org}#{env}#{sha256(key)}` | `IDEM` | — | — | — (expires after 24 h) |
//! | rate-limit counter | `RATE#{org}#{env}` | `{reads\|writes}#{window start}` | — | — | — (expires a minute after its window) |
//!
//! Filter attributes: payouts carry `due` (due date) and `open` while they await their
//! settlement; settlements carry `chain`, and `linked` or `unlinked` (backing an intent or not).
//!
//! `{created}` is a fixed-width nanosecond timestamp so string order is time order; ids make it unique.

use crate::domain::address::TxHash;
use crate::domain::chain::{Chain, Environment, Token};
use crate::domain::event::Event;
use crate::domain::ids::{ApiKeyId, EventId, OrgId, PayoutId, WalletId};
use crate::domain::org::{ApiKey, Organization};
use crate::domain::payout::{PayoutIntent, PayoutStatus, ReferenceType};
use crate::domain::time::{Timestamp, sort_key};
use crate::domain::wallet::{SourceWallet, WalletStatus};
use crate::metrics::{self, Metric};
use crate::ports::store::{IndexKey, IndexPosition, Item, ItemKey, StoreError};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Filter attribute holding a payout's due date as a sort key.
pub const ATTR_DUE: &str = "due";

/// Every organization, oldest first (the reconciliation job walks it).
pub const ORGS_PARTITION: &str = "ORGS";

/// Filter attribute of a payout awaiting its settlement (approved … verifying).
pub const ATTR_OPEN: &str = "open";
/// Filter attributes of a settlement backing an intent, or none.
pub const ATTR_LINKED: &str = "linked";
pub const ATTR_UNLINKED: &str = "unlinked";

pub fn org_key(org: &OrgId) -> ItemKey {
    ItemKey::new(format!("ORG#{org}"), "ORG")
}

/// The counter of one tenant's reads or writes in the window starting at `window_start` (unix
/// seconds). Its version is the count (see `WriteOp::Count`).
pub fn rate_counter_key(org: &OrgId, environment: Environment, class: crate::domain::rate_limit::LimitClass, window_start: i64) -> ItemKey {
    ItemKey::new(format!("RATE#{org}#{environment}"), format!("{}#{window_start}", class.as_str()))
}

pub fn api_key_key(secret_hash: &str) -> ItemKey {
    ItemKey::new(format!("APIKEY#{secret_hash}"), "APIKEY")
}

pub fn api_keys_of_org(org: &OrgId) -> String {
    format!("ORG#{org}#KEYS")
}

pub fn api_key_by_id(key: &ApiKeyId) -> String {
    format!("KEYID#{key}")
}

pub fn payout_key(id: &PayoutId) -> ItemKey {
    ItemKey::new(format!("PO#{id}"), "PO")
}

pub fn payouts_of(org: &OrgId, environment: Environment) -> String {
    format!("{org}#{environment}#PO")
}

pub fn payouts_of_status(org: &OrgId, environment: Environment, status: PayoutStatus) -> String {
    format!("{org}#{environment}#PO#{status}")
}

pub fn watch_partition(environment: Environment, chain: Chain) -> String {
    format!("WATCH#{environment}#{chain}")
}

/// Where the watcher's next sweep of one (environment, chain) resumes.
pub fn sweep_cursor_key(environment: Environment, chain: Chain) -> ItemKey {
    ItemKey::new(format!("SWEEP#{environment}#{chain}"), "CURSOR")
}

/// The stored form of a sweep cursor (an index position).
#[derive(Serialize, Deserialize)]
struct StoredPosition {
    index_sk: String,
    pk: String,
    sk: String,
}

/// `None`: the next sweep starts from the beginning of the partition.
pub fn sweep_cursor_item(environment: Environment, chain: Chain, resume_after: Option<&IndexPosition>) -> Result<Item, StoreError> {
    let stored = resume_after.map(|p| StoredPosition { index_sk: p.index_sk.clone(), pk: p.key.pk.clone(), sk: p.key.sk.clone() });
    Ok(plain(sweep_cursor_key(environment, chain), 1, encode(&stored)?))
}

pub fn sweep_cursor_position(item: &Item) -> Result<Option<IndexPosition>, StoreError> {
    let stored: Option<StoredPosition> = decode(item)?;
    Ok(stored.map(|p| IndexPosition { index_sk: p.index_sk, key: ItemKey { pk: p.pk, sk: p.sk } }))
}

/// Marks a local data directory as bootstrapped (the development organization is made once).
pub fn bootstrap_marker_key() -> ItemKey {
    ItemKey::new("LOCAL#BOOTSTRAP", "BOOTSTRAP")
}

pub fn bootstrap_marker_item(org: &OrgId) -> Result<Item, StoreError> {
    Ok(plain(bootstrap_marker_key(), 1, encode(&serde_json::json!({ "org_id": org }))?))
}

/// Per organization: an org cannot attach one hash to two of its own intents, while another
/// org's claim (hashes are public the moment a transfer is broadcast) never blocks it. The
/// transfer itself is booked once through the settlement's key.
pub fn tx_claim_key(org: &OrgId, environment: Environment, chain: Chain, tx_hash: &TxHash) -> ItemKey {
    ItemKey::new(format!("TX#{org}#{environment}#{chain}#{tx_hash}"), "TX")
}

pub fn event_key(id: &EventId) -> ItemKey {
    ItemKey::new(format!("EVT#{id}"), "EVT")
}

pub fn events_of(org: &OrgId, environment: Environment) -> String {
    format!("{org}#{environment}#EVT")
}

pub fn events_of_type(org: &OrgId, environment: Environment, event_type: crate::domain::event::EventType) -> String {
    format!("{org}#{environment}#EVT#{event_type}")
}

pub const OUTBOX_PARTITION: &str = "OUTBOX";

pub fn idempotency_key(org: &OrgId, environment: Environment, key_hash: &str) -> ItemKey {
    ItemKey::new(format!("IDEM#{org}#{environment}#{key_hash}"), "IDEM")
}

/// The largest index sort key of an item due at `now`, for `{due}#{id}` sort keys ('~' sorts
/// after the '#id' suffix of every item due at that very instant).
pub fn due_by(now: &Timestamp) -> String {
    format!("{}~", sort_key(now))
}

fn encode<T: Serialize>(record: &T) -> Result<String, StoreError> {
    serde_json::to_string(record).map_err(|e| StoreError::Corrupt(format!("cannot encode record: {e}")))
}

/// Decodes an item's body into its record.
pub fn decode<T: DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_str(&item.body).map_err(|e| StoreError::Corrupt(format!("{:?}: {e}", item.key)))
}

/// A record a worker reads among many, decoded; `None` when it does not decode (a variant a
/// later deploy added, a hand edit): logged with its key and the kind of fault, never its body,
/// and counted ([`Metric::RecordsSkipped`], alarmed on), so one bad record never stops the work
/// on the others. The record stays as it is, for an operator.
pub fn decode_or_skip<T: DeserializeOwned>(item: &Item, kind: &'static str) -> Option<T> {
    match serde_json::from_str(&item.body) {
        Ok(record) => Some(record),
        Err(error) => {
            let fault = match error.classify() {
                serde_json::error::Category::Io => "io",
                serde_json::error::Category::Syntax => "syntax",
                serde_json::error::Category::Data => "data",
                serde_json::error::Category::Eof => "eof",
            };
            tracing::error!(pk = %item.key.pk, sk = %item.key.sk, record = kind, fault, column = error.column(), "record does not decode; skipped and left for an operator");
            metrics::count(Metric::RecordsSkipped, &[], 1);
            None
        }
    }
}

fn plain(key: ItemKey, version: u64, body: String) -> Item {
    Item { key, version, expires_at: None, indexes: [None, None, None, None], attrs: BTreeMap::new(), body }
}

fn index(pk: String, sk: String) -> Option<IndexKey> {
    Some(IndexKey { pk, sk })
}

pub fn org_item(org: &Organization, version: u64) -> Result<Item, StoreError> {
    let mut item = plain(org_key(&org.id), version, encode(org)?);
    item.indexes[0] = index(ORGS_PARTITION.into(), format!("{}#{}", sort_key(&org.created_at), org.id));
    Ok(item)
}

pub fn api_key_item(key: &ApiKey, version: u64) -> Result<Item, StoreError> {
    let mut item = plain(api_key_key(&key.secret_hash), version, encode(key)?);
    item.indexes[0] = index(api_keys_of_org(&key.org_id), format!("{}#{}", sort_key(&key.created_at), key.id));
    item.indexes[1] = index(api_key_by_id(&key.id), "KEY".into());
    Ok(item)
}

/// `version` is the version the item will have after the write.
pub fn payout_item(intent: &PayoutIntent, version: u64) -> Result<Item, StoreError> {
    let created = format!("{}#{}", sort_key(&intent.created_at), intent.id);
    let mut item = plain(payout_key(&intent.id), version, encode(intent)?);
    item.indexes[0] = index(payouts_of(&intent.org_id, intent.environment), created.clone());
    item.indexes[1] = index(payouts_of_status(&intent.org_id, intent.environment, intent.status), created.clone());
    item.indexes[3] = index(payouts_of_status_and_pair(&intent.org_id, intent.environment, intent.status, intent.chain, intent.token), created);
    if intent.status.awaits_chain() {
        let next = intent.next_check_at.or(intent.executed_at).unwrap_or(intent.updated_at);
        item.indexes[2] = index(watch_partition(intent.environment, intent.chain), format!("{}#{}", sort_key(&next), intent.id));
    }
    if let Some(due) = &intent.due_date {
        item.attrs.insert(ATTR_DUE.into(), sort_key(due));
    }
    item.attrs.insert(ATTR_CHAIN.into(), intent.chain.as_str().into());
    item.attrs.insert(ATTR_TOKEN.into(), intent.token.as_str().into());
    if crate::domain::reconciliation::awaits_settlement(intent.status) {
        item.attrs.insert(ATTR_OPEN.into(), "1".into());
    }
    Ok(item)
}

pub fn event_item(event: &Event, version: u64) -> Result<Item, StoreError> {
    let created = format!("{}#{}", sort_key(&event.created_at), event.id);
    let mut item = plain(event_key(&event.id), version, encode(event)?);
    item.indexes[0] = index(events_of(&event.org_id, event.environment), created.clone());
    item.indexes[1] = index(events_of_type(&event.org_id, event.environment, event.event_type), created.clone());
    if let Some(payout) = &event.payout_id {
        item.indexes[3] = index(events_of_payout(&event.org_id, event.environment, payout), created.clone());
    }
    // The outbox is in publish order: new events at once, published ones when a republish is
    // due; an event leaves it once the dispatcher has fanned it out.
    if let Some(due) = event.publish_due_at() {
        item.indexes[2] = index(OUTBOX_PARTITION.into(), format!("{}#{}", sort_key(&due), event.id));
    }
    Ok(item)
}

/// Where a payout with a reference is found by it: a record of its own, written with the intent
/// (a reference never changes), indexed by type and id (gsi1) and by type alone (gsi2).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PayoutReference {
    pub payout_id: PayoutId,
}

pub fn payout_reference_item(intent: &PayoutIntent) -> Result<Option<Item>, StoreError> {
    let (kind, Some(id)) = (intent.reference_type, intent.reference_id.as_deref()) else {
        return match intent.reference_type {
            // A type without an id is still found by its type.
            Some(kind) => Ok(Some(reference_record(intent, None, Some(kind))?)),
            None => Ok(None),
        };
    };
    Ok(Some(reference_record(intent, Some(id), kind)?))
}

fn reference_record(intent: &PayoutIntent, id: Option<&str>, kind: Option<ReferenceType>) -> Result<Item, StoreError> {
    let created = format!("{}#{}", sort_key(&intent.created_at), intent.id);
    let mut item = plain(ItemKey::new(format!("POREF#{}", intent.id), "POREF"), 1, encode(&PayoutReference { payout_id: intent.id.clone() })?);
    if let Some(id) = id {
        item.indexes[0] = index(payouts_of_reference(&intent.org_id, intent.environment, kind, id), created.clone());
    }
    if let Some(kind) = kind {
        item.indexes[1] = index(payouts_of_reference_type(&intent.org_id, intent.environment, kind), created);
    }
    Ok(item)
}

/// Payouts of one reference id, of one type (`-` when none was given).
pub fn payouts_of_reference(org: &OrgId, environment: Environment, kind: Option<ReferenceType>, id: &str) -> String {
    format!("{org}#{environment}#PO#REF#{}#{id}", kind.map_or("-", ReferenceType::as_str))
}

pub fn payouts_of_reference_type(org: &OrgId, environment: Environment, kind: ReferenceType) -> String {
    format!("{org}#{environment}#PO#REFTYPE#{}", kind.as_str())
}

/// One payout's events (gsi4), newest first.
pub fn events_of_payout(org: &OrgId, environment: Environment, payout: &PayoutId) -> String {
    format!("{org}#{environment}#EVT#PO#{payout}")
}

/// One organization's payouts of one status on one (chain, token) (gsi4).
pub fn payouts_of_status_and_pair(org: &OrgId, environment: Environment, status: PayoutStatus, chain: Chain, token: Token) -> String {
    format!("{org}#{environment}#PO#{status}#{chain}#{token}")
}

/// Which of an organization's payouts holds a (chain, tx hash). Claimed in the same write as the
/// execute; released in the same write as a failure that booked nothing, or a hash replacement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TxClaim {
    pub payout_id: PayoutId,
    pub org_id: OrgId,
    pub environment: Environment,
}

pub fn tx_claim_item(chain: Chain, tx_hash: &TxHash, claim: &TxClaim) -> Result<Item, StoreError> {
    Ok(plain(tx_claim_key(&claim.org_id, claim.environment, chain, tx_hash), 1, encode(claim)?))
}

/// The claim of an intent's current hash, if it has one.
pub fn tx_claim_of(intent: &PayoutIntent) -> Option<ItemKey> {
    intent.expected_tx_hash.as_ref().map(|hash| tx_claim_key(&intent.org_id, intent.environment, intent.chain, hash))
}

// Source wallets: `WAL#{wal}`; gsi1 lists an org/environment's wallets, gsi2 by status, gsi3 by
// chain; a deleted wallet leaves every index but its record stays (settlements point at it).
// `WADDR#{env}#{chain}#{account}`: which organization's verified wallet an address is. Written
// with the verification under an "absent" condition, so an address is one org's only.

pub fn wallet_key(id: &WalletId) -> ItemKey {
    ItemKey::new(format!("WAL#{id}"), "WAL")
}

pub fn wallets_of(org: &OrgId, environment: Environment) -> String {
    format!("{org}#{environment}#WAL")
}

pub fn wallets_of_status(org: &OrgId, environment: Environment, status: WalletStatus) -> String {
    format!("{org}#{environment}#WAL#{status}")
}

pub fn wallets_of_chain(org: &OrgId, environment: Environment, chain: Chain) -> String {
    format!("{org}#{environment}#WAL#CHAIN#{chain}")
}

pub fn wallet_item(wallet: &SourceWallet, version: u64) -> Result<Item, StoreError> {
    let created = format!("{}#{}", sort_key(&wallet.created_at), wallet.id);
    let mut item = plain(wallet_key(&wallet.id), version, encode(wallet)?);
    if wallet.deleted_at.is_none() {
        item.indexes[0] = index(wallets_of(&wallet.org_id, wallet.environment), created.clone());
        item.indexes[1] = index(wallets_of_status(&wallet.org_id, wallet.environment, wallet.status), created.clone());
        item.indexes[2] = index(wallets_of_chain(&wallet.org_id, wallet.environment, wallet.chain), created);
    }
    Ok(item)
}

/// Which verified wallet an address is (one organization's only, per environment and chain).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WalletClaim {
    pub wallet_id: WalletId,
    pub org_id: OrgId,
    /// When the proof was accepted: the source-wallet scanner reports transfers from then on.
    #[serde(default, with = "crate::domain::time::rfc3339::option")]
    pub verified_at: Option<Timestamp>,
}

/// The verified wallets of one (environment, chain), across organizations (the scanner's list).
pub fn wallets_on_chain(environment: Environment, chain: Chain) -> String {
    format!("WALLETS#{environment}#{chain}")
}

pub fn wallet_claim_key(environment: Environment, chain: Chain, account: &[u8; 20]) -> ItemKey {
    ItemKey::new(format!("WADDR#{environment}#{chain}#{}", hex::encode(account)), "WADDR")
}

pub fn wallet_claim_item(environment: Environment, chain: Chain, account: &[u8; 20], claim: &WalletClaim) -> Result<Item, StoreError> {
    let mut item = plain(wallet_claim_key(environment, chain, account), 1, encode(claim)?);
    item.indexes[2] = index(wallets_on_chain(environment, chain), hex::encode(account));
    Ok(item)
}

/// The account a wallet claim item is about (its gsi3 sort key).
pub fn claimed_account(item: &Item) -> Option<[u8; 20]> {
    let text = &item.index(crate::ports::store::IndexName::Gsi3)?.sk;
    hex::decode(text).ok()?.try_into().ok()
}

/// Where the source-wallet scanner of one (environment, chain) stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScanCursor {
    /// The first block not scanned yet.
    pub next_block: u64,
    /// Blocks per `eth_getLogs` (halved on refusals, grown back after successes).
    pub span: u64,
    /// Successful requests at this span since it last changed.
    pub successes: u32,
    /// The smallest span the provider refused lately: growing up to it waits much longer, so a
    /// provider's fixed limit is not probed again every few requests.
    #[serde(default)]
    pub ceiling: Option<u64>,
}

pub fn scan_cursor_key(environment: Environment, chain: Chain) -> ItemKey {
    ItemKey::new(format!("SCAN#{environment}#{chain}"), "CURSOR")
}

pub fn scan_cursor_item(environment: Environment, chain: Chain, cursor: &ScanCursor, version: u64) -> Result<Item, StoreError> {
    Ok(plain(scan_cursor_key(environment, chain), version, encode(cursor)?))
}

/// The latest stored reconciliation summary of an organization and environment.
pub fn reconciliation_report_key(org: &OrgId, environment: Environment) -> ItemKey {
    ItemKey::new(format!("RECON#{org}#{environment}"), "REPORT")
}

pub fn reconciliation_report_item(
    org: &OrgId,
    environment: Environment,
    summary: &crate::domain::reconciliation::Summary,
    version: u64,
) -> Result<Item, StoreError> {
    Ok(plain(reconciliation_report_key(org, environment), version, encode(summary)?))
}

/// Written with the event about a settlement's reconciliation category, "if absent": the event
/// is emitted once per settlement and category, however often the job runs.
pub fn reconciliation_marker_key(settlement: &crate::domain::ids::SettlementId, category: crate::domain::reconciliation::Category) -> ItemKey {
    ItemKey::new(format!("RECONEVT#{settlement}#{category}"), "RECONEVT")
}

pub fn reconciliation_marker_item(
    settlement: &crate::domain::ids::SettlementId,
    category: crate::domain::reconciliation::Category,
    event: &EventId,
) -> Result<Item, StoreError> {
    Ok(plain(reconciliation_marker_key(settlement, category), 1, encode(&serde_json::json!({ "event_id": event }))?))
}

/// A stored first response for an idempotency key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    pub fingerprint: String,
    pub status: u16,
    /// Empty when the response is sealed.
    pub body: String,
    /// The response, encrypted, when it shows a secret (`POST /v1/webhooks`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_body: Option<crate::domain::sealed::Sealed>,
    #[serde(with = "crate::domain::time::rfc3339")]
    pub created_at: Timestamp,
}

pub fn idempotency_item(key: ItemKey, record: &IdempotencyRecord, expires_at: i64) -> Result<Item, StoreError> {
    let mut item = plain(key, 1, encode(record)?);
    item.expires_at = Some(expires_at);
    Ok(item)
}

// Settlements: `STL#{env}#{chain}#{tx}#{log_index}` — the transfer's identity is the key, so the
// same transfer can never be recorded twice. gsi1 lists an org's settlements, gsi2 those of one
// intent, gsi3 those of one chain.

pub fn settlement_key(environment: Environment, chain: Chain, tx_hash: &TxHash, log_index: u64) -> ItemKey {
    ItemKey::new(format!("STL#{environment}#{chain}#{tx_hash}#{log_index}"), "STL")
}

pub fn settlements_of(org: &OrgId, environment: Environment) -> String {
    format!("{org}#{environment}#STL")
}

pub fn settlements_of_payout(org: &OrgId, environment: Environment, payout: &PayoutId) -> String {
    format!("{org}#{environment}#STL#{payout}")
}

pub fn settlements_of_chain(org: &OrgId, environment: Environment, chain: Chain) -> String {
    format!("{org}#{environment}#STL#CHAIN#{chain}")
}

/// Filter attributes holding a payout's or settlement's chain, and a payout's token.
pub const ATTR_CHAIN: &str = "chain";
pub const ATTR_TOKEN: &str = "token";

pub fn settlement_item(settlement: &crate::domain::settlement::Settlement, version: u64) -> Result<Item, StoreError> {
    let created = format!("{}#{}", sort_key(&settlement.created_at), settlement.id);
    let mut item = plain(settlement_key(settlement.environment, settlement.chain, &settlement.tx_hash, settlement.log_index), version, encode(settlement)?);
    item.indexes[0] = index(settlements_of(&settlement.org_id, settlement.environment), created.clone());
    if let Some(payout) = &settlement.payout_intent_id {
        item.indexes[1] = index(settlements_of_payout(&settlement.org_id, settlement.environment, payout), created);
    }
    item.indexes[2] = index(
        settlements_of_chain(&settlement.org_id, settlement.environment, settlement.chain),
        format!("{}#{}", sort_key(&settlement.created_at), settlement.id),
    );
    item.attrs.insert(ATTR_CHAIN.into(), settlement.chain.as_str().into());
    let link = if settlement.payout_intent_id.is_some() { ATTR_LINKED } else { ATTR_UNLINKED };
    item.attrs.insert(link.into(), "1".into());
    Ok(item)
}

// Webhook endpoints: `WE#{we}`; gsi1 lists an org/environment's endpoints.
// Deliveries: `DEL#{we}#{evt}` (one per endpoint and event); gsi1 lists an endpoint's
// deliveries, gsi2 finds one by its `del_…` id, gsi3 `DUE` holds pending ones by due time.

pub fn endpoint_key(id: &crate::domain::ids::WebhookId) -> ItemKey {
    ItemKey::new(format!("WE#{id}"), "WE")
}

pub fn endpoints_of(org: &OrgId, environment: Environment) -> String {
    format!("{org}#{environment}#WE")
}

/// An organization's webhook endpoints in one environment, by id: written in the same atomic
/// write as each create and delete, on its version, so the ceiling on their number holds exactly
/// under concurrent creates, and read by key (strongly consistent) by the fan-out, which so never
/// misses an endpoint created a moment before the event (the endpoints index may lag).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointDirectory {
    pub endpoints: Vec<crate::domain::ids::WebhookId>,
}

pub fn endpoint_directory_key(org: &OrgId, environment: Environment) -> ItemKey {
    ItemKey::new(format!("WEDIR#{org}#{environment}"), "WEDIR")
}

pub fn endpoint_directory_item(org: &OrgId, environment: Environment, directory: &EndpointDirectory, version: u64) -> Result<Item, StoreError> {
    Ok(plain(endpoint_directory_key(org, environment), version, encode(directory)?))
}

pub fn endpoint_item(endpoint: &crate::domain::endpoint::WebhookEndpoint, version: u64) -> Result<Item, StoreError> {
    let mut item = plain(endpoint_key(&endpoint.id), version, encode(endpoint)?);
    let created = format!("{}#{}", sort_key(&endpoint.created_at), endpoint.id);
    item.indexes[0] = index(endpoints_of(&endpoint.org_id, endpoint.environment), created.clone());
    if endpoint.backfill.as_ref().is_some_and(crate::domain::endpoint::Backfill::pending) {
        item.indexes[1] = index(BACKFILL_PARTITION.to_owned(), created);
    }
    Ok(item)
}

/// Endpoints whose backfill is not done yet (gsi2), for the due sweep.
pub const BACKFILL_PARTITION: &str = "BACKFILL";

/// Where a backfill resumes: just after the event at `index_sk` (`{created}#{evt}`) in its
/// organization's event index.
pub fn event_position(index_sk: &str) -> Option<IndexPosition> {
    let (_, id) = index_sk.rsplit_once('#')?;
    Some(IndexPosition { index_sk: index_sk.to_owned(), key: event_key(&EventId::parse(id)?) })
}

/// The last index sort key of events created at or before `at` (a range's inclusive end).
pub fn created_at_most(at: &Timestamp) -> String {
    format!("{}#~", sort_key(at))
}

pub fn delivery_key(webhook: &crate::domain::ids::WebhookId, event: &EventId) -> ItemKey {
    ItemKey::new(format!("DEL#{webhook}#{event}"), "DEL")
}

pub fn deliveries_of(webhook: &crate::domain::ids::WebhookId) -> String {
    format!("WE#{webhook}#DEL")
}

pub fn delivery_by_id(id: &crate::domain::ids::DeliveryId) -> String {
    format!("DELID#{id}")
}

pub const DUE_PARTITION: &str = "DUE";

pub fn delivery_item(delivery: &crate::domain::endpoint::Delivery, version: u64) -> Result<Item, StoreError> {
    let mut item = plain(delivery_key(&delivery.webhook_id, &delivery.event_id), version, encode(delivery)?);
    item.indexes[0] = index(deliveries_of(&delivery.webhook_id), format!("{}#{}", sort_key(&delivery.created_at), delivery.id));
    item.indexes[1] = index(delivery_by_id(&delivery.id), "DEL".into());
    if delivery.status == crate::domain::endpoint::DeliveryStatus::Pending
        && let Some(next) = &delivery.next_attempt_at
    {
        item.indexes[2] = index(DUE_PARTITION.into(), format!("{}#{}", sort_key(next), delivery.id));
    }
    Ok(item)
}
