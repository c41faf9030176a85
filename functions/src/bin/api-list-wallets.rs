//! Lambda: list wallets (see `payouts::http::routes::Route::ListWallets`).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::api_route_main(payouts::http::routes::Route::ListWallets)
}
