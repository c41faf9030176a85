//! Lambda: API Gateway's `$default` route, so unknown paths and methods get the contract's error
//! body (see `payouts::http::routes::Route::Fallback`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::Fallback)
}
