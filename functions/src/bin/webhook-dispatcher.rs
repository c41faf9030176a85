//! Lambda: fans events from the bus out to merchants' webhook endpoints (EventBridge rule target).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::webhook_dispatcher_main()
}
