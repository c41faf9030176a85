//! Lambda: the chain-watcher's scheduled sweep (every executed/verifying payout, then the event outbox).

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::run_watcher_sweep().await
}
