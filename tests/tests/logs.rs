//! Logs are structured JSON with a request id on every line of a request, and never contain an
//! API key, a webhook secret or a request body.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::Method;
use payouts_tests::{Harness, guide_body, random_tx_hash};
use serde_json::json;
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_carry_request_ids_and_no_secrets() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt().json().with_current_span(true).with_span_list(false).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let h = Harness::embedded().await;
    let key = h.tenant.sandbox.clone();
    let mut body = guide_body();
    body["description"] = json!("confidential-memo-text");
    let id = h.create(&key, &body).await.id();
    h.patch(&key, &id, &json!({"status": "approved"})).await;
    h.execute(&key, &id, &random_tx_hash()).await;
    let endpoint =
        h.call(Method::POST, "/v1/webhooks", Some(&key), Some(&json!({"url": "http://127.0.0.1:9/h", "events": ["payout.settled"]}).to_string())).await;
    let secret = endpoint.json["secret"].as_str().unwrap().to_owned();
    h.call(Method::GET, "/v1/payouts", Some("sk_test_not-a-real-key-but-secret-looking"), None).await;

    let text = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<serde_json::Value> = text.lines().map(|line| serde_json::from_str(line).expect("every log line is JSON")).collect();
    let requests: Vec<&serde_json::Value> = lines.iter().filter(|l| l["fields"]["message"] == "request").collect();
    assert_eq!(requests.len(), 5, "one access line per request");
    for line in &requests {
        let id = line["span"]["request_id"].as_str().expect("request id on the line");
        assert!(id.starts_with("req_"));
    }
    for forbidden in [key.as_str(), &key[8..], secret.as_str(), &secret[6..], "confidential-memo-text", "not-a-real-key-but-secret-looking"] {
        assert!(!text.contains(forbidden), "the logs contain {forbidden:?}");
    }
}
