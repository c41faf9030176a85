//! Lambda: the calling key's organization and environment (see `payouts::http::routes::Route::GetAccount`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    payouts::runtime::run_api_route(payouts::http::routes::Route::GetAccount).await
}
