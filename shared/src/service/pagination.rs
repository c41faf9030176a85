//! Cursor pagination: `limit` (default 25, 1–100) and an opaque `cursor`, newest first.
//!
//! A cursor is the position of the last item of a page, bound to the query that produced it
//! (index partition and filters), so it cannot be replayed against another list or tenant.

use super::records::decode;
use crate::error::ApiError;
use crate::ports::store::{IndexPosition, IndexQuery, Item, ItemKey, Store};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub const DEFAULT_LIMIT: usize = 25;
/// DynamoDB's limits on key values (bytes).
const MAX_PARTITION_KEY_BYTES: usize = 2048;
const MAX_SORT_KEY_BYTES: usize = 1024;
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
    // The binding is not a secret, so a cursor can be forged: whatever it says must still be a
    // key the store accepts (DynamoDB refuses empty and oversized key values with an error that
    // would otherwise surface as a 500).
    let plausible = |text: &str, max: usize| !text.is_empty() && text.len() <= max;
    if !plausible(&data.p, MAX_PARTITION_KEY_BYTES) || !plausible(&data.k, MAX_SORT_KEY_BYTES) || !plausible(&data.s, MAX_SORT_KEY_BYTES) {
        return Err(ApiError::invalid_cursor());
    }
    Ok(IndexPosition { index_sk: data.s, key: ItemKey { pk: data.p, sk: data.k } })
}

/// Every list response: `{"data": [...], "has_more", "next_cursor"}`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ListBody<T> {
    pub data: Vec<T>,
    pub has_more: bool,
    #[schema(nullable)]
    pub next_cursor: Option<String>,
}

/// A list request's query string: only the route's filters plus `limit` and `cursor` are
/// accepted (anything else is a 400 naming it).
pub struct ListParams<'a> {
    params: &'a [(String, String)],
    pub limit: usize,
}

impl<'a> ListParams<'a> {
    pub fn parse(params: &'a [(String, String)], filters: &[&str]) -> Result<ListParams<'a>, ApiError> {
        if let Some((unknown, _)) = params.iter().find(|(name, _)| !filters.contains(&name.as_str()) && name != "limit" && name != "cursor") {
            return Err(ApiError::unknown_parameter(unknown));
        }
        let mut list = ListParams { params, limit: DEFAULT_LIMIT };
        list.limit = parse_limit(list.get("limit"))?;
        Ok(list)
    }

    /// A query string of filters only (no pagination): anything else is a 400 naming it.
    pub fn parse_only(params: &'a [(String, String)], filters: &[&str]) -> Result<ListParams<'a>, ApiError> {
        if let Some((unknown, _)) = params.iter().find(|(name, _)| !filters.contains(&name.as_str())) {
            return Err(ApiError::unknown_parameter(unknown));
        }
        Ok(ListParams { params, limit: DEFAULT_LIMIT })
    }

    /// The `cursor`; an empty one (`?cursor=`, as a client with no cursor yet may send) is the
    /// first page.
    pub fn cursor(&self) -> Option<&'a str> {
        self.get("cursor").filter(|cursor| !cursor.is_empty())
    }

    pub fn get(&self, name: &str) -> Option<&'a str> {
        self.params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// A filter read with `parse`; a value it refuses is a 400 naming the parameter and saying
    /// what is accepted (`accepted`, e.g. "tron, arbitrum or base").
    pub fn filter<T>(&self, name: &str, parse: impl Fn(&str) -> Option<T>, accepted: &str) -> Result<Option<T>, ApiError> {
        self.get(name).map(|text| parse(text).ok_or_else(|| ApiError::invalid_parameter(name, format!("Unknown {name} {text:?}: use {accepted}.")))).transpose()
    }
}

/// One page of `query` as a list response: each record decoded and turned into its public view
/// (`None` leaves it out).
pub async fn list_page<R: DeserializeOwned, V>(
    store: &dyn Store,
    query: IndexQuery,
    params: &ListParams<'_>,
    view: impl Fn(R) -> Option<V>,
) -> Result<ListBody<V>, ApiError> {
    let page = fetch_page(store, query, params.cursor(), params.limit).await?;
    let mut data = Vec::with_capacity(page.items.len());
    for item in &page.items {
        data.extend(view(decode::<R>(item).map_err(ApiError::internal)?));
    }
    Ok(ListBody { data, has_more: page.has_more, next_cursor: page.next_cursor })
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
    let next_cursor =
        if has_more { items.last().and_then(|last| IndexPosition::of(last, query.index)).map(|position| encode_cursor(&query, &position)) } else { None };
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
        // Forged with the right binding (it is no secret) but keys no store accepts.
        for (s, p, k) in [("", "PO#po_x", "PO"), ("000123#po_x", "", "PO"), ("000123#po_x", "PO#po_x", &"x".repeat(1025)[..])] {
            let forged = URL_SAFE_NO_PAD
                .encode(serde_json::to_vec(&CursorData { s: s.into(), p: p.into(), k: k.into(), q: binding(&query("org_a#live#PO")) }).unwrap_or_default());
            assert_eq!(decode_cursor(&query("org_a#live#PO"), &forged).err().map(|e| e.code), Some("invalid_cursor"), "{s:?} {p:?}");
        }
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
