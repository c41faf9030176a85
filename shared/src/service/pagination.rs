//! Cursor pagination: `limit` (default 25, 1–100) and an opaque `cursor`, newest first.
//!
//! A cursor is the position of the last item of a page, sealed under a stack secret and bound to
//! the query that produced it (index partition and filters), so it cannot be read, forged or
//! replayed against another list or tenant ([`Cursors`]).

use super::records::decode;
use crate::domain::sealed::{self, DATA_KEY_BYTES};
use crate::error::ApiError;
use crate::ports::StackSecrets;
use crate::ports::store::{IndexPosition, IndexQuery, Item, ItemKey, Store};
use crate::service::App;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::OnceCell;

pub const DEFAULT_LIMIT: usize = 25;
pub const MAX_LIMIT: usize = 100;

/// A cursor's plaintext: the index sort key and the item's key of the last item of a page.
#[derive(Serialize, Deserialize)]
struct CursorData {
    s: String,
    p: String,
    k: String,
}

/// The query a cursor is bound to (index, partition and filters): its AES-GCM additional data.
fn binding(query: &IndexQuery) -> Vec<u8> {
    let mut digest = Sha256::new();
    digest.update(query.index.as_str().as_bytes());
    digest.update([0]);
    digest.update(query.pk.as_bytes());
    for filter in &query.filters {
        digest.update([0]);
        digest.update(format!("{filter:?}").as_bytes());
    }
    digest.finalize().to_vec()
}

/// The first byte of every cursor, so a later format can be told apart.
const CURSOR_VERSION: u8 = 1;
const NONCE_BYTES: usize = 12;
/// The [`StackSecrets`] label of the cursor key.
const CURSOR_KEY_LABEL: &str = "list-cursors/v1";

/// Seals and opens list cursors. A cursor is `base64url(version ‖ nonce ‖ AES-256-GCM(position))`
/// under a key every instance of the stack derives alike ([`StackSecrets`]), with the query it
/// belongs to as additional data. So it is opaque (no table key is readable in it) and
/// authenticated: a forged, altered, truncated, other-tenant or other-list cursor does not open,
/// and is a 400 `invalid_cursor`, never a query the store would refuse. The key is derived on
/// the first cursor a process seals or opens (one KMS call per Lambda instance), not at start.
pub struct Cursors {
    secrets: Arc<dyn StackSecrets>,
    key: OnceCell<[u8; DATA_KEY_BYTES]>,
}

impl Cursors {
    pub fn new(secrets: Arc<dyn StackSecrets>) -> Cursors {
        Cursors { secrets, key: OnceCell::new() }
    }

    async fn key(&self) -> Result<&[u8; DATA_KEY_BYTES], ApiError> {
        self.key.get_or_try_init(|| async { self.secrets.derive(CURSOR_KEY_LABEL).await.map_err(ApiError::internal) }).await
    }

    pub async fn seal(&self, query: &IndexQuery, position: &IndexPosition) -> Result<String, ApiError> {
        let data = CursorData { s: position.index_sk.clone(), p: position.key.pk.clone(), k: position.key.sk.clone() };
        let plaintext = serde_json::to_vec(&data).map_err(ApiError::internal)?;
        let (nonce, ciphertext) = sealed::seal(self.key().await?, &plaintext, &binding(query)).map_err(ApiError::internal)?;
        let mut bytes = Vec::with_capacity(1 + NONCE_BYTES + ciphertext.len());
        bytes.push(CURSOR_VERSION);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&ciphertext);
        Ok(URL_SAFE_NO_PAD.encode(bytes))
    }

    pub async fn open(&self, query: &IndexQuery, cursor: &str) -> Result<IndexPosition, ApiError> {
        let bytes = URL_SAFE_NO_PAD.decode(cursor.trim_end_matches('=')).map_err(|_| ApiError::invalid_cursor())?;
        let Some((&CURSOR_VERSION, rest)) = bytes.split_first() else { return Err(ApiError::invalid_cursor()) };
        if rest.len() < NONCE_BYTES {
            return Err(ApiError::invalid_cursor());
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_BYTES);
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().map_err(|_| ApiError::invalid_cursor())?;
        let plaintext = sealed::open(self.key().await?, &nonce, ciphertext, &binding(query)).map_err(|_| ApiError::invalid_cursor())?;
        let data: CursorData = serde_json::from_slice(&plaintext).map_err(|_| ApiError::invalid_cursor())?;
        Ok(IndexPosition { index_sk: data.s, key: ItemKey { pk: data.p, sk: data.k } })
    }

    /// [`Cursors::open`] of a list request's `cursor`, if it has one.
    pub async fn open_param(&self, query: &IndexQuery, params: &ListParams<'_>) -> Result<Option<IndexPosition>, ApiError> {
        match params.cursor() {
            Some(cursor) => self.open(query, cursor).await.map(Some),
            None => Ok(None),
        }
    }
}

pub fn parse_limit(text: Option<&str>) -> Result<usize, ApiError> {
    let Some(text) = text else { return Ok(DEFAULT_LIMIT) };
    match text.parse::<usize>() {
        Ok(limit) if (1..=MAX_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(ApiError::invalid_parameter("limit", format!("limit must be an integer from 1 to {MAX_LIMIT}."))),
    }
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
    app: &App,
    query: IndexQuery,
    params: &ListParams<'_>,
    view: impl Fn(R) -> Option<V>,
) -> Result<ListBody<V>, ApiError> {
    fetch_page(app.store.as_ref(), &app.cursors, query, params).await?.into_body(view)
}

/// One page of a list response.
pub struct Page {
    pub items: Vec<Item>,
    pub has_more: bool,
    pub next_cursor: Option<String>,
}

impl Page {
    /// `items`, read one more than `limit` to know whether more exist, cut to `limit`, with the
    /// cursor after the last (sealed to `query`) when there is more.
    async fn of(mut items: Vec<Item>, limit: usize, query: &IndexQuery, cursors: &Cursors) -> Result<Page, ApiError> {
        let has_more = items.len() > limit;
        items.truncate(limit);
        let next_cursor = match items.last().and_then(|last| IndexPosition::of(last, query.index)) {
            Some(position) if has_more => Some(cursors.seal(query, &position).await?),
            _ => None,
        };
        Ok(Page { items, has_more, next_cursor })
    }

    /// The list response: each record decoded and turned into its public view (`None` leaves
    /// it out).
    pub fn into_body<R: DeserializeOwned, V>(self, view: impl Fn(R) -> Option<V>) -> Result<ListBody<V>, ApiError> {
        let mut data = Vec::with_capacity(self.items.len());
        for item in &self.items {
            data.extend(view(decode::<R>(item).map_err(ApiError::internal)?));
        }
        Ok(ListBody { data, has_more: self.has_more, next_cursor: self.next_cursor })
    }
}

/// Runs `query` for one page from the request's cursor: asks for one item more than `limit` to
/// know whether more exist.
pub async fn fetch_page(store: &dyn Store, cursors: &Cursors, mut query: IndexQuery, params: &ListParams<'_>) -> Result<Page, ApiError> {
    let limit = params.limit;
    query.after = cursors.open_param(&query, params).await?;
    query.limit = limit + 1;
    let items = store.query(&query).await.map_err(ApiError::internal)?;
    Page::of(items, limit, &query, cursors).await
}

/// [`list_page`] over several partitions of one index, merged ([`fetch_merged_page`]).
pub async fn list_merged_page<R: DeserializeOwned, V>(
    app: &App,
    queries: Vec<IndexQuery>,
    params: &ListParams<'_>,
    view: impl Fn(R) -> Option<V>,
) -> Result<ListBody<V>, ApiError> {
    fetch_merged_page(&app.store, &app.cursors, queries, params).await?.into_body(view)
}

/// One page across several partitions of one index (several statuses, say), merged in index
/// sort-key order. Every partition is asked, at once, for `limit + 1` items after the cursor's
/// position, which any partition can resume from (its sort keys, `{created}#{id}`, are unique
/// across them): a page costs one query per partition and reads at most `(limit + 1)` items
/// from each, however the items are spread.
pub async fn fetch_merged_page(store: &Arc<dyn Store>, cursors: &Cursors, queries: Vec<IndexQuery>, params: &ListParams<'_>) -> Result<Page, ApiError> {
    let Some(first) = queries.first() else {
        return Ok(Page { items: Vec::new(), has_more: false, next_cursor: None });
    };
    if queries.len() == 1 {
        return fetch_page(store.as_ref(), cursors, first.clone(), params).await;
    }
    // The cursor is bound to the whole set of partitions.
    let binding = IndexQuery { pk: queries.iter().map(|query| query.pk.as_str()).collect::<Vec<_>>().join("|"), ..first.clone() };
    let after = cursors.open_param(&binding, params).await?;
    let limit = params.limit;
    let mut running = tokio::task::JoinSet::new();
    for mut query in queries {
        query.after = after.clone();
        query.limit = limit + 1;
        let store = Arc::clone(store);
        running.spawn(async move { store.query(&query).await });
    }
    let mut items = Vec::new();
    while let Some(page) = running.join_next().await {
        items.extend(page.map_err(ApiError::internal)?.map_err(ApiError::internal)?);
    }
    let index = binding.index;
    items.sort_by_key(|item: &Item| (item.index(index).map(|key| key.sk.clone()), item.key.clone()));
    if binding.descending {
        items.reverse();
    }
    Page::of(items, limit, &binding, cursors).await
}

#[cfg(test)]
mod tests;
