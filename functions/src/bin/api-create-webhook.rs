//! Lambda: create webhook (see `payouts::http::routes::Route::CreateWebhook`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::CreateWebhook)
}
