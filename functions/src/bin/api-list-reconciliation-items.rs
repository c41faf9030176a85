//! Lambda: list reconciliation items (see `payouts::http::routes::Route::ListReconciliationItems`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::ListReconciliationItems)
}
