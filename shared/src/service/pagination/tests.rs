#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::ports::keys::KeyError;
use crate::ports::store::IndexName;

/// A stack secret that is the label's bytes under a fixed key byte: enough to tell two stacks apart.
struct FixedSecrets(u8);

#[async_trait::async_trait]
impl StackSecrets for FixedSecrets {
    async fn derive(&self, label: &str) -> Result<[u8; 32], KeyError> {
        let mut digest = Sha256::new();
        digest.update([self.0]);
        digest.update(label.as_bytes());
        Ok(digest.finalize().into())
    }
}

fn stack(stack: u8) -> Cursors {
    Cursors::new(Arc::new(FixedSecrets(stack)))
}

fn query(pk: &str) -> IndexQuery {
    IndexQuery {
        index: IndexName::Gsi1,
        pk: pk.into(),
        sk_at_least: None,
        sk_at_most: None,
        after: None,
        filters: vec![],
        descending: true,
        limit: 10,
        now_unix: 0,
    }
}

fn position() -> IndexPosition {
    IndexPosition { index_sk: "000123#po_x".into(), key: ItemKey::new("PO#po_x", "PO") }
}

#[tokio::test]
async fn cursors_round_trip_and_hide_the_table_keys() {
    let cursors = stack(1);
    let cursor = cursors.seal(&query("org_a#live#PO"), &position()).await.unwrap();
    assert_eq!(cursors.open(&query("org_a#live#PO"), &cursor).await.ok(), Some(position()));
    let bytes = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("PO#po_x") && !text.contains("000123"), "no key is readable in a cursor: {text}");
    // Sealed twice, the same position gives different cursors (a fresh nonce each time).
    assert_ne!(cursors.seal(&query("org_a#live#PO"), &position()).await.unwrap(), cursor);
}

#[tokio::test]
async fn forged_altered_truncated_and_foreign_cursors_are_invalid_cursor() {
    let cursors = stack(1);
    let cursor = cursors.seal(&query("org_a#live#PO"), &position()).await.unwrap();
    let code = |result: Result<IndexPosition, ApiError>| result.err().map(|e| (e.code, e.param));
    let invalid = Some(("invalid_cursor", Some("cursor".to_owned())));
    assert_eq!(code(cursors.open(&query("org_b#live#PO"), &cursor).await), invalid, "another tenant's list");
    assert_eq!(code(stack(2).open(&query("org_a#live#PO"), &cursor).await), invalid, "another stack's key");
    let mut altered = URL_SAFE_NO_PAD.decode(&cursor).unwrap();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    assert_eq!(code(cursors.open(&query("org_a#live#PO"), &URL_SAFE_NO_PAD.encode(&altered)).await), invalid, "one bit changed");
    for forged in [&cursor[..cursor.len() - 4], &cursor[..10], "", "not-a-cursor!", "eyJ4IjoxfQ", "AQ", "_"] {
        assert_eq!(code(cursors.open(&query("org_a#live#PO"), forged).await), invalid, "{forged:?}");
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
