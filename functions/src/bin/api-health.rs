//! Lambda: the unauthenticated health check (see `payouts::http::routes::Route::Health`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::Health)
}
