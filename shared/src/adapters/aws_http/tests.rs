//! Unit tests of the Lambda SDK clients' trust store.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

#[test]
fn the_bundle_holds_the_five_amazon_trust_services_roots() {
    let text = std::str::from_utf8(AMAZON_TRUST_SERVICES_ROOTS).unwrap_or_default();
    assert_eq!(text.matches("-----BEGIN CERTIFICATE-----").count(), 5);
    for root in ["Amazon_Root_CA_1", "Amazon_Root_CA_2", "Amazon_Root_CA_3", "Amazon_Root_CA_4", "Starfield_Services_Root_Certificate_Authority_-_G2"] {
        assert!(text.contains(&format!("# {root} ")), "{root} is missing");
    }
}

#[test]
fn a_client_on_those_roots_builds_and_serves_an_sdk_client() {
    let client = amazon_roots_client().unwrap();
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .http_client(client)
        .build();
    // Building the service client validates its HTTP client (the TLS roots are parsed here).
    let _ = aws_sdk_dynamodb::Client::from_conf(config);
}
