//! Lambda: the reconciliation job (scheduled): each organization's summary, stored; new
//! discrepancies and unexpected settlements announced once.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::run_reconciliation_job().await
}
