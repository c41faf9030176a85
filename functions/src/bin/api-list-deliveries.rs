//! Lambda: list deliveries (see `payouts::http::routes::Route::ListDeliveries`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::ListDeliveries)
}
