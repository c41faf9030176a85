//! Lambda: webhook retries from the retry queue (SQS, per-message delays).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::webhook_retries_main()
}
