//! Lambda: verify wallet (see `payouts::http::routes::Route::VerifyWallet`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::VerifyWallet)
}
