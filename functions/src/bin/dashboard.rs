//! Lambda: the operator dashboard's static files (`GET /dashboard/…`, see `payouts::http::dashboard`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::Dashboard)
}
