//! The served OpenAPI document fuzzed against the real local runner: schemathesis (PyPI,
//! installed by `infra/test.sh`) with its default checks and every phase, the committed
//! configuration and hooks of `tests/fuzz/`, a fixed seed, on a fresh data directory, with every
//! chain of both environments on a local EVM node (anvil). It must find no failure.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use payouts::domain::address::tron_address_from_account;
use payouts_tests::anvil::{Anvil, hex_address};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Runner(Child);

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn admin(data_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_payouts-admin")).env("PAYOUTS_DATA_DIR", data_dir).args(args).output().unwrap();
    assert!(output.status.success(), "payouts-admin {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fuzz")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_failure_in_the_served_document() {
    let schemathesis =
        std::env::var("PAYOUTS_TEST_SCHEMATHESIS").expect("PAYOUTS_TEST_SCHEMATHESIS is not set: run infra/test.sh, which installs schemathesis");
    let anvil = Anvil::start().await;
    let usdt = anvil.deploy_token("Tether USD", "USDT").await;
    let usdc = anvil.deploy_token("USD Coin", "USDC").await;

    let dir = tempfile::tempdir().unwrap();
    let org = admin(dir.path(), &["create-org", "--name", "Fuzz", "--plan", "enterprise"]).trim().to_owned();
    // The fuzzer makes thousands of requests a minute: the most an operator may allow, so its
    // cases exercise the API rather than the 429 (which its own test covers).
    admin(dir.path(), &["set-rate-limits", "--org", &org, "--environment", "sandbox", "--reads", "60000", "--writes", "60000"]);
    let created = admin(dir.path(), &["create-key", "--org", &org, "--environment", "sandbox"]);
    let key = created.split_whitespace().find(|word| word.starts_with("sk_test_")).unwrap_or_else(|| panic!("no key in {created:?}")).to_owned();

    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_payouts-local"));
    // The stateful phase creates many webhook endpoints for one organization: well past the
    // default ceiling of 20, which would otherwise end its create-then-use chains early.
    command.env("PAYOUTS_DATA_DIR", dir.path()).env("PAYOUTS_PORT", port.to_string()).env("RUST_LOG", "warn").env("PAYOUTS_MAX_WEBHOOK_ENDPOINTS", "1000");
    // Every chain of both environments on the devnet: nothing leaves loopback.
    for environment in ["SANDBOX", "LIVE"] {
        for chain in ["TRON", "ARBITRUM", "BASE"] {
            command.env(format!("PAYOUTS_{environment}_{chain}_RPC_URL"), anvil.url());
        }
    }
    command
        .env("PAYOUTS_SANDBOX_TRON_USDT_CONTRACT", tron_address_from_account(usdt))
        .env("PAYOUTS_SANDBOX_ARBITRUM_USDT_CONTRACT", hex_address(usdt))
        .env("PAYOUTS_SANDBOX_ARBITRUM_USDC_CONTRACT", hex_address(usdc))
        .env("PAYOUTS_SANDBOX_BASE_USDC_CONTRACT", hex_address(usdc));
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::null()).spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let _runner = Runner(child);
    let mut lines = BufReader::new(stdout).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !lines.next().expect("the runner exited").unwrap().contains("listening on") {
        assert!(Instant::now() < deadline, "the runner did not start");
    }
    // Drain the runner's output so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));

    let document_url = format!("http://127.0.0.1:{port}/v1/openapi.json");
    let document: Value = reqwest::get(&document_url).await.unwrap().json().await.unwrap();
    const METHODS: [&str; 5] = ["get", "post", "patch", "put", "delete"];
    // Every operation but the document itself, which schemathesis leaves out of the run.
    let operations: usize = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, _)| path.as_str() != "/v1/openapi.json")
        .map(|(_, item)| item.as_object().unwrap().keys().filter(|key| METHODS.contains(&key.as_str())).count())
        .sum();

    let key_for_checks = key.clone();
    let output = tokio::task::spawn_blocking(move || {
        Command::new(schemathesis)
            .current_dir(fuzz_dir())
            .env("PAYOUTS_FUZZ_KEY", &key)
            .args(["--config-file", "schemathesis.toml", "run", &document_url, "--no-color"])
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "schemathesis found failures:\n{report}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(report.contains(&format!("Tested: {operations}\n")), "all {operations} operations were fuzzed:\n{report}");
    for phase in ["Examples", "Coverage", "Fuzzing", "Stateful"] {
        assert!(report.lines().any(|line| line.contains(phase) && line.contains('✅')), "the {phase} phase ran and passed:\n{report}");
    }
    // Every endpoint the run registered (and so every delivery and test event it caused) stayed
    // on loopback, the hooks' doing: the run reached nothing else.
    let client = reqwest::Client::new();
    let mut cursor = String::new();
    let mut endpoints = 0;
    loop {
        let page: Value = client
            .get(format!("http://127.0.0.1:{port}/v1/webhooks?limit=100&cursor={cursor}"))
            .bearer_auth(&key_for_checks)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for endpoint in page["data"].as_array().unwrap() {
            endpoints += 1;
            assert!(endpoint["url"].as_str().unwrap().starts_with("http://127.0.0.1:9/"), "an endpoint off loopback: {endpoint}");
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    assert!(endpoints > 0, "the run registered endpoints");
    eprintln!("{}", report.lines().rev().take(12).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>().join("\n"));
}
