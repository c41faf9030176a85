//! Lambda: the unauthenticated health check (see `payouts::http::routes::Route::Health`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    payouts::runtime::run_api_route(payouts::http::routes::Route::Health).await
}
