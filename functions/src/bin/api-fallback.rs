//! Lambda: API Gateway's `$default` route, so unknown paths and methods get the contract's error
//! body (see `payouts::http::routes::Route::Fallback`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    payouts::runtime::run_api_route(payouts::http::routes::Route::Fallback).await
}
