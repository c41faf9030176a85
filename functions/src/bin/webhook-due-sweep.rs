//! Lambda: the scheduled safety net for webhook retries (every pending delivery whose time has come).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::webhook_due_sweep_main()
}
