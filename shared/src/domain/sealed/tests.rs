use super::*;

#[test]
fn a_sealed_value_opens_only_with_its_key_and_context() {
    let data_key = random_bytes::<DATA_KEY_BYTES>().unwrap_or_default();
    let (nonce, ciphertext) = seal(&data_key, b"whsec_abc", b"webhook_id=we_1").unwrap_or_default();
    assert!(!ciphertext.windows(6).any(|w| w == b"whsec_"), "no plaintext in the ciphertext");
    assert_eq!(open(&data_key, &nonce, &ciphertext, b"webhook_id=we_1"), Ok(b"whsec_abc".to_vec()));
    assert_eq!(open(&data_key, &nonce, &ciphertext, b"webhook_id=we_2"), Err(SealError::Open), "another record's context");
    let other_key = random_bytes::<DATA_KEY_BYTES>().unwrap_or_default();
    assert_eq!(open(&other_key, &nonce, &ciphertext, b"webhook_id=we_1"), Err(SealError::Open), "another key");
    let mut altered = ciphertext.clone();
    altered[0] ^= 1;
    assert_eq!(open(&data_key, &nonce, &altered, b"webhook_id=we_1"), Err(SealError::Open), "altered bytes");
}

#[test]
fn the_stored_form_round_trips_and_names_its_version() {
    let sealed = Sealed { wrapped_key: vec![1, 2, 3], nonce: [7; 12], ciphertext: vec![9; 20] };
    let json = serde_json::to_value(&sealed).unwrap_or_default();
    assert_eq!(json["v"], 1);
    assert_eq!(serde_json::from_value::<Sealed>(json).ok(), Some(sealed));
    assert!(serde_json::from_value::<Sealed>(serde_json::json!({"v": 2, "key": "", "nonce": "", "ciphertext": ""})).is_err());
}
