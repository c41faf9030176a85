//! A real webhook receiver on an ephemeral 127.0.0.1 port: records every request (raw body and
//! headers) and answers from a script (status codes, optional delay, optional Retry-After).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("webhook body is JSON")
    }

    /// `X-Billing-Signature` read as `t=…,v1=…[,v1=…]`: the timestamp and every `v1` in order.
    pub fn billing_signatures(&self) -> (String, Vec<String>) {
        let billing = self.header("x-billing-signature").expect("X-Billing-Signature");
        let mut parts = billing.split(',');
        let t = parts.next().and_then(|t| t.strip_prefix("t=")).expect("t=").to_owned();
        (t, parts.map(|v1| v1.strip_prefix("v1=").expect("v1=").to_owned()).collect())
    }

    /// Verifies both signature schemes against the raw body, independently of the service's
    /// code, as a merchant's receiver does with the endpoint's `secret`.
    pub fn assert_signed_with(&self, secret: &str) {
        use base64::Engine;
        use hmac::{Hmac, Mac};
        use sha2::Sha256;
        let body = &self.body;
        let (t, v1s) = self.billing_signatures();
        let t = t.as_str();
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("hmac key");
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        assert!(v1s.contains(&hex::encode(mac.finalize().into_bytes())), "billing.io signature among {v1s:?}");
        let now = chrono::Utc::now().timestamp();
        assert!((now - t.parse::<i64>().expect("timestamp")).abs() < 300, "timestamp within the receivers' 300 s tolerance");

        let id = self.header("webhook-id").expect("webhook-id");
        let timestamp = self.header("webhook-timestamp").expect("webhook-timestamp");
        assert_eq!(timestamp, t);
        let key = base64::engine::general_purpose::STANDARD.decode(secret.strip_prefix("whsec_").expect("whsec_")).expect("base64 secret");
        let mut mac = Hmac::<Sha256>::new_from_slice(&key).expect("hmac key");
        mac.update(format!("{id}.{timestamp}.").as_bytes());
        mac.update(body);
        let expected = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let signatures = self.header("webhook-signature").expect("webhook-signature");
        assert!(signatures.split(' ').any(|s| s == format!("v1,{expected}")), "standard webhooks signature: {signatures}");
    }
}

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub delay: Duration,
    pub retry_after: Option<String>,
    /// A JSON body instead of `ok`.
    pub json: Option<String>,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer { status, delay: Duration::ZERO, retry_after: None, json: None }
    }
    pub fn slow(status: u16, delay: Duration) -> Answer {
        Answer { status, delay, retry_after: None, json: None }
    }
    pub fn json(status: u16, body: serde_json::Value) -> Answer {
        Answer { status, delay: Duration::ZERO, retry_after: None, json: Some(body.to_string()) }
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Answer>>>,
    /// Answer once the script runs out.
    default: Arc<Mutex<Answer>>,
}

impl Receiver {
    /// Answers 200 unless scripted otherwise.
    pub async fn start() -> Receiver {
        Self::start_with(vec![], Answer::status(200)).await
    }

    pub async fn start_with(script: Vec<Answer>, default: Answer) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind receiver");
        let url = format!("http://{}/hooks", listener.local_addr().expect("receiver address"));
        let receiver = Receiver { url, received: Arc::default(), script: Arc::new(Mutex::new(script.into())), default: Arc::new(Mutex::new(default)) };
        let shared = receiver.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let shared = shared.clone();
                        async move {
                            let headers = request.headers().iter().map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned())).collect();
                            let body = request.into_body().collect().await.map(|b| b.to_bytes().to_vec()).unwrap_or_default();
                            shared.received.lock().expect("lock").push(Received { headers, body });
                            let answer = shared.script.lock().expect("lock").pop_front().unwrap_or_else(|| shared.default.lock().expect("lock").clone());
                            if !answer.delay.is_zero() {
                                tokio::time::sleep(answer.delay).await;
                            }
                            let mut response = hyper::Response::builder().status(answer.status);
                            if let Some(retry_after) = &answer.retry_after {
                                response = response.header("retry-after", retry_after);
                            }
                            let body = match &answer.json {
                                Some(json) => {
                                    response = response.header("content-type", "application/x-amz-json-1.1");
                                    Bytes::from(json.clone())
                                }
                                None => Bytes::from_static(b"ok"),
                            };
                            Ok::<_, Infallible>(response.body(Full::new(body)).expect("response"))
                        }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        receiver
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Forgets what was received so far.
    pub fn clear(&self) {
        self.received.lock().expect("lock").clear();
    }

    pub fn set_default(&self, answer: Answer) {
        *self.default.lock().expect("lock") = answer;
    }
}
