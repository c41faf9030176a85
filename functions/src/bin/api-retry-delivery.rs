//! Lambda: retry delivery (see `payouts::http::routes::Route::RetryDelivery`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::RetryDelivery)
}
