//! Timestamps: RFC 3339 UTC on the wire, exact instants inside.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

pub type Timestamp = DateTime<Utc>;

/// The wire form: `2025-06-15T10:00:00Z` (fractional seconds only when present).
pub fn to_rfc3339(at: &Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Parses an RFC 3339 timestamp with any offset into UTC.
pub fn parse_rfc3339(text: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(text).ok().map(|at| at.with_timezone(&Utc))
}

/// A fixed-width, lexically sortable form of an instant (nanoseconds since 1970, 20 digits),
/// used in index sort keys so string order equals time order.
pub fn sort_key(at: &Timestamp) -> String {
    let nanos = at.timestamp_nanos_opt().unwrap_or(i64::MAX).max(0);
    format!("{nanos:020}")
}

/// Truncates to whole seconds: what the API shows for server-set times.
pub fn whole_seconds(at: Timestamp) -> Timestamp {
    Utc.timestamp_opt(at.timestamp(), 0).single().unwrap_or(at)
}

/// Serde helpers for timestamps in the wire form.
pub mod rfc3339 {
    use super::*;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Timestamp, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&to_rfc3339(at))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        parse_rfc3339(&text).ok_or_else(|| serde::de::Error::custom("invalid RFC 3339 timestamp"))
    }

    pub mod option {
        use super::*;

        pub fn serialize<S: Serializer>(at: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
            match at {
                Some(at) => s.serialize_str(&to_rfc3339(at)),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
            let text = Option::<String>::deserialize(d)?;
            text.map(|text| parse_rfc3339(&text).ok_or_else(|| serde::de::Error::custom("invalid RFC 3339 timestamp"))).transpose()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sort_key_orders_like_time() {
        let a = parse_rfc3339("2025-06-15T10:00:00Z").unwrap_or_default();
        let b = parse_rfc3339("2025-06-15T10:00:00.000001Z").unwrap_or_default();
        let c = parse_rfc3339("2100-01-01T00:00:00+02:00").unwrap_or_default();
        assert!(sort_key(&a) < sort_key(&b));
        assert!(sort_key(&b) < sort_key(&c));
        assert_eq!(sort_key(&a).len(), 20);
    }

    #[test]
    fn wire_form_is_utc_z() {
        let at = parse_rfc3339("2025-06-15T12:00:00+02:00").unwrap_or_default();
        assert_eq!(to_rfc3339(&at), "2025-06-15T10:00:00Z");
        assert!(parse_rfc3339("2025-06-15").is_none());
        assert!(parse_rfc3339("yesterday").is_none());
    }
}
