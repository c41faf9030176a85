//! Unit tests of webhook signing, retry schedules and address rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

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
    let headers = own.signature_headers(None, "evt_01", 1750000000, OWN_BODY);
    let names: Vec<&str> = headers.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["x-billing-signature", "webhook-id", "webhook-timestamp", "webhook-signature"]);
    assert_eq!(headers[0].1, own.billing_signature(1750000000, OWN_BODY));
    assert_eq!(headers[1].1, "evt_01");
    assert_eq!(headers[2].1, "1750000000");
    assert_eq!(headers[3].1, "v1,kjDtDzAUY8biaOFgWafxyOKiP/4w9KOVuObbRrf63rQ=");
}

#[test]
fn during_a_rotation_both_secrets_sign_the_old_one_last() {
    let new = secret(OWN_SECRET);
    let old = secret(SPEC_SECRET);
    let headers = new.signature_headers(Some(&old), "evt_01", 1750000000, OWN_BODY);
    let new_v1 = new.billing_signature(1750000000, OWN_BODY);
    let old_v1 = old.billing_signature(1750000000, OWN_BODY);
    assert_eq!(headers[0].1, format!("{new_v1},{}", old_v1.strip_prefix("t=1750000000,").unwrap()));
    assert!(headers[0].1.ends_with(old_v1.split(',').nth(1).unwrap()), "a reader of the last v1= verifies with the old secret");
    assert_eq!(headers[3].1, format!("{} {}", new.standard_signature("evt_01", 1750000000, OWN_BODY), old.standard_signature("evt_01", 1750000000, OWN_BODY)));
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
    assert_eq!(validate_endpoint_url("HTTPS://Merchant.Example:8443/a/../b", Environment::Sandbox).as_deref(), Ok("https://merchant.example:8443/b"));
    assert_eq!(
        validate_endpoint_url("https://merchant.example:443/hooks", Environment::Live).as_deref(),
        Ok("https://merchant.example/hooks"),
        "443 is the default"
    );
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
    for port in [22, 80, 6379, 8443] {
        assert_eq!(refused(&format!("https://merchant.example:{port}/"), Environment::Live), "live endpoints must use port 443, the https default", "{port}");
    }
    assert!(refused("merchant.example/hooks", Environment::Live).starts_with("the URL is not valid"));
    assert!(refused("https://", Environment::Live).starts_with("the URL is not valid"));
    assert!(refused("https://merchant.example:99999/", Environment::Live).starts_with("the URL is not valid"));
    assert!(refused("https://[fe80::1%25eth0]/", Environment::Sandbox).starts_with("the URL is not valid"));
    let long = format!("https://merchant.example/{}", "a".repeat(MAX_ENDPOINT_URL_LEN));
    assert_eq!(refused(&long, Environment::Live), "the URL is longer than 2048 characters");
    let just_fits = format!("https://merchant.example/{}", "a".repeat(MAX_ENDPOINT_URL_LEN - 25));
    assert_eq!(just_fits.len(), MAX_ENDPOINT_URL_LEN);
    assert!(validate_endpoint_url(&just_fits, Environment::Live).is_ok());
    // The limit is on characters as given (the API's maxLength), not bytes, nor the stored form
    // that percent-encoding lengthens.
    let grows = format!("https://merchant.example/{}", "é".repeat(MAX_ENDPOINT_URL_LEN - 25));
    assert_eq!(validate_endpoint_url(&grows, Environment::Live).map(|url| url.len()), Ok(25 + 6 * (MAX_ENDPOINT_URL_LEN - 25)));
    assert_eq!(refused(&format!("{grows}é"), Environment::Live), "the URL is longer than 2048 characters");
}

#[test]
fn refuses_forbidden_hosts_by_environment() {
    let refused = |url: &str, environment: Environment| validate_endpoint_url(url, environment).unwrap_err();
    for url in [
        "https://localhost/",
        "https://LOCALHOST/",
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
