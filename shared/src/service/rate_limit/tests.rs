#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::adapters::embedded_store::EmbeddedStore;
use crate::domain::org::{Organization, Plan};
use crate::domain::rate_limit::RateLimits;
use crate::ports::store::Condition;

const NOW: i64 = 1_800_000_030;

fn store() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Arc::new(EmbeddedStore::open(dir.path()).unwrap()), dir)
}

fn key_with(limits: RateLimits) -> ApiKey {
    let mut org = Organization::new("Meter test".into(), Plan::Enterprise, chrono::Utc::now());
    org.rate_limits.insert(Environment::Live, limits);
    ApiKey::issue(&org, Environment::Live, chrono::Utc::now()).0
}

async fn counter(store: &dyn Store, meter: &Meter, key: &ApiKey) -> Option<Item> {
    store.get(&[meter.counter_key(&key.org_id, key.environment, NOW)]).await.unwrap().pop().flatten()
}

fn plain_put(sk: &str) -> WriteOp {
    let item =
        Item { key: ItemKey::new("TEST", sk), version: 1, expires_at: None, indexes: [None, None, None, None], attrs: Default::default(), body: "{}".into() };
    WriteOp::Put { item, condition: Some(Condition::Absent { now_unix: NOW }) }
}

#[tokio::test]
async fn an_upfront_request_is_counted_until_the_limit_then_refused_without_counting() {
    let (store, _dir) = store();
    let limiter = RateLimiter::new();
    let key = key_with(RateLimits::new(3, 1).unwrap());
    for used in 1..=3u64 {
        let meter = Meter::new(LimitClass::Reads, Charge::Upfront);
        let observed = counter(store.as_ref(), &meter, &key).await;
        meter.admit(&limiter, store.as_ref(), &key, observed.as_ref(), NOW).await.unwrap();
        let status = meter.status().unwrap();
        assert_eq!((status.limit, status.used, status.remaining(), status.exceeded), (3, used, 3 - used, false));
        assert_eq!(status.resets_at, 1_800_000_060);
    }
    let meter = Meter::new(LimitClass::Reads, Charge::Upfront);
    let observed = counter(store.as_ref(), &meter, &key).await;
    assert!(matches!(meter.admit(&limiter, store.as_ref(), &key, observed.as_ref(), NOW).await, Err(Admission::Limited)));
    assert!(meter.limited());
    assert_eq!(meter.status().unwrap().remaining(), 0);
    assert_eq!(meter.status().unwrap().retry_after(NOW), 30);
    assert_eq!(counter(store.as_ref(), &meter, &key).await.unwrap().version, 3, "a refused request is not counted");
    // The key's tenant is remembered, so its next request reads the counter with the key.
    assert_eq!(limiter.tenant_of(&key.secret_hash), Some((key.org_id.clone(), Environment::Live)));
}

#[tokio::test]
async fn a_stale_read_of_the_counter_still_cannot_pass_the_limit() {
    let (store, _dir) = store();
    let limiter = RateLimiter::new();
    let key = key_with(RateLimits::new(2, 1).unwrap());
    // Three requests that all read the counter before any of them counted (other instances).
    let mut admitted = 0;
    for _ in 0..3 {
        let meter = Meter::new(LimitClass::Reads, Charge::Upfront);
        if meter.admit(&limiter, store.as_ref(), &key, None, NOW).await.is_ok() {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 2);
}

#[tokio::test]
async fn a_mutation_counts_in_its_first_write_and_a_refused_count_refuses_the_write() {
    let (store, _dir) = store();
    let limiter = RateLimiter::new();
    let key = key_with(RateLimits::new(10, 1).unwrap());

    let meter = Arc::new(Meter::new(LimitClass::Writes, Charge::InCommit));
    meter.admit(&limiter, store.as_ref(), &key, None, NOW).await.unwrap();
    assert!(counter(store.as_ref(), &meter, &key).await.is_none(), "not counted before its commit");
    let metered = MeteredStore::new(store.clone(), meter.clone());
    metered.write(vec![plain_put("a")]).await.unwrap();
    assert_eq!(counter(store.as_ref(), &meter, &key).await.unwrap().version, 1);
    metered.write(vec![plain_put("b")]).await.unwrap();
    meter.finish(store.as_ref()).await;
    assert_eq!(counter(store.as_ref(), &meter, &key).await.unwrap().version, 1, "one request counts once");

    // A second mutation that read the counter before the first counted: its write is refused whole.
    let meter = Arc::new(Meter::new(LimitClass::Writes, Charge::InCommit));
    meter.admit(&limiter, store.as_ref(), &key, None, NOW).await.unwrap();
    let metered = MeteredStore::new(store.clone(), meter.clone());
    assert!(matches!(metered.write(vec![plain_put("c")]).await, Err(StoreError::LimitReached)));
    assert!(meter.limited());
    assert!(store.get(&[ItemKey::new("TEST", "c")]).await.unwrap()[0].is_none(), "nothing of a refused write is kept");
    // A condition of its own that fails is the service's to see, at its own position.
    let meter = Arc::new(Meter::new(LimitClass::Writes, Charge::InCommit));
    let roomy = key_with(RateLimits::new(10, 5).unwrap());
    meter.admit(&limiter, store.as_ref(), &roomy, None, NOW).await.unwrap();
    let metered = MeteredStore::new(store.clone(), meter.clone());
    match metered.write(vec![plain_put("a")]).await {
        Err(StoreError::ConditionFailed { failed }) => assert_eq!(failed, vec![0]),
        other => panic!("expected the put's condition to fail, got {other:?}"),
    }
    assert!(counter(store.as_ref(), &meter, &roomy).await.is_none(), "a failed write counts nothing");
    // ...and the request is charged once answered.
    meter.finish(store.as_ref()).await;
    assert_eq!(counter(store.as_ref(), &meter, &roomy).await.unwrap().version, 1);
    assert_eq!(meter.status().unwrap().used, 1);
}

#[tokio::test]
async fn reads_and_writes_count_apart() {
    let (store, _dir) = store();
    let limiter = RateLimiter::new();
    let key = key_with(RateLimits::new(1, 1).unwrap());
    Meter::new(LimitClass::Reads, Charge::Upfront).admit(&limiter, store.as_ref(), &key, None, NOW).await.unwrap();
    let write = Meter::new(LimitClass::Writes, Charge::Upfront);
    write.admit(&limiter, store.as_ref(), &key, None, NOW).await.unwrap();
    // The next window starts from zero.
    let next_minute = Meter::new(LimitClass::Reads, Charge::Upfront);
    next_minute.admit(&limiter, store.as_ref(), &key, None, NOW + 30).await.unwrap();
    assert_eq!(next_minute.status().unwrap().resets_at, 1_800_000_120);
}
