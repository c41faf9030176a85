//! `payouts-local`: the whole service in one process, for development and tests.
//!
//! Same handler code as the Lambdas, on the embedded store, with the chain-watcher (tx queue
//! consumer + a sweep every `PAYOUTS_WATCH_INTERVAL_SECONDS`, default 5) and the event outbox
//! running in-process, and webhooks dispatched in-process with the same code and schedule; the
//! source-wallet scanner every `PAYOUTS_SCAN_INTERVAL_SECONDS` (5) and the reconciliation job
//! every `PAYOUTS_RECONCILIATION_INTERVAL_SECONDS` (15). Variables: `PAYOUTS_PORT` (8080),
//! `PAYOUTS_DATA_DIR` (./.payouts), and every `PAYOUTS_…` variable the Lambdas read.

use crate::adapters::memory_bus::InProcessBus;
use crate::config::{ProcessEnv, parse_var};
use crate::service::admin::bootstrap_dev_org;
use crate::service::watcher::Watcher;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

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
    let (mut app, mut tx_messages) = crate::runtime::local_app(&vars).await?;
    let (store, events_committed) = crate::adapters::notifying_store::NotifyingStore::new(app.store.clone());
    app.store = Arc::new(store);
    let interval = Duration::from_secs(parse_var(&vars, "PAYOUTS_WATCH_INTERVAL_SECONDS", 5u64)?.max(1));
    let (bus, mut published) = InProcessBus::new();
    let readers = crate::runtime::chain_readers(&app.chains, &crate::runtime::rpc_options(&vars)?)?;
    let scanner = crate::service::scanner::Scanner::new(app.clone(), readers.clone(), crate::runtime::scanner_config(&vars)?);
    let scan_interval = Duration::from_secs(parse_var(&vars, "PAYOUTS_SCAN_INTERVAL_SECONDS", 5u64)?.max(1));
    let reconciliation_interval = Duration::from_secs(parse_var(&vars, "PAYOUTS_RECONCILIATION_INTERVAL_SECONDS", 15u64)?.max(1));
    let watcher = Arc::new(Watcher::new(app.clone(), Arc::new(bus), readers, crate::runtime::watcher_config(&vars)?));
    if let Some(created) = bootstrap_dev_org(&app).await? {
        // Printed once: only hashes are stored, so these cannot be shown again.
        println!("Fresh data directory: created organization {} ({}, plan {}).", created.org.id, created.org.name, created.org.plan);
        println!("  live key:    {}", created.live.1.reveal());
        println!("  sandbox key: {}", created.sandbox.1.reveal());
        println!("Keep them: only their hashes are stored.");
    }
    // Every start says whose data this is and how to get a key (the ones printed on the first
    // start cannot be shown again).
    if let Some(org) = crate::service::admin::dev_org(&app).await? {
        println!("Serving organization {} ({}, plan {}). A new key for it:", org.id, org.name, org.plan);
        println!("  cargo run -q -p payouts-functions --bin payouts-admin -- create-key --org {} --environment sandbox", org.id);
    }
    // The tx queue: check a payout as soon as it is executed.
    let on_message = watcher.clone();
    tokio::spawn(async move {
        while let Some(message) = tx_messages.recv().await {
            if let Err(error) = on_message.check_payouts(&[message.payout_id]).await {
                tracing::warn!(error = %error, "tx-queue check failed; the sweep will retry");
            }
        }
    });
    // The schedule: sweep every executed/verifying payout, then the outbox.
    let sweeper = watcher.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        loop {
            ticks.tick().await;
            if let Err(error) = sweeper.sweep().await {
                tracing::warn!(error = %error, "sweep failed; retrying at the next tick");
            }
        }
    });
    // The source-wallet scanner, then the reconciliation job, each on its own schedule.
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(scan_interval);
        loop {
            ticks.tick().await;
            scanner.run().await;
        }
    });
    let reconciling = app.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(reconciliation_interval);
        loop {
            ticks.tick().await;
            if let Err(error) = crate::service::reconciliation::run_job(&reconciling).await {
                tracing::warn!(error = %error, "reconciliation failed; retrying at the next tick");
            }
        }
    });
    // The event relay: publishes new event records as soon as they are committed (in AWS, the
    // table's stream triggers the relay Lambda); the sweep relays anything left over.
    let relay = watcher.clone();
    tokio::spawn(async move {
        loop {
            events_committed.notified().await;
            if let Err(error) = relay.relay_outbox().await {
                tracing::warn!(error = %error, "event relay failed; the sweep retries");
            }
        }
    });
    // The bus: every published event is fanned out to webhook endpoints, as the dispatcher
    // Lambda does behind the EventBridge rule.
    let dispatcher = Arc::new(crate::runtime::local_dispatcher(&app, &vars)?);
    let on_event = dispatcher.clone();
    tokio::spawn(async move {
        while let Some(event) = published.recv().await {
            if let Err(error) = on_event.dispatch_event(&event).await {
                tracing::warn!(event_id = %event.id, error = %error, "dispatch failed; retried by the due loop");
            }
        }
    });
    // Retries and new endpoints' backfills: the due loop, every second.
    let retrier = dispatcher.clone();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(Duration::from_secs(1));
        loop {
            ticks.tick().await;
            if let Err(error) = retrier.sweep(1_000).await {
                tracing::warn!(error = %error, "due deliveries could not be swept");
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("payouts-local listening on http://{}/v1", listener.local_addr()?);
    tokio::select! {
        served = crate::http::local_server::run(app, listener) => served?,
        _ = tokio::signal::ctrl_c() => println!("payouts-local: stopping"),
    }
    Ok(())
}
