//! Lambda: list events (see `payouts::http::routes::Route::ListEvents`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::ListEvents)
}
