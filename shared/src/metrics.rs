//! Business and health metrics, published as CloudWatch embedded metric format (EMF): one JSON
//! line per metric on stdout, which CloudWatch Logs turns into metrics without an API call
//! (Lambda passes a custom runtime's JSON lines through unchanged, whatever the log format).
//!
//! Code records into a per-process registry ([`count`], [`maximum`]); the Lambda wiring calls
//! [`flush`] after each invocation. Nothing is written unless `PAYOUTS_METRICS_NAMESPACE` is set
//! (the template sets it to `payouts/<stack>`), so local runs and tests print no metric lines.
//! The alarms in `template.yaml` are written against exactly these names and dimensions.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Metric {
    /// Dimensions `Environment`, `Chain`.
    PayoutsCreated,
    PayoutsApproved,
    PayoutsExecuted,
    PayoutsSettled,
    PayoutsFailed,
    /// Dimension `Environment`.
    WebhookAttempts,
    /// Attempts that did not succeed (the delivery may still succeed on a retry).
    WebhookFailures,
    /// Dimensions `Environment`, `Chain`: JSON-RPC HTTP requests, and those that failed.
    RpcRequests,
    RpcErrors,
    /// Dimension `Environment`: the age of the oldest executed-but-unsettled payout the sweep
    /// looked at (0 when none), published by every sweep.
    OldestUnsettledAgeSeconds,
    /// Dimension `Job`: how long one scheduled run took.
    SweepDurationMs,
    /// No dimension (the log line names the record's key and kind): records a worker skipped
    /// because they do not decode. Any is an operator's job: the alarm fires on the first.
    RecordsSkipped,
    /// Dimensions `Environment`, `Chain`: payouts the watcher would not judge because their rules
    /// cannot be built (no token contract configured, a tolerance too large to scale): they stay
    /// as they are, never settled by default.
    VerificationsHeld,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::PayoutsCreated => "PayoutsCreated",
            Metric::PayoutsApproved => "PayoutsApproved",
            Metric::PayoutsExecuted => "PayoutsExecuted",
            Metric::PayoutsSettled => "PayoutsSettled",
            Metric::PayoutsFailed => "PayoutsFailed",
            Metric::WebhookAttempts => "WebhookAttempts",
            Metric::WebhookFailures => "WebhookFailures",
            Metric::RpcRequests => "RpcRequests",
            Metric::RpcErrors => "RpcErrors",
            Metric::OldestUnsettledAgeSeconds => "OldestUnsettledAgeSeconds",
            Metric::SweepDurationMs => "SweepDurationMs",
            Metric::RecordsSkipped => "RecordsSkipped",
            Metric::VerificationsHeld => "VerificationsHeld",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Metric::PayoutsCreated
            | Metric::PayoutsApproved
            | Metric::PayoutsExecuted
            | Metric::PayoutsSettled
            | Metric::PayoutsFailed
            | Metric::WebhookAttempts
            | Metric::WebhookFailures
            | Metric::RpcRequests
            | Metric::RpcErrors
            | Metric::RecordsSkipped
            | Metric::VerificationsHeld => "Count",
            Metric::OldestUnsettledAgeSeconds => "Seconds",
            Metric::SweepDurationMs => "Milliseconds",
        }
    }
}

/// A metric and its dimension values, in a fixed order.
type Series = (Metric, Vec<(&'static str, String)>);

fn registry() -> &'static Mutex<BTreeMap<Series, f64>> {
    static REGISTRY: OnceLock<Mutex<BTreeMap<Series, f64>>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default)
}

fn series(metric: Metric, dimensions: &[(&'static str, &str)]) -> Series {
    (metric, dimensions.iter().map(|(name, value)| (*name, (*value).to_owned())).collect())
}

/// Adds `n` to a counter.
pub fn count(metric: Metric, dimensions: &[(&'static str, &str)], n: u64) {
    if let Ok(mut registry) = registry().lock() {
        *registry.entry(series(metric, dimensions)).or_insert(0.0) += n as f64;
    }
}

/// Counts one payout transition, by environment and chain.
pub fn payout(metric: Metric, environment: &str, chain: &str) {
    count(metric, &[("Environment", environment), ("Chain", chain)], 1);
}

/// Records `value`, keeping the largest seen since the last flush.
pub fn maximum(metric: Metric, dimensions: &[(&'static str, &str)], value: f64) {
    if let Ok(mut registry) = registry().lock() {
        let slot = registry.entry(series(metric, dimensions)).or_insert(value);
        *slot = slot.max(value);
    }
}

fn namespace() -> Option<&'static str> {
    static NAMESPACE: OnceLock<Option<String>> = OnceLock::new();
    NAMESPACE.get_or_init(|| std::env::var("PAYOUTS_METRICS_NAMESPACE").ok().filter(|n| !n.trim().is_empty())).as_deref()
}

/// Writes what was recorded since the last flush (when a namespace is configured) and starts
/// again from nothing.
pub fn flush() {
    let drained = match registry().lock() {
        Ok(mut registry) => std::mem::take(&mut *registry),
        Err(_) => return,
    };
    let Some(namespace) = namespace() else { return };
    let now_ms = chrono::Utc::now().timestamp_millis();
    for line in emf_lines(namespace, now_ms, &drained) {
        println!("{line}");
    }
}

/// One EMF document per series: `{"_aws": {"Timestamp", "CloudWatchMetrics": [{Namespace,
/// Dimensions, Metrics}]}, <dimension>: <value>, …, <metric name>: <value>}`.
pub fn emf_lines(namespace: &str, timestamp_ms: i64, recorded: &BTreeMap<Series, f64>) -> Vec<String> {
    recorded
        .iter()
        .map(|((metric, dimensions), value)| {
            let mut document = serde_json::Map::new();
            let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
            document.insert(
                "_aws".into(),
                serde_json::json!({
                    "Timestamp": timestamp_ms,
                    "CloudWatchMetrics": [{ "Namespace": namespace, "Dimensions": [names], "Metrics": [{ "Name": metric.name(), "Unit": metric.unit() }] }]
                }),
            );
            for (name, dimension_value) in dimensions {
                document.insert((*name).to_owned(), serde_json::Value::String(dimension_value.clone()));
            }
            document.insert(metric.name().to_owned(), serde_json::json!(value));
            serde_json::Value::Object(document).to_string()
        })
        .collect()
}

#[cfg(test)]
mod tests;
