//! Lambda: the reconciliation summary (see `payouts::http::routes::Route::GetReconciliation`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::GetReconciliation)
}
