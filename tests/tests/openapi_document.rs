//! The OpenAPI document served at `GET /v1/openapi.json` is a valid OpenAPI 3.1 document
//! (checked by the `openapi-spec-validator` the test command installs) and documents every route.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::Method;
use payouts::http::routes::Route;
use payouts_tests::Harness;

#[tokio::test]
async fn the_served_document_is_valid_and_complete() {
    let h = Harness::embedded().await;
    let served = h.call(Method::GET, "/v1/openapi.json", None, None).await;
    assert_eq!(served.status, 200);
    for route in Route::ALL {
        let (method, path) = route.spec();
        assert!(served.json["paths"][path][method.as_str().to_lowercase()].is_object(), "{method} {path} is documented");
    }
    let python = std::env::var("PAYOUTS_TEST_OPENAPI_PYTHON").expect("PAYOUTS_TEST_OPENAPI_PYTHON is not set: run infra/test.sh, which installs the validator");
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), served.raw.as_bytes()).unwrap();
    let output = std::process::Command::new(python).args(["-m", "openapi_spec_validator"]).arg(file.path()).output().unwrap();
    assert!(output.status.success(), "invalid OpenAPI document:\n{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
}
