//! Request bodies as JSON objects whose fields are kept as raw text, so each field is checked
//! on its own (with the field named in the error) and numbers are read exactly.

use crate::error::ApiError;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub struct JsonObject {
    fields: BTreeMap<String, Box<RawValue>>,
    /// [`JsonObject::fingerprint`], computed while parsing.
    fingerprint: String,
}

/// A JSON object's members in document order, duplicates kept (a map would keep only the last).
struct Entries(Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for Entries {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Entries, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = Entries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    entries.push(entry);
                }
                Ok(Entries(entries))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

/// The JSON kind of a raw value, from its first character.
fn kind(raw: &RawValue) -> &'static str {
    match raw.get().trim_start().as_bytes().first() {
        Some(b'"') => "a string",
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        _ => "a number",
    }
}

impl JsonObject {
    pub fn parse(body: &[u8]) -> Result<JsonObject, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::invalid_json("The request body is empty; a JSON object is required."));
        }
        let value: Box<RawValue> = serde_json::from_slice(body).map_err(|e| ApiError::invalid_json(format!("The request body is not valid JSON: {e}.")))?;
        if !value.get().trim_start().starts_with('{') {
            return Err(ApiError::invalid_json("The request body must be a JSON object."));
        }
        let entries: Entries = serde_json::from_str(value.get()).map_err(|e| ApiError::invalid_json(format!("The request body is not valid JSON: {e}.")))?;
        let mut fields = BTreeMap::new();
        for (name, raw) in entries.0 {
            // `{"amount":1,"amount":100000}` must not quietly mean the last one.
            if fields.insert(name.clone(), raw).is_some() {
                return Err(ApiError::duplicate_field(&name));
            }
        }
        let mut digest = Sha256::new();
        let mut canonical = String::new();
        for (name, raw) in &fields {
            canonical.clear();
            write_canonical(raw, name, &mut canonical)?;
            digest.update(name.as_bytes());
            digest.update([0]);
            digest.update(canonical.as_bytes());
            digest.update([0]);
        }
        Ok(JsonObject { fields, fingerprint: hex::encode(digest.finalize()) })
    }

    pub fn contains(&self, name: &str) -> bool {
        self.fields.contains_key(name)
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The raw JSON text of a present, non-null field.
    pub fn raw(&self, name: &str) -> Result<Option<&RawValue>, ApiError> {
        match self.fields.get(name) {
            None => Ok(None),
            Some(raw) if kind(raw) == "null" => Ok(None),
            Some(raw) => Ok(Some(raw)),
        }
    }

    pub fn required_raw(&self, name: &str) -> Result<&RawValue, ApiError> {
        match self.fields.get(name) {
            None => Err(ApiError::missing_field(name)),
            Some(raw) if kind(raw) == "null" => Err(ApiError::invalid_field(name, format!("The '{name}' field must not be null."))),
            Some(raw) => Ok(raw),
        }
    }

    fn as_string(name: &str, raw: &RawValue) -> Result<String, ApiError> {
        serde_json::from_str::<String>(raw.get()).map_err(|_| ApiError::invalid_field(name, format!("The '{name}' field must be a string, not {}.", kind(raw))))
    }

    pub fn required_string(&self, name: &str) -> Result<String, ApiError> {
        Self::as_string(name, self.required_raw(name)?)
    }

    /// Absent → `None`; `null` → `Some(None)`; a string → `Some(Some(s))`.
    pub fn nullable_string(&self, name: &str) -> Result<Option<Option<String>>, ApiError> {
        match self.fields.get(name) {
            None => Ok(None),
            Some(raw) if kind(raw) == "null" => Ok(Some(None)),
            Some(raw) => Self::as_string(name, raw).map(|s| Some(Some(s))),
        }
    }

    /// Absent or `null` → `None`; `true`/`false` → `Some`; anything else is refused.
    pub fn optional_bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.raw(name)? {
            None => Ok(None),
            Some(raw) => serde_json::from_str::<bool>(raw.get())
                .map(Some)
                .map_err(|_| ApiError::invalid_field(name, format!("The '{name}' field must be a boolean, not {}.", kind(raw)))),
        }
    }

    /// The JSON kind of a field, for error messages.
    pub fn kind_of(&self, name: &str) -> Option<&'static str> {
        self.fields.get(name).map(|raw| kind(raw))
    }

    /// A stable digest of the body's meaning: key order and whitespace, at every depth, and how
    /// a string is escaped do not change it; any value does. Used to tell an idempotent retry
    /// from a different request under the same key.
    pub fn fingerprint(&self) -> String {
        self.fingerprint.clone()
    }
}

/// A chain address as a request body gives it: tron base58check `T…`, or an EVM `0x…` (EIP-55
/// checksum enforced when mixed case). Which form, and the checksums, depend on the body's
/// `chain`, which a pattern cannot say: the domain's parser decides.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[schema(value_type = String, pattern = r"^(0x[0-9a-fA-F]{40}|T[1-9A-HJ-NP-Za-km-z]{33})$", example = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed")]
#[allow(dead_code)]
pub struct AddressText(String);

/// What a request body type's derived schema says of its fields: their names (anything else is
/// `unknown_field`), the required ones (absent is `missing_required_field`, null is refused too),
/// and the longest string each may be (`maxLength`). Read from the same `ToSchema` type the OpenAPI
/// document shows, so the document and these checks cannot drift apart; the services then parse
/// each field's value (chains, addresses, amounts) with the domain's parsers.
#[derive(Debug, Default)]
pub struct BodyShape {
    fields: BTreeMap<String, FieldShape>,
    required: Vec<String>,
}

#[derive(Debug, Default)]
struct FieldShape {
    max_chars: Option<usize>,
}

impl BodyShape {
    /// The shape of `T`'s schema. A type that is not an object with named properties has none,
    /// which a unit test rules out for every request body.
    pub fn of<T: utoipa::ToSchema>() -> BodyShape {
        use utoipa::openapi::{RefOr, Schema};
        let RefOr::T(Schema::Object(object)) = T::schema() else { return BodyShape::default() };
        let fields = object
            .properties
            .iter()
            .map(|(name, schema)| {
                let max_chars = match schema {
                    RefOr::T(Schema::Object(field)) => field.max_length,
                    _ => None,
                };
                (name.clone(), FieldShape { max_chars })
            })
            .collect();
        BodyShape { fields, required: object.required.clone() }
    }

    pub fn field_names(&self) -> impl Iterator<Item = &str> {
        self.fields.keys().map(String::as_str)
    }
}

/// A request body type: its [`BodyShape`], read from its schema once per process.
pub trait RequestBody: utoipa::ToSchema {
    fn shape() -> &'static BodyShape;
}

/// Implements [`RequestBody`] for a `ToSchema` type.
macro_rules! request_body {
    ($type:ty) => {
        impl $crate::service::input::RequestBody for $type {
            fn shape() -> &'static $crate::service::input::BodyShape {
                static SHAPE: std::sync::OnceLock<$crate::service::input::BodyShape> = std::sync::OnceLock::new();
                SHAPE.get_or_init($crate::service::input::BodyShape::of::<$type>)
            }
        }
    };
}
pub(crate) use request_body;

impl JsonObject {
    /// Checks the body against `T`'s shape: no unknown field, every required one present and not
    /// null (in the schema's order), no string longer than its `maxLength`.
    pub fn conform<T: RequestBody>(&self) -> Result<(), ApiError> {
        let shape = T::shape();
        if let Some(name) = self.fields.keys().find(|name| !shape.fields.contains_key(name.as_str())) {
            return Err(ApiError::unknown_field(name));
        }
        for name in &shape.required {
            self.required_raw(name)?;
        }
        for (name, max_chars) in shape.fields.iter().filter_map(|(name, field)| Some((name, field.max_chars?))) {
            if let Some(Some(text)) = self.nullable_string(name)? {
                check_length(name, &text, max_chars)?;
            }
        }
        Ok(())
    }
}

/// Appends `raw` written canonically: object members sorted by name, no whitespace, strings
/// escaped one way; numbers, booleans and null as written (a number's text is what is parsed,
/// exactly, so `1.0` and `1` stay different). A key given twice in a nested object is refused
/// (`invalid_json`), as at the top (`duplicate_field`): a map would keep only the last one.
/// `path` names the value in the error (`events[0].kind`).
fn write_canonical(raw: &RawValue, path: &str, out: &mut String) -> Result<(), ApiError> {
    let text = raw.get().trim();
    let malformed = |e: serde_json::Error| ApiError::invalid_json(format!("The request body is not valid JSON: {e}."));
    match text.as_bytes().first() {
        Some(b'{') => {
            let entries: Entries = serde_json::from_str(text).map_err(malformed)?;
            let mut members: BTreeMap<String, Box<RawValue>> = BTreeMap::new();
            for (name, value) in entries.0 {
                if members.contains_key(&name) {
                    return Err(ApiError::invalid_json(format!("The key {name:?} appears more than once in '{path}'.")));
                }
                members.insert(name, value);
            }
            out.push('{');
            for (index, (name, value)) in members.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(name).map_err(malformed)?);
                out.push(':');
                write_canonical(value, &format!("{path}.{name}"), out)?;
            }
            out.push('}');
        }
        Some(b'[') => {
            let items: Vec<Box<RawValue>> = serde_json::from_str(text).map_err(malformed)?;
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                write_canonical(item, &format!("{path}[{index}]"), out)?;
            }
            out.push(']');
        }
        Some(b'"') => {
            let value: String = serde_json::from_str(text).map_err(malformed)?;
            out.push_str(&serde_json::to_string(&value).map_err(malformed)?);
        }
        _ => out.push_str(text),
    }
    Ok(())
}

/// A text field's length limit in characters (not bytes), with a clear error.
pub fn check_length(name: &str, value: &str, max_chars: usize) -> Result<(), ApiError> {
    if value.chars().count() > max_chars {
        return Err(ApiError::invalid_field(name, format!("The '{name}' field must be at most {max_chars} characters.")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_objects_and_refuses_everything_else() {
        assert!(JsonObject::parse(b"{\"a\": 1}").is_ok());
        for bad in [&b""[..], b"  ", b"[1]", b"\"x\"", b"{\"a\":", b"{a:1}", b"null"] {
            let error = JsonObject::parse(bad).err().map(|e| e.code);
            assert_eq!(error, Some("invalid_json"), "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn fields_are_typed_and_named_in_errors() {
        let body = JsonObject::parse(br#"{"s": "x", "n": 5, "z": null, "extra": true}"#).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(body.required_string("s").ok().as_deref(), Some("x"));
        let wrong_type = body.required_string("n").err().map(|e| (e.code, e.param));
        assert_eq!(wrong_type, Some(("invalid_field", Some("n".to_owned()))));
        assert_eq!(body.required_string("missing").err().map(|e| e.code), Some("missing_required_field"));
        assert_eq!(body.nullable_string("z").ok(), Some(Some(None)));
        assert_eq!(body.nullable_string("absent").ok(), Some(None));
    }

    /// A body type for the shape checks.
    #[derive(utoipa::ToSchema, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        #[schema(nullable, max_length = 3)]
        note: Option<String>,
        count: u32,
    }
    request_body!(Sample);

    #[test]
    fn bodies_are_checked_against_their_types_schema() {
        let error = |body: &str| JsonObject::parse(body.as_bytes()).and_then(|b| b.conform::<Sample>()).err().map(|e| (e.code, e.param.unwrap_or_default()));
        assert_eq!(error(r#"{"name": "a", "count": 1, "note": "abc"}"#), None);
        assert_eq!(error(r#"{"name": "a", "count": 1, "note": null}"#), None, "a nullable field may be null");
        assert_eq!(error(r#"{"name": "a", "count": 1, "extra": true}"#), Some(("unknown_field", "extra".into())));
        assert_eq!(error(r#"{"count": 1}"#), Some(("missing_required_field", "name".into())));
        assert_eq!(error(r#"{"name": null, "count": 1}"#), Some(("invalid_field", "name".into())), "a required field is never null");
        assert_eq!(error(r#"{"name": "a", "count": 1, "note": "abcd"}"#), Some(("invalid_field", "note".into())), "longer than maxLength");
        assert_eq!(error(r#"{"name": "a", "count": 1, "note": "äöü"}"#), None, "lengths count characters, not bytes");
        assert_eq!(Sample::shape().field_names().collect::<Vec<_>>(), ["count", "name", "note"]);
    }

    #[test]
    fn fingerprint_ignores_order_and_spacing_but_not_values() {
        let a = JsonObject::parse(br#"{"a": 1, "b": "x"}"#).map(|o| o.fingerprint()).unwrap_or_default();
        let b = JsonObject::parse(br#"{ "b":"x","a":1 }"#).map(|o| o.fingerprint()).unwrap_or_default();
        let c = JsonObject::parse(br#"{"a": 2, "b": "x"}"#).map(|o| o.fingerprint()).unwrap_or_default();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn fingerprint_is_canonical_at_every_depth() {
        let fingerprint = |body: &str| JsonObject::parse(body.as_bytes()).map(|o| o.fingerprint()).unwrap_or_else(|e| panic!("{body}: {e}"));
        let a = fingerprint(r#"{"events": ["payout.settled", "payout.failed"], "meta": {"x": 1, "y": {"z": "\u0041"}}}"#);
        let b = fingerprint("{\"meta\":{ \"y\" : {\"z\":\"A\"},\n \"x\":1},\"events\":[ \"payout.settled\" ,\"payout.failed\" ]}");
        assert_eq!(a, b, "key order, whitespace and escapes inside do not count");
        assert_ne!(a, fingerprint(r#"{"events": ["payout.failed", "payout.settled"], "meta": {"x": 1, "y": {"z": "A"}}}"#), "array order counts");
        assert_ne!(a, fingerprint(r#"{"events": ["payout.settled", "payout.failed"], "meta": {"x": 1.0, "y": {"z": "A"}}}"#), "a number's text counts");
    }

    #[test]
    fn a_key_twice_anywhere_is_refused() {
        let nested = JsonObject::parse(br#"{"meta": {"a": 1, "b": [{"k": 1, "k": 2}]}}"#).err();
        assert_eq!(nested.as_ref().map(|e| e.code), Some("invalid_json"));
        assert_eq!(nested.map(|e| e.message).as_deref(), Some("The key \"k\" appears more than once in 'meta.b[0]'."));
        let top = JsonObject::parse(br#"{"amount": 1, "amount": 100000}"#).err().map(|e| (e.code, e.param));
        assert_eq!(top, Some(("duplicate_field", Some("amount".to_owned()))), "the top level keeps its own code");
    }
}
