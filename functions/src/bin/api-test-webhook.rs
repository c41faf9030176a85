//! Lambda: send a test event to a webhook endpoint (see `payouts::http::routes::Route::TestWebhook`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::TestWebhook)
}
