use super::*;

#[tokio::test]
async fn a_panicking_handler_is_answered_with_the_contracts_500_and_the_request_id() {
    let response = answer_catching_panics("req_1".into(), async { panic!("a bug") }).await;
    assert_eq!(response.status, http::StatusCode::INTERNAL_SERVER_ERROR);
    let body: serde_json::Value = serde_json::from_slice(&response.body).unwrap_or_default();
    assert_eq!(body["error"]["type"], "internal_error");
    assert_eq!(body["error"]["code"], "internal_server_error");
    assert!(!String::from_utf8_lossy(&response.body).contains("a bug"), "no internals in a 500");
    assert!(response.headers.iter().any(|(name, value)| *name == "request-id" && value == "req_1"));
}

#[tokio::test]
async fn an_answer_that_does_not_panic_is_passed_through() {
    let response = answer_catching_panics("req_2".into(), async { ApiResponse::empty(http::StatusCode::NO_CONTENT) }).await;
    assert_eq!(response.status, http::StatusCode::NO_CONTENT);
}
