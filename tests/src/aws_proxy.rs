//! A recording proxy in front of the AWS emulator: functions pointed at it (`AWS_ENDPOINT_URL`)
//! reach moto as before, and every call is noted with the access key id that signed it (each
//! function gets its own) and the IAM actions it needs. The least-privilege check compares that
//! with what `template.yaml` grants each function; the cost benchmark prices the calls.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

#[derive(Clone)]
pub struct RecordingAwsProxy {
    pub url: String,
    /// Access key id → the IAM actions its calls needed.
    actions: Arc<Mutex<BTreeMap<String, BTreeSet<String>>>>,
    calls: Arc<Mutex<Vec<RecordedCall>>>,
    /// Operations (`X-Amz-Target` suffixes) whose next calls lose their answer: forwarded and
    /// made, then answered with a 500, as a dropped connection after the commit looks to the
    /// SDK; the retry that follows each is let through. (operation, calls left, let the next through)
    lose: Arc<Mutex<Vec<(String, usize, bool)>>>,
}

/// One call the proxy forwarded, as it went and came back.
#[derive(Clone, Debug)]
pub struct RecordedCall {
    /// The access key id that signed it: whose call it was.
    pub access_key: String,
    /// `X-Amz-Target`, such as `DynamoDB_20120810.TransactWriteItems` or `AmazonSQS.SendMessage`.
    pub target: String,
    pub request: Bytes,
    pub response: Bytes,
    pub status: u16,
}

/// The IAM actions one call needs: `X-Amz-Target: DynamoDB_20120810.GetItem` is
/// `dynamodb:GetItem`; a `TransactWriteItems` needs the action of each of its items
/// (`PutItem`, `ConditionCheckItem`, `DeleteItem`, `UpdateItem`), as IAM evaluates it.
pub fn iam_actions(target: &str, body: &[u8]) -> Vec<String> {
    let Some((service, operation)) = target.split_once('.') else { return Vec::new() };
    let prefix = match service {
        s if s.starts_with("DynamoDB") => "dynamodb",
        "AmazonSQS" => "sqs",
        "AWSEvents" => "events",
        "TrentService" => "kms",
        "AmazonSSM" => "ssm",
        other => other,
    };
    if prefix == "dynamodb" && operation == "TransactWriteItems" {
        let request: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let mut kinds = BTreeSet::new();
        for item in request["TransactItems"].as_array().into_iter().flatten() {
            for (kind, action) in [("Put", "PutItem"), ("ConditionCheck", "ConditionCheckItem"), ("Delete", "DeleteItem"), ("Update", "UpdateItem")] {
                if item.get(kind).is_some() {
                    kinds.insert(format!("dynamodb:{action}"));
                }
            }
        }
        return kinds.into_iter().collect();
    }
    vec![format!("{prefix}:{operation}")]
}

/// The access key id of a SigV4 `Authorization` header (`… Credential=AKID/date/region/…`).
fn access_key(authorization: &str) -> Option<String> {
    let credential = authorization.split("Credential=").nth(1)?;
    Some(credential.split('/').next()?.to_owned())
}

impl RecordingAwsProxy {
    pub async fn start(target: &str) -> RecordingAwsProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let proxy = RecordingAwsProxy {
            url: format!("http://{}", listener.local_addr().expect("proxy address")),
            actions: Arc::default(),
            calls: Arc::default(),
            lose: Arc::default(),
        };
        let target = target.trim_end_matches('/').to_owned();
        let client = reqwest::Client::new();
        let shared = proxy.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (shared, target, client) = (shared.clone(), target.clone(), client.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                        let (shared, target, client) = (shared.clone(), target.clone(), client.clone());
                        async move { Ok::<_, Infallible>(shared.forward(&client, &target, request).await) }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        proxy
    }

    async fn forward(&self, client: &reqwest::Client, target: &str, request: hyper::Request<hyper::body::Incoming>) -> hyper::Response<Full<Bytes>> {
        let (parts, body) = request.into_parts();
        let body = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let signer = access_key(&header("authorization"));
        if let Some(key) = &signer {
            let needed = iam_actions(&header("x-amz-target"), &body);
            self.actions.lock().expect("lock").entry(key.clone()).or_default().extend(needed);
        }
        let answer = self.send(client, target, &parts, body.clone()).await;
        let mut recorded = RecordedCall {
            access_key: signer.unwrap_or_default(),
            target: header("x-amz-target"),
            request: body,
            response: Bytes::new(),
            status: answer.status().as_u16(),
        };
        let (head, answered) = answer.into_parts();
        let answered = answered.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        recorded.response = answered.clone();
        self.calls.lock().expect("lock").push(recorded);
        if self.take_loss(&header("x-amz-target")) {
            let lost =
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"injected: the answer was lost after the write was made"}"#;
            return hyper::Response::builder()
                .status(500)
                .header("content-type", "application/x-amz-json-1.0")
                .body(Full::new(Bytes::from_static(lost.as_bytes())))
                .expect("response");
        }
        hyper::Response::from_parts(head, Full::new(answered))
    }

    fn take_loss(&self, target: &str) -> bool {
        let mut lose = self.lose.lock().expect("lock");
        match lose.iter_mut().find(|(operation, left, _)| target.ends_with(operation.as_str()) && *left > 0) {
            Some((_, _, pass)) if *pass => {
                *pass = false;
                false
            }
            Some((_, left, pass)) => {
                *left -= 1;
                *pass = true;
                true
            }
            None => false,
        }
    }

    /// The next `n` calls of `operation` (e.g. `TransactWriteItems`) lose their answer after
    /// the emulator applied them: the client sees a 500 and retries, and that retry (the call
    /// after each lost one) is answered.
    pub fn lose_next_answers(&self, operation: &str, n: usize) {
        self.lose.lock().expect("lock").push((operation.to_owned(), n, false));
    }

    async fn send(&self, client: &reqwest::Client, target: &str, parts: &http::request::Parts, body: Bytes) -> hyper::Response<Full<Bytes>> {
        let path = parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let mut forwarded = client.request(parts.method.clone(), format!("{target}{path}")).body(body.to_vec());
        for (name, value) in &parts.headers {
            if name != http::header::HOST && name != http::header::CONTENT_LENGTH {
                forwarded = forwarded.header(name, value);
            }
        }
        match forwarded.send().await {
            Ok(answer) => {
                let mut response = hyper::Response::builder().status(answer.status().as_u16());
                for (name, value) in answer.headers() {
                    if name != http::header::CONTENT_LENGTH && name != http::header::TRANSFER_ENCODING && name != http::header::CONNECTION {
                        response = response.header(name, value);
                    }
                }
                let bytes = answer.bytes().await.unwrap_or_default();
                response.body(Full::new(bytes)).expect("response")
            }
            Err(error) => hyper::Response::builder().status(502).body(Full::new(Bytes::from(error.to_string()))).expect("response"),
        }
    }

    /// Every call forwarded so far, in order.
    pub fn calls(&self) -> Vec<RecordedCall> {
        self.calls.lock().expect("lock").clone()
    }

    /// The IAM actions the calls signed with `access_key` needed.
    pub fn actions_of(&self, access_key: &str) -> BTreeSet<String> {
        self.actions.lock().expect("lock").get(access_key).cloned().unwrap_or_default()
    }
}
