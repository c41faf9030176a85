//! Lambda: rotate a webhook endpoint's signing secret (see `payouts::http::routes::Route::RotateWebhookSecret`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::RotateWebhookSecret)
}
