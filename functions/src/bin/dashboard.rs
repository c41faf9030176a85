//! Lambda: the operator dashboard's static files (`GET /dashboard/…`, see `payouts::http::dashboard`).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    payouts::runtime::run_api_route(payouts::http::routes::Route::Dashboard).await
}
