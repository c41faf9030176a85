//! Lambda: list payouts (see `payouts::http::routes::Route::ListPayouts`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::ListPayouts)
}
