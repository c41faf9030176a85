//! Lambda: the OpenAPI document, served without auth at `GET /v1/openapi.json`.

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::OpenApi)
}
