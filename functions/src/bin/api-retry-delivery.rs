//! Lambda: retry delivery (see `payouts::http::routes::Route::RetryDelivery`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    payouts::runtime::run_api_route(payouts::http::routes::Route::RetryDelivery).await
}
