//! Lambda: delete webhook (see `payouts::http::routes::Route::DeleteWebhook`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::DeleteWebhook)
}
