//! Lambda: the calling key's organization and environment (see `payouts::http::routes::Route::GetAccount`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::GetAccount)
}
