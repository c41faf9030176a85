//! Lambda: update payout (see `payouts::http::routes::Route::UpdatePayout`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    payouts::runtime::run_api_route(payouts::http::routes::Route::UpdatePayout).await
}
