//! Request bodies as JSON objects whose fields are kept as raw text, so each field is checked
//! on its own (with the field named in the error) and numbers are read exactly.

use crate::error::ApiError;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

pub struct JsonObject {
    fields: BTreeMap<String, Box<RawValue>>,
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
        Ok(JsonObject { fields })
    }

    /// Refuses any field not in `allowed`, naming the first one.
    pub fn deny_unknown(&self, allowed: &[&str]) -> Result<(), ApiError> {
        match self.fields.keys().find(|name| !allowed.contains(&name.as_str())) {
            Some(name) => Err(ApiError::unknown_field(name)),
            None => Ok(()),
        }
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

    /// A stable digest of the body's meaning: field order and whitespace between fields do not
    /// change it. Used to tell an idempotent retry from a different request under the same key.
    pub fn fingerprint(&self) -> String {
        let mut digest = Sha256::new();
        for (name, raw) in &self.fields {
            digest.update(name.as_bytes());
            digest.update([0]);
            digest.update(raw.get().trim().as_bytes());
            digest.update([0]);
        }
        hex::encode(digest.finalize())
    }
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
        assert_eq!(body.deny_unknown(&["s", "n", "z"]).err().and_then(|e| e.param), Some("extra".to_owned()));
    }

    #[test]
    fn fingerprint_ignores_order_and_spacing_but_not_values() {
        let a = JsonObject::parse(br#"{"a": 1, "b": "x"}"#).map(|o| o.fingerprint()).unwrap_or_default();
        let b = JsonObject::parse(br#"{ "b":"x","a":1 }"#).map(|o| o.fingerprint()).unwrap_or_default();
        let c = JsonObject::parse(br#"{"a": 2, "b": "x"}"#).map(|o| o.fingerprint()).unwrap_or_default();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
