//! The webhook sender over HTTP (reqwest, rustls): one POST per attempt.
//!
//! - Redirects are never followed: a 3xx is an answer like any other non-2xx.
//! - Where the endpoint may be reached is checked at delivery time, since DNS changes: the URL
//!   rules of [`webhook::check_endpoint_url`], then every address the host name resolves to must be
//!   [`webhook::allowed`] for the request's environment, or the attempt is refused without
//!   connecting. The connection is then pinned to the addresses that were checked (the client's
//!   only resolver answers with them), so a second DNS answer cannot send it elsewhere.
//! - One deadline covers the lookup, connecting, the request and the response; at most
//!   `max_response_bytes` of the response body are read, then the connection is dropped.
//! - No proxy from the environment is used, nothing is retried or decompressed, and error texts
//!   name neither the URL (it may carry a token) nor any header value.

use crate::domain::chain::Environment;
use crate::domain::webhook::{self, AddressClass, EndpointHost};
use crate::ports::webhook::{AttemptOutcome, WebhookRequest, WebhookSender};
use async_trait::async_trait;
use reqwest::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::{Instant, timeout_at};

pub const USER_AGENT: &str = "payouts-webhooks/1";

/// The longest timeout accepted (a Lambda runs for at most 15 minutes).
const MAX_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Longest error text recorded on an attempt.
const MAX_ERROR_CHARS: usize = 300;

/// Headers the caller may not set: they describe the message framing, which is the sender's job.
const RESERVED_HEADERS: [HeaderName; 6] = [header::HOST, header::CONTENT_LENGTH, header::TRANSFER_ENCODING, header::CONNECTION, header::TE, header::UPGRADE];

#[derive(Clone, Debug)]
pub struct WebhookSenderOptions {
    /// The whole attempt: DNS lookup, connect, TLS, request, response headers and the body read.
    pub timeout: Duration,
    /// At most this much of a response body is read; the rest is never downloaded.
    pub max_response_bytes: usize,
    pub user_agent: String,
    /// Whether sandbox deliveries may go to loopback, private, link-local and reserved addresses
    /// (the rule of [`webhook::allowed`], for local development). Turn it off where the sender runs
    /// next to something that must not receive them: inside AWS Lambda, 127.0.0.1:9001 is the
    /// runtime API and extensions listen on localhost too. Off, sandbox endpoints must resolve to
    /// public addresses like live ones (but may still use http).
    pub sandbox_local_addresses: bool,
}

impl Default for WebhookSenderOptions {
    fn default() -> WebhookSenderOptions {
        WebhookSenderOptions {
            timeout: Duration::from_secs(10),
            max_response_bytes: 64 * 1024,
            user_agent: USER_AGENT.to_owned(),
            sandbox_local_addresses: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("webhook sender: {0}")]
pub struct SenderConfigError(String);

/// Name resolution, replaceable so tests can answer for names they do not own.
#[async_trait]
pub trait HostResolver: Send + Sync {
    /// Every address of `host`, with `port`.
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>>;
}

/// The system's resolver (`getaddrinfo`, through tokio).
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemResolver;

#[async_trait]
impl HostResolver for SystemResolver {
    async fn lookup(&self, host: &str, port: u16) -> std::io::Result<Vec<SocketAddr>> {
        Ok(tokio::net::lookup_host((host, port)).await?.collect())
    }
}

pub struct HttpWebhookSender {
    options: WebhookSenderOptions,
    user_agent: HeaderValue,
    resolver: Arc<dyn HostResolver>,
}

impl std::fmt::Debug for HttpWebhookSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpWebhookSender").field("options", &self.options).finish_non_exhaustive()
    }
}

/// How an attempt ended, before timing is added.
enum Attempt {
    /// Not sent: the URL (as written) or the request is not allowed. The reason is about what the
    /// merchant wrote, so it is recorded as is.
    Refused(String),
    /// Not sent: the name resolves to an address its environment may not use. Recorded as a
    /// plain connection failure (the detail goes to the operator's log only), so an endpoint
    /// cannot be used to learn what a name resolves to.
    RefusedAddress(String),
    /// Sent (or tried to), and no response arrived: what the merchant is told, and the detail
    /// for the operator's log.
    Failed(Failure, String),
    Answered {
        status: u16,
        retry_after: Option<Duration>,
    },
}

/// Why no response arrived, as recorded on the delivery: no address, resolver answer or
/// library text, which would make the service a port-scan and DNS oracle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    Timeout,
    Connection,
    Tls,
}

impl Failure {
    fn as_str(self) -> &'static str {
        match self {
            Failure::Timeout => "timeout",
            Failure::Connection => "connection failed",
            Failure::Tls => "TLS error",
        }
    }
}

impl HttpWebhookSender {
    pub fn new(options: WebhookSenderOptions) -> Result<HttpWebhookSender, SenderConfigError> {
        if options.timeout.is_zero() || options.timeout > MAX_TIMEOUT {
            return Err(SenderConfigError(format!("the timeout must be more than zero and at most {MAX_TIMEOUT:?}")));
        }
        let user_agent = HeaderValue::from_str(&options.user_agent).map_err(|_| SenderConfigError("the user agent is not a valid header value".to_owned()))?;
        Ok(HttpWebhookSender { options, user_agent, resolver: Arc::new(SystemResolver) })
    }

    /// Resolves host names with `resolver` instead of the system's.
    pub fn with_resolver(mut self, resolver: Arc<dyn HostResolver>) -> HttpWebhookSender {
        self.resolver = resolver;
        self
    }

    pub fn options(&self) -> &WebhookSenderOptions {
        &self.options
    }

    /// [`webhook::allowed`], with sandbox made as strict as live when local addresses are off.
    fn address_allowed(&self, class: AddressClass, environment: Environment) -> bool {
        match environment {
            Environment::Sandbox if !self.options.sandbox_local_addresses => webhook::allowed(class, Environment::Live),
            Environment::Live | Environment::Sandbox => webhook::allowed(class, environment),
        }
    }

    async fn attempt(&self, request: &WebhookRequest, deadline: Instant) -> Attempt {
        let environment = request.environment;
        let timed_out = || Attempt::Failed(Failure::Timeout, format!("no response within {:?}", self.options.timeout));

        let (url, host) = match webhook::check_endpoint_url(&request.url, environment) {
            Ok(checked) => checked,
            Err(reason) => return Attempt::Refused(format!("endpoint refused: {reason}")),
        };
        let Some(port) = url.port_or_known_default() else {
            return Attempt::Refused("endpoint refused: the URL has no port".to_owned());
        };
        let headers = match self.headers(request) {
            Ok(headers) => headers,
            Err(reason) => return Attempt::Refused(format!("request refused: {reason}")),
        };

        // The only addresses the client may connect to. An IP literal is never looked up.
        let pinned = match host {
            EndpointHost::Address(ip) => {
                let class = webhook::classify(ip);
                if !self.address_allowed(class, environment) {
                    // An address written in the URL: the merchant sees it already.
                    return Attempt::Refused(format!("endpoint refused: {environment} endpoints may not use a {class} address"));
                }
                PinnedResolver::default()
            }
            EndpointHost::Name(name) => {
                let addrs = match timeout_at(deadline, self.resolver.lookup(&name, port)).await {
                    Err(_) => return timed_out(),
                    Ok(Err(error)) => return Attempt::Failed(Failure::Connection, clip(format!("DNS lookup of {name} failed: {error}"))),
                    Ok(Ok(addrs)) if addrs.is_empty() => return Attempt::Failed(Failure::Connection, format!("DNS lookup of {name} returned no addresses")),
                    Ok(Ok(addrs)) => addrs,
                };
                // Every answer must pass: which one a connection would use is not ours to pick.
                for addr in &addrs {
                    let class = webhook::classify(addr.ip());
                    if !self.address_allowed(class, environment) {
                        return Attempt::RefusedAddress(format!(
                            "endpoint refused: {name} resolves to {}, a {class} address, which {environment} endpoints may not use",
                            addr.ip()
                        ));
                    }
                }
                PinnedResolver { name: Some(name), addrs: addrs.into_iter().map(|addr| SocketAddr::new(addr.ip(), port)).collect() }
            }
        };

        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return timed_out();
        }
        let client = match reqwest::Client::builder()
            .user_agent(self.user_agent.clone())
            .redirect(reqwest::redirect::Policy::none())
            .retry(reqwest::retry::never())
            .referer(false)
            .no_proxy()
            .pool_max_idle_per_host(0)
            .connect_timeout(remaining)
            .timeout(remaining)
            .dns_resolver(pinned)
            .build()
        {
            Ok(client) => client,
            Err(error) => return Attempt::Failed(Failure::Connection, clip(format!("cannot build the HTTP client: {}", error_chain(&error)))),
        };

        let sending = client.post(url).headers(headers).body(request.body.clone()).send();
        let mut response = match timeout_at(deadline, sending).await {
            Err(_) => return timed_out(),
            Ok(Err(error)) if error.is_timeout() => return timed_out(),
            Ok(Err(error)) => {
                let (failure, detail) = describe(&error);
                return Attempt::Failed(failure, detail);
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| webhook::parse_retry_after(value, chrono::Utc::now()));

        // The answer is in; read a little of the body so a well-behaved receiver can finish, then
        // drop the connection. A body that fails or stalls does not change the outcome.
        let mut read = 0usize;
        while read < self.options.max_response_bytes {
            match timeout_at(deadline, response.chunk()).await {
                Ok(Ok(Some(chunk))) => read = read.saturating_add(chunk.len()),
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
            }
        }
        drop(response);
        Attempt::Answered { status, retry_after }
    }

    /// The request's headers, marked sensitive (they carry signatures), plus the content type.
    fn headers(&self, request: &WebhookRequest) -> Result<HeaderMap, String> {
        let mut headers = HeaderMap::with_capacity(request.headers.len() + 1);
        for (name, value) in &request.headers {
            let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("invalid header name {name:?}"))?;
            if RESERVED_HEADERS.contains(&name) {
                return Err(format!("header {name} is set by the sender, not the request"));
            }
            let mut value = HeaderValue::from_str(value).map_err(|_| format!("invalid value for header {name}"))?;
            value.set_sensitive(true);
            headers.append(name, value);
        }
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        Ok(headers)
    }
}

#[async_trait]
impl WebhookSender for HttpWebhookSender {
    fn attempt_timeout(&self) -> Duration {
        self.options.timeout
    }

    async fn send(&self, request: &WebhookRequest) -> AttemptOutcome {
        let started = Instant::now();
        let attempt = self.attempt(request, started + self.options.timeout).await;
        let latency = started.elapsed();
        let failed = |error: &str, detail: String, refused_before_connect| AttemptOutcome {
            status: None,
            latency,
            error: Some(error.to_owned()),
            detail: Some(detail),
            retry_after: None,
            refused_before_connect,
        };
        match attempt {
            Attempt::Refused(reason) => failed(&reason, reason.clone(), true),
            Attempt::RefusedAddress(detail) => failed(Failure::Connection.as_str(), detail, true),
            Attempt::Failed(failure, detail) => failed(failure.as_str(), detail, false),
            Attempt::Answered { status, retry_after } => {
                AttemptOutcome { status: Some(status), latency, error: None, detail: None, retry_after, refused_before_connect: false }
            }
        }
    }
}

/// The client's only resolver: it knows the checked addresses of one name and nothing else.
#[derive(Default)]
struct PinnedResolver {
    name: Option<String>,
    addrs: Vec<SocketAddr>,
}

impl reqwest::dns::Resolve for PinnedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let result: Result<reqwest::dns::Addrs, Box<dyn std::error::Error + Send + Sync>> = match &self.name {
            Some(pinned) if pinned.eq_ignore_ascii_case(name.as_str()) => Ok(Box::new(self.addrs.clone().into_iter())),
            _ => Err("no checked address for this name".into()),
        };
        Box::pin(std::future::ready(result))
    }
}

/// What failed, and the error's text without the URL (reqwest's own message names it, its
/// causes do not) for the operator's log.
fn describe(error: &reqwest::Error) -> (Failure, String) {
    let chain = error_chain(error);
    let lower = chain.to_ascii_lowercase();
    let failure = if ["tls", "certificate", "handshake", "alert"].iter().any(|word| lower.contains(word)) { Failure::Tls } else { Failure::Connection };
    let kind = if error.is_connect() { "connection failed" } else { "request failed" };
    (failure, clip(format!("{kind}: {chain}")))
}

/// The causes of an error joined with `: ` (the outermost message left out: for reqwest it holds
/// the URL), repeated texts dropped.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        return "no details".to_owned();
    }
    parts.join(": ")
}

fn clip(mut text: String) -> String {
    if text.len() > MAX_ERROR_CHARS {
        let mut end = MAX_ERROR_CHARS;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests;
