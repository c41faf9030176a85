//! Lambda: list webhooks (see `payouts::http::routes::Route::ListWebhooks`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::ListWebhooks)
}
