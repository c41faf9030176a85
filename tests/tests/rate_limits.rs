//! Per-tenant rate limits, through the whole handler stack on both stores: the headers every
//! tenant response carries, the contract's 429, exactness under concurrency, isolation between
//! tenants, failed writes counted, and limits an operator sets.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Timelike};
use http::Method;
use payouts::domain::chain::Environment;
use payouts::domain::org::Plan;
use payouts::domain::rate_limit::RateLimits;
use payouts::ports::Clock;
use payouts::service::admin;
use payouts_tests::{Harness, Response, guide_body, on_both_stores};
use serde_json::json;
use std::sync::Arc;

/// Moves the harness clock to one second into the next minute, so a test's requests share a
/// window however long it runs; answers that window's end (`X-RateLimit-Reset`).
fn start_of_a_window(h: &Harness) -> i64 {
    let now = h.clock.now();
    h.clock.advance(Duration::seconds(61 - i64::from(now.second())));
    let now = h.clock.now().timestamp();
    now - now % 60 + 60
}

fn numeric_header(response: &Response, name: &str) -> i64 {
    response.header(name).unwrap_or_else(|| panic!("no {name} on {} {}", response.status, response.raw)).parse().unwrap()
}

async fn limit(h: &Harness, environment: Environment, reads: u32, writes: u32) {
    admin::set_rate_limits(&h.app, &h.tenant.org, environment, RateLimits::new(reads, writes).unwrap()).await.unwrap();
}

async fn headers_count_down_then_the_contracts_429(h: Harness) {
    limit(&h, Environment::Live, 5, 3).await;
    let reset = start_of_a_window(&h);
    let key = h.tenant.live.clone();
    for remaining in (0..5).rev() {
        let response = h.call(Method::GET, "/v1/payouts", Some(&key), None).await;
        assert_eq!(response.status, 200, "{}", response.json);
        assert_eq!(numeric_header(&response, "x-ratelimit-limit"), 5);
        assert_eq!(numeric_header(&response, "x-ratelimit-remaining"), remaining);
        assert_eq!(numeric_header(&response, "x-ratelimit-reset"), reset);
        assert!(response.header("retry-after").is_none());
    }
    let refused = h.call(Method::GET, "/v1/payouts", Some(&key), None).await;
    assert_eq!(refused.status, 429);
    let retry_after = numeric_header(&refused, "retry-after");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        refused.json,
        json!({"error": {"type": "rate_limited", "code": "too_many_requests", "message": format!("Rate limit exceeded. Retry after {retry_after} seconds."), "param": null}})
    );
    assert_eq!((numeric_header(&refused, "x-ratelimit-remaining"), numeric_header(&refused, "x-ratelimit-reset")), (0, reset));
    // GET by id is a read too.
    assert_eq!(h.call(Method::GET, "/v1/payouts/pay_00000000000000000000000000", Some(&key), None).await.status, 429);

    // Writes have their own count.
    let mut created = Vec::new();
    for remaining in (0..3).rev() {
        let response = h.create(&key, &guide_body()).await;
        assert_eq!(response.status, 201, "{}", response.json);
        assert_eq!((numeric_header(&response, "x-ratelimit-limit"), numeric_header(&response, "x-ratelimit-remaining")), (3, remaining));
        created.push(response.id());
    }
    let refused = h.create(&key, &guide_body()).await;
    assert_eq!((refused.status, refused.error().1.as_str()), (429, "too_many_requests"), "{}", refused.json);
    assert!(refused.header("retry-after").is_some());
    let approve = h.patch(&key, &created[0], &json!({"status": "approved"})).await;
    assert_eq!(approve.status, 429, "an update is a write");

    // The next minute starts again, and the refused writes left nothing behind.
    h.clock.advance(Duration::seconds(60));
    let list = h.call(Method::GET, "/v1/payouts", Some(&key), None).await;
    assert_eq!((list.status, numeric_header(&list, "x-ratelimit-remaining"), numeric_header(&list, "x-ratelimit-reset")), (200, 4, reset + 60));
    assert_eq!(list.json["data"].as_array().unwrap().len(), 3, "{}", list.json);
    assert_eq!(h.get(&key, &created[0]).await.json["status"], "draft");

    // The sandbox of the same organization has its own (default) limits.
    let sandbox = h.call(Method::GET, "/v1/payouts", Some(&h.tenant.sandbox), None).await;
    assert_eq!((sandbox.status, numeric_header(&sandbox, "x-ratelimit-limit")), (200, 900));
}

async fn failed_writes_and_replays_count(h: Harness) {
    limit(&h, Environment::Live, 100, 3).await;
    start_of_a_window(&h);
    let key = h.tenant.live.clone();
    let invalid = h.create(&key, &json!({"amount": "lots"})).await;
    assert_eq!((invalid.status, numeric_header(&invalid, "x-ratelimit-remaining")), (400, 2), "{}", invalid.json);
    let first = h.call_with(Method::POST, "/v1/payouts", Some(&key), Some(&guide_body().to_string()), &[("idempotency-key", "rl-1")]).await;
    assert_eq!((first.status, numeric_header(&first, "x-ratelimit-remaining")), (201, 1));
    let replay = h.call_with(Method::POST, "/v1/payouts", Some(&key), Some(&guide_body().to_string()), &[("idempotency-key", "rl-1")]).await;
    assert_eq!((replay.status, replay.id(), numeric_header(&replay, "x-ratelimit-remaining")), (201, first.id(), 0));
    let refused = h.create(&key, &guide_body()).await;
    assert_eq!(refused.status, 429, "{}", refused.json);
    let list = h.call(Method::GET, "/v1/payouts", Some(&key), None).await;
    assert_eq!(list.json["data"].as_array().unwrap().len(), 1, "only the one payout exists");
}

async fn a_flooding_tenant_never_fails_another(h: Harness) {
    // The flooder and the bystander have the same small limits: their counts are apart.
    let flooder = h.tenant.clone();
    limit(&h, Environment::Live, 20, 10).await;
    let bystander = h.tenant(Plan::Enterprise).await;
    admin::set_rate_limits(&h.app, &bystander.org, Environment::Live, RateLimits::new(20, 10).unwrap()).await.unwrap();
    start_of_a_window(&h);
    let h = Arc::new(h);
    let mut flood = tokio::task::JoinSet::new();
    for n in 0..90 {
        let (h, key) = (h.clone(), flooder.live.clone());
        flood.spawn(async move {
            let response = if n % 3 == 0 { h.create(&key, &guide_body()).await } else { h.call(Method::GET, "/v1/payouts", Some(&key), None).await };
            (n % 3 == 0, response)
        });
    }
    let mut calm = tokio::task::JoinSet::new();
    for n in 0..30 {
        let (h, key) = (h.clone(), bystander.live.clone());
        calm.spawn(async move { if n % 3 == 0 { h.create(&key, &guide_body()).await } else { h.call(Method::GET, "/v1/payouts", Some(&key), None).await } });
    }
    while let Some(response) = calm.join_next().await {
        let response = response.unwrap();
        assert!(response.status < 300, "the bystander failed while another tenant flooded: {} {}", response.status, response.json);
    }
    let (mut reads, mut writes) = (0, 0);
    while let Some(joined) = flood.join_next().await {
        let (write, response) = joined.unwrap();
        match response.status {
            200 | 201 if write => writes += 1,
            200 | 201 => reads += 1,
            429 => assert_eq!(response.error().1, "too_many_requests"),
            other => panic!("the flooder got {other}: {}", response.json),
        }
    }
    assert_eq!((reads, writes), (20, 10), "exactly the limits were admitted, however the requests interleaved");
    h.clock.advance(Duration::seconds(60));
    let list = h.call(Method::GET, "/v1/payouts?limit=100", Some(&flooder.live), None).await;
    assert_eq!(list.json["data"].as_array().unwrap().len(), 10, "every refused create left nothing");
}

async fn limits_set_by_an_operator_hold_from_the_next_request(h: Harness) {
    start_of_a_window(&h);
    let key = h.tenant.live.clone();
    let before = h.call(Method::GET, "/v1/account", Some(&key), None).await;
    assert_eq!((numeric_header(&before, "x-ratelimit-limit"), numeric_header(&before, "x-ratelimit-remaining")), (1_800, 1_799));
    let write = h.create(&key, &guide_body()).await;
    assert_eq!(numeric_header(&write, "x-ratelimit-limit"), 600);
    limit(&h, Environment::Live, 2, 50).await;
    // The minute's count so far stands: one read of two is used.
    let after = h.call(Method::GET, "/v1/account", Some(&key), None).await;
    assert_eq!((after.status, numeric_header(&after, "x-ratelimit-limit"), numeric_header(&after, "x-ratelimit-remaining")), (200, 2, 0));
    assert_eq!(h.call(Method::GET, "/v1/account", Some(&key), None).await.status, 429);
    // A key minted later carries the org's limits too.
    let (_, fresh) = admin::create_key(&h.app, &h.tenant.org, Environment::Live).await.unwrap();
    assert_eq!(h.call(Method::GET, "/v1/account", Some(fresh.reveal()), None).await.status, 429, "the organization's count, not the key's");
    // Unmetered answers carry no rate-limit headers: no tenant to count.
    let health = h.call(Method::GET, "/v1/health", None, None).await;
    assert!(health.header("x-ratelimit-limit").is_none());
    let unauthenticated = h.call(Method::GET, "/v1/payouts", Some("sk_live_nope"), None).await;
    assert_eq!(unauthenticated.status, 401);
    assert!(unauthenticated.header("x-ratelimit-limit").is_none());
    assert!(RateLimits::new(0, 10).is_err() && RateLimits::new(10, 60_001).is_err());
}

on_both_stores!(
    headers_count_down_then_the_contracts_429,
    failed_writes_and_replays_count,
    a_flooding_tenant_never_fails_another,
    limits_set_by_an_operator_hold_from_the_next_request,
);
