//! Lambda: the chain-watcher's tx-queue consumer (checks payouts right after execute).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::watcher_queue_main()
}
