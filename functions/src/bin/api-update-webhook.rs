//! Lambda: update webhook (see `payouts::http::routes::Route::UpdateWebhook`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::UpdateWebhook)
}
