//! Lambda: get wallet (see `payouts::http::routes::Route::GetWallet`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::GetWallet)
}
