//! The local runner: every route on 127.0.0.1:${PAYOUTS_PORT:-8080}, plus the background
//! workers, on the embedded store in ${PAYOUTS_DATA_DIR:-./.payouts}.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    payouts::local_runner::main().await
}
