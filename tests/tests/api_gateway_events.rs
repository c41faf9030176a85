//! The API Lambdas fed real API Gateway HTTP API (payload v2) event JSON, through the same
//! conversion the function binaries use.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts::http::lambda::{to_api_request, to_lambda_response};
use payouts::http::routes::Route;
use payouts::http::serve;
use payouts_tests::{Harness, guide_body};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/lambda").join(name)).unwrap()
}

#[tokio::test]
async fn create_and_list_functions_answer_api_gateway_events() {
    let h = Harness::embedded().await;
    let body = guide_body().to_string();
    let event = fixture("apigw-v2-create-payout.json")
        .replace("__KEY__", &h.tenant.live)
        .replace("__LENGTH__", &body.len().to_string())
        .replace("\"__BODY__\"", &serde_json::to_string(&body).unwrap());
    let request = lambda_http::request::from_str(&event).unwrap();
    let api_request = to_api_request(request);
    assert_eq!((api_request.method.as_str(), api_request.path.as_str()), ("POST", "/v1/payouts"));
    let response = to_lambda_response(serve(&h.app, api_request.clone(), Some(Route::CreatePayout)).await);
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["content-type"], "application/json");
    let created: serde_json::Value = match response.body() {
        lambda_http::Body::Text(text) => serde_json::from_str(text).unwrap(),
        other => panic!("unexpected body {other:?}"),
    };
    assert_eq!(created["status"], "draft");

    // The same event again: the idempotency key replays it.
    let replay = serve(&h.app, api_request.clone(), Some(Route::CreatePayout)).await;
    assert_eq!(replay.status, 201);
    assert!(replay.headers.iter().any(|(n, v)| *n == "idempotent-replayed" && v == "true"));

    // A function only serves its own route.
    let misrouted = serve(&h.app, api_request, Some(Route::ListPayouts)).await;
    assert_eq!(misrouted.status, 404);

    let event = fixture("apigw-v2-list-payouts.json").replace("__KEY__", &h.tenant.live);
    let listed = serve(&h.app, to_api_request(lambda_http::request::from_str(&event).unwrap()), Some(Route::ListPayouts)).await;
    assert_eq!(listed.status, 200);
    let list: serde_json::Value = serde_json::from_slice(&listed.body).unwrap();
    assert_eq!(list["data"][0]["id"], created["id"]);
}
