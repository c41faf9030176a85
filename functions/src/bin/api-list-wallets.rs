//! Lambda: list wallets (see `payouts::http::routes::Route::ListWallets`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    payouts::runtime::run_api_route(payouts::http::routes::Route::ListWallets).await
}
