//! `payouts-local`: the whole service in one process, for development and tests.
//!
//! Same handler code as the Lambdas, on the embedded store. Variables:
//! `PAYOUTS_PORT` (8080), `PAYOUTS_DATA_DIR` (./.payouts), and every `PAYOUTS_<ENV>_<CHAIN>_…`
//! chain variable the Lambdas read.

use crate::config::{parse_var, ProcessEnv};
use crate::service::admin::bootstrap_dev_org;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;

pub async fn main() -> ExitCode {
    crate::telemetry::init();
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("payouts-local: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let vars = ProcessEnv;
    let port: u16 = parse_var(&vars, "PAYOUTS_PORT", 8080)?;
    let (app, _tx_messages) = crate::runtime::local_app(&vars).await?;
    if let Some(created) = bootstrap_dev_org(&app).await? {
        // Printed once: only hashes are stored, so these cannot be shown again.
        println!("Fresh data directory: created organization {} ({}, plan {}).", created.org.id, created.org.name, created.org.plan);
        println!("  live key:    {}", created.live.1.reveal());
        println!("  sandbox key: {}", created.sandbox.1.reveal());
        println!("Keep them: only their hashes are stored. `payouts-admin create-key` makes more.");
    }
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("payouts-local listening on http://{}/v1", listener.local_addr()?);
    tokio::select! {
        served = crate::http::local_server::run(app, listener) => served?,
        _ = tokio::signal::ctrl_c() => println!("payouts-local: stopping"),
    }
    Ok(())
}
