//! The README's webhook receivers (Python and Node, in `infra/examples/`) really verify what the
//! dispatcher sends: a signed delivery is accepted and printed, also during a secret rotation
//! with either secret, and a wrong secret is refused.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts::adapters::webhook_sender::{HttpWebhookSender, WebhookSenderOptions};
use payouts::domain::chain::Environment;
use payouts::domain::webhook::WebhookSecret;
use payouts::ports::webhook::{WebhookRequest, WebhookSender};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

async fn check(program: &str, script: &str) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let secret = WebhookSecret::generate();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child =
        Command::new(program).arg(root.join(script)).arg(port.to_string()).env("WEBHOOK_SECRET", secret.reveal()).stdout(Stdio::piped()).spawn().unwrap();
    let sender = HttpWebhookSender::new(WebhookSenderOptions { timeout: Duration::from_secs(5), ..WebhookSenderOptions::default() }).unwrap();
    let body = br#"{"event_id":"evt_0123456789abcdef01234567","type":"payout.settled","data":{"id":"po_0123456789abcdef01234567","status":"settled"},"created_at":"2026-01-01T00:00:00Z"}"#;
    let send = |secret: &WebhookSecret, retiring: Option<&WebhookSecret>| {
        let headers = secret.signature_headers(retiring, "evt_0123456789abcdef01234567", chrono::Utc::now().timestamp(), body);
        WebhookRequest { url: format!("http://127.0.0.1:{port}/hooks"), headers, body: bytes::Bytes::from_static(body), environment: Environment::Sandbox }
    };
    let mut outcome = None;
    for _ in 0..50 {
        let attempt = sender.send(&send(&secret, None)).await;
        if attempt.status.is_some() {
            outcome = Some(attempt);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(outcome.and_then(|o| o.status), Some(200), "{script} accepts a genuine delivery");
    let forged = sender.send(&send(&WebhookSecret::generate(), None)).await;
    assert_eq!(forged.status, Some(400), "{script} refuses a wrong signature");
    // During a secret rotation a delivery carries both signatures, the old one last: a receiver
    // that switched to the new secret verifies, and so does one still on the old secret.
    let other = WebhookSecret::generate();
    let switched = sender.send(&send(&secret, Some(&other))).await;
    assert_eq!(switched.status, Some(200), "{script} verifies with the new secret during a rotation");
    let not_switched = sender.send(&send(&other, Some(&secret))).await;
    assert_eq!(not_switched.status, Some(200), "{script} verifies with the old secret during a rotation");
    let neither = sender.send(&send(&other, Some(&WebhookSecret::generate()))).await;
    assert_eq!(neither.status, Some(400), "{script} refuses a rotation it holds neither secret of");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let printed: Vec<String> = (0..3).map(|_| lines.next().unwrap().unwrap()).collect();
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(printed, vec!["payout.settled evt_0123456789abcdef01234567 po_0123456789abcdef01234567 settled"; 3]);
}

#[tokio::test]
async fn python_receiver_verifies() {
    check("python3", "infra/examples/webhook_receiver.py").await;
}

#[tokio::test]
async fn node_receiver_verifies() {
    check("node", "infra/examples/webhook_receiver.js").await;
}
