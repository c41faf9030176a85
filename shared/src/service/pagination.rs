//! Cursor pagination: `limit` (default 25, 1–100) and an opaque `cursor`, newest first.
//!
//! A cursor is the position of the last item of a page, bound to the query that produced it
//! (index partition and filters), so it cannot be replayed against another list or tenant.

use crate::error::ApiError;
use crate::ports::store::{IndexPosition, IndexQuery, Item, ItemKey, Store};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;

#[derive(Serialize, Deserialize)]
struct CursorData {
    /// Index sort key.
    s: String,
    /// Item pk and sk.
    p: String,
    k: String,
    /// Binding to the query.
    q: String,
}

fn binding(query: &IndexQuery) -> String {
    let mut digest = Sha256::new();
    digest.update(query.index.as_str().as_bytes());
    digest.update([0]);
    digest.update(query.pk.as_bytes());
    for filter in &query.filters {
        digest.update([0]);
        digest.update(format!("{filter:?}").as_bytes());
    }
    hex::encode(&digest.finalize()[..8])
}

pub fn parse_limit(text: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = text else { return Ok(DEFAULT_LIMIT) };
    match text.parse::<usize>() {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(ApiError::invalid_parameter("limit", format!("limit must be an integer from 1 to {MAX_LIMIT}."))),
    }
}

pub fn encode_cursor(query: &IndexQuery, position: &IndexPosition) -> String {
    let data = CursorData { s: position.index_sk.clone(), p: position.key.pk.clone(), k: position.key.sk.clone(), q: binding(query) };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&data).unwrap_or_default())
}

pub fn decode_cursor(query: &IndexQuery, cursor: &str) -> Result<IndexPosition, ApiError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).map_err(|_| ApiError::invalid_cursor())?;
    let data: CursorData = serde_json::from_slice(&bytes).map_err(|_| ApiError::invalid_cursor())?;
    if data.q != binding(query) {
        return Err(ApiError::invalid_cursor());
    }
    Ok(IndexPosition { index_sk: data.s, key: ItemKey { pk: data.p, sk: data.k } })
}

/// One page of a list response.
pub struct Page {
    pub items: Vec<Item>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

/// Runs `query` for one page: asks for one item more than `limit` to know whether more exist.
pub async fn fetch_page(store: &dyn Store, mut query: IndexQuery, cursor: Option<&str>, limit: usize) -> Result<Page, ApiError> {
    query.after = cursor.map(|c| decode_cursor(&query, c)).transpose()?;
    query.limit = limit + 1;
    let mut items = store.query(&query).await.map_err(ApiError::internal)?;
    let has_more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if has_more {
        items.last().and_then(|last| {
            let index_sk = last.index(query.index)?.sk.clone();
            Some(encode_cursor(&query, &IndexPosition { index_sk, key: last.key.clone() }))
        })
    } else {
        None
    };
    Ok(Page { items, has_more, next_cursor })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::store::IndexName;

    fn query(pk: &str) -> IndexQuery {
        IndexQuery { index: IndexName::Gsi1, pk: pk.into(), sk_at_most: None, after: None, filters: vec![], descending: true, limit: 10, now_unix: 0 }
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_query() {
        let position = IndexPosition { index_sk: "000123#po_x".into(), key: ItemKey::new("PO#po_x", "PO") };
        let cursor = encode_cursor(&query("org_a#live#PO"), &position);
        assert_eq!(decode_cursor(&query("org_a#live#PO"), &cursor).ok(), Some(position));
        assert_eq!(decode_cursor(&query("org_b#live#PO"), &cursor).err().map(|e| e.code), Some("invalid_cursor"));
        assert_eq!(decode_cursor(&query("org_a#live#PO"), "not-a-cursor!").err().map(|e| e.code), Some("invalid_cursor"));
        assert_eq!(decode_cursor(&query("org_a#live#PO"), "eyJ4IjoxfQ").err().map(|e| e.code), Some("invalid_cursor"));
    }

    #[test]
    fn limits_are_checked() {
        assert_eq!(parse_limit(None).ok(), Some(25));
        assert_eq!(parse_limit(Some("100")).ok(), Some(100));
        for bad in ["0", "101", "-1", "ten", ""] {
            assert_eq!(parse_limit(Some(bad)).err().and_then(|e| e.param), Some("limit".to_owned()), "{bad}");
        }
    }
}
