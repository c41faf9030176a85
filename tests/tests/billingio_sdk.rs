//! Compatibility with billing.io's official Python SDK (PyPI `billingio`, installed by the test
//! command into `.venv-billingio`): a receiver built on its `verify_webhook_signature`
//! (`infra/examples/billingio_sdk_receiver.py`) gets signed test events from the API, before, during
//! and after a secret rotation. The SDK reads only the last `v1=`, so the old secret's signature
//! goes last: a merchant who has not switched keeps verifying; one who switched tries both.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::Method;
use payouts_tests::Harness;
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The SDK receiver on a fixed port, configured with the secrets a merchant holds.
struct SdkReceiver(Child);

impl SdkReceiver {
    fn start(port: u16, secrets: &[&str]) -> SdkReceiver {
        let python = std::env::var("PAYOUTS_TEST_BILLINGIO_PYTHON")
            .expect("PAYOUTS_TEST_BILLINGIO_PYTHON is not set: run infra/test.sh, which installs billing.io's SDK");
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../infra/examples/billingio_sdk_receiver.py");
        let child = Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .env("WEBHOOK_SECRETS", secrets.join(","))
            .stdout(Stdio::null())
            .spawn()
            .expect("start the SDK receiver");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the SDK receiver did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        SdkReceiver(child)
    }
}

impl Drop for SdkReceiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends a signed `webhook.test` now; answers the receiver's status code.
async fn test_event_status(h: &Harness, webhook_id: &str) -> Value {
    let sent = h.call(Method::POST, &format!("/v1/webhooks/{webhook_id}/test"), Some(&h.tenant.sandbox), None).await;
    assert_eq!(sent.status, 200, "{}", sent.json);
    sent.json["attempt"]["status_code"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billingio_sdk_verifies_deliveries_through_a_secret_rotation() {
    let h = Harness::embedded().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/hooks");
    let created = h.call(Method::POST, "/v1/webhooks", Some(&h.tenant.sandbox), Some(&json!({"url": url, "events": ["payout.settled"]}).to_string())).await;
    assert_eq!(created.status, 201, "{}", created.json);
    let webhook_id = created.json["webhook_id"].as_str().unwrap().to_owned();
    let first = created.json["secret"].as_str().unwrap().to_owned();

    {
        let _receiver = SdkReceiver::start(port, &[&first]);
        assert_eq!(test_event_status(&h, &webhook_id).await, json!(200), "the SDK verifies a plain delivery");
    }
    let rotate = |body: Value| {
        let h = &h;
        let path = format!("/v1/webhooks/{webhook_id}/rotate_secret");
        async move { h.call(Method::POST, &path, Some(&h.tenant.sandbox), Some(&body.to_string())).await }
    };
    let rotated = rotate(json!({})).await;
    assert_eq!(rotated.status, 200, "{}", rotated.json);
    assert!(rotated.json["previous_secret_expires_at"].is_string(), "a 24 h overlap: {}", rotated.json);
    let second = rotated.json["secret"].as_str().unwrap().to_owned();
    {
        let _receiver = SdkReceiver::start(port, &[&first]);
        assert_eq!(test_event_status(&h, &webhook_id).await, json!(200), "not switched yet: the old secret's signature is the last v1");
    }
    {
        let _receiver = SdkReceiver::start(port, &[&second]);
        assert_eq!(test_event_status(&h, &webhook_id).await, json!(400), "the SDK alone reads only the last v1, so the new secret must not be tried alone yet");
    }
    {
        let _receiver = SdkReceiver::start(port, &[&second, &first]);
        assert_eq!(test_event_status(&h, &webhook_id).await, json!(200), "switched: trying both secrets verifies");
    }
    // Ending the overlap at once: only the newest secret signs.
    let ended = rotate(json!({"expires_in": 0})).await;
    assert_eq!(ended.status, 200, "{}", ended.json);
    let third = ended.json["secret"].as_str().unwrap().to_owned();
    {
        let _receiver = SdkReceiver::start(port, &[&third]);
        assert_eq!(test_event_status(&h, &webhook_id).await, json!(200), "after the overlap the SDK verifies with the one secret");
    }
    {
        let _receiver = SdkReceiver::start(port, &[&second, &first]);
        assert_eq!(test_event_status(&h, &webhook_id).await, json!(400), "replaced secrets no longer verify");
    }
}
