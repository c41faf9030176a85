//! Lambda: the reconciliation job (scheduled): each organization's summary, stored; new
//! discrepancies and unexpected settlements announced once.

fn main() -> Result<(), lambda_runtime::Error> {
    payouts::runtime::reconciliation_job_main()
}
