use super::*;

#[test]
fn store_trouble_is_retryable_and_says_nothing_of_its_detail() {
    let diagnostic: lambda_runtime::Diagnostic = JobError::from(StoreError::Unavailable("DynamoDB Query: https://user:secret@example/".into())).into();
    assert_eq!(diagnostic.error_type, "Retryable.StoreUnavailable");
    assert!(!diagnostic.error_message.contains("secret"), "{}", diagnostic.error_message);
    let lost_race: lambda_runtime::Diagnostic = JobError::from(StoreError::Contention).into();
    assert_eq!(lost_race.error_type, "Retryable.StoreContention");
}

#[test]
fn a_corrupt_record_is_permanent() {
    let diagnostic: lambda_runtime::Diagnostic = JobError::from(StoreError::Corrupt("PAY#x: unknown variant".into())).into();
    assert_eq!(diagnostic.error_type, "Permanent.CorruptRecord");
}

#[test]
fn rpc_trouble_is_retryable_and_never_carries_the_url() {
    let error = WatchError::Chain(ChainError("https://base-mainnet.example/v2/API_KEY: timed out".into()));
    let diagnostic: lambda_runtime::Diagnostic = JobError::from(error).into();
    assert_eq!(diagnostic.error_type, "Retryable.ChainUnavailable");
    assert!(!diagnostic.error_message.contains("API_KEY"), "{}", diagnostic.error_message);
}
