//! The embedded store: one SQLite file in a local directory. It survives restarts, and several
//! processes (the local runner and `payouts-admin`) can use it at once: every write is one
//! `BEGIN IMMEDIATE` transaction that checks all conditions before applying anything.

use crate::ports::store::{Condition, IndexKey, IndexQuery, Item, ItemKey, Store, StoreError, WriteOp};
use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    version INTEGER NOT NULL,
    expires_at INTEGER,
    gsi1pk TEXT, gsi1sk TEXT,
    gsi2pk TEXT, gsi2sk TEXT,
    gsi3pk TEXT, gsi3sk TEXT,
    gsi4pk TEXT, gsi4sk TEXT,
    attrs TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS gsi1 ON items (gsi1pk, gsi1sk, pk, sk) WHERE gsi1pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS gsi2 ON items (gsi2pk, gsi2sk, pk, sk) WHERE gsi2pk IS NOT NULL;
CREATE INDEX IF NOT EXISTS gsi3 ON items (gsi3pk, gsi3sk, pk, sk) WHERE gsi3pk IS NOT NULL;
";

/// What a data directory made before gsi4 lacks: its columns, then its index.
const ADD_GSI4: &str = "
ALTER TABLE items ADD COLUMN gsi4pk TEXT;
ALTER TABLE items ADD COLUMN gsi4sk TEXT;
";
const GSI4_INDEX: &str = "CREATE INDEX IF NOT EXISTS gsi4 ON items (gsi4pk, gsi4sk, pk, sk) WHERE gsi4pk IS NOT NULL;";

/// File name inside the data directory.
pub const DATABASE_FILE: &str = "payouts.sqlite3";

#[derive(Clone)]
pub struct EmbeddedStore {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
}

fn unavailable(error: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

impl EmbeddedStore {
    /// Opens (creating if needed) the store in `data_dir`.
    pub fn open(data_dir: &Path) -> Result<EmbeddedStore, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|e| unavailable(format!("cannot create {}: {e}", data_dir.display())))?;
        let path = data_dir.join(DATABASE_FILE);
        let connection = Connection::open(&path).map_err(unavailable)?;
        // WAL lets readers in other processes proceed during a write; the busy timeout makes a
        // second process wait for the lock instead of failing.
        connection.busy_timeout(Duration::from_secs(10)).map_err(unavailable)?;
        connection.pragma_update(None, "journal_mode", "WAL").map_err(unavailable)?;
        connection.pragma_update(None, "synchronous", "FULL").map_err(unavailable)?;
        connection.execute_batch(SCHEMA).map_err(unavailable)?;
        let has_gsi4: bool = connection
            .query_row("SELECT COUNT(*) FROM pragma_table_info('items') WHERE name = 'gsi4pk'", [], |row| row.get::<_, i64>(0))
            .map_err(unavailable)?
            > 0;
        if !has_gsi4 {
            connection.execute_batch(ADD_GSI4).map_err(unavailable)?;
        }
        connection.execute_batch(GSI4_INDEX).map_err(unavailable)?;
        Ok(EmbeddedStore { connection: Arc::new(Mutex::new(connection)), path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs blocking SQLite work off the async runtime's threads.
    async fn with_connection<T: Send + 'static>(&self, work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static) -> Result<T, StoreError> {
        let connection = Arc::clone(&self.connection);
        tokio::task::spawn_blocking(move || {
            let mut guard = connection.lock().map_err(|_| StoreError::Unavailable("embedded store lock poisoned".into()))?;
            work(&mut guard)
        })
        .await
        .map_err(unavailable)?
    }
}

fn read_item(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Item, String)> {
    let index = |pk: Option<String>, sk: Option<String>| match (pk, sk) {
        (Some(pk), Some(sk)) => Some(IndexKey { pk, sk }),
        _ => None,
    };
    let attrs: String = row.get(12)?;
    let version: i64 = row.get(2)?;
    Ok((
        Item {
            key: ItemKey { pk: row.get(0)?, sk: row.get(1)? },
            version: u64::try_from(version).unwrap_or(0),
            expires_at: row.get(3)?,
            indexes: [index(row.get(4)?, row.get(5)?), index(row.get(6)?, row.get(7)?), index(row.get(8)?, row.get(9)?), index(row.get(10)?, row.get(11)?)],
            attrs: BTreeMap::new(),
            body: row.get(13)?,
        },
        attrs,
    ))
}

fn finish_item((mut item, attrs): (Item, String)) -> Result<Item, StoreError> {
    item.attrs = serde_json::from_str(&attrs).map_err(|e| StoreError::Corrupt(format!("attrs of {:?}: {e}", item.key)))?;
    Ok(item)
}

const COLUMNS: &str = "pk, sk, version, expires_at, gsi1pk, gsi1sk, gsi2pk, gsi2sk, gsi3pk, gsi3sk, gsi4pk, gsi4sk, attrs, body";

fn load(connection: &Connection, key: &ItemKey) -> Result<Option<Item>, StoreError> {
    let sql = format!("SELECT {COLUMNS} FROM items WHERE pk = ?1 AND sk = ?2");
    let row = connection.query_row(&sql, params![key.pk, key.sk], read_item).optional().map_err(unavailable)?;
    row.map(finish_item).transpose()
}

fn holds(condition: &Condition, current: Option<&Item>) -> bool {
    match condition {
        Condition::Absent { now_unix } => current.is_none_or(|item| item.is_expired(*now_unix)),
        Condition::Version(version) => current.is_some_and(|item| item.version == *version),
    }
}

fn put(connection: &Connection, item: &Item) -> Result<(), StoreError> {
    let attrs = serde_json::to_string(&item.attrs).map_err(unavailable)?;
    let [gsi1, gsi2, gsi3, gsi4] = &item.indexes;
    let pk = |index: &Option<IndexKey>| index.as_ref().map(|i| i.pk.clone());
    let sk = |index: &Option<IndexKey>| index.as_ref().map(|i| i.sk.clone());
    let version = i64::try_from(item.version).map_err(unavailable)?;
    connection
        .execute(
            &format!("INSERT OR REPLACE INTO items ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)"),
            params![
                item.key.pk,
                item.key.sk,
                version,
                item.expires_at,
                pk(gsi1),
                sk(gsi1),
                pk(gsi2),
                sk(gsi2),
                pk(gsi3),
                sk(gsi3),
                pk(gsi4),
                sk(gsi4),
                attrs,
                item.body
            ],
        )
        .map_err(unavailable)?;
    Ok(())
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn get(&self, keys: &[ItemKey]) -> Result<Vec<Option<Item>>, StoreError> {
        let keys = keys.to_vec();
        self.with_connection(move |connection| keys.iter().map(|key| load(connection, key)).collect()).await
    }

    async fn write(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        // As DynamoDB: one op per item in a write (conditions are checked before anything is
        // applied, so two ops on one item could both pass).
        let mut keys: Vec<&ItemKey> = ops.iter().map(WriteOp::key).collect();
        keys.sort();
        if keys.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(StoreError::Unavailable("two ops on the same item in one write".into()));
        }
        self.with_connection(move |connection| {
            let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate).map_err(unavailable)?;
            let mut failed = Vec::new();
            // A counter's new count, by position, decided while its condition is checked.
            let mut counts = Vec::new();
            for (position, op) in ops.iter().enumerate() {
                let condition = match op {
                    WriteOp::Put { condition, .. } | WriteOp::Delete { condition, .. } => condition.as_ref(),
                    WriteOp::Check { condition, .. } => Some(condition),
                    WriteOp::Count { key, limit, .. } => {
                        // As DynamoDB's `ADD`: the count goes on from the stored one, expired or not
                        // (counters carry their window in the key, so expiry is only cleanup).
                        let count = load(&transaction, key)?.map_or(0, |item| item.version);
                        if count >= *limit {
                            failed.push(position);
                        }
                        counts.push(count + 1);
                        continue;
                    }
                };
                if let Some(condition) = condition {
                    let current = load(&transaction, op.key())?;
                    if !holds(condition, current.as_ref()) {
                        failed.push(position);
                    }
                }
            }
            if !failed.is_empty() {
                // Dropping the transaction rolls it back: nothing of this write happened.
                return Err(StoreError::ConditionFailed { failed });
            }
            let mut counts = counts.into_iter();
            for op in &ops {
                match op {
                    WriteOp::Put { item, .. } => put(&transaction, item)?,
                    WriteOp::Delete { key, .. } => {
                        transaction.execute("DELETE FROM items WHERE pk = ?1 AND sk = ?2", params![key.pk, key.sk]).map_err(unavailable)?;
                    }
                    WriteOp::Check { .. } => {}
                    WriteOp::Count { key, expires_at, .. } => {
                        let version = counts.next().ok_or_else(|| StoreError::Unavailable("a counter lost its count".into()))?;
                        let counter = Item {
                            key: key.clone(),
                            version,
                            expires_at: Some(*expires_at),
                            indexes: [None, None, None, None],
                            attrs: std::collections::BTreeMap::new(),
                            body: String::new(),
                        };
                        put(&transaction, &counter)?;
                    }
                }
            }
            transaction.commit().map_err(unavailable)
        })
        .await
    }

    async fn query(&self, query: &IndexQuery) -> Result<Vec<Item>, StoreError> {
        if query.limit == 0 {
            return Ok(Vec::new());
        }
        let query = query.clone();
        self.with_connection(move |connection| {
            let index = query.index.as_str();
            let (compare, order) = if query.descending { ("<", "DESC") } else { (">", "ASC") };
            let mut sql = format!("SELECT {COLUMNS} FROM items WHERE {index}pk = ?1");
            let mut args: Vec<Box<dyn rusqlite::ToSql>> = vec![Box::new(query.pk.clone())];
            if let Some(at_least) = &query.sk_at_least {
                args.push(Box::new(at_least.clone()));
                sql.push_str(&format!(" AND {index}sk >= ?{}", args.len()));
            }
            if let Some(at_most) = &query.sk_at_most {
                args.push(Box::new(at_most.clone()));
                sql.push_str(&format!(" AND {index}sk <= ?{}", args.len()));
            }
            if let Some(after) = &query.after {
                args.push(Box::new(after.index_sk.clone()));
                let a = args.len();
                args.push(Box::new(after.key.pk.clone()));
                args.push(Box::new(after.key.sk.clone()));
                sql.push_str(&format!(" AND ({index}sk, pk, sk) {compare} (?{a}, ?{}, ?{})", a + 1, a + 2));
            }
            args.push(Box::new(query.now_unix));
            sql.push_str(&format!(" AND (expires_at IS NULL OR expires_at > ?{})", args.len()));
            sql.push_str(&format!(" ORDER BY {index}sk {order}, pk {order}, sk {order}"));
            let mut statement = connection.prepare(&sql).map_err(unavailable)?;
            let rows = statement.query_map(rusqlite::params_from_iter(args.iter().map(|a| a.as_ref())), read_item).map_err(unavailable)?;
            let mut items = Vec::new();
            for row in rows {
                let item = finish_item(row.map_err(unavailable)?)?;
                let passes = query.filters.iter().all(|filter| match item.attrs.get(&filter.attr) {
                    None => false,
                    Some(value) => {
                        filter.greater_than.as_ref().is_none_or(|bound| value > bound)
                            && filter.less_than.as_ref().is_none_or(|bound| value < bound)
                            && filter.equals.as_ref().is_none_or(|wanted| value == wanted)
                    }
                });
                if passes {
                    items.push(item);
                    if items.len() >= query.limit {
                        break;
                    }
                }
            }
            Ok(items)
        })
        .await
    }
}

impl std::fmt::Debug for EmbeddedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedStore").field("path", &self.path).finish()
    }
}
