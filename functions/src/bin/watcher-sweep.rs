//! Lambda: the chain-watcher's scheduled sweep (every executed/verifying payout, then the event outbox).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::watcher_sweep_main()
}
