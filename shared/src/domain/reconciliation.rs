//! Reconciliation (the guide's step 6): each payout intent and each recorded transfer put in
//! exactly one category, and the figures an accountant closes the books with. Pure: the service
//! streams records in, this decides and adds up.
//!
//! Categories (disjoint):
//! - **matched**: an intent with a confirmed settlement of exactly its amount;
//! - **discrepancy**: an intent with a confirmed settlement of another amount (settled within
//!   the organization's tolerance, or failed `amount_mismatch`);
//! - **unmatched**: an intent `approved`, `pending_execution`, `executed` or `verifying` with no
//!   confirmed settlement yet; overdue past its `due_date` or 24 h after execute;
//! - **unexpected**: a confirmed transfer from one of the organization's verified source wallets
//!   that backs no intent.
//!
//! Drafts, canceled intents and failures that booked no transfer are in no category.

use super::chain::{Chain, Environment, Token};
use super::ids::PayoutId;
use super::money::{accounting, serialize_decimal};
use super::payout::{PayoutIntent, PayoutStatus};
use super::settlement::Settlement;
use super::time::{self, Timestamp};
use chrono::Duration;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An executed intent with no confirmed settlement this long after execute is overdue.
pub const EXECUTED_OVERDUE_AFTER: Duration = Duration::hours(24);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Matched,
    Discrepancy,
    Unmatched,
    Unexpected,
}

impl Category {
    pub const ALL: [Category; 4] = [Category::Matched, Category::Discrepancy, Category::Unmatched, Category::Unexpected];

    pub fn as_str(self) -> &'static str {
        match self {
            Category::Matched => "matched",
            Category::Discrepancy => "discrepancy",
            Category::Unmatched => "unmatched",
            Category::Unexpected => "unexpected",
        }
    }

    pub fn parse(text: &str) -> Option<Category> {
        Category::ALL.into_iter().find(|c| c.as_str() == text)
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a report or an item list is narrowed to. `from` is inclusive and `to` exclusive, over
/// the intent's `created_at` (the settlement's `confirmed_at` for unexpected transfers).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filters {
    pub chain: Option<Chain>,
    pub token: Option<Token>,
    #[serde(default, with = "time::rfc3339::option")]
    pub from: Option<Timestamp>,
    #[serde(default, with = "time::rfc3339::option")]
    pub to: Option<Timestamp>,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self == &Filters::default()
    }

    fn admits(&self, chain: Chain, token: Token, at: Timestamp) -> bool {
        self.chain.is_none_or(|c| c == chain)
            && self.token.is_none_or(|t| t == token)
            && self.from.is_none_or(|from| at >= from)
            && self.to.is_none_or(|to| at < to)
    }

    pub fn admits_intent(&self, intent: &PayoutIntent) -> bool {
        self.admits(intent.chain, intent.token, intent.created_at)
    }

    pub fn admits_unexpected(&self, settlement: &Settlement) -> bool {
        self.admits(settlement.chain, settlement.token, settlement.confirmed_at.unwrap_or(settlement.created_at))
    }
}

/// Why an item is where it is, field by field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Reason {
    /// `amount`, `failure_reason`, `settlement`, `payout_intent` or `due_date`.
    pub field: &'static str,
    /// What was found, in words.
    pub message: String,
}

/// One line behind the figures: an intent, a settlement, or both.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    pub category: Category,
    pub intent: Option<PayoutIntent>,
    pub settlement: Option<Settlement>,
    pub expected_amount: Option<Decimal>,
    pub actual_amount: Option<Decimal>,
    pub reasons: Vec<Reason>,
    pub age_seconds: i64,
    pub overdue: bool,
    /// For an unexpected transfer: the one approved or pending intent it could back.
    pub suggested_payout_intent_id: Option<PayoutId>,
}

impl Item {
    /// `actual − expected`, when both are known.
    pub fn difference(&self) -> Option<Decimal> {
        Some(self.actual_amount? - self.expected_amount?)
    }

    /// When the item's own clock started: the settlement's confirmation, else the intent's
    /// execute (or approval, or creation).
    fn since(&self) -> Option<Timestamp> {
        if let Some(settlement) = &self.settlement {
            return Some(settlement.confirmed_at.unwrap_or(settlement.created_at));
        }
        self.intent.as_ref().map(|intent| intent.executed_at.or(intent.approved_at).unwrap_or(intent.created_at))
    }

    fn aged(mut self, now: Timestamp) -> Item {
        self.age_seconds = self.since().map(|since| (now - since).num_seconds().max(0)).unwrap_or(0);
        self
    }
}

/// Whether an intent still waits for its transfer to be confirmed.
pub fn awaits_settlement(status: PayoutStatus) -> bool {
    match status {
        PayoutStatus::Approved | PayoutStatus::PendingExecution | PayoutStatus::Executed | PayoutStatus::Verifying => true,
        PayoutStatus::Draft | PayoutStatus::Settled | PayoutStatus::Failed | PayoutStatus::Canceled => false,
    }
}

/// An intent still waiting for its money, or `None` when it is in another category or none.
pub fn unmatched(intent: &PayoutIntent, now: Timestamp) -> Option<Item> {
    if !awaits_settlement(intent.status) {
        return None;
    }
    let past_due = intent.due_date.is_some_and(|due| due < now);
    let executed_long_ago = intent.executed_at.is_some_and(|at| now - at > EXECUTED_OVERDUE_AFTER);
    let mut reasons = vec![Reason { field: "settlement", message: format!("No confirmed settlement yet (status {}).", intent.status) }];
    if past_due {
        reasons.push(Reason { field: "due_date", message: "Past its due date.".into() });
    }
    if executed_long_ago {
        reasons.push(Reason { field: "settlement", message: "Executed more than 24 hours ago.".into() });
    }
    let item = Item {
        category: Category::Unmatched,
        expected_amount: Some(intent.amount.value()),
        actual_amount: None,
        intent: Some(intent.clone()),
        settlement: None,
        reasons,
        age_seconds: 0,
        overdue: past_due || executed_long_ago,
        suggested_payout_intent_id: None,
    };
    Some(item.aged(now))
}

/// A recorded settlement, with its intent when it is linked to one (`None`: the intent could not
/// be read). `None` back: counted from the intent's side (it still awaits the watcher's verdict).
pub fn settled(settlement: &Settlement, intent: Option<&PayoutIntent>, now: Timestamp) -> Option<Item> {
    let actual = settlement.amount_atomic.to_decimal();
    let Some(linked) = &settlement.payout_intent_id else {
        let item = Item {
            category: Category::Unexpected,
            intent: None,
            settlement: Some(settlement.clone()),
            expected_amount: None,
            actual_amount: Some(actual),
            reasons: vec![Reason { field: "payout_intent", message: "A transfer from a verified source wallet that backs no payout intent.".into() }],
            age_seconds: 0,
            overdue: false,
            suggested_payout_intent_id: None,
        };
        return Some(item.aged(now));
    };
    let intent = intent.filter(|intent| &intent.id == linked)?;
    let expected = intent.amount.value();
    let mut reasons = Vec::new();
    let category = match intent.status {
        PayoutStatus::Settled if actual == expected => Category::Matched,
        PayoutStatus::Settled => Category::Discrepancy,
        // Only an amount mismatch fails an intent with its transfer booked.
        PayoutStatus::Failed => {
            let reason = intent.failure_reason.map(|r| r.as_str()).unwrap_or("unknown");
            reasons.push(Reason { field: "failure_reason", message: format!("The payout intent failed: {reason}.") });
            Category::Discrepancy
        }
        PayoutStatus::Draft
        | PayoutStatus::Approved
        | PayoutStatus::PendingExecution
        | PayoutStatus::Executed
        | PayoutStatus::Verifying
        | PayoutStatus::Canceled => return None,
    };
    if actual != expected {
        reasons.insert(0, Reason { field: "amount", message: format!("Expected {}, the transfer carried {}.", accounting(expected), accounting(actual)) });
    }
    let item = Item {
        category,
        intent: Some(intent.clone()),
        settlement: Some(settlement.clone()),
        expected_amount: Some(expected),
        actual_amount: Some(actual),
        reasons,
        age_seconds: 0,
        overdue: false,
        suggested_payout_intent_id: None,
    };
    Some(item.aged(now))
}

/// The intent an unexpected transfer could back: same organization, chain, token, recipient and
/// amount, still waiting to be executed, created before the transfer — if exactly one fits.
pub fn suggestion<'a>(settlement: &Settlement, candidates: impl IntoIterator<Item = &'a PayoutIntent>) -> Option<PayoutId> {
    let recipient = settlement.to_address.as_deref()?;
    let sent_at = settlement.block_time.or(settlement.confirmed_at).unwrap_or(settlement.created_at);
    let mut fitting = candidates.into_iter().filter(|intent| {
        matches!(intent.status, PayoutStatus::Approved | PayoutStatus::PendingExecution)
            && intent.org_id == settlement.org_id
            && intent.environment == settlement.environment
            && intent.chain == settlement.chain
            && intent.token == settlement.token
            && same_address(intent.chain, intent.recipient_address.as_str(), recipient)
            && intent.amount.to_atomic() == settlement.amount_atomic
            && intent.created_at <= sent_at + super::verification::CLOCK_SKEW_ALLOWANCE
    });
    let first = fitting.next()?;
    fitting.next().is_none().then(|| first.id.clone())
}

/// EVM hex addresses compare without case (EIP-55 is only a checksum); tron's base58 exactly.
fn same_address(chain: Chain, a: &str, b: &str) -> bool {
    if chain.is_evm() { a.eq_ignore_ascii_case(b) } else { a == b }
}

/// `{count, total_amount}` of one category.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Totals {
    pub count: u64,
    /// Exact decimal JSON number (`25000.00`).
    #[schema(value_type = f64, example = 25000.0)]
    #[serde(serialize_with = "serialize_decimal")]
    pub total_amount: Decimal,
}

impl Totals {
    fn add(&mut self, amount: Decimal) {
        self.count += 1;
        self.total_amount += amount;
    }
}

/// One discrepancy of the summary, as the contract lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DiscrepancyLine {
    pub payout_intent_id: String,
    pub settlement_id: String,
    #[schema(value_type = f64, example = 500.0)]
    #[serde(serialize_with = "serialize_decimal")]
    pub expected_amount: Decimal,
    #[schema(value_type = f64, example = 499.95)]
    #[serde(serialize_with = "serialize_decimal")]
    pub actual_amount: Decimal,
    /// `actual_amount − expected_amount`.
    #[schema(value_type = f64, example = -0.05)]
    #[serde(serialize_with = "serialize_decimal")]
    pub difference: Decimal,
    pub chain: Chain,
}

/// The reconciliation summary: the contract's `ReconciliationSummary`, plus when it was
/// computed, for which environment, and under which filters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Summary {
    pub matched: Totals,
    pub unmatched_payouts: Totals,
    pub unexpected_settlements: Totals,
    pub discrepancies: Vec<DiscrepancyLine>,
    #[schema(format = DateTime)]
    pub computed_at: String,
    pub environment: Environment,
    /// The filters applied (`null` members: not filtered).
    pub filters: AppliedFilters,
}

/// The filters of a summary, as given.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct AppliedFilters {
    #[schema(nullable)]
    pub chain: Option<Chain>,
    #[schema(nullable)]
    pub token: Option<Token>,
    #[schema(nullable, format = DateTime)]
    pub from: Option<String>,
    #[schema(nullable, format = DateTime)]
    pub to: Option<String>,
}

/// Adds items up into a [`Summary`]; holds only the figures and the discrepancy lines.
#[derive(Clone, Debug, Default)]
pub struct Tally {
    matched: Totals,
    unmatched: Totals,
    unexpected: Totals,
    discrepancies: Vec<DiscrepancyLine>,
}

impl Tally {
    pub fn add(&mut self, item: &Item) {
        match item.category {
            Category::Matched => self.matched.add(item.actual_amount.unwrap_or_default()),
            Category::Unmatched => self.unmatched.add(item.expected_amount.unwrap_or_default()),
            Category::Unexpected => self.unexpected.add(item.actual_amount.unwrap_or_default()),
            Category::Discrepancy => {
                let (Some(intent), Some(settlement)) = (&item.intent, &item.settlement) else { return };
                let expected = item.expected_amount.unwrap_or_default();
                let actual = item.actual_amount.unwrap_or_default();
                self.discrepancies.push(DiscrepancyLine {
                    payout_intent_id: intent.id.to_string(),
                    settlement_id: settlement.id.to_string(),
                    expected_amount: accounting(expected),
                    actual_amount: accounting(actual),
                    difference: accounting(actual - expected),
                    chain: settlement.chain,
                });
            }
        }
    }

    pub fn summary(self, environment: Environment, filters: &Filters, computed_at: Timestamp) -> Summary {
        let totals = |t: Totals| Totals { count: t.count, total_amount: accounting(t.total_amount) };
        let mut discrepancies = self.discrepancies;
        discrepancies.sort_by(|a, b| a.payout_intent_id.cmp(&b.payout_intent_id));
        let at = |t: &Timestamp| time::to_rfc3339(&time::whole_seconds(*t));
        Summary {
            matched: totals(self.matched),
            unmatched_payouts: totals(self.unmatched),
            unexpected_settlements: totals(self.unexpected),
            discrepancies,
            computed_at: at(&computed_at),
            environment,
            filters: AppliedFilters { chain: filters.chain, token: filters.token, from: filters.from.as_ref().map(at), to: filters.to.as_ref().map(at) },
        }
    }
}

#[cfg(test)]
mod tests;
