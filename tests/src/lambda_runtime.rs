//! A Lambda Runtime API emulator (`/2018-06-01/runtime/...`) on an ephemeral 127.0.0.1 port, and
//! a function process run against it: the binary as Lambda runs it (`bootstrap` with
//! `AWS_LAMBDA_RUNTIME_API`), fed one invocation at a time.
//!
//! Implemented: `GET invocation/next` (long poll), `POST invocation/{id}/response`,
//! `POST invocation/{id}/error`, `POST init/error`; the headers the runtime client reads
//! (`Lambda-Runtime-Aws-Request-Id`, `-Deadline-Ms`, `-Invoked-Function-Arn`, `-Trace-Id`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::convert::Infallible;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// What the function posted for one invocation.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    /// `/response`: the body as JSON (a function returning non-JSON gets `Value::String`).
    Response(Value),
    /// `/error`: the `Lambda-Runtime-Function-Error-Type` header, and the body.
    Error { error_type: String, body: Value },
}

/// Why an invocation got no outcome.
#[derive(Clone, Debug)]
pub enum Failure {
    /// The process posted to `/init/error` (its body) and will take no invocation.
    Init(Value),
    /// The process ended without answering (its exit status), or did not answer in time.
    Exited(String),
    TimedOut,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Init(body) => write!(f, "init error {body}"),
            Failure::Exited(status) => write!(f, "the process ended without answering ({status})"),
            Failure::TimedOut => write!(f, "no answer in time"),
        }
    }
}

#[derive(Default)]
struct State {
    pending: VecDeque<(String, Bytes)>,
    outcomes: HashMap<String, Outcome>,
    init_error: Option<Value>,
    first_next_at: Option<Instant>,
    first_outcome_at: Option<Instant>,
}

/// The emulator: one per function process (Lambda gives each execution environment its own).
#[derive(Clone)]
pub struct RuntimeApi {
    pub address: String,
    state: Arc<Mutex<State>>,
    /// Wakes `/next` pollers (a new invocation) and invokers (a new outcome).
    changed: Arc<Notify>,
    function_arn: String,
}

impl RuntimeApi {
    pub async fn start(function_name: &str) -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind runtime API");
        let api = RuntimeApi {
            address: listener.local_addr().expect("runtime API address").to_string(),
            state: Arc::default(),
            changed: Arc::new(Notify::new()),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}"),
        };
        let shared = api.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let shared = shared.clone();
                        async move { Ok::<_, Infallible>(shared.answer(request).await) }
                    });
                    let _ = http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
                });
            }
        });
        api
    }

    async fn answer(&self, request: Request<hyper::body::Incoming>) -> Response<Full<Bytes>> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let error_type = request.headers().get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let body = request.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
        let json = || serde_json::from_slice::<Value>(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
        let accepted = || Response::builder().status(StatusCode::ACCEPTED).body(Full::new(Bytes::from_static(br#"{"status":"OK"}"#))).expect("response");
        let Some(rest) = path.strip_prefix("/2018-06-01/runtime/") else {
            return Response::builder().status(StatusCode::NOT_FOUND).body(Full::new(Bytes::new())).expect("response");
        };
        match (method, rest) {
            (Method::GET, "invocation/next") => self.next().await,
            (Method::POST, "init/error") => {
                self.state.lock().expect("lock").init_error = Some(json());
                self.changed.notify_waiters();
                accepted()
            }
            (Method::POST, rest) if rest.starts_with("invocation/") => {
                let mut parts = rest.trim_start_matches("invocation/").splitn(2, '/');
                let (id, kind) = (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or(""));
                let outcome = match kind {
                    "response" => Outcome::Response(json()),
                    "error" => Outcome::Error { error_type, body: json() },
                    _ => return Response::builder().status(StatusCode::NOT_FOUND).body(Full::new(Bytes::new())).expect("response"),
                };
                let mut state = self.state.lock().expect("lock");
                state.first_outcome_at.get_or_insert_with(Instant::now);
                state.outcomes.insert(id, outcome);
                drop(state);
                self.changed.notify_waiters();
                accepted()
            }
            _ => Response::builder().status(StatusCode::NOT_FOUND).body(Full::new(Bytes::new())).expect("response"),
        }
    }

    /// The long poll: answers once an invocation is queued.
    async fn next(&self) -> Response<Full<Bytes>> {
        loop {
            let notified = self.changed.notified();
            {
                let mut state = self.state.lock().expect("lock");
                state.first_next_at.get_or_insert_with(Instant::now);
                if let Some((id, payload)) = state.pending.pop_front() {
                    let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default() + Duration::from_secs(120);
                    return Response::builder()
                        .status(StatusCode::OK)
                        .header("content-type", "application/json")
                        .header("lambda-runtime-aws-request-id", &id)
                        .header("lambda-runtime-deadline-ms", deadline.as_millis().to_string())
                        .header("lambda-runtime-invoked-function-arn", &self.function_arn)
                        .header("lambda-runtime-trace-id", format!("Root=1-00000000-{id}"))
                        .body(Full::new(payload))
                        .expect("response");
                }
            }
            notified.await;
        }
    }

    fn queue(&self, payload: &Value) -> String {
        let id = format!("{:032x}", rand::random::<u128>());
        self.state.lock().expect("lock").pending.push_back((id.clone(), Bytes::from(payload.to_string())));
        self.changed.notify_waiters();
        id
    }

    pub fn init_error(&self) -> Option<Value> {
        self.state.lock().expect("lock").init_error.clone()
    }

    /// When the process first asked for an invocation (its init was done) and first answered one.
    pub fn milestones(&self) -> (Option<Instant>, Option<Instant>) {
        let state = self.state.lock().expect("lock");
        (state.first_next_at, state.first_outcome_at)
    }
}

/// One function's process under its own [`RuntimeApi`]. Its stdout and stderr (the JSON log
/// lines) are kept, and printed when an invocation fails, to tell why.
pub struct FunctionProcess {
    pub name: String,
    pub api: RuntimeApi,
    pub started_at: Instant,
    child: Mutex<Option<std::process::Child>>,
    exited: Arc<Mutex<Option<String>>>,
    logs: Arc<Mutex<Vec<String>>>,
}

impl FunctionProcess {
    /// Starts `binary` with exactly `env` (nothing inherited from the test process) plus the
    /// variables Lambda itself sets for a custom runtime.
    pub async fn start(binary: &Path, name: &str, memory_mb: u64, env: &BTreeMap<String, String>) -> FunctionProcess {
        let api = RuntimeApi::start(name).await;
        let mut command = std::process::Command::new(binary);
        command.env_clear().envs(env).stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
        for (variable, value) in [
            ("AWS_LAMBDA_RUNTIME_API", api.address.clone()),
            ("AWS_LAMBDA_FUNCTION_NAME", name.to_owned()),
            ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory_mb.to_string()),
            ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
            ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/02/[$LATEST]0000".to_owned()),
            ("AWS_LAMBDA_LOG_FORMAT", "JSON".to_owned()),
            ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".to_owned()),
            ("_HANDLER", "bootstrap".to_owned()),
            ("TZ", ":UTC".to_owned()),
        ] {
            command.env(variable, value);
        }
        let started_at = Instant::now();
        let mut child = command.spawn().unwrap_or_else(|e| panic!("start {}: {e}", binary.display()));
        let logs: Arc<Mutex<Vec<String>>> = Arc::default();
        let streams: [Option<Box<dyn std::io::Read + Send>>; 2] = [
            child.stdout.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child.stderr.take().map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ];
        for stream in streams.into_iter().flatten() {
            let logs = logs.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    logs.lock().expect("lock").push(line);
                }
            });
        }
        FunctionProcess { name: name.to_owned(), api, started_at, child: Mutex::new(Some(child)), exited: Arc::default(), logs }
    }

    /// Every line the process wrote so far.
    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("lock").clone()
    }

    fn poll_exit(&self) -> Option<String> {
        if let Some(status) = self.exited.lock().expect("lock").clone() {
            return Some(status);
        }
        let mut child = self.child.lock().expect("lock");
        let status = child.as_mut().and_then(|c| c.try_wait().ok().flatten()).map(|s| s.to_string());
        if let Some(status) = &status {
            *self.exited.lock().expect("lock") = Some(status.clone());
        }
        status
    }

    /// Why waiting any longer is pointless: an init error, the process gone, or the deadline.
    fn gave_up(&self, deadline: Instant) -> Result<(), Failure> {
        if let Some(body) = self.api.init_error() {
            return Err(Failure::Init(body));
        }
        if let Some(status) = self.poll_exit() {
            return Err(Failure::Exited(status));
        }
        if Instant::now() >= deadline {
            return Err(Failure::TimedOut);
        }
        Ok(())
    }

    /// Hands `payload` to the function and waits for what it posts.
    pub async fn invoke(&self, payload: &Value, timeout: Duration) -> Result<Outcome, Failure> {
        let id = self.api.queue(payload);
        let deadline = Instant::now() + timeout;
        loop {
            let notified = self.api.changed.notified();
            if let Some(outcome) = self.api.state.lock().expect("lock").outcomes.remove(&id) {
                return Ok(outcome);
            }
            self.gave_up(deadline)?;
            let _ = tokio::time::timeout(Duration::from_millis(50), notified).await;
        }
    }

    /// Waits until the process has asked for its first invocation (its init is done), or failed.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<Duration, Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            if let (Some(ready), _) = self.api.milestones() {
                return Ok(ready - self.started_at);
            }
            self.gave_up(deadline)?;
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.lock().expect("lock").as_ref().map(std::process::Child::id)
    }

    pub fn stop(&self) {
        if let Some(mut child) = self.child.lock().expect("lock").take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
