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
    /// `x-billing-signature`, `webhook-id`, `webhook-timestamp`, `webhook-signature`. During a
    /// secret rotation's overlap, `retiring` (the replaced secret) signs too:
    /// `t={t},v1={new},v1={old}`, the old one **last** (billing.io's SDK reads only the last `v1=`,
    /// so a receiver that has not switched yet keeps verifying), and `v1,{new} v1,{old}`
    /// (space-separated, as Standard Webhooks allows).
    pub fn signature_headers(&self, retiring: Option<&WebhookSecret>, msg_id: &str, timestamp: i64, raw_body: &[u8]) -> Vec<(String, String)> {
        let mut billing = self.billing_signature(timestamp, raw_body);
        let mut standard = self.standard_signature(msg_id, timestamp, raw_body);
        if let Some(retiring) = retiring {
            let old = retiring.billing_signature(timestamp, raw_body);
            billing.push_str(old.strip_prefix(&format!("t={timestamp}")).unwrap_or(&old));
            standard.push(' ');
            standard.push_str(&retiring.standard_signature(msg_id, timestamp, raw_body));
        }
        vec![
            (BILLING_SIGNATURE_HEADER.to_owned(), billing),
            (WEBHOOK_ID_HEADER.to_owned(), msg_id.to_owned()),
            (WEBHOOK_TIMESTAMP_HEADER.to_owned(), timestamp.to_string()),
            (WEBHOOK_SIGNATURE_HEADER.to_owned(), standard),
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
/// - at most [`MAX_ENDPOINT_URL_LEN`] characters as given (the API's `maxLength`; the stored,
///   normalized form may be longer once percent-encoded), no whitespace or control characters;
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
pub fn check_endpoint_url(url: &str, environment: Environment) -> Result<(url::Url, EndpointHost), String> {
    if url.is_empty() {
        return Err("the URL is empty".to_owned());
    }
    if url.chars().count() > MAX_ENDPOINT_URL_LEN {
        return Err(format!("the URL is longer than {MAX_ENDPOINT_URL_LEN} characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("the URL must not contain spaces or control characters".to_owned());
    }
    let parsed = url::Url::parse(url).map_err(|e| format!("the URL is not valid: {e}"))?;
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
    // Live deliveries go to https's own port only, so no one can point the service at another
    // port of some host to learn what listens there (`port()` is `None` for the default 443).
    if environment == Environment::Live && parsed.port().is_some() {
        return Err("live endpoints must use port 443, the https default".to_owned());
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
    Ok((parsed, host))
}

/// `localhost`, `*.localhost` (RFC 6761), with or without a trailing dot.
fn is_localhost(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name);
    name == "localhost" || name.ends_with(".localhost")
}

#[cfg(test)]
mod tests;
