//! Lambda: create payout (see `payouts::http::routes::Route::CreatePayout`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::CreatePayout)
}
