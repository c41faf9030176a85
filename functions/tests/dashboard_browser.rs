//! The operator dashboard in a real browser: Debian's headless Chromium driven by Playwright
//! (`tests/browser/dashboard.mjs`), against the real `payouts-local` binary and a local EVM node.
//! `infra/test.sh` installs Chromium (apt) and the Node packages (npm) before running this.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts_tests::anvil::{Anvil, hex_address};
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_owned()
}

fn chromium() -> PathBuf {
    let path = std::env::var_os("PAYOUTS_TEST_CHROMIUM").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"));
    assert!(path.exists(), "no Chromium at {} (infra/test.sh installs Debian's `chromium`; or set PAYOUTS_TEST_CHROMIUM)", path.display());
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_works_in_a_real_browser() {
    let browser = chromium();
    let scripts = repo().join("tests/browser");
    assert!(scripts.join("node_modules/playwright-core").exists(), "run `npm ci --prefix tests/browser` (infra/test.sh does)");

    let anvil = Anvil::start().await;
    let payer = anvil.accounts()[0];
    let recipient = anvil.accounts()[3];
    let usdc = anvil.deploy_token("USD Coin", "USDC").await;
    anvil.mint(usdc, payer, 1_000_000_000).await;

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let server_log = dir.path().join("server.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_payouts-local"))
        .env("PAYOUTS_DATA_DIR", dir.path().join("data"))
        .env("PAYOUTS_PORT", port.to_string())
        .env("PAYOUTS_SANDBOX_BASE_RPC_URL", anvil.url())
        .env("PAYOUTS_SANDBOX_BASE_USDC_CONTRACT", hex_address(usdc))
        .env("PAYOUTS_SANDBOX_BASE_CONFIRMATIONS", "3")
        .env("PAYOUTS_SANDBOX_BASE_EXPLORER_TX_URL", "none")
        .env("PAYOUTS_WATCH_INTERVAL_SECONDS", "1")
        .env("PAYOUTS_SCAN_INTERVAL_SECONDS", "1")
        .env("PAYOUTS_RECONCILIATION_INTERVAL_SECONDS", "1")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&server_log).unwrap())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let _runner = Killed(child);
    let mut key = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.contains("sandbox key") {
            key = line.split_whitespace().last().map(str::to_owned);
        }
        if line.contains("listening on") {
            break;
        }
    }
    let key = key.expect("a sandbox key is printed");
    // The rest of its output (the JSON log lines) is kept, and drained so the pipe never fills.
    let logged = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = logged.clone();
    std::thread::spawn(move || {
        for line in lines.map_while(Result::ok) {
            let mut all = sink.lock().unwrap();
            all.push_str(&line);
            all.push('\n');
        }
    });
    let api = format!("http://127.0.0.1:{port}/v1");

    // Another organization, with a payout of its own.
    let admin = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_payouts-admin")).args(args).env("PAYOUTS_DATA_DIR", dir.path().join("data")).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let other_org = admin(&["create-org", "--name", "Other", "--plan", "enterprise"]);
    let other_key = admin(&["create-key", "--org", &other_org, "--environment", "sandbox"]);
    let other = reqwest::Client::new()
        .post(format!("{api}/payouts"))
        .bearer_auth(&other_key)
        .json(&json!({"recipient_address": hex_address(recipient), "chain": "base", "token": "USDC", "amount": 1.00, "currency": "USD"}))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status().as_u16(), 201);
    let other_id = other.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_owned();

    let screenshots = repo().join(".test-work/dashboard-screenshots");
    let mut command = Command::new("node");
    command
        .arg(scripts.join("dashboard.mjs"))
        .current_dir(&scripts)
        .env("DASHBOARD_URL", format!("http://127.0.0.1:{port}/dashboard/"))
        .env("API_URL", &api)
        .env("SANDBOX_KEY", &key)
        .env("RPC_URL", anvil.url())
        .env("USDC", hex_address(usdc))
        .env("PAYER", hex_address(payer))
        .env("RECIPIENT", hex_address(recipient))
        .env("OTHER_PAYOUT_ID", &other_id)
        .env("SCREENSHOTS", &screenshots)
        .env("CHROMIUM", &browser);
    let node = tokio::task::spawn_blocking(move || command.output()).await.unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&node.stdout);
    let stderr = String::from_utf8_lossy(&node.stderr);
    println!("{stdout}");
    assert!(node.status.success(), "the browser test failed:\n{stdout}\n{stderr}");
    for page in ["sign-in", "new-payout", "payout-detail", "payouts", "reconciliation", "webhooks", "wallets"] {
        for width in ["laptop", "phone"] {
            let shot = screenshots.join(format!("{page}-{width}.png"));
            let bytes = std::fs::read(&shot).unwrap_or_else(|e| panic!("{}: {e}", shot.display()));
            assert!(bytes.starts_with(b"\x89PNG"), "{} is a PNG", shot.display());
        }
    }
    // The key never reached the server's logs.
    let log = format!("{}{}", logged.lock().unwrap(), std::fs::read_to_string(&server_log).unwrap());
    assert!(log.contains("\"request\""), "the server logged its requests");
    assert!(!log.contains(&key), "the API key appears in the server log");
}
