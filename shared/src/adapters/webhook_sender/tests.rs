//! Unit tests of the webhook sender adapter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use reqwest::dns::Resolve;

#[test]
fn defaults_match_the_contract() {
    let options = WebhookSenderOptions::default();
    assert_eq!(options.timeout, Duration::from_secs(10));
    assert_eq!(options.max_response_bytes, 65536);
    assert_eq!(options.user_agent, "payouts-webhooks/1");
    assert!(options.sandbox_local_addresses);
    assert!(HttpWebhookSender::new(WebhookSenderOptions { timeout: Duration::ZERO, ..options.clone() }).is_err());
    assert!(HttpWebhookSender::new(WebhookSenderOptions { timeout: Duration::MAX, ..options.clone() }).is_err());
    assert!(HttpWebhookSender::new(WebhookSenderOptions { user_agent: "bad\nagent".into(), ..options }).is_err());
}

#[test]
fn sandbox_can_be_held_to_live_address_rules() {
    let lax = HttpWebhookSender::new(WebhookSenderOptions::default()).unwrap();
    let strict = HttpWebhookSender::new(WebhookSenderOptions { sandbox_local_addresses: false, ..WebhookSenderOptions::default() }).unwrap();
    assert!(lax.address_allowed(AddressClass::Loopback, Environment::Sandbox));
    assert!(!strict.address_allowed(AddressClass::Loopback, Environment::Sandbox));
    assert!(!strict.address_allowed(AddressClass::Private, Environment::Sandbox));
    assert!(strict.address_allowed(AddressClass::Public, Environment::Sandbox));
    assert!(!lax.address_allowed(AddressClass::Loopback, Environment::Live));
    assert!(!lax.address_allowed(AddressClass::Metadata, Environment::Sandbox));
}

#[tokio::test]
async fn the_pinned_resolver_answers_only_for_its_name() {
    let addr: SocketAddr = "203.0.113.7:443".parse().unwrap();
    let pinned = PinnedResolver { name: Some("hooks.example".into()), addrs: vec![addr] };
    let answer: Vec<SocketAddr> = pinned.resolve("HOOKS.example".parse().unwrap()).await.unwrap().collect();
    assert_eq!(answer, [addr]);
    assert!(pinned.resolve("other.example".parse().unwrap()).await.is_err());
    assert!(PinnedResolver::default().resolve("hooks.example".parse().unwrap()).await.is_err());
}

#[test]
fn error_texts_are_clipped_on_a_character_boundary() {
    assert_eq!(clip("short".into()), "short");
    let clipped = clip("é".repeat(400));
    assert!(clipped.len() <= MAX_ERROR_CHARS + '…'.len_utf8());
    assert!(clipped.ends_with('…'));
}
