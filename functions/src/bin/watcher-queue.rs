//! Lambda: the chain-watcher's tx-queue consumer (checks payouts right after execute).

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::run_watcher_queue().await
}
