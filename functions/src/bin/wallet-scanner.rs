//! Lambda: the source-wallet scanner (scheduled): transfers sent by verified source wallets.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::run_wallet_scanner().await
}
