//! Lambda: execute payout (see `payouts::http::routes::Route::ExecutePayout`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::ExecutePayout)
}
