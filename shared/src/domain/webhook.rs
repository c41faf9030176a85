//! Webhooks, the pure parts: signing secrets and the two signature schemes, the retry schedule,
//! `Retry-After`, and which endpoint URLs and IP addresses a delivery may go to.
//!
//! Every delivery carries two signatures over the same raw body:
//! - billing.io's: `X-Billing-Signature: t={unix},v1={hex HMAC-SHA256(whole secret, "{t}.{body}")}`;
//! - Standard Webhooks': `webhook-id`, `webhook-timestamp`, and
//!   `webhook-signature: v1,{base64 HMAC-SHA256(base64-decoded secret, "{id}.{t}.{body}")}`.

use super::chain::Environment;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;
use std::time::Duration;

/// billing.io's signature header (`t={unix_seconds},v1={hex}`). Header names are case-insensitive;
/// the lowercase form is what goes on the wire.
pub const BILLING_SIGNATURE_HEADER: &str = "x-billing-signature";
/// Standard Webhooks: the event id, the same on every attempt (receivers deduplicate on it).
pub const WEBHOOK_ID_HEADER: &str = "webhook-id";
/// Standard Webhooks: the attempt's unix timestamp, in seconds.
pub const WEBHOOK_TIMESTAMP_HEADER: &str = "webhook-timestamp";
/// Standard Webhooks: `v1,{base64}`.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "webhook-signature";

// ---------------------------------------------------------------------------------------------
// Secrets and signatures
// ---------------------------------------------------------------------------------------------

/// An endpoint's signing secret: `whsec_` followed by standard base64 (with padding) of 24 to 64
/// random bytes, the Standard Webhooks serialization. `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret {
    /// The whole secret as shown to the merchant: billing.io's scheme keys HMAC with this.
    text: String,
    /// The base64-decoded part after `whsec_`: the Standard Webhooks scheme keys HMAC with this.
    key: Vec<u8>,
}

impl WebhookSecret {
    pub const PREFIX: &'static str = "whsec_";
    /// Bytes in a generated secret.
    pub const GENERATED_BYTES: usize = 32;
    /// The Standard Webhooks bounds on the decoded secret.
    pub const MIN_BYTES: usize = 24;
    pub const MAX_BYTES: usize = 64;

    /// A new secret: `whsec_` + standard base64 of 32 random bytes (44 characters).
    pub fn generate() -> WebhookSecret {
        use rand::RngCore;
        let mut key = vec![0u8; Self::GENERATED_BYTES];
        rand::rng().fill_bytes(&mut key);
        WebhookSecret { text: format!("{}{}", Self::PREFIX, BASE64.encode(&key)), key }
    }

    /// Reads a stored secret back. `None` unless it is `whsec_` followed by canonical standard
    /// base64 of 24 to 64 bytes — exactly what the Standard Webhooks libraries can use.
    pub fn parse(text: &str) -> Option<WebhookSecret> {
        let encoded = text.strip_prefix(Self::PREFIX)?;
        let key = BASE64.decode(encoded).ok()?;
        if !(Self::MIN_BYTES..=Self::MAX_BYTES).contains(&key.len()) {
            return None;
        }
        Some(WebhookSecret { text: text.to_owned(), key })
    }

    /// For showing once, on creation, and for storing.
    pub fn reveal(&self) -> &str {
        &self.text
    }

    /// The `X-Billing-Signature` value: `t={timestamp},v1={hex}`, hex being the lowercase
    /// HMAC-SHA256, keyed with the whole secret string (`whsec_` included), of `"{t}.{raw_body}"`.
    pub fn billing_signature(&self, timestamp: i64, raw_body: &[u8]) -> String {
        let mac = hmac_sha256(self.text.as_bytes(), &[timestamp.to_string().as_bytes(), b".", raw_body]);
        format!("t={timestamp},v1={}", hex::encode(mac))
    }

    /// The `webhook-signature` value: `v1,{base64}`, base64 being the HMAC-SHA256, keyed with the
    /// decoded secret, of `"{msg_id}.{timestamp}.{raw_body}"`. The id must not contain `.` (ours
    /// are `evt_…` ids).
    pub fn standard_signature(&self, msg_id: &str, timestamp: i64, raw_body: &[u8]) -> String {
        let mac = hmac_sha256(&self.key, &[msg_id.as_bytes(), b".", timestamp.to_string().as_bytes(), b".", raw_body]);
        format!("v1,{}", BASE64.encode(mac))
    }

    /// The four signature headers of one attempt, lowercase names first to last:
    /// `x-billing-signature`, `webhook-id`, `webhook-timestamp`, `webhook-signature`.
    pub fn signature_headers(&self, msg_id: &str, timestamp: i64, raw_body: &[u8]) -> Vec<(String, String)> {
        vec![
            (BILLING_SIGNATURE_HEADER.to_owned(), self.billing_signature(timestamp, raw_body)),
            (WEBHOOK_ID_HEADER.to_owned(), msg_id.to_owned()),
            (WEBHOOK_TIMESTAMP_HEADER.to_owned(), timestamp.to_string()),
            (WEBHOOK_SIGNATURE_HEADER.to_owned(), self.standard_signature(msg_id, timestamp, raw_body)),
        ]
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(whsec_…)")
    }
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        // HMAC takes keys of any length (long ones are hashed first); this cannot happen.
        unreachable!("HMAC-SHA256 accepts keys of any length")
    };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

// ---------------------------------------------------------------------------------------------
// Retry schedule
// ---------------------------------------------------------------------------------------------

/// The default schedule (Svix's): attempt 1 at once, then retries 5 s, 5 min, 30 min, 2 h, 5 h,
/// 10 h and 10 h after the previous failure: 8 attempts over about 27.5 hours.
pub const DEFAULT_RETRY_SCHEDULE: &str = "0,5s,5m,30m,2h,5h,10h,10h";
/// The default jitter: each scheduled delay is moved by up to ±20 %.
pub const DEFAULT_JITTER_PERCENT: u32 = 20;
/// A receiver's `Retry-After` can postpone the next attempt by at most this much.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);
/// The longest single delay a schedule may configure.
pub const MAX_SCHEDULED_DELAY: Duration = Duration::from_secs(7 * 24 * 3600);
/// The most attempts a schedule may configure.
pub const MAX_ATTEMPTS: usize = 50;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    #[error("the retry schedule is empty: expected comma-separated delays such as \"{DEFAULT_RETRY_SCHEDULE}\"")]
    Empty,
    #[error("retry schedule entry {position} is empty")]
    EmptyEntry { position: usize },
    #[error("retry schedule entry {position} ({entry:?}) is not a whole number followed by an optional unit s, m or h")]
    Malformed { position: usize, entry: String },
    #[error("retry schedule entry {position} ({entry:?}) has an unknown unit {unit:?}: use s, m or h (no unit: seconds)")]
    UnknownUnit { position: usize, entry: String, unit: String },
    #[error("retry schedule entry {position} ({entry:?}) is longer than the maximum of 7 days")]
    TooLong { position: usize, entry: String },
    #[error("the retry schedule has {count} attempts; at most {MAX_ATTEMPTS} are allowed")]
    TooManyAttempts { count: usize },
    #[error("jitter must be between 0 and 100 percent, not {0}")]
    Jitter(u32),
}

/// When to attempt a delivery, as data.
///
/// The model: `delays[0]` is the wait before the first attempt (normally 0: at once) and
/// `delays[i]` for i ≥ 1 is the wait after failed attempt i before attempt i + 1. So
/// [`attempts_allowed`](Self::attempts_allowed) is `delays.len()` and
/// [`next_delay`](Self::next_delay)`(attempts_made, …)` is (a jittered) `delays[attempts_made]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
    jitter_percent: u32,
}

impl RetrySchedule {
    pub fn new(delays: Vec<Duration>, jitter_percent: u32) -> Result<RetrySchedule, ScheduleError> {
        if delays.is_empty() {
            return Err(ScheduleError::Empty);
        }
        if delays.len() > MAX_ATTEMPTS {
            return Err(ScheduleError::TooManyAttempts { count: delays.len() });
        }
        if let Some(index) = delays.iter().position(|d| *d > MAX_SCHEDULED_DELAY) {
            return Err(ScheduleError::TooLong { position: index + 1, entry: format_delay(delays[index]) });
        }
        if jitter_percent > 100 {
            return Err(ScheduleError::Jitter(jitter_percent));
        }
        Ok(RetrySchedule { delays, jitter_percent })
    }

    /// Reads configuration like `"0,5s,5m,30m,2h,5h,10h,10h"`: comma-separated whole numbers, each
    /// followed by an optional unit `s`, `m` or `h` (no unit: seconds); spaces around entries are
    /// ignored. The jitter is the default ±20 %; see [`with_jitter_percent`](Self::with_jitter_percent).
    pub fn parse(text: &str) -> Result<RetrySchedule, ScheduleError> {
        if text.trim().is_empty() {
            return Err(ScheduleError::Empty);
        }
        let delays = text.split(',').enumerate().map(|(index, entry)| parse_delay(index + 1, entry.trim())).collect::<Result<Vec<_>, _>>()?;
        RetrySchedule::new(delays, DEFAULT_JITTER_PERCENT)
    }

    pub fn with_jitter_percent(self, jitter_percent: u32) -> Result<RetrySchedule, ScheduleError> {
        RetrySchedule::new(self.delays, jitter_percent)
    }

    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    pub fn jitter_percent(&self) -> u32 {
        self.jitter_percent
    }

    /// How many attempts a delivery gets in all (the first one included).
    pub fn attempts_allowed(&self) -> usize {
        self.delays.len()
    }

    /// How long to wait before the next attempt, given how many were made; `None` once every
    /// allowed attempt was made.
    ///
    /// The scheduled delay is moved uniformly within ±jitter (never below zero). A receiver's
    /// `Retry-After` can only postpone: the result is `max(jittered delay, min(retry_after, 24 h))`.
    /// A `Retry-After` shorter than the schedule is ignored (a struggling receiver does not get
    /// hammered sooner), and one longer than 24 h is capped so an endpoint cannot park its
    /// deliveries indefinitely; its attempts still count against the schedule.
    pub fn next_delay<R: rand::Rng + ?Sized>(&self, attempts_made: usize, retry_after: Option<Duration>, rng: &mut R) -> Option<Duration> {
        let scheduled = *self.delays.get(attempts_made)?;
        let jittered = self.jitter(scheduled, rng);
        Some(match retry_after {
            Some(asked) => jittered.max(asked.min(MAX_RETRY_AFTER)),
            None => jittered,
        })
    }

    /// `delay ± delay·jitter%`, uniformly, in whole milliseconds.
    fn jitter<R: rand::Rng + ?Sized>(&self, delay: Duration, rng: &mut R) -> Duration {
        // Delays are at most 7 days (6.048e8 ms), so none of this overflows u64.
        let millis = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX);
        let spread = millis.saturating_mul(u64::from(self.jitter_percent)) / 100;
        if spread == 0 {
            return delay;
        }
        let low = millis - spread; // spread ≤ millis since jitter ≤ 100 %
        Duration::from_millis(rng.random_range(low..=millis.saturating_add(spread)))
    }
}

impl Default for RetrySchedule {
    /// [`DEFAULT_RETRY_SCHEDULE`] with ±[`DEFAULT_JITTER_PERCENT`].
    fn default() -> RetrySchedule {
        const SECONDS: [u64; 8] = [0, 5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600];
        RetrySchedule { delays: SECONDS.iter().map(|s| Duration::from_secs(*s)).collect(), jitter_percent: DEFAULT_JITTER_PERCENT }
    }
}

impl FromStr for RetrySchedule {
    type Err = ScheduleError;
    fn from_str(text: &str) -> Result<RetrySchedule, ScheduleError> {
        RetrySchedule::parse(text)
    }
}

/// The configuration form (`0,5s,5m,…`, each delay in the largest unit that divides it); the
/// jitter is not part of it.
impl fmt::Display for RetrySchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: Vec<String> = self.delays.iter().map(|d| format_delay(*d)).collect();
        f.write_str(&text.join(","))
    }
}

fn parse_delay(position: usize, entry: &str) -> Result<Duration, ScheduleError> {
    if entry.is_empty() {
        return Err(ScheduleError::EmptyEntry { position });
    }
    let digits_end = entry.find(|c: char| !c.is_ascii_digit()).unwrap_or(entry.len());
    let (digits, unit) = entry.split_at(digits_end);
    if digits.is_empty() {
        return Err(ScheduleError::Malformed { position, entry: entry.to_owned() });
    }
    let multiplier: u64 = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        other if other.chars().all(|c| c.is_ascii_alphabetic()) => {
            return Err(ScheduleError::UnknownUnit { position, entry: entry.to_owned(), unit: other.to_owned() });
        }
        _ => return Err(ScheduleError::Malformed { position, entry: entry.to_owned() }),
    };
    let too_long = || ScheduleError::TooLong { position, entry: entry.to_owned() };
    let number: u64 = digits.parse().map_err(|_| too_long())?; // only digits: fails on overflow alone
    let seconds = number.checked_mul(multiplier).ok_or_else(too_long)?;
    let delay = Duration::from_secs(seconds);
    if delay > MAX_SCHEDULED_DELAY {
        return Err(too_long());
    }
    Ok(delay)
}

fn format_delay(delay: Duration) -> String {
    let seconds = delay.as_secs();
    if seconds == 0 {
        "0".to_owned()
    } else if seconds.is_multiple_of(3600) {
        format!("{}h", seconds / 3600)
    } else if seconds.is_multiple_of(60) {
        format!("{}m", seconds / 60)
    } else {
        format!("{seconds}s")
    }
}

/// A `Retry-After` header value: delay-seconds (`120`) or an HTTP date (IMF-fixdate
/// `Wed, 21 Oct 2015 07:28:00 GMT`, or the obsolete RFC 850 and asctime forms). A date in the past
/// is a delay of zero. `None` for anything else (negative or fractional numbers included).
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<u64>().ok().map(Duration::from_secs);
    }
    let at = DateTime::parse_from_rfc2822(value)
        .map(|at| at.with_timezone(&Utc))
        .ok()
        .or_else(|| NaiveDateTime::parse_from_str(value, "%A, %d-%b-%y %H:%M:%S GMT").ok().map(|at| at.and_utc()))
        .or_else(|| NaiveDateTime::parse_from_str(value, "%a %b %e %H:%M:%S %Y").ok().map(|at| at.and_utc()))?;
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

// ---------------------------------------------------------------------------------------------
// Where deliveries may go (SSRF)
// ---------------------------------------------------------------------------------------------

/// What kind of destination an IP address is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// Globally routable unicast.
    Public,
    /// 127/8, ::1, and `localhost` by name.
    Loopback,
    /// 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7, fec0::/10 (old site-local).
    Private,
    /// 169.254/16, fe80::/10 (minus the metadata endpoints).
    LinkLocal,
    /// Cloud instance metadata and credential endpoints: 169.254.169.0/24 (IMDS of AWS, GCP,
    /// Azure, OCI…, AWS DNS and time sync), 169.254.170.0/24 (ECS task credentials, EKS pod
    /// identity), 100.100.100.200 (Alibaba), fd00:ec2::/32 (AWS over IPv6).
    Metadata,
    /// 0.0.0.0 and :: (which reach the local host on Linux).
    Unspecified,
    /// 224/4, ff00::/8.
    Multicast,
    /// Everything else that is not public: 0/8, 192.0.0/24, 192.88.99/24, 198.18/15, 240/4,
    /// 255.255.255.255, documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24,
    /// 2001:db8::/32, 3fff::/20), 100::/64, 2001::/23, 2002::/16, deprecated IPv4-compatible
    /// addresses, and IPv6 outside 2000::/3.
    Reserved,
}

impl AddressClass {
    pub const ALL: [AddressClass; 8] = [
        AddressClass::Public,
        AddressClass::Loopback,
        AddressClass::Private,
        AddressClass::LinkLocal,
        AddressClass::Metadata,
        AddressClass::Unspecified,
        AddressClass::Multicast,
        AddressClass::Reserved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AddressClass::Public => "public",
            AddressClass::Loopback => "loopback",
            AddressClass::Private => "private",
            AddressClass::LinkLocal => "link-local",
            AddressClass::Metadata => "cloud metadata",
            AddressClass::Unspecified => "unspecified",
            AddressClass::Multicast => "multicast",
            AddressClass::Reserved => "reserved",
        }
    }
}

impl fmt::Display for AddressClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Classifies an address. IPv6 forms that carry an IPv4 address are judged by it: IPv4-mapped
/// (`::ffff:a.b.c.d`) and NAT64 (`64:ff9b::/96`) exactly as the IPv4 address; the local-use NAT64
/// prefix (`64:ff9b:1::/48`) and the deprecated embeddings (IPv4-compatible `::a.b.c.d`,
/// IPv4-translated `::ffff:0:a.b.c.d`, 6to4 `2002::/16`) take the IPv4 address's class when it is
/// special and are never `Public` themselves.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, network: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix) };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(network)) & mask)
}

fn in_v6(ip: Ipv6Addr, network: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix) };
    (u128::from(ip) & mask) == (u128::from(Ipv6Addr::from(network)) & mask)
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    use AddressClass::*;
    const METADATA: [([u8; 4], u32); 3] = [([169, 254, 169, 0], 24), ([169, 254, 170, 0], 24), ([100, 100, 100, 200], 32)];
    // The first match wins: 0.0.0.0 before 0/8, 255.255.255.255 before 240/4.
    const RANGES: &[([u8; 4], u32, AddressClass)] = &[
        ([0, 0, 0, 0], 32, Unspecified),
        ([0, 0, 0, 0], 8, Reserved),
        ([10, 0, 0, 0], 8, Private),
        ([100, 64, 0, 0], 10, Private),
        ([127, 0, 0, 0], 8, Loopback),
        ([169, 254, 0, 0], 16, LinkLocal),
        ([172, 16, 0, 0], 12, Private),
        ([192, 0, 0, 0], 24, Reserved),
        ([192, 0, 2, 0], 24, Reserved),
        ([192, 88, 99, 0], 24, Reserved),
        ([192, 168, 0, 0], 16, Private),
        ([198, 18, 0, 0], 15, Reserved),
        ([198, 51, 100, 0], 24, Reserved),
        ([203, 0, 113, 0], 24, Reserved),
        ([224, 0, 0, 0], 4, Multicast),
        ([255, 255, 255, 255], 32, Reserved),
        ([240, 0, 0, 0], 4, Reserved),
    ];
    if METADATA.iter().any(|(network, prefix)| in_v4(ip, *network, *prefix)) {
        return Metadata;
    }
    RANGES.iter().find(|(network, prefix, _)| in_v4(ip, *network, *prefix)).map(|(_, _, class)| *class).unwrap_or(Public)
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    use AddressClass::*;
    let s = ip.segments();
    let embedded = Ipv4Addr::from(u32::from(s[6]) << 16 | u32::from(s[7]));
    // A special embedded address keeps its class; a public one makes the whole address `Reserved`.
    let never_public = |v4: Ipv4Addr| match classify_v4(v4) {
        Public => Reserved,
        special => special,
    };

    if let Some(v4) = ip.to_ipv4_mapped() {
        return classify_v4(v4); // ::ffff:0:0/96
    }
    if ip.is_unspecified() {
        return Unspecified;
    }
    if ip.is_loopback() {
        return Loopback;
    }
    if in_v6(ip, [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0], 32) {
        return Metadata;
    }
    if in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96) {
        return classify_v4(embedded); // NAT64 well-known prefix: the gateway forwards to the IPv4 address
    }
    if in_v6(ip, [0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48) {
        return match classify_v4(embedded) {
            Public => Private, // local-use NAT64: an operator's own translator
            special => special,
        };
    }
    if in_v6(ip, [0, 0, 0, 0, 0, 0, 0, 0], 96) || in_v6(ip, [0, 0, 0, 0, 0xffff, 0, 0, 0], 96) {
        return never_public(embedded); // IPv4-compatible, IPv4-translated (both deprecated)
    }
    if in_v6(ip, [0x2002, 0, 0, 0, 0, 0, 0, 0], 16) {
        return never_public(Ipv4Addr::from(u32::from(s[1]) << 16 | u32::from(s[2]))); // 6to4
    }
    // The first match wins: documentation and protocol ranges before 2000::/3.
    const RANGES: &[([u16; 8], u32, AddressClass)] = &[
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Multicast),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Private),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Private),
        ([0x0100, 0, 0, 0, 0, 0, 0, 0], 64, Reserved),
        ([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32, Reserved),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, Reserved),
        ([0x2001, 0, 0, 0, 0, 0, 0, 0], 23, Reserved),
        ([0x2000, 0, 0, 0, 0, 0, 0, 0], 3, Public),
    ];
    RANGES.iter().find(|(network, prefix, _)| in_v6(ip, *network, *prefix)).map(|(_, _, class)| *class).unwrap_or(Reserved)
}

/// Whether an environment's deliveries may go to an address of this class: live only to public
/// addresses; sandbox anywhere but cloud metadata, unspecified and multicast addresses (so local
/// development can receive on localhost or the LAN).
pub fn allowed(class: AddressClass, environment: Environment) -> bool {
    match environment {
        Environment::Live => match class {
            AddressClass::Public => true,
            AddressClass::Loopback
            | AddressClass::Private
            | AddressClass::LinkLocal
            | AddressClass::Metadata
            | AddressClass::Unspecified
            | AddressClass::Multicast
            | AddressClass::Reserved => false,
        },
        Environment::Sandbox => match class {
            AddressClass::Public | AddressClass::Loopback | AddressClass::Private | AddressClass::LinkLocal | AddressClass::Reserved => true,
            AddressClass::Metadata | AddressClass::Unspecified | AddressClass::Multicast => false,
        },
    }
}

/// The longest endpoint URL accepted.
pub const MAX_ENDPOINT_URL_LEN: usize = 2048;

/// How the host of a valid endpoint URL is to be reached.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointHost {
    /// An IP literal (in any form the URL standard reads: `[::1]`, `127.1`, `0x7f000001`, …),
    /// already checked.
    Address(IpAddr),
    /// A DNS name (lowercase, punycode); what it resolves to must be checked at delivery time.
    Name(String),
}

/// Checks a merchant's endpoint URL for an environment and returns its normalized form, or why it
/// is refused (a sentence fit for an API error):
/// - at most [`MAX_ENDPOINT_URL_LEN`] characters, no whitespace or control characters;
/// - `https` in live, `http` or `https` in sandbox;
/// - no user name or password, a host, a non-zero port;
/// - an IP-literal host must be [`allowed`] for the environment; `localhost` and `*.localhost`
///   count as loopback.
///
/// Names that resolve somewhere forbidden can only be caught when delivering (DNS changes).
pub fn validate_endpoint_url(url: &str, environment: Environment) -> Result<String, String> {
    check_endpoint_url(url, environment).map(|(url, _)| url.to_string())
}

/// [`validate_endpoint_url`], also returning the parsed URL and how its host is reached.
pub fn check_endpoint_url(url: &str, environment: Environment) -> Result<(reqwest::Url, EndpointHost), String> {
    if url.is_empty() {
        return Err("the URL is empty".to_owned());
    }
    if url.len() > MAX_ENDPOINT_URL_LEN {
        return Err(format!("the URL is longer than {MAX_ENDPOINT_URL_LEN} characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL must not contain spaces or control characters".to_owned());
    }
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("the URL is not valid: {e}"))?;
    match (parsed.scheme(), environment) {
        ("https", _) | ("http", Environment::Sandbox) => {}
        ("http", Environment::Live) => return Err("live endpoints must use https".to_owned()),
        (_, Environment::Live) => return Err("the URL must use https".to_owned()),
        (_, Environment::Sandbox) => return Err("the URL must use http or https".to_owned()),
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err("the URL must not contain a user name or password".to_owned());
    }
    if parsed.port() == Some(0) {
        return Err("the URL's port must not be 0".to_owned());
    }
    // For http(s) the URL standard has already turned every IPv4 spelling into dotted decimal and
    // put IPv6 literals in brackets, so reading `host_str` back is exact.
    let host = match parsed.host_str() {
        None | Some("") => return Err("the URL has no host".to_owned()),
        Some(text) => match (text.strip_prefix('[').and_then(|t| t.strip_suffix(']')), text.parse::<Ipv4Addr>()) {
            (Some(v6), _) => EndpointHost::Address(IpAddr::V6(v6.parse::<Ipv6Addr>().map_err(|_| "the URL's IPv6 address is not valid".to_owned())?)),
            (None, Ok(v4)) => EndpointHost::Address(IpAddr::V4(v4)),
            (None, Err(_)) => EndpointHost::Name(text.to_ascii_lowercase()),
        },
    };
    let class = match &host {
        EndpointHost::Address(ip) => Some(classify(*ip)),
        EndpointHost::Name(name) if is_localhost(name) => Some(AddressClass::Loopback),
        EndpointHost::Name(_) => None,
    };
    if let Some(class) = class
        && !allowed(class, environment)
    {
        return Err(format!("{environment} endpoints may not use a {class} address"));
    }
    if parsed.as_str().len() > MAX_ENDPOINT_URL_LEN {
        return Err(format!("the URL is longer than {MAX_ENDPOINT_URL_LEN} characters once normalized"));
    }
    Ok((parsed, host))
}

/// `localhost`, `*.localhost` (RFC 6761), with or without a trailing dot.
fn is_localhost(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name == "localhost" || name.ends_with(".localhost")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    // ----- secrets and signatures -----------------------------------------------------------

    /// The Standard Webhooks test vector, published in the specification's reference libraries
    /// (standard-webhooks/standard-webhooks, libraries/javascript/src/webhook.test.ts "sign function works").
    const SPEC_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const SPEC_MSG_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const SPEC_TIMESTAMP: i64 = 1614265330;
    const SPEC_BODY: &[u8] = br#"{"test": 2432232314}"#;

    /// Bytes 0x00..=0x1f, base64: a secret of the generated shape with a known key.
    const OWN_SECRET: &str = "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const OWN_BODY: &[u8] = br#"{"event_id":"evt_01","type":"payout.settled","data":{"amount":"12.50"},"created_at":"2025-06-15T10:00:00Z"}"#;

    fn secret(text: &str) -> WebhookSecret {
        WebhookSecret::parse(text).unwrap()
    }

    #[test]
    fn standard_signature_matches_the_specification_vectors() {
        assert_eq!(secret(SPEC_SECRET).standard_signature(SPEC_MSG_ID, SPEC_TIMESTAMP, SPEC_BODY), "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        // The reference Rust library's own vector (libraries/rust/src/lib.rs, test_sign).
        assert_eq!(
            secret("whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD").standard_signature(
                "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
                1649367553,
                br#"{"email":"test@example.com","username":"test_user"}"#
            ),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    /// Expected values computed independently with Python's `hmac`/`hashlib`/`base64`, e.g.
    /// `base64.b64encode(hmac.new(bytes(range(32)), b"evt_01.1750000000." + body, hashlib.sha256).digest())`.
    #[test]
    fn standard_signature_matches_independent_vectors() {
        let own = secret(OWN_SECRET);
        assert_eq!(own.standard_signature("evt_01", 1750000000, OWN_BODY), "v1,kjDtDzAUY8biaOFgWafxyOKiP/4w9KOVuObbRrf63rQ=");
        // Raw bytes are signed as they are, UTF-8 or not.
        assert_eq!(own.standard_signature("msg_x", 1700000000, &[0xff, 0x00, 0xfe]), "v1,/Ii609yszsV67jvEUnzUQfjst+JLhD4inwB87D4QxV8=");
    }

    /// Expected values computed independently with Python:
    /// `hmac.new(secret.encode(), str(t).encode() + b"." + body, hashlib.sha256).hexdigest()`.
    #[test]
    fn billing_signature_keys_with_the_whole_secret_string() {
        let own = secret(OWN_SECRET);
        assert_eq!(own.billing_signature(1750000000, OWN_BODY), "t=1750000000,v1=d9a29be9e44a213bb891e95013eaa47cd2955def8486994b7b61fddb62336e2f");
        assert_eq!(
            secret(SPEC_SECRET).billing_signature(SPEC_TIMESTAMP, SPEC_BODY),
            "t=1614265330,v1=2e37df5d4a028c51a7f3133d64ae1e300d2c2c900f1b1d49d4369ad2530f8964"
        );
        assert_eq!(own.billing_signature(0, b""), "t=0,v1=d8aec949f571341d52ef7916304be7b655fd60c3d50fd303f7fb35660d886827");
        assert_eq!(own.billing_signature(1700000000, &[0xff, 0x00, 0xfe]), "t=1700000000,v1=1de3f4085063b4be9fe986966760a49d4ae69d7fe82c190bd9bffc60d34a64af");
    }

    #[test]
    fn signature_headers_carry_both_schemes() {
        let own = secret(OWN_SECRET);
        let headers = own.signature_headers("evt_01", 1750000000, OWN_BODY);
        let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(names, ["x-billing-signature", "webhook-id", "webhook-timestamp", "webhook-signature"]);
        assert_eq!(headers[0].1, own.billing_signature(1750000000, OWN_BODY));
        assert_eq!(headers[1].1, "evt_01");
        assert_eq!(headers[2].1, "1750000000");
        assert_eq!(headers[3].1, "v1,kjDtDzAUY8biaOFgWafxyOKiP/4w9KOVuObbRrf63rQ=");
    }

    #[test]
    fn generated_secrets_are_standard_webhooks_secrets() {
        let generated = WebhookSecret::generate();
        let text = generated.reveal();
        assert!(text.starts_with("whsec_"));
        assert_eq!(text.len(), 6 + 44);
        assert_eq!(BASE64.decode(&text[6..]).unwrap().len(), 32);
        let reparsed = WebhookSecret::parse(text).unwrap();
        assert_eq!(reparsed.reveal(), text);
        assert_eq!(reparsed.standard_signature("m", 1, b"x"), generated.standard_signature("m", 1, b"x"));
        assert_ne!(WebhookSecret::generate().reveal(), text);
    }

    #[test]
    fn secrets_never_show_in_debug() {
        let generated = WebhookSecret::generate();
        let shown = format!("{generated:?} {:?}", secret(SPEC_SECRET));
        assert!(!shown.contains(&generated.reveal()[6..]));
        assert!(!shown.contains(&generated.reveal()[10..16]));
        assert!(!shown.contains("MfKQ9r8"));
        assert_eq!(format!("{generated:?}"), "WebhookSecret(whsec_…)");
    }

    #[test]
    fn parse_refuses_what_standard_webhooks_libraries_could_not_use() {
        for bad in [
            "",
            "whsec_",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",                  // no prefix
            "WHSEC_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",            // wrong prefix
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaS!",            // not base64
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw ",           // trailing space
            "whsec_MfKQ9r8GKYqrTwjU_D8ILPZIo2LaLaSw",            // URL-safe alphabet
            "whsec_AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8", // padding missing
            "whsec_AAECAwQFBgcICQoLDA0ODw==",                    // 16 bytes: too short
        ] {
            assert!(WebhookSecret::parse(bad).is_none(), "{bad:?} was accepted");
        }
        let too_long = format!("whsec_{}", BASE64.encode([7u8; 65]));
        assert!(WebhookSecret::parse(&too_long).is_none());
        assert!(WebhookSecret::parse(&format!("whsec_{}", BASE64.encode([7u8; 64]))).is_some());
        assert!(WebhookSecret::parse(&format!("whsec_{}", BASE64.encode([7u8; 24]))).is_some());
    }

    // ----- retry schedule -------------------------------------------------------------------

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_default_schedule_is_eight_attempts() {
        let schedule = RetrySchedule::default();
        assert_eq!(schedule, RetrySchedule::parse(DEFAULT_RETRY_SCHEDULE).unwrap());
        assert_eq!(schedule.attempts_allowed(), 8);
        assert_eq!(schedule.jitter_percent(), 20);
        assert_eq!(schedule.delays(), [secs(0), secs(5), secs(300), secs(1800), secs(7200), secs(18000), secs(36000), secs(36000)]);
        assert_eq!(schedule.to_string(), DEFAULT_RETRY_SCHEDULE);
    }

    #[test]
    fn parse_reads_units_and_plain_seconds() {
        let schedule = RetrySchedule::parse(" 0 , 90, 5s,2m , 1h,3 h,168h").unwrap();
        assert_eq!(schedule.delays(), [secs(0), secs(90), secs(5), secs(120), secs(3600), secs(3 * 3600), secs(7 * 24 * 3600)]);
        assert_eq!(schedule.to_string(), "0,90s,5s,2m,1h,3h,168h");
        assert_eq!("30".parse::<RetrySchedule>().unwrap().delays(), [secs(30)]);
        let round_trip = RetrySchedule::parse(&schedule.to_string()).unwrap();
        assert_eq!(round_trip, schedule);
    }

    #[test]
    fn parse_errors_say_what_is_wrong() {
        assert_eq!(RetrySchedule::parse(""), Err(ScheduleError::Empty));
        assert_eq!(RetrySchedule::parse("  "), Err(ScheduleError::Empty));
        assert_eq!(RetrySchedule::parse("0,,5m"), Err(ScheduleError::EmptyEntry { position: 2 }));
        assert_eq!(RetrySchedule::parse("0,5m,"), Err(ScheduleError::EmptyEntry { position: 3 }));
        assert_eq!(RetrySchedule::parse("0,5d"), Err(ScheduleError::UnknownUnit { position: 2, entry: "5d".into(), unit: "d".into() }));
        assert_eq!(RetrySchedule::parse("5ms"), Err(ScheduleError::UnknownUnit { position: 1, entry: "5ms".into(), unit: "ms".into() }));
        assert_eq!(RetrySchedule::parse("5M"), Err(ScheduleError::UnknownUnit { position: 1, entry: "5M".into(), unit: "M".into() }));
        for malformed in ["m", "-5", "1.5h", "5m5", "+5", "5 m s", "0x10"] {
            assert!(
                matches!(RetrySchedule::parse(malformed), Err(ScheduleError::Malformed { position: 1, .. }) | Err(ScheduleError::UnknownUnit { .. })),
                "{malformed:?}"
            );
        }
        assert!(matches!(RetrySchedule::parse("1.5h"), Err(ScheduleError::Malformed { .. })));
        assert!(matches!(RetrySchedule::parse("-5"), Err(ScheduleError::Malformed { .. })));
        assert_eq!(RetrySchedule::parse("0,169h"), Err(ScheduleError::TooLong { position: 2, entry: "169h".into() }));
        assert_eq!(RetrySchedule::parse("99999999999999999999"), Err(ScheduleError::TooLong { position: 1, entry: "99999999999999999999".into() }));
        assert_eq!(RetrySchedule::parse("18446744073709551615h"), Err(ScheduleError::TooLong { position: 1, entry: "18446744073709551615h".into() }));
        let many = vec!["1"; MAX_ATTEMPTS + 1].join(",");
        assert_eq!(RetrySchedule::parse(&many), Err(ScheduleError::TooManyAttempts { count: MAX_ATTEMPTS + 1 }));
        assert!(RetrySchedule::parse(&vec!["1"; MAX_ATTEMPTS].join(",")).is_ok());
        assert_eq!(RetrySchedule::default().with_jitter_percent(101), Err(ScheduleError::Jitter(101)));
        assert_eq!(RetrySchedule::new(vec![], 0), Err(ScheduleError::Empty));
        // The messages read well in a configuration error.
        assert_eq!(
            RetrySchedule::parse("0,5d").unwrap_err().to_string(),
            "retry schedule entry 2 (\"5d\") has an unknown unit \"d\": use s, m or h (no unit: seconds)"
        );
    }

    #[test]
    fn next_delay_without_jitter_follows_the_schedule_then_stops() {
        let schedule = RetrySchedule::default().with_jitter_percent(0).unwrap();
        let mut rng = StdRng::seed_from_u64(1);
        let delays: Vec<Option<Duration>> = (0..10).map(|made| schedule.next_delay(made, None, &mut rng)).collect();
        assert_eq!(
            delays,
            [
                Some(secs(0)),
                Some(secs(5)),
                Some(secs(300)),
                Some(secs(1800)),
                Some(secs(7200)),
                Some(secs(18000)),
                Some(secs(36000)),
                Some(secs(36000)),
                None,
                None
            ]
        );
        assert_eq!(schedule.next_delay(usize::MAX, Some(secs(1)), &mut rng), None);
    }

    #[test]
    fn jitter_stays_within_bounds_and_is_reproducible() {
        let schedule = RetrySchedule::default();
        let mut rng = StdRng::seed_from_u64(42);
        for (made, scheduled) in schedule.delays().iter().enumerate() {
            let ms = scheduled.as_millis() as u64;
            let (low, high) = (Duration::from_millis(ms - ms / 5), Duration::from_millis(ms + ms / 5));
            let draws: Vec<Duration> = (0..200).map(|_| schedule.next_delay(made, None, &mut rng).unwrap()).collect();
            assert!(draws.iter().all(|d| (low..=high).contains(d)), "attempt {made}: {draws:?}");
            if ms > 0 {
                assert!(draws.iter().any(|d| d != scheduled), "attempt {made}: no jitter");
                assert!(draws.iter().any(|d| *d < *scheduled) && draws.iter().any(|d| *d > *scheduled), "attempt {made}: one-sided");
            } else {
                assert!(draws.iter().all(Duration::is_zero));
            }
        }
        let first: Vec<_> = (1..8).map(|m| schedule.next_delay(m, None, &mut StdRng::seed_from_u64(7))).collect();
        let again: Vec<_> = (1..8).map(|m| schedule.next_delay(m, None, &mut StdRng::seed_from_u64(7))).collect();
        assert_eq!(first, again);
    }

    #[test]
    fn full_jitter_is_never_negative() {
        let schedule = RetrySchedule::parse("0,10s").unwrap().with_jitter_percent(100).unwrap();
        let mut rng = StdRng::seed_from_u64(3);
        let draws: Vec<Duration> = (0..500).map(|_| schedule.next_delay(1, None, &mut rng).unwrap()).collect();
        assert!(draws.iter().all(|d| *d <= secs(20)));
        assert!(draws.iter().any(|d| *d < secs(2)));
        assert!(draws.iter().any(|d| *d > secs(18)));
    }

    #[test]
    fn retry_after_only_postpones_and_is_capped() {
        let schedule = RetrySchedule::default().with_jitter_percent(0).unwrap();
        let mut rng = StdRng::seed_from_u64(9);
        // Longer than scheduled: honoured.
        assert_eq!(schedule.next_delay(1, Some(secs(7)), &mut rng), Some(secs(7)));
        assert_eq!(schedule.next_delay(2, Some(secs(3600)), &mut rng), Some(secs(3600)));
        // Shorter than scheduled: the schedule wins.
        assert_eq!(schedule.next_delay(2, Some(secs(1)), &mut rng), Some(secs(300)));
        assert_eq!(schedule.next_delay(3, Some(Duration::ZERO), &mut rng), Some(secs(1800)));
        // Absurd: capped at 24 h.
        assert_eq!(schedule.next_delay(1, Some(secs(10 * 24 * 3600)), &mut rng), Some(MAX_RETRY_AFTER));
        assert_eq!(schedule.next_delay(1, Some(Duration::MAX), &mut rng), Some(MAX_RETRY_AFTER));
        // A configured delay beyond 24 h is not cut by the cap.
        let long = RetrySchedule::parse("0,48h").unwrap().with_jitter_percent(0).unwrap();
        assert_eq!(long.next_delay(1, Some(secs(30 * 3600)), &mut rng), Some(secs(48 * 3600)));
        // No attempts left: Retry-After changes nothing.
        assert_eq!(schedule.next_delay(8, Some(secs(60)), &mut rng), None);
        // With jitter the result is still at least the Retry-After.
        let jittered = RetrySchedule::default();
        for _ in 0..100 {
            let delay = jittered.next_delay(1, Some(secs(6)), &mut rng).unwrap();
            assert!((secs(6)..=secs(6)).contains(&delay), "{delay:?}"); // 5 s ± 20 % never exceeds 6 s
            let delay = jittered.next_delay(2, Some(secs(330)), &mut rng).unwrap();
            assert!((secs(330)..=secs(360)).contains(&delay), "{delay:?}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = Utc.with_ymd_and_hms(2015, 10, 21, 7, 20, 0).unwrap();
        assert_eq!(parse_retry_after("7", now), Some(secs(7)));
        assert_eq!(parse_retry_after(" 120 ", now), Some(secs(120)));
        assert_eq!(parse_retry_after("0", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), Some(secs(480)));
        assert_eq!(parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", now), Some(secs(480)));
        assert_eq!(parse_retry_after("Wed Oct 21 07:28:00 2015", now), Some(secs(480)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO)); // in the past
        for bad in ["", "-1", "1.5", "+3", "soon", "7 s", "99999999999999999999999", "2015-10-21T07:28:00Z"] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    // ----- addresses --------------------------------------------------------------------------

    fn class_of(text: &str) -> AddressClass {
        classify(text.parse::<IpAddr>().unwrap())
    }

    #[test]
    fn classifies_ipv4() {
        use AddressClass::*;
        let table = [
            ("8.8.8.8", Public),
            ("1.1.1.1", Public),
            ("93.184.216.34", Public),
            ("100.63.255.255", Public),
            ("100.128.0.0", Public),
            ("172.15.255.255", Public),
            ("172.32.0.0", Public),
            ("192.167.255.255", Public),
            ("192.169.0.0", Public),
            ("198.17.255.255", Public),
            ("198.20.0.0", Public),
            ("223.255.255.255", Public),
            ("169.253.255.255", Public),
            ("9.255.255.255", Public),
            ("11.0.0.0", Public),
            ("127.0.0.1", Loopback),
            ("127.255.255.254", Loopback),
            ("127.1.2.3", Loopback),
            ("10.0.0.1", Private),
            ("10.255.255.255", Private),
            ("172.16.0.1", Private),
            ("172.31.255.255", Private),
            ("192.168.0.1", Private),
            ("192.168.255.255", Private),
            ("100.64.0.1", Private),
            ("100.127.255.255", Private),
            ("169.254.0.1", LinkLocal),
            ("169.254.1.1", LinkLocal),
            ("169.254.168.255", LinkLocal),
            ("169.254.171.0", LinkLocal),
            ("169.254.255.255", LinkLocal),
            ("169.254.169.254", Metadata),
            ("169.254.169.253", Metadata),
            ("169.254.169.123", Metadata),
            ("169.254.170.2", Metadata),
            ("169.254.170.23", Metadata),
            ("100.100.100.200", Metadata),
            ("100.100.100.199", Private),
            ("0.0.0.0", Unspecified),
            ("0.0.0.1", Reserved),
            ("0.255.255.255", Reserved),
            ("224.0.0.1", Multicast),
            ("239.255.255.250", Multicast),
            ("192.0.0.1", Reserved),
            ("192.0.0.170", Reserved),
            ("192.0.2.1", Reserved),
            ("192.0.3.0", Public),
            ("192.88.99.1", Reserved),
            ("198.18.0.1", Reserved),
            ("198.19.255.255", Reserved),
            ("198.51.100.7", Reserved),
            ("203.0.113.9", Reserved),
            ("240.0.0.1", Reserved),
            ("250.1.2.3", Reserved),
            ("255.255.255.254", Reserved),
            ("255.255.255.255", Reserved),
        ];
        for (address, expected) in table {
            assert_eq!(class_of(address), expected, "{address}");
        }
    }

    #[test]
    fn classifies_ipv6() {
        use AddressClass::*;
        let table = [
            ("2606:4700:4700::1111", Public),
            ("2001:4860:4860::8888", Public),
            ("2a00:1450:4001:82b::200e", Public),
            ("2001:200::1", Public), // just past 2001::/23
            ("3ffe::1", Public),
            ("3fff:1000::1", Public), // just past 3fff::/20
            ("::1", Loopback),
            ("::", Unspecified),
            ("fc00::1", Private),
            ("fd12:3456:789a::1", Private),
            ("fec0::1", Private),
            ("fe80::1", LinkLocal),
            ("febf:ffff::1", LinkLocal),
            ("fd00:ec2::254", Metadata),
            ("fd00:ec2::23", Metadata),
            ("fd00:ec3::254", Private),
            ("ff02::1", Multicast),
            ("ff0e::101", Multicast),
            ("2001:db8::1", Reserved),
            ("3fff::1", Reserved),
            ("100::1", Reserved),
            ("2001::1", Reserved),    // Teredo
            ("2001:10::1", Reserved), // ORCHID
            ("4000::1", Reserved),
            ("5f00::1", Reserved),
            ("1::1", Reserved),
            ("e000::1", Reserved),
        ];
        for (address, expected) in table {
            assert_eq!(class_of(address), expected, "{address}");
        }
    }

    #[test]
    fn ipv6_forms_of_ipv4_addresses_are_judged_by_the_ipv4_address() {
        use AddressClass::*;
        let table = [
            // IPv4-mapped: exactly as the IPv4 address.
            ("::ffff:127.0.0.1", Loopback),
            ("::ffff:7f00:1", Loopback),
            ("::ffff:10.1.2.3", Private),
            ("::ffff:169.254.169.254", Metadata),
            ("::ffff:100.100.100.200", Metadata),
            ("::ffff:0.0.0.0", Unspecified),
            ("::ffff:224.0.0.1", Multicast),
            ("::ffff:8.8.8.8", Public),
            // NAT64 well-known prefix: exactly as the IPv4 address.
            ("64:ff9b::127.0.0.1", Loopback),
            ("64:ff9b::a9fe:a9fe", Metadata),
            ("64:ff9b::192.168.1.1", Private),
            ("64:ff9b::8.8.8.8", Public),
            // Local-use NAT64: special classes kept, never public.
            ("64:ff9b:1::127.0.0.1", Loopback),
            ("64:ff9b:1::169.254.169.254", Metadata),
            ("64:ff9b:1::8.8.8.8", Private),
            // Deprecated embeddings: special classes kept, never public.
            ("::127.0.0.1", Loopback),
            ("::169.254.169.254", Metadata),
            ("::8.8.8.8", Reserved),
            ("::ffff:0:127.0.0.1", Loopback),
            ("::ffff:0:8.8.8.8", Reserved),
            ("2002:7f00:1::", Loopback),
            ("2002:a9fe:a9fe::1", Metadata),
            ("2002:0808:0808::1", Reserved),
        ];
        for (address, expected) in table {
            assert_eq!(class_of(address), expected, "{address}");
        }
    }

    #[test]
    fn live_allows_only_public_addresses_and_sandbox_all_but_three_classes() {
        use AddressClass::*;
        for class in AddressClass::ALL {
            assert_eq!(allowed(class, Environment::Live), class == Public, "live {class}");
            assert_eq!(allowed(class, Environment::Sandbox), !matches!(class, Metadata | Unspecified | Multicast), "sandbox {class}");
        }
        assert!(allowed(class_of("127.0.0.1"), Environment::Sandbox));
        assert!(!allowed(class_of("127.0.0.1"), Environment::Live));
        assert!(!allowed(class_of("::ffff:169.254.169.254"), Environment::Sandbox));
        assert!(!allowed(class_of("0.0.0.0"), Environment::Sandbox));
        assert!(allowed(class_of("8.8.8.8"), Environment::Live));
    }

    // ----- endpoint URLs ----------------------------------------------------------------------

    #[test]
    fn accepts_ordinary_endpoints_and_normalizes_them() {
        assert_eq!(validate_endpoint_url("https://merchant.example/hooks?x=1", Environment::Live).as_deref(), Ok("https://merchant.example/hooks?x=1"));
        assert_eq!(validate_endpoint_url("HTTPS://Merchant.Example:8443/a/../b", Environment::Live).as_deref(), Ok("https://merchant.example:8443/b"));
        assert_eq!(validate_endpoint_url("https://merchant.example", Environment::Live).as_deref(), Ok("https://merchant.example/"));
        assert_eq!(validate_endpoint_url("https://bücher.example/", Environment::Live).as_deref(), Ok("https://xn--bcher-kva.example/"));
        assert_eq!(validate_endpoint_url("https://8.8.8.8/hook", Environment::Live).as_deref(), Ok("https://8.8.8.8/hook"));
        assert_eq!(validate_endpoint_url("https://[2606:4700:4700::1111]/", Environment::Live).as_deref(), Ok("https://[2606:4700:4700::1111]/"));
        assert_eq!(validate_endpoint_url("http://localhost:3000/webhooks", Environment::Sandbox).as_deref(), Ok("http://localhost:3000/webhooks"));
        assert_eq!(validate_endpoint_url("http://127.0.0.1:8080/", Environment::Sandbox).as_deref(), Ok("http://127.0.0.1:8080/"));
        assert_eq!(validate_endpoint_url("http://[::1]:8080/", Environment::Sandbox).as_deref(), Ok("http://[::1]:8080/"));
        assert_eq!(validate_endpoint_url("http://192.168.1.20/", Environment::Sandbox).as_deref(), Ok("http://192.168.1.20/"));
        assert_eq!(validate_endpoint_url("https://merchant.example/", Environment::Sandbox).as_deref(), Ok("https://merchant.example/"));
    }

    #[test]
    fn refuses_bad_schemes_credentials_and_shapes() {
        let refused = |url: &str, environment: Environment| validate_endpoint_url(url, environment).unwrap_err();
        assert_eq!(refused("http://merchant.example/", Environment::Live), "live endpoints must use https");
        assert_eq!(refused("ftp://merchant.example/", Environment::Live), "the URL must use https");
        assert_eq!(refused("ftp://merchant.example/", Environment::Sandbox), "the URL must use http or https");
        assert_eq!(refused("file:///etc/passwd", Environment::Sandbox), "the URL must use http or https");
        assert_eq!(refused("https://user:pw@merchant.example/", Environment::Live), "the URL must not contain a user name or password");
        assert_eq!(refused("https://user@merchant.example/", Environment::Live), "the URL must not contain a user name or password");
        assert_eq!(refused("https://:pw@merchant.example/", Environment::Live), "the URL must not contain a user name or password");
        assert_eq!(refused("", Environment::Live), "the URL is empty");
        assert_eq!(refused("https:// merchant.example/", Environment::Live), "the URL must not contain spaces or control characters");
        assert_eq!(refused("https://merchant.example/a\tb", Environment::Live), "the URL must not contain spaces or control characters");
        assert_eq!(refused(" https://merchant.example/", Environment::Live), "the URL must not contain spaces or control characters");
        assert_eq!(refused("https://merchant.example:0/", Environment::Live), "the URL's port must not be 0");
        assert!(refused("merchant.example/hooks", Environment::Live).starts_with("the URL is not valid"));
        assert!(refused("https://", Environment::Live).starts_with("the URL is not valid"));
        assert!(refused("https://merchant.example:99999/", Environment::Live).starts_with("the URL is not valid"));
        assert!(refused("https://[fe80::1%25eth0]/", Environment::Sandbox).starts_with("the URL is not valid"));
        let long = format!("https://merchant.example/{}", "a".repeat(MAX_ENDPOINT_URL_LEN));
        assert_eq!(refused(&long, Environment::Live), "the URL is longer than 2048 characters");
        let just_fits = format!("https://merchant.example/{}", "a".repeat(MAX_ENDPOINT_URL_LEN - 25));
        assert_eq!(just_fits.len(), MAX_ENDPOINT_URL_LEN);
        assert!(validate_endpoint_url(&just_fits, Environment::Live).is_ok());
        // Percent-encoding during normalization can push it over.
        let grows = format!("https://merchant.example/{}", "é".repeat(1000));
        assert_eq!(refused(&grows, Environment::Live), "the URL is longer than 2048 characters once normalized");
    }

    #[test]
    fn refuses_forbidden_hosts_by_environment() {
        let refused = |url: &str, environment: Environment| validate_endpoint_url(url, environment).unwrap_err();
        for url in [
            "https://localhost/",
            "https://LOCALHOST:8443/",
            "https://localhost./",
            "https://api.localhost/",
            "https://127.0.0.1/",
            "https://127.1/",      // shorthand IPv4
            "https://2130706433/", // 127.0.0.1 as one number
            "https://0x7f.0.0.1/", // hexadecimal
            "https://0177.0.0.1/", // octal
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://10.0.0.5/",
            "https://192.168.1.1/",
            "https://100.64.1.1/",
            "https://[fd00::1]/",
            "https://169.254.1.1/",
            "https://[fe80::1]/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fd00:ec2::254]/",
            "https://0.0.0.0/",
            "https://[::]/",
            "https://224.0.0.1/",
            "https://192.0.2.1/",
            "https://255.255.255.255/",
        ] {
            let reason = refused(url, Environment::Live);
            assert!(reason.starts_with("live endpoints may not use a "), "{url}: {reason}");
        }
        assert_eq!(refused("https://127.0.0.1/", Environment::Live), "live endpoints may not use a loopback address");
        assert_eq!(refused("https://localhost/", Environment::Live), "live endpoints may not use a loopback address");

        for url in [
            "http://169.254.169.254/latest/meta-data/",
            "http://169.254.170.2/v2/credentials",
            "http://[fd00:ec2::254]/",
            "http://100.100.100.200/",
            "http://[::ffff:169.254.169.254]/",
            "http://[::ffff:a9fe:a9fe]/",
            "http://2852039166/", // 169.254.169.254 as one number
            "http://0.0.0.0:8080/",
            "http://0/",
            "http://[::]:8080/",
            "http://224.0.0.1/",
            "http://[ff02::1]/",
        ] {
            let reason = refused(url, Environment::Sandbox);
            assert!(reason.starts_with("sandbox endpoints may not use a "), "{url}: {reason}");
        }
        assert_eq!(refused("http://169.254.169.254/", Environment::Sandbox), "sandbox endpoints may not use a cloud metadata address");
        for url in ["http://api.localhost:3000/", "http://169.254.1.1/", "http://[fe80::1]/", "http://10.0.0.5/", "http://192.0.2.1/"] {
            assert!(validate_endpoint_url(url, Environment::Sandbox).is_ok(), "{url}");
        }
    }

    #[test]
    fn check_endpoint_url_says_how_the_host_is_reached() {
        let (url, host) = check_endpoint_url("http://127.1:9000/x", Environment::Sandbox).unwrap();
        assert_eq!(url.as_str(), "http://127.0.0.1:9000/x");
        assert_eq!(host, EndpointHost::Address("127.0.0.1".parse().unwrap()));
        let (_, host) = check_endpoint_url("https://[2606:4700::1]/", Environment::Live).unwrap();
        assert_eq!(host, EndpointHost::Address("2606:4700::1".parse().unwrap()));
        let (_, host) = check_endpoint_url("https://Hooks.Merchant.Example/", Environment::Live).unwrap();
        assert_eq!(host, EndpointHost::Name("hooks.merchant.example".to_owned()));
    }
}
