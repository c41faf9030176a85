//! Lambda: list reconciliation items (see `payouts::http::routes::Route::ListReconciliationItems`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    payouts::runtime::run_api_route(payouts::http::routes::Route::ListReconciliationItems).await
}
