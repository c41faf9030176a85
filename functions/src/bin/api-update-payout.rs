//! Lambda: update payout (see `payouts::http::routes::Route::UpdatePayout`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::UpdatePayout)
}
