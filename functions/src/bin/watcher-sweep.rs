//! Lambda: the chain-watcher's scheduled sweep (every executed/verifying payout, then the event outbox).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::run_watcher_sweep().await
}
