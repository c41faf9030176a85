//! Lambda: get event (see `payouts::http::routes::Route::GetEvent`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::GetEvent)
}
