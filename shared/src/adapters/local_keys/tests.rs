use super::*;

#[cfg(unix)]
#[tokio::test]
async fn the_key_file_is_made_once_private_and_reused_by_the_next_process() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let first = LocalKeyFile::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let mode = std::fs::metadata(key_file(dir.path())).map(|m| m.permissions().mode() & 0o777).unwrap_or(0);
    assert_eq!(mode, 0o600);
    let context = KeyContext { name: "webhook_id", value: "we_1".into() };
    let key = first.generate(&context).await.unwrap_or_else(|e| panic!("{e}"));
    let again = LocalKeyFile::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.unwrap(&key.wrapped, &context).await, Ok(key.plaintext), "a restarted process opens what the last one sealed");
    let other_context = KeyContext { name: "webhook_id", value: "we_2".into() };
    assert!(matches!(again.unwrap(&key.wrapped, &other_context).await, Err(KeyError::Invalid(_))));
    let elsewhere = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let stranger = LocalKeyFile::open(elsewhere.path()).unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(stranger.unwrap(&key.wrapped, &context).await, Err(KeyError::Invalid(_))), "another data directory's key");
}

#[tokio::test]
async fn stack_secrets_are_stable_per_label_and_key_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let first = LocalKeyFile::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let again = LocalKeyFile::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
    let secret = first.derive("list-cursors/v1").await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again.derive("list-cursors/v1").await, Ok(secret), "another process of the same data directory derives the same secret");
    assert_ne!(first.derive("other/v1").await, Ok(secret), "another label");
    let elsewhere = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let stranger = LocalKeyFile::open(elsewhere.path()).unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(stranger.derive("list-cursors/v1").await, Ok(secret), "another key file");
}
