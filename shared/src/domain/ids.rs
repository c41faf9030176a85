//! Typed, prefixed identifiers: a type prefix plus 24 lowercase hex characters (12 random bytes).
//!
//! Each id type only parses its own prefix, so a `po_…` can never be used where an `evt_…` is meant.

use rand::RngCore;
use std::fmt;

/// Number of random bytes behind every id.
const ID_BYTES: usize = 12;

macro_rules! prefixed_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A fresh random id.
            pub fn generate() -> Self {
                let mut bytes = [0u8; ID_BYTES];
                rand::rng().fill_bytes(&mut bytes);
                Self(format!("{}{}", $prefix, hex::encode(bytes)))
            }

            /// Parses an id, refusing any other prefix, length or alphabet.
            pub fn parse(text: &str) -> Option<Self> {
                let rest = text.strip_prefix($prefix)?;
                let well_formed = rest.len() == ID_BYTES * 2
                    && rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                well_formed.then(|| Self(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                Self::parse(&text).ok_or_else(|| {
                    serde::de::Error::custom(format!("invalid {} id: {text}", $prefix))
                })
            }
        }
    };
}

prefixed_id!(/// A payout intent.
    PayoutId, "po_");
prefixed_id!(/// An on-chain settlement (one token transfer).
    SettlementId, "stl_");
prefixed_id!(/// A webhook endpoint.
    WebhookId, "we_");
prefixed_id!(/// An event record (what webhooks deliver).
    EventId, "evt_");
prefixed_id!(/// An API key (its public id; the secret is never stored).
    ApiKeyId, "key_");
prefixed_id!(/// An organization (tenant).
    OrgId, "org_");
prefixed_id!(/// A webhook delivery (one event to one endpoint).
    DeliveryId, "del_");
prefixed_id!(/// A source wallet (an address an organization pays from).
    WalletId, "wal_");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_prefix_and_24_hex() {
        let id = PayoutId::generate();
        assert!(id.as_str().starts_with("po_"));
        assert_eq!(id.as_str().len(), 3 + 24);
        assert_eq!(PayoutId::parse(id.as_str()), Some(id.clone()));
        assert_ne!(PayoutId::generate(), id, "two generated ids collided");
    }

    #[test]
    fn parse_refuses_wrong_prefix_length_and_alphabet() {
        assert!(PayoutId::parse("po_e5f6a7b8c9d0e1f2a3b4c5d6").is_some());
        assert!(PayoutId::parse("evt_e5f6a7b8c9d0e1f2a3b4c5d6").is_none());
        assert!(EventId::parse("po_e5f6a7b8c9d0e1f2a3b4c5d6").is_none());
        assert!(PayoutId::parse("po_e5f6a7b8c9d0e1f2a3b4c5d").is_none());
        assert!(PayoutId::parse("po_e5f6a7b8c9d0e1f2a3b4c5d6a").is_none());
        assert!(PayoutId::parse("po_E5F6A7B8C9D0E1F2A3B4C5D6").is_none());
        assert!(PayoutId::parse("po_g5f6a7b8c9d0e1f2a3b4c5d6").is_none());
        assert!(PayoutId::parse("").is_none());
        assert!(OrgId::parse("org_000000000000000000000000").is_some());
    }
}
