//! Operator CLI: organizations, plans and API keys, on the embedded store or DynamoDB.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    payouts::admin_cli::main(std::env::args().skip(1).collect()).await
}
