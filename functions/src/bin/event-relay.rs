//! Lambda: publishes new event records to the bus as soon as they are committed (DynamoDB stream).

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::event_relay_main()
}
