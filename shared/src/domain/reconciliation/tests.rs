#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::domain::address::{ChainAddress, TxHash};
use crate::domain::ids::{ApiKeyId, OrgId, SettlementId};
use crate::domain::money::{Amount, AtomicAmount};
use crate::domain::payout::{Currency, FailureReason, NewPayout};
use chrono::Utc;

const RECIPIENT: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

fn intent(amount: &str, now: Timestamp) -> PayoutIntent {
    let new = NewPayout {
        recipient_address: ChainAddress::parse(Chain::Base, RECIPIENT).unwrap(),
        chain: Chain::Base,
        token: Token::Usdc,
        amount: Amount::parse_json_number(amount).unwrap(),
        currency: Currency::Usd,
        description: None,
        reference_type: None,
        reference_id: None,
        due_date: None,
    };
    PayoutIntent::new(PayoutId::generate(), OrgId::generate(), Environment::Sandbox, new, now)
}

fn settlement_of(intent: Option<&PayoutIntent>, org: &OrgId, atomic: u128, now: Timestamp) -> Settlement {
    Settlement {
        id: SettlementId::generate(),
        org_id: org.clone(),
        environment: Environment::Sandbox,
        payout_intent_id: intent.map(|i| i.id.clone()),
        chain: Chain::Base,
        tx_hash: TxHash::parse(Chain::Base, &format!("0x{}", "ab".repeat(32))).unwrap(),
        log_index: 0,
        from_address: None,
        to_address: Some(RECIPIENT.to_owned()),
        token: Token::Usdc,
        amount_atomic: AtomicAmount(atomic),
        source_wallet_id: None,
        block_number: Some(1),
        block_hash: None,
        block_time: Some(now),
        confirmations: 12,
        confirmed_at: Some(now),
        detected_at: now,
        created_at: now,
    }
}

fn settled_intent(amount: &str, now: Timestamp) -> PayoutIntent {
    let mut intent = intent(amount, now);
    intent.approve(ApiKeyId::generate(), now).unwrap();
    intent.execute(TxHash::parse(Chain::Base, &format!("0x{}", "ab".repeat(32))).unwrap(), now).unwrap();
    // The watcher's path (verifying, then settled) is the payout module's business.
    intent.status = PayoutStatus::Settled;
    intent
}

#[test]
fn equal_amounts_match_and_different_ones_are_discrepancies_with_the_signed_difference() {
    let now = Utc::now();
    let exact = settled_intent("500.00", now);
    let short = settled_intent("500.00", now);
    let mut tally = Tally::default();
    let matched = settled(&settlement_of(Some(&exact), &exact.org_id, 500_000_000, now), Some(&exact), now).unwrap();
    assert_eq!(matched.category, Category::Matched);
    assert!(matched.reasons.is_empty());
    let discrepancy = settled(&settlement_of(Some(&short), &short.org_id, 499_950_000, now), Some(&short), now).unwrap();
    assert_eq!(discrepancy.category, Category::Discrepancy);
    assert_eq!(discrepancy.difference().map(accounting).map(|d| d.to_string()), Some("-0.05".to_owned()));
    assert_eq!(discrepancy.reasons[0].field, "amount");
    tally.add(&matched);
    tally.add(&discrepancy);
    let summary = tally.summary(Environment::Sandbox, &Filters::default(), now);
    assert_eq!((summary.matched.count, summary.matched.total_amount.to_string()), (1, "500.00".to_owned()));
    let json = serde_json::to_string(&summary).unwrap();
    assert!(json.contains(r#""difference":-0.05"#), "{json}");
    assert!(json.contains(r#""expected_amount":500.00"#), "{json}");
    assert!(json.contains(r#""actual_amount":499.95"#), "{json}");
    assert!(json.contains(r#""unexpected_settlements":{"count":0,"total_amount":0.00}"#), "{json}");
}

#[test]
fn a_failed_amount_mismatch_is_a_discrepancy_and_a_verifying_intent_is_counted_once_as_unmatched() {
    let now = Utc::now();
    let mut failed = intent("25.00", now);
    failed.approve(ApiKeyId::generate(), now).unwrap();
    failed.execute(TxHash::parse(Chain::Base, &format!("0x{}", "cd".repeat(32))).unwrap(), now).unwrap();
    failed.status = PayoutStatus::Failed;
    failed.failure_reason = Some(FailureReason::AmountMismatch);
    let item = settled(&settlement_of(Some(&failed), &failed.org_id, 20_000_000, now), Some(&failed), now).unwrap();
    assert_eq!(item.category, Category::Discrepancy);
    assert_eq!(item.reasons.iter().map(|r| r.field).collect::<Vec<_>>(), ["amount", "failure_reason"]);
    assert!(unmatched(&failed, now).is_none());

    let mut verifying = intent("25.00", now);
    verifying.approve(ApiKeyId::generate(), now).unwrap();
    verifying.execute(TxHash::parse(Chain::Base, &format!("0x{}", "ef".repeat(32))).unwrap(), now).unwrap();
    // A settlement linked before the watcher's verdict counts from the intent's side only.
    assert!(settled(&settlement_of(Some(&verifying), &verifying.org_id, 25_000_000, now), Some(&verifying), now).is_none());
    assert_eq!(unmatched(&verifying, now).map(|i| i.category), Some(Category::Unmatched));
}

#[test]
fn drafts_and_canceled_intents_are_in_no_category() {
    let now = Utc::now();
    let draft = intent("1.00", now);
    assert!(unmatched(&draft, now).is_none());
    let mut canceled = intent("1.00", now);
    canceled.cancel(now).unwrap();
    assert!(unmatched(&canceled, now).is_none());
}

#[test]
fn unmatched_intents_are_overdue_past_due_or_a_day_after_execute() {
    let now = Utc::now();
    let mut approved = intent("10.00", now - Duration::hours(3));
    approved.approve(ApiKeyId::generate(), now - Duration::hours(2)).unwrap();
    let item = unmatched(&approved, now).unwrap();
    assert!(!item.overdue);
    assert_eq!(item.age_seconds, 7200);
    approved.due_date = Some(now - Duration::minutes(1));
    assert!(unmatched(&approved, now).unwrap().overdue);

    let mut executed = intent("10.00", now - Duration::hours(30));
    executed.approve(ApiKeyId::generate(), now - Duration::hours(30)).unwrap();
    executed.execute(TxHash::parse(Chain::Base, &format!("0x{}", "12".repeat(32))).unwrap(), now - Duration::hours(25)).unwrap();
    assert!(unmatched(&executed, now).unwrap().overdue);
    assert!(!unmatched(&executed, now - Duration::hours(2)).unwrap().overdue);
}

#[test]
fn an_unexpected_transfer_suggests_the_one_intent_that_fits() {
    let now = Utc::now();
    let mut fits = intent("25.00", now - Duration::hours(1));
    fits.approve(ApiKeyId::generate(), now - Duration::hours(1)).unwrap();
    let unexpected = settlement_of(None, &fits.org_id, 25_000_000, now);
    assert_eq!(settled(&unexpected, None, now).map(|i| i.category), Some(Category::Unexpected));
    assert_eq!(suggestion(&unexpected, [&fits]), Some(fits.id.clone()));

    let mut twin = fits.clone();
    twin.id = PayoutId::generate();
    assert_eq!(suggestion(&unexpected, [&fits, &twin]), None, "two fit: no suggestion");
    let mut other_amount = twin.clone();
    other_amount.amount = Amount::parse_json_number("24.99").unwrap();
    assert_eq!(suggestion(&unexpected, [&fits, &other_amount]), Some(fits.id.clone()));
    let mut later = fits.clone();
    later.created_at = now + Duration::hours(1);
    assert_eq!(suggestion(&unexpected, [&later]), None, "created after the transfer");
}

#[test]
fn filters_narrow_by_chain_token_and_a_half_open_range() {
    let now = Utc::now();
    let it = intent("1.00", now);
    assert!(Filters::default().admits_intent(&it));
    assert!(Filters { chain: Some(Chain::Base), token: Some(Token::Usdc), from: Some(now), to: Some(now + Duration::seconds(1)) }.admits_intent(&it));
    assert!(!Filters { to: Some(now), ..Filters::default() }.admits_intent(&it));
    assert!(!Filters { chain: Some(Chain::Tron), ..Filters::default() }.admits_intent(&it));
}
