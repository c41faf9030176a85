//! The store port's contract, written once and run against both adapters: the embedded SQLite
//! store (`embedded::*`) and the DynamoDB store on the emulator (`dynamodb::*`). Whatever the
//! services rely on is pinned here, so the two cannot drift apart.
//!
//! The DynamoDB half needs moto: `infra/test-env/moto.sh start`, then export the endpoint it
//! prints as `PAYOUTS_TEST_AWS_ENDPOINT` (see `support/moto.rs`). Without it those tests fail.
#![allow(clippy::expect_used, reason = "a test fails loudly, with the expectation's message")]

mod support;

use payouts::adapters::dynamodb::{CallCounter, DynamoDbStore, counted_client};
use payouts::adapters::embedded_store::EmbeddedStore;
use payouts::domain::address::TxHash;
use payouts::domain::chain::Chain;
use payouts::domain::ids::PayoutId;
use payouts::ports::queue::{TxMessage, TxQueue};
use payouts::ports::store::{AttrRange, Condition, IndexKey, IndexName, IndexPosition, IndexQuery, Item, ItemKey, Store, StoreError, WriteOp};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use support::moto;

// ---------------------------------------------------------------------------------------------
// Building blocks

fn now() -> i64 {
    let elapsed = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    i64::try_from(elapsed.as_secs()).expect("seconds fit i64")
}

fn item(pk: &str, sk: &str) -> Item {
    Item {
        key: ItemKey::new(pk, sk),
        version: 1,
        expires_at: None,
        indexes: [None, None, None, None],
        attrs: BTreeMap::new(),
        body: format!(r#"{{"pk":"{pk}","sk":"{sk}"}}"#),
    }
}

fn with_index(mut item: Item, index: IndexName, pk: &str, sk: &str) -> Item {
    item.indexes[index.position()] = Some(IndexKey { pk: pk.to_owned(), sk: sk.to_owned() });
    item
}

fn with_attr(mut item: Item, name: &str, value: &str) -> Item {
    item.attrs.insert(name.to_owned(), value.to_owned());
    item
}

fn expiring(mut item: Item, at: i64) -> Item {
    item.expires_at = Some(at);
    item
}

fn versioned(mut item: Item, version: u64) -> Item {
    item.version = version;
    item
}

fn put(item: Item) -> WriteOp {
    WriteOp::Put { item, condition: None }
}

fn put_if(item: Item, condition: Condition) -> WriteOp {
    WriteOp::Put { item, condition: Some(condition) }
}

async fn put_all(store: &dyn Store, items: Vec<Item>) {
    // Several ops per write (the seeding is faster), few enough to stay far below DynamoDB's 100.
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        let ops: Vec<WriteOp> = items.by_ref().take(20).map(put).collect();
        store.write(ops).await.expect("seed items");
    }
}

async fn get_one(store: &dyn Store, key: &ItemKey) -> Option<Item> {
    let mut found = store.get(std::slice::from_ref(key)).await.expect("get");
    assert_eq!(found.len(), 1, "one answer per key");
    found.pop().flatten()
}

fn query(index: IndexName, pk: &str, limit: usize) -> IndexQuery {
    IndexQuery { index, pk: pk.to_owned(), sk_at_least: None, sk_at_most: None, after: None, filters: Vec::new(), descending: true, limit, now_unix: now() }
}

fn position_of(item: &Item, index: IndexName) -> IndexPosition {
    let key = item.index(index).expect("a queried item has the index key");
    IndexPosition { index_sk: key.sk.clone(), key: item.key.clone() }
}

fn sks(items: &[Item]) -> Vec<String> {
    items.iter().map(|item| item.key.sk.clone()).collect()
}

/// Follows `after` page by page until a short page; returns every page's sort keys.
async fn all_pages(store: &dyn Store, mut query: IndexQuery) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    loop {
        let page = store.query(&query).await.expect("query");
        assert!(page.len() <= query.limit, "a page never exceeds the limit");
        pages.push(sks(&page));
        match page.last() {
            Some(last) if page.len() == query.limit => query.after = Some(position_of(last, query.index)),
            _ => return pages,
        }
        assert!(pages.len() < 100, "pagination does not end");
    }
}

fn expect_condition_failed(result: Result<(), StoreError>, positions: &[usize]) {
    match result {
        Err(StoreError::ConditionFailed { failed }) => assert_eq!(failed, positions, "failing positions"),
        other => panic!("expected ConditionFailed at {positions:?}, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The contract

async fn round_trip_of_every_field(store: Arc<dyn Store>) {
    let full = Item {
        key: ItemKey::new("ORG#org_1", "PAYOUT#po_1"),
        version: 7,
        expires_at: Some(now() + 3600),
        indexes: [
            Some(IndexKey { pk: "ORG#org_1#PAYOUTS".into(), sk: "2025-01-02T03:04:05Z#po_1".into() }),
            Some(IndexKey { pk: "ORG#org_1#STATUS#pending".into(), sk: "2025-01-02T03:04:05Z#po_1".into() }),
            Some(IndexKey { pk: "WORK#submit".into(), sk: "0001736000000#po_1".into() }),
            Some(IndexKey { pk: "ORG#org_1#STATUS#pending#tron#USDT".into(), sk: "2025-01-02T03:04:05Z#po_1".into() }),
        ],
        attrs: BTreeMap::from([("status".to_owned(), "pending".to_owned()), ("amount".to_owned(), "000000100.000000".to_owned())]),
        body: r#"{"id":"po_1","memo":"café ☕ \"quoted\"","nested":{"n":[1,2,3]}}"#.to_owned(),
    };
    let bare = item("ORG#org_1", "BARE");
    let only_gsi2 = with_index(item("ORG#org_1", "ONLY2"), IndexName::Gsi2, "P2", "S2");
    store.write(vec![put(full.clone())]).await.expect("put full");
    store.write(vec![put(bare.clone()), put(only_gsi2.clone())]).await.expect("put bare and sparse");

    assert_eq!(get_one(&*store, &full.key).await, Some(full.clone()));
    assert_eq!(get_one(&*store, &bare.key).await, Some(bare.clone()));
    assert_eq!(get_one(&*store, &only_gsi2.key).await, Some(only_gsi2.clone()));

    // What a query returns is the same item, field for field.
    let by_index = query(IndexName::Gsi3, "WORK#submit", 10);
    assert_eq!(store.query(&by_index).await.expect("query"), vec![full.clone()]);

    // A put replaces the whole item: dropped index keys, attrs and expiry are gone.
    let replaced = Item { version: 8, expires_at: None, indexes: [None, None, None, None], attrs: BTreeMap::new(), body: "{}".into(), ..full.clone() };
    store.write(vec![put_if(replaced.clone(), Condition::Version(7))]).await.expect("replace");
    assert_eq!(get_one(&*store, &full.key).await, Some(replaced));
    assert!(store.query(&by_index).await.expect("query").is_empty(), "the replaced item left the index");
}

async fn get_many_in_order(store: Arc<dyn Store>) {
    let a = item("P", "a");
    let b = with_attr(item("P", "b"), "x", "1");
    let c = item("Q", "c");
    let expired = expiring(item("P", "expired"), now() - 10);
    put_all(&*store, vec![a.clone(), b.clone(), c.clone(), expired.clone()]).await;

    let keys = [c.key.clone(), ItemKey::new("P", "missing"), a.key.clone(), b.key.clone(), a.key.clone(), expired.key.clone()];
    let found = store.get(&keys).await.expect("get many");
    assert_eq!(found, vec![Some(c.clone()), None, Some(a.clone()), Some(b.clone()), Some(a.clone()), Some(expired.clone())]);

    assert_eq!(store.get(&[]).await.expect("get none"), Vec::<Option<Item>>::new());
    assert_eq!(store.get(&[ItemKey::new("P", "missing")]).await.expect("get missing"), vec![None]);
    assert_eq!(store.get(&[ItemKey::new("nobody", "1"), ItemKey::new("nobody", "2")]).await.expect("get missing"), vec![None, None]);
    // The expired item is returned as it is: callers decide.
    let got = get_one(&*store, &expired.key).await.expect("expired item still readable");
    assert!(got.is_expired(now()));
}

async fn absent_condition(store: Arc<dyn Store>) {
    let t = now();
    let first = item("P", "one");
    store.write(vec![put_if(first.clone(), Condition::Absent { now_unix: t })]).await.expect("absent on a new key");
    expect_condition_failed(store.write(vec![put_if(versioned(first.clone(), 9), Condition::Absent { now_unix: t })]).await, &[0]);
    assert_eq!(get_one(&*store, &first.key).await, Some(first));

    // Expired (at or before now) counts as absent; not yet expired does not.
    let expired = expiring(item("P", "expired"), t - 100);
    let expires_now = expiring(item("P", "now"), t);
    let alive = expiring(item("P", "alive"), t + 100);
    put_all(&*store, vec![expired.clone(), expires_now.clone(), alive.clone()]).await;
    let fresh = |key: &Item| versioned(with_attr(item(&key.key.pk, &key.key.sk), "fresh", "yes"), 1);
    store.write(vec![put_if(fresh(&expired), Condition::Absent { now_unix: t })]).await.expect("expired counts as absent");
    store.write(vec![put_if(fresh(&expires_now), Condition::Absent { now_unix: t })]).await.expect("expiring now counts as absent");
    expect_condition_failed(store.write(vec![put_if(fresh(&alive), Condition::Absent { now_unix: t })]).await, &[0]);
    assert_eq!(get_one(&*store, &expired.key).await, Some(fresh(&expired)));
    assert_eq!(get_one(&*store, &expires_now.key).await, Some(fresh(&expires_now)));
    assert_eq!(get_one(&*store, &alive.key).await, Some(alive.clone()));
    // The same item is absent for a later clock.
    store.write(vec![put_if(fresh(&alive), Condition::Absent { now_unix: t + 100 })]).await.expect("absent later");
}

async fn version_condition(store: Arc<dyn Store>) {
    let v1 = item("P", "doc");
    store.write(vec![put_if(v1.clone(), Condition::Absent { now_unix: now() })]).await.expect("create");
    let v2 = with_attr(versioned(v1.clone(), 2), "status", "second");
    store.write(vec![put_if(v2.clone(), Condition::Version(1))]).await.expect("1 → 2");
    expect_condition_failed(store.write(vec![put_if(versioned(v1.clone(), 3), Condition::Version(1))]).await, &[0]);
    expect_condition_failed(store.write(vec![put_if(versioned(v1.clone(), 3), Condition::Version(3))]).await, &[0]);
    assert_eq!(get_one(&*store, &v1.key).await, Some(v2));
    // A version condition on a missing item fails.
    expect_condition_failed(store.write(vec![put_if(item("P", "missing"), Condition::Version(1))]).await, &[0]);
    assert_eq!(get_one(&*store, &ItemKey::new("P", "missing")).await, None);
}

async fn multi_op_write_is_all_or_nothing(store: Arc<dyn Store>) {
    let x = item("T", "x");
    let y = item("T", "y");
    let r = item("T", "r");
    put_all(&*store, vec![x.clone(), y.clone(), r.clone()]).await;
    let z = item("T", "z");

    let ops = vec![
        put_if(z.clone(), Condition::Absent { now_unix: now() }),                         // holds
        put_if(versioned(x.clone(), 3), Condition::Version(2)),                           // fails: x is at 1
        WriteOp::Check { key: y.key.clone(), condition: Condition::Version(1) },          // holds
        WriteOp::Check { key: ItemKey::new("T", "q"), condition: Condition::Version(1) }, // fails: missing
        WriteOp::Delete { key: r.key.clone(), condition: Some(Condition::Version(1)) },   // holds
        put(item("T", "unconditional")),
    ];
    expect_condition_failed(store.write(ops).await, &[1, 3]);
    let after = store.get(&[x.key.clone(), y.key.clone(), z.key.clone(), r.key.clone(), ItemKey::new("T", "unconditional")]).await.expect("get");
    assert_eq!(after, vec![Some(x.clone()), Some(y.clone()), None, Some(r.clone()), None], "nothing of a refused write happened");

    // A failing Check alone refuses a write that would otherwise succeed.
    let ops = vec![put(versioned(x.clone(), 2)), WriteOp::Check { key: y.key.clone(), condition: Condition::Absent { now_unix: now() } }];
    expect_condition_failed(store.write(ops).await, &[1]);
    assert_eq!(get_one(&*store, &x.key).await, Some(x.clone()));

    // A lone Check.
    expect_condition_failed(store.write(vec![WriteOp::Check { key: x.key.clone(), condition: Condition::Version(5) }]).await, &[0]);
    store.write(vec![WriteOp::Check { key: x.key.clone(), condition: Condition::Version(1) }]).await.expect("check holds");

    // When every condition holds, every op happens.
    let ops = vec![
        put_if(z.clone(), Condition::Absent { now_unix: now() }),
        put_if(versioned(x.clone(), 2), Condition::Version(1)),
        WriteOp::Check { key: y.key.clone(), condition: Condition::Version(1) },
        WriteOp::Delete { key: r.key.clone(), condition: Some(Condition::Version(1)) },
    ];
    store.write(ops).await.expect("all conditions hold");
    let after = store.get(&[x.key.clone(), y.key.clone(), z.key.clone(), r.key.clone()]).await.expect("get");
    assert_eq!(after, vec![Some(versioned(x, 2)), Some(y), Some(z), None]);
}

async fn delete_with_condition(store: Arc<dyn Store>) {
    let doc = with_index(item("P", "doc"), IndexName::Gsi1, "LIST", "1");
    store.write(vec![put(doc.clone())]).await.expect("put");
    expect_condition_failed(store.write(vec![WriteOp::Delete { key: doc.key.clone(), condition: Some(Condition::Version(2)) }]).await, &[0]);
    expect_condition_failed(store.write(vec![WriteOp::Delete { key: doc.key.clone(), condition: Some(Condition::Absent { now_unix: now() }) }]).await, &[0]);
    assert_eq!(get_one(&*store, &doc.key).await, Some(doc.clone()));
    store.write(vec![WriteOp::Delete { key: doc.key.clone(), condition: Some(Condition::Version(1)) }]).await.expect("delete v1");
    assert_eq!(get_one(&*store, &doc.key).await, None);
    assert!(store.query(&query(IndexName::Gsi1, "LIST", 10)).await.expect("query").is_empty(), "deleted items leave the index");
    // Deleting what is not there: fine without a condition, refused under a version condition.
    store.write(vec![WriteOp::Delete { key: doc.key.clone(), condition: None }]).await.expect("delete missing");
    expect_condition_failed(store.write(vec![WriteOp::Delete { key: doc.key.clone(), condition: Some(Condition::Version(1)) }]).await, &[0]);
}

async fn query_orders_by_index_sort_key(store: Arc<dyn Store>) {
    // Inserted out of order, table keys deliberately unrelated to the index order.
    let days = ["03", "01", "05", "02", "04"];
    let mut items = Vec::new();
    for (n, day) in days.iter().enumerate() {
        let id = format!("id{}", 9 - n);
        items.push(with_index(item(&format!("OWNER#{id}"), &id), IndexName::Gsi1, "LIST#a", &format!("2025-01-{day}#{id}")));
    }
    // Other partitions and other indexes do not leak in.
    items.push(with_index(item("OTHER", "o1"), IndexName::Gsi1, "LIST#b", "2025-01-03#o1"));
    items.push(with_index(item("OTHER", "o2"), IndexName::Gsi2, "LIST#a", "2025-01-03#o2"));
    items.push(with_index(item("OTHER", "o3"), IndexName::Gsi3, "LIST#a", "2025-01-03#o3"));
    put_all(&*store, items).await;

    let newest_first = store.query(&query(IndexName::Gsi1, "LIST#a", 10)).await.expect("query");
    let order: Vec<String> = newest_first.iter().map(|item| item.index(IndexName::Gsi1).expect("indexed").sk.clone()).collect();
    assert_eq!(order, ["2025-01-05#id7", "2025-01-04#id5", "2025-01-03#id9", "2025-01-02#id6", "2025-01-01#id8"]);

    let oldest_first = store.query(&IndexQuery { descending: false, ..query(IndexName::Gsi1, "LIST#a", 10) }).await.expect("query");
    let mut reversed = newest_first.clone();
    reversed.reverse();
    assert_eq!(oldest_first, reversed);

    // limit counts items; each index is its own.
    assert_eq!(sks(&store.query(&query(IndexName::Gsi1, "LIST#a", 2)).await.expect("query")), ["id7", "id5"]);
    assert_eq!(sks(&store.query(&query(IndexName::Gsi2, "LIST#a", 10)).await.expect("query")), ["o2"]);
    assert_eq!(sks(&store.query(&query(IndexName::Gsi3, "LIST#a", 10)).await.expect("query")), ["o3"]);
    assert!(store.query(&query(IndexName::Gsi1, "LIST#none", 10)).await.expect("query").is_empty());
}

async fn pagination_with_after(store: Arc<dyn Store>) {
    let items: Vec<Item> = (0..25)
        .map(|n| with_index(item(&format!("ORG#{}", n % 3), &format!("po_{n:02}")), IndexName::Gsi1, "PAGES", &format!("t{:03}#po_{n:02}", (n * 7) % 25)))
        .collect();
    put_all(&*store, items.clone()).await;
    let mut expected: Vec<(String, String)> =
        items.iter().map(|item| (item.index(IndexName::Gsi1).expect("indexed").sk.clone(), item.key.sk.clone())).collect();
    expected.sort();
    let ascending: Vec<String> = expected.iter().map(|(_, sk)| sk.clone()).collect();
    let mut descending = ascending.clone();
    descending.reverse();

    for (is_descending, want) in [(true, &descending), (false, &ascending)] {
        let pages = all_pages(&*store, IndexQuery { descending: is_descending, ..query(IndexName::Gsi1, "PAGES", 7) }).await;
        assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [7, 7, 7, 4], "page sizes (descending: {is_descending})");
        let seen: Vec<String> = pages.concat();
        assert_eq!(&seen, want, "no duplicates, no gaps (descending: {is_descending})");
    }

    // Resuming after the very last item gives an empty page; after a position that is not an
    // item (deleted meanwhile) resumes at the next one.
    let last = store.query(&IndexQuery { descending: false, ..query(IndexName::Gsi1, "PAGES", 25) }).await.expect("query");
    let after_last = IndexQuery { descending: false, after: Some(position_of(&last[24], IndexName::Gsi1)), ..query(IndexName::Gsi1, "PAGES", 7) };
    assert!(store.query(&after_last).await.expect("query").is_empty());
    let gone = IndexPosition { index_sk: "t010#zzz".into(), key: ItemKey::new("ORG#gone", "zzz") };
    let index_sks = |items: Vec<Item>| items.iter().map(|item| item.index(IndexName::Gsi1).expect("indexed").sk.clone()).collect::<Vec<_>>();
    let resumed = store.query(&IndexQuery { descending: false, after: Some(gone.clone()), ..query(IndexName::Gsi1, "PAGES", 2) }).await.expect("query");
    assert_eq!(index_sks(resumed), ["t011#po_23", "t012#po_16"]);
    let resumed = store.query(&IndexQuery { descending: true, after: Some(gone), ..query(IndexName::Gsi1, "PAGES", 2) }).await.expect("query");
    assert_eq!(index_sks(resumed), ["t010#po_05", "t009#po_12"]);
}

async fn sk_at_most(store: Arc<dyn Store>) {
    let items: Vec<Item> = (1..=10).map(|n| with_index(item("WORK", &format!("job{n:02}")), IndexName::Gsi3, "DUE", &format!("{n:04}#job{n:02}"))).collect();
    put_all(&*store, items).await;
    let due = |descending: bool, limit: usize| IndexQuery { sk_at_most: Some("0005#job05".into()), descending, ..query(IndexName::Gsi3, "DUE", limit) };
    assert_eq!(sks(&store.query(&due(false, 10)).await.expect("query")), ["job01", "job02", "job03", "job04", "job05"]);
    assert_eq!(sks(&store.query(&due(true, 10)).await.expect("query")), ["job05", "job04", "job03", "job02", "job01"]);
    // A bound between two keys, and pages under a bound.
    let between = IndexQuery { sk_at_most: Some("0007".into()), descending: false, ..query(IndexName::Gsi3, "DUE", 10) };
    assert_eq!(store.query(&between).await.expect("query").len(), 6);
    assert_eq!(all_pages(&*store, due(false, 2)).await, [vec!["job01", "job02"], vec!["job03", "job04"], vec!["job05"]]);
    assert_eq!(all_pages(&*store, due(true, 2)).await, [vec!["job05", "job04"], vec!["job03", "job02"], vec!["job01"]]);
    let none_due = IndexQuery { sk_at_most: Some("0000".into()), ..query(IndexName::Gsi3, "DUE", 10) };
    assert!(store.query(&none_due).await.expect("query").is_empty());
}

async fn sk_ranges(store: Arc<dyn Store>) {
    let items: Vec<Item> = (1..=10).map(|n| with_index(item("LOG", &format!("e{n:02}")), IndexName::Gsi1, "EVENTS", &format!("{n:04}#e{n:02}"))).collect();
    put_all(&*store, items).await;
    let since = |low: &str, high: Option<&str>, descending: bool, limit: usize| IndexQuery {
        sk_at_least: Some(low.into()),
        sk_at_most: high.map(str::to_owned),
        descending,
        ..query(IndexName::Gsi1, "EVENTS", limit)
    };
    assert_eq!(sks(&store.query(&since("0008", None, false, 10)).await.expect("query")), ["e08", "e09", "e10"]);
    assert_eq!(sks(&store.query(&since("0003#e03", Some("0005#~"), true, 10)).await.expect("query")), ["e05", "e04", "e03"]);
    assert_eq!(all_pages(&*store, since("0002", Some("0006"), false, 3)).await, [vec!["e02", "e03", "e04"], vec!["e05"]]);
    assert_eq!(all_pages(&*store, since("0002", Some("0006"), true, 3)).await, [vec!["e05", "e04", "e03"], vec!["e02"]]);
    assert!(store.query(&since("0006", Some("0005"), false, 10)).await.expect("query").is_empty(), "an empty range");
}

async fn attribute_range_filters(store: Arc<dyn Store>) {
    // 60 items; 6 of kind "a" (n % 10 == 3), the rest "b" or without the attribute at all.
    let mut items = Vec::new();
    for n in 0..60u32 {
        let mut it = with_index(item("F", &format!("i{n:02}")), IndexName::Gsi2, "FILTERED", &format!("{n:02}"));
        it = with_attr(it, "n", &format!("{n:03}"));
        if n % 10 == 3 {
            it = with_attr(it, "kind", "a");
        } else if n % 7 != 0 {
            it = with_attr(it, "kind", "b");
        }
        items.push(it);
    }
    // Matching attributes but outside the index (sparse) or expired: never returned.
    items.push(with_attr(item("F", "unindexed"), "kind", "a"));
    items.push(expiring(with_attr(with_index(item("F", "expired"), IndexName::Gsi2, "FILTERED", "35x"), "kind", "a"), now() - 1));
    put_all(&*store, items).await;

    let kind_a = AttrRange { attr: "kind".into(), greater_than: None, less_than: Some("b".into()), equals: None };
    let filtered = |filters: Vec<AttrRange>, descending: bool, limit: usize| IndexQuery { filters, descending, ..query(IndexName::Gsi2, "FILTERED", limit) };

    // Pages of 2 where most items are filtered out: limit counts matching items.
    assert_eq!(all_pages(&*store, filtered(vec![kind_a.clone()], false, 2)).await, [vec!["i03", "i13"], vec!["i23", "i33"], vec!["i43", "i53"], vec![]]);
    assert_eq!(all_pages(&*store, filtered(vec![kind_a.clone()], true, 4)).await, [vec!["i53", "i43", "i33", "i23"], vec!["i13", "i03"]]);
    // Bounds are strict; two filters must both hold; a missing attribute fails its range.
    let n_range = AttrRange { attr: "n".into(), greater_than: Some("013".into()), less_than: Some("053".into()), equals: None };
    assert_eq!(sks(&store.query(&filtered(vec![kind_a.clone(), n_range], false, 10)).await.expect("query")), ["i23", "i33", "i43"]);
    let any_kind = AttrRange { attr: "kind".into(), greater_than: Some("0".into()), less_than: None, equals: None };
    assert_eq!(store.query(&filtered(vec![any_kind], false, 100)).await.expect("query").len(), 60 - 9, "items without the attribute are filtered out");
    let gt_b = AttrRange { attr: "kind".into(), greater_than: Some("b".into()), less_than: None, equals: None };
    assert!(store.query(&filtered(vec![gt_b], false, 100)).await.expect("query").is_empty());
    let nothing = AttrRange { attr: "missing".into(), greater_than: None, less_than: None, equals: None };
    assert!(store.query(&filtered(vec![nothing], false, 100)).await.expect("query").is_empty());
    // Equality, and presence alone.
    let only_a = AttrRange::equal_to("kind", "a");
    assert_eq!(sks(&store.query(&filtered(vec![only_a], false, 100)).await.expect("query")), ["i03", "i13", "i23", "i33", "i43", "i53"]);
    let only_c = AttrRange::equal_to("kind", "c");
    assert!(store.query(&filtered(vec![only_c], false, 100)).await.expect("query").is_empty());
    assert_eq!(store.query(&filtered(vec![AttrRange::present("kind")], false, 100)).await.expect("query").len(), 60 - 9);
}

async fn expired_items_are_skipped(store: Arc<dyn Store>) {
    let t = now();
    let mut items = Vec::new();
    for n in 0..20 {
        let it = with_index(item("E", &format!("e{n:02}")), IndexName::Gsi1, "EXPIRING", &format!("{n:02}"));
        items.push(match n % 4 {
            0 => it,                     // never expires
            1 => expiring(it, t + 1000), // not yet
            2 => expiring(it, t),        // expired exactly now
            _ => expiring(it, t - 1000), // long expired
        });
    }
    put_all(&*store, items).await;
    let at = |now_unix: i64, limit: usize| IndexQuery { now_unix, descending: false, ..query(IndexName::Gsi1, "EXPIRING", limit) };
    let live = ["e00", "e01", "e04", "e05", "e08", "e09", "e12", "e13", "e16", "e17"];
    assert_eq!(sks(&store.query(&at(t, 100)).await.expect("query")), live);
    assert_eq!(all_pages(&*store, at(t, 3)).await.concat(), live);
    // A later clock expires more; an earlier one fewer.
    assert_eq!(store.query(&at(t + 1000, 100)).await.expect("query").len(), 5);
    assert_eq!(store.query(&at(t - 1000, 100)).await.expect("query").len(), 15);
}

async fn sparse_indexes(store: Arc<dyn Store>) {
    let in_1 = with_index(item("S", "in1"), IndexName::Gsi1, "SPARSE", "1");
    let in_1_and_3 = with_index(with_index(item("S", "in13"), IndexName::Gsi1, "SPARSE", "2"), IndexName::Gsi3, "SPARSE", "2");
    let in_none = with_attr(item("S", "none"), "kind", "a");
    put_all(&*store, vec![in_1.clone(), in_1_and_3.clone(), in_none]).await;
    assert_eq!(sks(&store.query(&query(IndexName::Gsi1, "SPARSE", 10)).await.expect("query")), ["in13", "in1"]);
    assert!(store.query(&query(IndexName::Gsi2, "SPARSE", 10)).await.expect("query").is_empty());
    assert_eq!(sks(&store.query(&query(IndexName::Gsi3, "SPARSE", 10)).await.expect("query")), ["in13"]);
    // Leaving an index by a replace (a work item done).
    let done = Item { indexes: [in_1_and_3.indexes[0].clone(), None, None, None], version: 2, ..in_1_and_3 };
    store.write(vec![put_if(done, Condition::Version(1))]).await.expect("replace");
    assert!(store.query(&query(IndexName::Gsi3, "SPARSE", 10)).await.expect("query").is_empty());
    assert_eq!(store.query(&query(IndexName::Gsi1, "SPARSE", 10)).await.expect("query").len(), 2);
}

async fn race(store: &Arc<dyn Store>, writes: Vec<WriteOp>) -> usize {
    let mut tasks = tokio::task::JoinSet::new();
    for op in writes {
        let store = Arc::clone(store);
        tasks.spawn(async move { store.write(vec![op]).await });
    }
    let mut winners = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("writer task") {
            Ok(()) => winners += 1,
            Err(StoreError::ConditionFailed { failed }) => assert_eq!(failed, [0]),
            Err(other) => panic!("a racing write failed otherwise: {other}"),
        }
    }
    winners
}

async fn concurrent_version_puts_have_one_winner(store: Arc<dyn Store>) {
    let doc = item("RACE", "doc");
    store.write(vec![put(doc.clone())]).await.expect("put v1");
    let contenders: Vec<WriteOp> = (0..20).map(|n| put_if(with_attr(versioned(doc.clone(), 2), "writer", &format!("{n:02}")), Condition::Version(1))).collect();
    assert_eq!(race(&store, contenders).await, 1, "exactly one Version(1) put wins");
    let stored = get_one(&*store, &doc.key).await.expect("still there");
    assert_eq!(stored.version, 2);
    assert!(stored.attrs.contains_key("writer"));
}

async fn concurrent_absent_puts_have_one_winner(store: Arc<dyn Store>) {
    let contenders: Vec<WriteOp> =
        (0..20).map(|n| put_if(with_attr(item("RACE", "new"), "writer", &format!("{n:02}")), Condition::Absent { now_unix: now() })).collect();
    assert_eq!(race(&store, contenders).await, 1, "exactly one Absent put wins");
    assert!(get_one(&*store, &ItemKey::new("RACE", "new")).await.is_some());
}

fn count(pk: &str, limit: u64) -> WriteOp {
    WriteOp::Count { key: ItemKey::new(pk, "reads#0"), limit, expires_at: now() + 120 }
}

async fn counter_counts_up_to_its_limit_then_refuses_at_its_position(store: Arc<dyn Store>) {
    for expected in 1..=3 {
        store.write(vec![count("RATE#a", 3)]).await.expect("below the limit");
        let counter = get_one(&*store, &ItemKey::new("RATE#a", "reads#0")).await.expect("the counter exists");
        assert_eq!((counter.version, counter.body.as_str()), (expected, ""));
        assert!(counter.expires_at.is_some());
    }
    match store.write(vec![count("RATE#a", 3)]).await {
        Err(StoreError::ConditionFailed { failed }) => assert_eq!(failed, [0]),
        other => panic!("the fourth count should be refused, got {other:?}"),
    }
    assert_eq!(get_one(&*store, &ItemKey::new("RATE#a", "reads#0")).await.expect("still there").version, 3);
    // A higher limit (an operator raised it) lets the same counter go on.
    store.write(vec![count("RATE#a", 4)]).await.expect("under the raised limit");
}

async fn counter_rides_in_a_transaction_all_or_nothing(store: Arc<dyn Store>) {
    store.write(vec![put(item("T", "taken"))]).await.expect("seed");
    // With a put: both happen.
    store.write(vec![put_if(item("T", "one"), Condition::Absent { now_unix: now() }), count("RATE#t", 2)]).await.expect("put and count");
    assert_eq!(get_one(&*store, &ItemKey::new("RATE#t", "reads#0")).await.expect("counted").version, 1);
    // The put's condition fails: nothing is counted, and the failure is the put's.
    match store.write(vec![put_if(item("T", "taken"), Condition::Absent { now_unix: now() }), count("RATE#t", 2)]).await {
        Err(StoreError::ConditionFailed { failed }) => assert_eq!(failed, [0]),
        other => panic!("expected the put to fail, got {other:?}"),
    }
    assert_eq!(get_one(&*store, &ItemKey::new("RATE#t", "reads#0")).await.expect("counted").version, 1);
    store.write(vec![put_if(item("T", "two"), Condition::Absent { now_unix: now() }), count("RATE#t", 2)]).await.expect("second");
    // The counter at its limit: the put is not written either.
    match store.write(vec![put_if(item("T", "three"), Condition::Absent { now_unix: now() }), count("RATE#t", 2)]).await {
        Err(StoreError::ConditionFailed { failed }) => assert_eq!(failed, [1]),
        other => panic!("expected the counter to refuse, got {other:?}"),
    }
    assert!(get_one(&*store, &ItemKey::new("T", "three")).await.is_none(), "nothing of a refused write is kept");
}

async fn concurrent_counts_admit_exactly_the_limit(store: Arc<dyn Store>) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..25 {
        let store = Arc::clone(&store);
        tasks.spawn(async move {
            // As the metering store does: a write that met a concurrent transaction is retried.
            loop {
                match store.write(vec![count("RATE#race", 10)]).await {
                    Err(StoreError::Contention) => tokio::task::yield_now().await,
                    result => return result,
                }
            }
        });
    }
    let mut admitted = 0;
    while let Some(joined) = tasks.join_next().await {
        match joined.expect("counting task") {
            Ok(()) => admitted += 1,
            Err(StoreError::ConditionFailed { failed }) => assert_eq!(failed, [0]),
            Err(other) => panic!("a count failed otherwise: {other}"),
        }
    }
    assert_eq!(admitted, 10);
    assert_eq!(get_one(&*store, &ItemKey::new("RATE#race", "reads#0")).await.expect("counted").version, 10);
}

macro_rules! contract {
    ($($name:ident),+ $(,)?) => {
        /// The embedded SQLite store.
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let store = super::EmbeddedStore::open(dir.path()).expect("open the embedded store");
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )+
        }

        /// The DynamoDB store on the emulator, a fresh table per test.
        mod dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
                async fn $name() {
                    let (store, _client, _table) = super::moto::fresh_table().await;
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )+
        }
    };
}

contract!(
    round_trip_of_every_field,
    get_many_in_order,
    absent_condition,
    version_condition,
    multi_op_write_is_all_or_nothing,
    delete_with_condition,
    query_orders_by_index_sort_key,
    pagination_with_after,
    sk_at_most,
    sk_ranges,
    attribute_range_filters,
    expired_items_are_skipped,
    sparse_indexes,
    concurrent_version_puts_have_one_winner,
    concurrent_absent_puts_have_one_winner,
    two_ops_on_one_item_are_refused,
    counter_counts_up_to_its_limit_then_refuses_at_its_position,
    counter_rides_in_a_transaction_all_or_nothing,
    concurrent_counts_admit_exactly_the_limit,
);

// ---------------------------------------------------------------------------------------------
// DynamoDB specifics: round trips, the query page loop, SQS

#[tokio::test]
async fn dynamodb_call_counter_counts_one_round_trip_per_port_call() {
    let (_, client, table) = moto::fresh_table().await;
    let counter = CallCounter::new();
    let counted = counted_client(&moto::sdk_config().await, &counter);
    let store = DynamoDbStore::new(counted, table.clone());
    drop(client);

    let a = with_index(item("C", "a"), IndexName::Gsi1, "COUNT", "1");
    let b = with_index(item("C", "b"), IndexName::Gsi1, "COUNT", "2");
    store.write(vec![put(a.clone())]).await.expect("put");
    store.write(vec![put(b.clone()), WriteOp::Check { key: a.key.clone(), condition: Condition::Version(1) }]).await.expect("transact");
    store.get(std::slice::from_ref(&a.key)).await.expect("get one");
    store.get(&[a.key.clone(), b.key.clone()]).await.expect("get two");
    store.write(vec![WriteOp::Delete { key: b.key.clone(), condition: Some(Condition::Version(1)) }]).await.expect("delete");
    store.write(vec![WriteOp::Check { key: a.key.clone(), condition: Condition::Version(1) }]).await.expect("check");
    store.query(&query(IndexName::Gsi1, "COUNT", 10)).await.expect("query");
    // A conditional single delete (or put) is a one-item transaction: its request token makes a
    // retry after a lost answer harmless. An unconditional put stays a PutItem.
    assert_eq!(counter.snapshot(), ["PutItem", "TransactWriteItems", "GetItem", "BatchGetItem", "TransactWriteItems", "TransactWriteItems", "Query"]);
    assert_eq!(counter.count("TransactWriteItems"), 3);

    counter.reset();
    assert!(counter.snapshot().is_empty());
    expect_condition_failed(store.write(vec![put_if(a.clone(), Condition::Absent { now_unix: now() })]).await, &[0]);
    assert_eq!(counter.snapshot(), ["TransactWriteItems"], "a refused write is one call too (no re-read unless the SDK retried)");
}

#[tokio::test]
async fn dynamodb_filtered_query_follows_pages_until_the_limit() {
    let (_, _client, table) = moto::fresh_table().await;
    let counter = CallCounter::new();
    let store = DynamoDbStore::new(counted_client(&moto::sdk_config().await, &counter), table);
    // 100 items, 3 matching, far apart: DynamoDB's Limit applies before the filter, so the
    // adapter must follow LastEvaluatedKey across several pages.
    let items: Vec<Item> = (0..100u32)
        .map(|n| {
            let it = with_index(item("L", &format!("l{n:03}")), IndexName::Gsi1, "LOOP", &format!("{n:03}"));
            with_attr(it, "kind", if n % 40 == 5 { "a" } else { "b" })
        })
        .collect();
    put_all(&store, items).await;
    counter.reset();
    let kind_a = AttrRange { attr: "kind".into(), greater_than: None, less_than: Some("b".into()), equals: None };
    let found = store.query(&IndexQuery { filters: vec![kind_a.clone()], descending: false, ..query(IndexName::Gsi1, "LOOP", 3) }).await.expect("query");
    assert_eq!(sks(&found), ["l005", "l045", "l085"]);
    assert!(counter.count("Query") > 1, "several Query pages: {:?}", counter.snapshot());
    assert_eq!(counter.snapshot().len(), counter.count("Query"), "never anything but Query (no Scan)");

    // Unfiltered: exactly one round trip for a full page.
    counter.reset();
    let page = store.query(&query(IndexName::Gsi1, "LOOP", 30)).await.expect("query");
    assert_eq!(page.len(), 30);
    assert_eq!(counter.snapshot(), ["Query"]);
}

/// Two ops on one item in one write are refused (DynamoDB's rule; the embedded store follows it,
/// since conditions are checked before anything is applied and both could pass).
async fn two_ops_on_one_item_are_refused(store: Arc<dyn Store>) {
    let a = item("D", "a");
    match store.write(vec![put(a.clone()), WriteOp::Check { key: a.key.clone(), condition: Condition::Version(1) }]).await {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("two ops"), "{message}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let twice = vec![put_if(a.clone(), Condition::Absent { now_unix: now() }), put_if(with_attr(a.clone(), "n", "2"), Condition::Absent { now_unix: now() })];
    assert!(store.write(twice).await.is_err());
    assert_eq!(get_one(&*store, &a.key).await, None, "nothing written");
}

#[tokio::test]
async fn dynamodb_unreachable_endpoint_is_unavailable() {
    let config = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("http://127.0.0.1:9")
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "tests",
        )))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .build();
    let store = DynamoDbStore::new(aws_sdk_dynamodb::Client::new(&config), "nowhere");
    match store.get(&[ItemKey::new("a", "b")]).await {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("GetItem"), "{message}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    // A missing table is a service error, with its code in the message.
    let (_, client, _) = moto::fresh_table().await;
    let store = DynamoDbStore::new(client, "no-such-table");
    match store.write(vec![put(item("a", "b"))]).await {
        Err(StoreError::Unavailable(message)) => assert!(message.contains("ResourceNotFoundException"), "{message}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

#[tokio::test]
async fn sqs_enqueue_delivers_the_message_as_json() {
    let (queue, client, url) = moto::fresh_queue().await;
    let message = TxMessage {
        payout_id: PayoutId::generate(),
        chain: Chain::Base,
        tx_hash: TxHash::parse(Chain::Base, &format!("0x{}", "ab".repeat(32))).expect("a valid tx hash"),
    };
    queue.enqueue(&message).await.expect("enqueue");
    let received = client.receive_message().queue_url(&url).max_number_of_messages(10).wait_time_seconds(1).send().await.expect("receive");
    let messages = received.messages.unwrap_or_default();
    assert_eq!(messages.len(), 1);
    let body = messages[0].body.as_deref().expect("a body");
    assert_eq!(body, serde_json::to_string(&message).expect("json"));
    assert_eq!(serde_json::from_str::<TxMessage>(body).expect("decodes"), message);
}

#[tokio::test]
async fn sqs_calls_are_counted_by_the_same_counter() {
    let (_, _client, url) = moto::fresh_queue().await;
    let counter = CallCounter::new();
    let queue = payouts::adapters::sqs::SqsTxQueue::new(payouts::adapters::sqs::counted_client(&moto::sdk_config().await, &counter), url);
    let message =
        TxMessage { payout_id: PayoutId::generate(), chain: Chain::Tron, tx_hash: TxHash::parse(Chain::Tron, &"cd".repeat(32)).expect("a valid tx hash") };
    queue.enqueue(&message).await.expect("enqueue");
    assert_eq!(counter.snapshot(), ["SendMessage"]);
}

#[test]
fn unique_names_do_not_repeat() {
    // Guards the helpers above: unique names never repeat within a run.
    let names: HashSet<String> = (0..1000).map(|_| moto::unique_name("t")).collect();
    assert_eq!(names.len(), 1000);
}

/// A data directory made before gsi4 (three index column pairs) opens, keeps its items, and
/// takes gsi4 keys from then on.
#[tokio::test]
async fn embedded_store_upgrades_a_data_directory_made_before_gsi4() {
    let dir = tempfile::tempdir().expect("temp dir");
    {
        let old = rusqlite::Connection::open(dir.path().join(payouts::adapters::embedded_store::DATABASE_FILE)).expect("old database");
        old.execute_batch(
            "CREATE TABLE items (pk TEXT NOT NULL, sk TEXT NOT NULL, version INTEGER NOT NULL, expires_at INTEGER,
                gsi1pk TEXT, gsi1sk TEXT, gsi2pk TEXT, gsi2sk TEXT, gsi3pk TEXT, gsi3sk TEXT,
                attrs TEXT NOT NULL, body TEXT NOT NULL, PRIMARY KEY (pk, sk)) WITHOUT ROWID;
             INSERT INTO items VALUES ('OLD', 'one', 1, NULL, 'LIST', '0001#one', NULL, NULL, NULL, NULL, '{}', '{}');",
        )
        .expect("old schema");
    }
    let store = EmbeddedStore::open(dir.path()).expect("opens the old directory");
    let listed = store.query(&query(IndexName::Gsi1, "LIST", 10)).await.expect("query");
    assert_eq!(sks(&listed), ["one"]);
    assert_eq!(listed[0].indexes[3], None);
    store.write(vec![put(with_index(item("NEW", "two"), IndexName::Gsi4, "BY_PAYOUT", "0002#two"))]).await.expect("put");
    assert_eq!(sks(&store.query(&query(IndexName::Gsi4, "BY_PAYOUT", 10)).await.expect("query")), ["two"]);
    drop(store);
    // Opening it again finds the columns there.
    let again = EmbeddedStore::open(dir.path()).expect("opens again");
    assert_eq!(sks(&again.query(&query(IndexName::Gsi4, "BY_PAYOUT", 10)).await.expect("query")), ["two"]);
}
