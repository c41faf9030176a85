//! Lambda: get payout (see `payouts::http::routes::Route::GetPayout`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::GetPayout)
}
