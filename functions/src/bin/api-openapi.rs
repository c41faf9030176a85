//! Lambda: the OpenAPI document, served without auth at `GET /v1/openapi.json`.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    payouts::runtime::run_api_route(payouts::http::routes::Route::OpenApi).await
}
