//! Lambda: list settlements (see `payouts::http::routes::Route::ListSettlements`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::ListSettlements)
}
