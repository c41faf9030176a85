use super::*;

#[test]
fn a_counter_becomes_one_emf_document_with_its_dimensions() {
    let mut recorded = BTreeMap::new();
    recorded.insert(series(Metric::PayoutsCreated, &[("Environment", "live"), ("Chain", "base")]), 2.0);
    let lines = emf_lines("payouts/prod", 1_795_614_301_000, &recorded);
    assert_eq!(lines.len(), 1);
    let document: serde_json::Value = serde_json::from_str(&lines[0]).unwrap_or_default();
    assert_eq!(
        document,
        serde_json::json!({
            "_aws": {"Timestamp": 1_795_614_301_000_i64, "CloudWatchMetrics": [{"Namespace": "payouts/prod", "Dimensions": [["Environment", "Chain"]], "Metrics": [{"Name": "PayoutsCreated", "Unit": "Count"}]}]},
            "Environment": "live",
            "Chain": "base",
            "PayoutsCreated": 2.0
        })
    );
}

#[test]
fn counts_add_up_and_a_maximum_keeps_the_largest() {
    count(Metric::RpcErrors, &[("Environment", "test-a"), ("Chain", "tron")], 1);
    count(Metric::RpcErrors, &[("Environment", "test-a"), ("Chain", "tron")], 2);
    maximum(Metric::OldestUnsettledAgeSeconds, &[("Environment", "test-a")], 30.0);
    maximum(Metric::OldestUnsettledAgeSeconds, &[("Environment", "test-a")], 10.0);
    let registry = registry().lock().map(|r| r.clone()).unwrap_or_default();
    assert_eq!(registry.get(&series(Metric::RpcErrors, &[("Environment", "test-a"), ("Chain", "tron")])), Some(&3.0));
    assert_eq!(registry.get(&series(Metric::OldestUnsettledAgeSeconds, &[("Environment", "test-a")])), Some(&30.0));
}

#[test]
fn a_record_that_does_not_decode_is_skipped_and_counted() {
    let skipped = || registry().lock().map(|r| r.get(&series(Metric::RecordsSkipped, &[])).copied().unwrap_or(0.0)).unwrap_or(0.0);
    let before = skipped();
    let item = crate::ports::store::Item {
        key: crate::ports::store::ItemKey::new("EVT#evt_0", "EVT"),
        version: 1,
        expires_at: None,
        indexes: [None, None, None, None],
        attrs: BTreeMap::new(),
        body: "{\"id\": \"truncated".to_owned(),
    };
    assert!(crate::service::records::decode_or_skip::<crate::domain::event::Event>(&item, "event").is_none());
    assert!(skipped() >= before + 1.0, "counted in RecordsSkipped");
}
