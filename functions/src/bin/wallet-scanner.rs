//! Lambda: the source-wallet scanner (scheduled): transfers sent by verified source wallets.

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::wallet_scanner_main()
}
