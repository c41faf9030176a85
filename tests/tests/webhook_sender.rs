//! The HTTP webhook sender (`HttpWebhookSender`) against real receivers on 127.0.0.1 ephemeral
//! ports: what arrives (exact bytes, both signatures, checked here with an independent HMAC), how
//! answers become outcomes, timeouts, refused connections, huge answers, redirects, and the
//! address rules that refuse a delivery before any connection. Nothing leaves loopback; host
//! names other than `localhost` are answered by a test resolver.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use payouts::adapters::webhook_sender::{HostResolver, HttpWebhookSender, WebhookSenderOptions};
use payouts::domain::chain::Environment;
use payouts::domain::webhook::WebhookSecret;
use payouts::ports::webhook::{AttemptOutcome, WebhookRequest, WebhookSender};
use sha2::Sha256;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------------------------
// Receivers

/// One request as the receiver read it.
#[derive(Clone, Debug)]
struct Captured {
    method: String,
    uri: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Captured {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What a receiver answers: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, &'static str);

/// An HTTP/1.1 receiver (hyper) that records every connection and request and answers with
/// `answer`.
struct Receiver {
    addr: SocketAddr,
    connections: Arc<AtomicUsize>,
    requests: Arc<Mutex<Vec<Captured>>>,
}

impl Receiver {
    async fn start(answer: impl Fn(&Captured) -> Answer + Send + Sync + 'static) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicUsize::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(answer);
        let (conn_count, seen) = (connections.clone(), requests.clone());
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                conn_count.fetch_add(1, Ordering::SeqCst);
                let (seen, answer) = (seen.clone(), answer.clone());
                let service = service_fn(move |request: Request<Incoming>| {
                    let (seen, answer) = (seen.clone(), answer.clone());
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await?.to_bytes().to_vec();
                        let headers = parts.headers.iter().map(|(n, v)| (n.as_str().to_owned(), v.to_str().unwrap_or("<binary>").to_owned())).collect();
                        let captured = Captured { method: parts.method.to_string(), uri: parts.uri.to_string(), headers, body };
                        let (status, headers, body) = answer(&captured);
                        seen.lock().unwrap().push(captured);
                        let mut response = Response::builder().status(status);
                        for (name, value) in headers {
                            response = response.header(name, value);
                        }
                        Ok::<_, hyper::Error>(response.body(Full::new(Bytes::from_static(body.as_bytes()))).unwrap())
                    }
                });
                tokio::spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        Receiver { addr, connections, requests }
    }

    fn answering(status: u16) -> impl Fn(&Captured) -> Answer + Send + Sync + 'static {
        move |_| (status, Vec::new(), "")
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<Captured> {
        self.requests.lock().unwrap().clone()
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// A bare TCP listener (its own thread) that only counts connections and never answers.
struct ConnectionCounter {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl ConnectionCounter {
    fn start() -> ConnectionCounter {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let count = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                count.fetch_add(1, Ordering::SeqCst);
                drop(stream);
            }
        });
        ConnectionCounter { port, connections }
    }

    fn connections(&self) -> usize {
        // Give a connection that might have been made a moment to be accepted.
        std::thread::sleep(Duration::from_millis(100));
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads one request (head and `content-length` body) from a raw socket.
fn read_request(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head.lines().find_map(|l| l.strip_prefix("content-length:")).map(|v| v.trim().parse().unwrap()).unwrap_or(0);
            if data.len() >= end + 4 + length {
                return data;
            }
        }
        let read = stream.read(&mut buffer).unwrap();
        if read == 0 {
            return data;
        }
        data.extend_from_slice(&buffer[..read]);
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn sender(timeout: Duration) -> HttpWebhookSender {
    HttpWebhookSender::new(WebhookSenderOptions { timeout, ..WebhookSenderOptions::default() }).unwrap()
}

fn request(url: &str, environment: Environment) -> WebhookRequest {
    WebhookRequest { url: url.to_owned(), headers: Vec::new(), body: Bytes::from_static(br#"{"event_id":"evt_1"}"#), environment }
}

fn assert_refused(outcome: &AttemptOutcome) {
    assert!(outcome.refused_before_connect, "{outcome:?}");
    assert_eq!(outcome.status, None);
    // Refused for what the URL says, or (a name's addresses) as a plain connection failure.
    assert!(outcome.error.as_deref().is_some_and(|e| e.starts_with("endpoint refused: ") || e == "connection failed"), "{outcome:?}");
    assert!(!outcome.succeeded());
}

/// Answers every name with fixed addresses (one list per call, the last one repeated), counting calls.
struct FixedResolver {
    answers: Vec<Vec<IpAddr>>,
    calls: AtomicUsize,
}

impl FixedResolver {
    fn new(answers: Vec<Vec<IpAddr>>) -> Arc<FixedResolver> {
        Arc::new(FixedResolver { answers, calls: AtomicUsize::new(0) })
    }
}

#[async_trait]
impl HostResolver for FixedResolver {
    async fn lookup(&self, _host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = self.answers.get(call).or(self.answers.last()).cloned().unwrap_or_default();
        Ok(answer.into_iter().map(|ip| SocketAddr::new(ip, port)).collect())
    }
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const METADATA: IpAddr = IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254));

// ---------------------------------------------------------------------------------------------
// Delivery

#[tokio::test]
async fn delivers_the_exact_bytes_with_signatures_a_receiver_can_verify() {
    let receiver = Receiver::start(Receiver::answering(200)).await;
    let secret = WebhookSecret::generate();
    // Spacing and key order that a re-serialization would change, and non-ASCII text.
    let body = Bytes::from_static("{\"event_id\": \"evt_01J\",  \"type\":\"payout.settled\",\"data\":{\"memo\":\"café ✓\",\"amount\":\"12.50\"}}\n".as_bytes());
    let timestamp = chrono::Utc::now().timestamp();
    let mut headers = secret.signature_headers(None, "evt_01J", timestamp, &body);
    headers.push(("x-extra".to_owned(), "kept".to_owned()));
    let request = WebhookRequest { url: receiver.url("/hooks/payouts?account=42"), headers, body: body.clone(), environment: Environment::Sandbox };

    let outcome = sender(Duration::from_secs(10)).send(&request).await;

    assert_eq!(outcome.status, Some(200), "{outcome:?}");
    assert!(outcome.succeeded());
    assert_eq!(outcome.error, None);
    assert_eq!(outcome.retry_after, None);
    assert!(!outcome.refused_before_connect);
    assert!(outcome.latency > Duration::ZERO && outcome.latency < Duration::from_secs(5));

    let seen = receiver.requests();
    assert_eq!(seen.len(), 1);
    let seen = &seen[0];
    assert_eq!(seen.method, "POST");
    assert_eq!(seen.uri, "/hooks/payouts?account=42");
    assert_eq!(seen.body, body.as_ref(), "the body must arrive byte for byte");
    assert_eq!(seen.header("content-type"), Some("application/json"));
    assert_eq!(seen.header("user-agent"), Some("payouts-webhooks/1"));
    assert_eq!(seen.header("content-length"), Some(body.len().to_string().as_str()));
    assert_eq!(seen.header("x-extra"), Some("kept"));

    // billing.io's scheme, verified the way its receivers do: HMAC-SHA256 keyed with the whole
    // secret string over "{t}.{raw body}", lowercase hex, timestamp within 300 s.
    let billing = seen.header("x-billing-signature").unwrap();
    let (t_part, v1_part) = billing.split_once(',').unwrap();
    let t: i64 = t_part.strip_prefix("t=").unwrap().parse().unwrap();
    assert!((chrono::Utc::now().timestamp() - t).abs() <= 300);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.reveal().as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(&seen.body);
    assert_eq!(v1_part.strip_prefix("v1=").unwrap(), hex::encode(mac.finalize().into_bytes()));

    // Standard Webhooks: key = base64-decoded part after whsec_, over "{id}.{ts}.{raw body}".
    let id = seen.header("webhook-id").unwrap();
    let ts = seen.header("webhook-timestamp").unwrap();
    assert_eq!(id, "evt_01J");
    assert_eq!(ts.parse::<i64>().unwrap(), t);
    let key = BASE64.decode(secret.reveal().strip_prefix("whsec_").unwrap()).unwrap();
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(&seen.body);
    let expected = format!("v1,{}", BASE64.encode(mac.finalize().into_bytes()));
    assert_eq!(seen.header("webhook-signature"), Some(expected.as_str()));
}

#[tokio::test]
async fn answers_become_outcomes() {
    let sender = sender(Duration::from_secs(10));
    for status in [500u16, 410, 404, 201, 204] {
        let receiver = Receiver::start(Receiver::answering(status)).await;
        let outcome = sender.send(&request(&receiver.url("/"), Environment::Sandbox)).await;
        assert_eq!(outcome.status, Some(status), "{outcome:?}");
        assert_eq!(outcome.succeeded(), (200..300).contains(&status));
        assert_eq!(outcome.error, None);
        assert!(!outcome.refused_before_connect);
        assert_eq!(receiver.requests().len(), 1, "one attempt is one request: nothing is retried inside");
    }
}

#[tokio::test]
async fn retry_after_is_read_in_seconds_and_as_an_http_date() {
    let sender = sender(Duration::from_secs(10));
    let receiver = Receiver::start(|_| (429, vec![("retry-after", "7".to_owned())], "slow down")).await;
    let outcome = sender.send(&request(&receiver.url("/"), Environment::Sandbox)).await;
    assert_eq!(outcome.status, Some(429));
    assert_eq!(outcome.retry_after, Some(Duration::from_secs(7)));
    assert!(!outcome.succeeded());

    let receiver = Receiver::start(|_| {
        let at = chrono::Utc::now() + chrono::Duration::seconds(120);
        (503, vec![("retry-after", at.format("%a, %d %b %Y %H:%M:%S GMT").to_string())], "")
    })
    .await;
    let outcome = sender.send(&request(&receiver.url("/"), Environment::Sandbox)).await;
    assert_eq!(outcome.status, Some(503));
    let retry_after = outcome.retry_after.unwrap();
    assert!((Duration::from_secs(110)..=Duration::from_secs(121)).contains(&retry_after), "{retry_after:?}");

    let receiver = Receiver::start(|_| (503, vec![("retry-after", "soon".to_owned())], "")).await;
    let outcome = sender.send(&request(&receiver.url("/"), Environment::Sandbox)).await;
    assert_eq!((outcome.status, outcome.retry_after), (Some(503), None));
}

#[tokio::test]
async fn redirects_are_never_followed() {
    let target = Receiver::start(Receiver::answering(200)).await;
    let location = target.url("/elsewhere");
    let redirecting = Receiver::start(move |_| (302, vec![("location", location.clone())], "")).await;
    let outcome = sender(Duration::from_secs(10)).send(&request(&redirecting.url("/hook"), Environment::Sandbox)).await;
    assert_eq!(outcome.status, Some(302), "{outcome:?}");
    assert!(!outcome.succeeded());
    assert_eq!(redirecting.requests().len(), 1);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(target.connections(), 0, "the redirect target must never be contacted");

    let permanent = {
        let location = target.url("/elsewhere");
        Receiver::start(move |_| (308, vec![("location", location.clone())], "")).await
    };
    let outcome = sender(Duration::from_secs(10)).send(&request(&permanent.url("/hook"), Environment::Sandbox)).await;
    assert_eq!(outcome.status, Some(308));
    assert_eq!(target.connections(), 0);
}

// ---------------------------------------------------------------------------------------------
// Failures without an answer

#[tokio::test]
async fn a_slow_receiver_times_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let mut stream = stream.unwrap();
            std::thread::spawn(move || {
                read_request(&mut stream);
                std::thread::sleep(Duration::from_secs(3));
                let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
            });
        }
    });

    let started = Instant::now();
    let outcome = sender(Duration::from_millis(300)).send(&request(&format!("http://{addr}/slow?token=SECRET123"), Environment::Sandbox)).await;
    let elapsed = started.elapsed();

    assert_eq!(outcome.status, None, "{outcome:?}");
    assert_eq!(outcome.error.as_deref(), Some("timeout"));
    let detail = outcome.detail.as_deref().unwrap();
    assert!(detail.contains("no response within"), "{detail}");
    assert!(!detail.contains("SECRET123"));
    assert!(!outcome.refused_before_connect);
    assert!(elapsed >= Duration::from_millis(290) && elapsed < Duration::from_millis(2000), "{elapsed:?}");
    assert!(outcome.latency >= Duration::from_millis(290) && outcome.latency < Duration::from_millis(2000));
}

#[tokio::test]
async fn a_refused_connection_is_an_error_without_status() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    }; // closed again: nothing listens there now
    let outcome = sender(Duration::from_secs(5)).send(&request(&format!("http://127.0.0.1:{port}/hook?token=SECRET123"), Environment::Sandbox)).await;
    assert_eq!(outcome.status, None, "{outcome:?}");
    assert!(!outcome.refused_before_connect, "the address was allowed; the receiver was not there");
    assert_eq!(outcome.error.as_deref(), Some("connection failed"), "what the merchant sees: no address, no library text");
    let detail = outcome.detail.as_deref().unwrap();
    assert!(detail.to_ascii_lowercase().contains("refused"), "the operator's log says why: {detail}");
    assert!(!detail.contains("SECRET123") && !detail.contains("/hook"), "{detail}");
    assert!(outcome.latency < Duration::from_secs(5));
}

#[tokio::test]
async fn a_huge_answer_is_not_downloaded() {
    const ANNOUNCED: u64 = 50 * 1024 * 1024;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let written = Arc::new(AtomicU64::new(0));
    let write_failed = Arc::new(AtomicBool::new(false));
    let (written_by_server, failed_for_server) = (written.clone(), write_failed.clone());
    std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        read_request(&mut stream);
        stream.write_all(format!("HTTP/1.1 200 OK\r\ncontent-type: application/octet-stream\r\ncontent-length: {ANNOUNCED}\r\n\r\n").as_bytes()).unwrap();
        let chunk = vec![b'x'; 64 * 1024];
        while written_by_server.load(Ordering::SeqCst) < ANNOUNCED {
            if stream.write_all(&chunk).is_err() {
                failed_for_server.store(true, Ordering::SeqCst);
                return;
            }
            written_by_server.fetch_add(chunk.len() as u64, Ordering::SeqCst);
        }
    });

    let started = Instant::now();
    let outcome = sender(Duration::from_secs(10)).send(&request(&format!("http://{addr}/"), Environment::Sandbox)).await;
    let elapsed = started.elapsed();
    assert_eq!(outcome.status, Some(200), "{outcome:?}");
    assert!(outcome.succeeded());
    assert_eq!(outcome.error, None);
    assert!(elapsed < Duration::from_secs(3), "took {elapsed:?}");

    // The sender hung up after its 64 KiB: the server's writes fail long before 50 MB.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !write_failed.load(Ordering::SeqCst) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(write_failed.load(Ordering::SeqCst), "the connection stayed open");
    assert!(written.load(Ordering::SeqCst) < ANNOUNCED, "the whole body was read");
}

// ---------------------------------------------------------------------------------------------
// Where deliveries may go

#[tokio::test]
async fn live_deliveries_to_loopback_are_refused_before_connecting() {
    let counter = ConnectionCounter::start();
    let sender = sender(Duration::from_secs(5));
    let port = counter.port;
    for url in [
        "https://localhost/hook".to_owned(),
        "https://127.0.0.1/hook".to_owned(),
        "https://127.1/hook".to_owned(),
        "https://[::ffff:127.0.0.1]/hook".to_owned(),
        "https://api.localhost/hook".to_owned(),
        // Another port than 443 is refused for live whatever the host.
        format!("https://127.0.0.1:{port}/hook"),
        format!("http://127.0.0.1:{port}/hook"),
    ] {
        let outcome = sender.send(&request(&url, Environment::Live)).await;
        assert_refused(&outcome);
    }
    assert_eq!(counter.connections(), 0);
}

#[tokio::test]
async fn live_names_resolving_to_a_forbidden_address_are_refused_before_connecting() {
    let counter = ConnectionCounter::start();
    let resolver = FixedResolver::new(vec![vec![LOOPBACK]]);
    let sender = sender(Duration::from_secs(5)).with_resolver(resolver.clone());
    let outcome = sender.send(&request("https://hooks.merchant.example/x", Environment::Live)).await;
    assert_refused(&outcome);
    assert_eq!(outcome.error.as_deref(), Some("connection failed"), "what a name resolves to is not told to whoever registered it");
    let detail = outcome.detail.unwrap();
    assert!(detail.contains("hooks.merchant.example resolves to 127.0.0.1, a loopback address"), "the operator's log: {detail}");
    assert_eq!(resolver.calls.load(Ordering::SeqCst), 1);
    assert_eq!(counter.connections(), 0);
}

#[tokio::test]
async fn every_resolved_address_must_be_allowed() {
    let counter = ConnectionCounter::start();
    // Sandbox may use loopback, but not when the same name also points at cloud metadata.
    let resolver = FixedResolver::new(vec![vec![LOOPBACK, METADATA]]);
    let sender = sender(Duration::from_secs(5)).with_resolver(resolver);
    let outcome = sender.send(&request(&format!("http://dev.merchant.test:{}/x", counter.port), Environment::Sandbox)).await;
    assert_refused(&outcome);
    assert_eq!(outcome.error.as_deref(), Some("connection failed"));
    assert!(outcome.detail.unwrap().contains("169.254.169.254, a cloud metadata address"));
    assert_eq!(counter.connections(), 0);
}

#[tokio::test]
async fn the_connection_goes_to_the_checked_address_even_if_dns_changes() {
    let receiver = Receiver::start(Receiver::answering(200)).await;
    // First answer loopback (allowed in sandbox), every later one cloud metadata: a rebinding name.
    let resolver = FixedResolver::new(vec![vec![LOOPBACK], vec![METADATA]]);
    let sender = sender(Duration::from_secs(5)).with_resolver(resolver.clone());
    let url = format!("http://rebind.merchant.test:{}/x", receiver.addr.port());
    let outcome = sender.send(&request(&url, Environment::Sandbox)).await;
    assert_eq!(outcome.status, Some(200), "{outcome:?}");
    assert_eq!(resolver.calls.load(Ordering::SeqCst), 1, "the name is looked up once, by the check");
    let seen = receiver.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("host"), Some(format!("rebind.merchant.test:{}", receiver.addr.port()).as_str()));

    // The next attempt gets the metadata answer and is refused without connecting.
    let outcome = sender.send(&request(&url, Environment::Sandbox)).await;
    assert_refused(&outcome);
    assert_eq!(receiver.connections(), 1);
}

#[tokio::test]
async fn sandbox_local_delivery_can_be_turned_off() {
    let receiver = Receiver::start(Receiver::answering(200)).await;
    let strict = HttpWebhookSender::new(WebhookSenderOptions { sandbox_local_addresses: false, ..WebhookSenderOptions::default() }).unwrap();
    let outcome = strict.send(&request(&receiver.url("/"), Environment::Sandbox)).await;
    assert_refused(&outcome);
    let strict = strict.with_resolver(FixedResolver::new(vec![vec![LOOPBACK]]));
    let outcome = strict.send(&request(&format!("http://dev.merchant.test:{}/", receiver.addr.port()), Environment::Sandbox)).await;
    assert_refused(&outcome);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.connections(), 0);
}

#[tokio::test]
async fn sandbox_refuses_metadata_and_unspecified_addresses() {
    let sender = sender(Duration::from_secs(5));
    for url in ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://0.0.0.0:9/", "http://[::]:9/", "http://[::ffff:a9fe:a9fe]/"] {
        let outcome = sender.send(&request(url, Environment::Sandbox)).await;
        assert_refused(&outcome);
        assert!(outcome.latency < Duration::from_millis(500), "{url}: refusing must not wait on the network");
    }
}

#[tokio::test]
async fn malformed_requests_are_refused_before_connecting() {
    let receiver = Receiver::start(Receiver::answering(200)).await;
    let sender = sender(Duration::from_secs(5));
    let mut framing = request(&receiver.url("/"), Environment::Sandbox);
    framing.headers.push(("content-length".to_owned(), "1".to_owned()));
    let outcome = sender.send(&framing).await;
    assert!(outcome.refused_before_connect && outcome.status.is_none(), "{outcome:?}");
    let mut bad_value = request(&receiver.url("/"), Environment::Sandbox);
    bad_value.headers.push(("x-signature".to_owned(), "line\r\nbreak".to_owned()));
    let outcome = sender.send(&bad_value).await;
    assert!(outcome.refused_before_connect, "{outcome:?}");
    assert!(!outcome.error.unwrap().contains("break"), "header values stay out of error texts");
    for url in ["ftp://127.0.0.1/", "http://user:pw@127.0.0.1/", "not a url"] {
        assert_refused(&sender.send(&request(url, Environment::Sandbox)).await);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(receiver.connections(), 0);
}
