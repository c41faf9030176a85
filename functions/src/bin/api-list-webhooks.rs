//! Lambda: list webhooks (see `payouts::http::routes::Route::ListWebhooks`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    payouts::runtime::run_api_route(payouts::http::routes::Route::ListWebhooks).await
}
