//! The real binaries over real sockets: `payouts-local` serves the API on loopback from a data
//! directory that survives restarts, and `payouts-admin` manages keys in that same directory
//! while the runner is up.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TRON_RECIPIENT: &str = "TLEaY8XoqpBmndLsjcfThgdKLN1ssNuUcF";

struct Runner {
    child: Child,
    port: u16,
    printed: Vec<String>,
}

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts the runner and reads its stdout up to the "listening" line.
fn start_runner(data_dir: &Path) -> Runner {
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_payouts-local"))
        .env("PAYOUTS_DATA_DIR", data_dir)
        .env("PAYOUTS_PORT", port.to_string())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut printed = Vec::new();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        assert!(Instant::now() < deadline, "runner did not start: {printed:?}");
        let line = lines.next().expect("runner exited").unwrap();
        let done = line.contains("listening on");
        printed.push(line);
        if done {
            break;
        }
    }
    Runner { child, port, printed }
}

fn key_from(printed: &[String], label: &str) -> Option<String> {
    printed.iter().find(|l| l.contains(label)).and_then(|l| l.split_whitespace().last()).map(str::to_owned)
}

fn admin(data_dir: &Path, args: &[&str]) -> (bool, String, String) {
    let output =
        Command::new(env!("CARGO_BIN_EXE_payouts-admin")).env("PAYOUTS_DATA_DIR", data_dir).env("PAYOUTS_STORE", "embedded").args(args).output().unwrap();
    (output.status.success(), String::from_utf8_lossy(&output.stdout).trim().to_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
}

async fn call(client: &reqwest::Client, method: reqwest::Method, url: String, key: &str, body: Option<Value>) -> (u16, Value) {
    let mut request = client.request(method, url).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn runner_serves_the_api_and_keeps_data_across_restarts_and_admin_works_alongside() {
    let dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();
    let (live, sandbox, payout_id) = {
        let runner = start_runner(dir.path());
        let live = key_from(&runner.printed, "live key").expect("a live key is printed on a fresh data dir");
        let sandbox = key_from(&runner.printed, "sandbox key").expect("a sandbox key is printed");
        assert!(live.starts_with("sk_live_") && sandbox.starts_with("sk_test_"));
        let base = format!("http://127.0.0.1:{}/v1", runner.port);

        let body = json!({"recipient_address": TRON_RECIPIENT, "chain": "tron", "token": "USDT", "amount": 500.00, "currency": "USD"});
        let (status, created) = call(&client, reqwest::Method::POST, format!("{base}/payouts"), &live, Some(body)).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_owned();
        let (status, approved) = call(&client, reqwest::Method::PATCH, format!("{base}/payouts/{id}"), &live, Some(json!({"status": "approved"}))).await;
        assert_eq!((status, approved["status"].as_str()), (200, Some("approved")));
        let (status, _) = call(&client, reqwest::Method::GET, format!("{base}/payouts/{id}"), &sandbox, None).await;
        assert_eq!(status, 404, "the sandbox key does not see live intents");
        let doc = client.get(format!("{base}/openapi.json")).send().await.unwrap();
        assert_eq!(doc.status().as_u16(), 200);

        // The admin CLI works on the same data directory while the runner is up.
        let (ok, org_id, err) = admin(dir.path(), &["create-org", "--name", "Acme", "--plan", "scale"]);
        assert!(ok && org_id.starts_with("org_"), "{err}");
        let (ok, new_key, err) = admin(dir.path(), &["create-key", "--org", &org_id, "--environment", "live"]);
        assert!(ok && new_key.starts_with("sk_live_"), "{err}");
        let (status, list) = call(&client, reqwest::Method::GET, format!("{base}/payouts"), &new_key, None).await;
        assert_eq!((status, list["data"].as_array().map(Vec::len)), (200, Some(0)), "a new org sees none of the dev org's intents");
        let (ok, keys, _) = admin(dir.path(), &["list-keys", "--org", &org_id]);
        assert!(ok && keys.contains("key_") && keys.contains("live"));
        assert!(!keys.contains(&new_key[8..]), "list-keys never prints secrets");
        let key_id = keys.lines().nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
        let (ok, _, err) = admin(dir.path(), &["revoke-key", &key_id]);
        assert!(ok, "{err}");
        let (status, error) = call(&client, reqwest::Method::GET, format!("{base}/payouts"), &new_key, None).await;
        assert_eq!((status, error["error"]["code"].as_str()), (401, Some("api_key_invalid")));
        // --help is the usage, wherever it is given: every command's, or one command's.
        for help in [&["--help"][..], &["help"][..], &[][..]] {
            let (ok, usage, err) = admin(dir.path(), help);
            assert!(ok && usage.starts_with("usage: payouts-admin <command>") && usage.contains("list-orgs"), "{help:?}: {usage}{err}");
        }
        for help in [&["create-key", "--help"][..], &["help", "create-key"][..]] {
            let (ok, usage, err) = admin(dir.path(), help);
            assert!(ok && usage.starts_with("usage: payouts-admin create-key --org ORG_ID --environment live|sandbox"), "{help:?}: {usage}{err}");
            assert!(!usage.contains("set-rate-limits"), "only that command: {usage}");
        }
        // An error is one line naming the problem and where the usage is, never the whole usage.
        let (ok, _, err) = admin(dir.path(), &["create-org", "--name", "X", "--plan", "platinum"]);
        assert!(!ok && err.contains("not a plan"));
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
        assert!(err.contains("(see payouts-admin create-org --help)"), "{err}");
        let (ok, _, err) = admin(dir.path(), &["frobnicate"]);
        assert!(!ok && err.trim_end() == "payouts-admin: unknown command \"frobnicate\" (see payouts-admin --help)", "{err}");
        // Organizations: an aligned table, or JSON; show-org takes the id as its argument and
        // lists the keys without their secrets.
        let (ok, orgs, err) = admin(dir.path(), &["list-orgs"]);
        assert!(ok && orgs.lines().next().unwrap().starts_with("ORG_ID") && orgs.contains(&org_id) && orgs.contains("Acme"), "{orgs}{err}");
        let columns: Vec<usize> = orgs.lines().filter_map(|line| line.find("scale").or_else(|| line.find("PLAN"))).collect();
        assert!(columns.windows(2).all(|pair| pair[0] == pair[1]), "the plan column lines up: {orgs}");
        let (ok, json, err) = admin(dir.path(), &["list-orgs", "--json"]);
        let listed: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}{err}"));
        assert!(ok && listed.as_array().unwrap().iter().any(|org| org["id"] == json!(org_id) && org["plan"] == "scale"), "{json}");
        let (ok, shown, err) = admin(dir.path(), &["show-org", &org_id, "--json"]);
        let shown: Value = serde_json::from_str(&shown).unwrap_or_else(|e| panic!("{e}: {shown}{err}"));
        assert!(ok && shown["keys"].as_array().unwrap().len() == 1 && shown["keys"][0]["revoked_at"].is_string(), "{shown}");
        assert_eq!(shown["sender_policies"]["live"], json!({"policy": "registered", "default": true}));
        assert!(!shown.to_string().contains(&new_key[8..]), "no secret in show-org");
        let (ok, shown, _) = admin(dir.path(), &["show-org", &org_id]);
        assert!(ok && shown.contains("KEY_ID") && shown.contains(&key_id), "{shown}");
        // Sender policies: the defaults, then a choice, shown by show-org.
        let (ok, shown, err) = admin(dir.path(), &["show-org", "--org", &org_id]);
        assert!(ok && shown.contains("live: registered (default)") && shown.contains("sandbox: any (default)"), "{shown}{err}");
        let (ok, set, err) = admin(dir.path(), &["set-sender-policy", "--org", &org_id, "--environment", "sandbox", "registered"]);
        assert!(ok && set.contains("sandbox"), "{set}{err}");
        let (ok, shown, _) = admin(dir.path(), &["show-org", "--org", &org_id]);
        assert!(ok && shown.contains("sandbox: registered") && !shown.contains("sandbox: registered (default)"), "{shown}");
        let (ok, _, err) = admin(dir.path(), &["set-sender-policy", "--org", &org_id, "--environment", "live", "everyone"]);
        assert!(!ok && err.contains("not a sender policy"), "{err}");
        // Rate limits: the defaults, then the operator's, which the next request is held to.
        assert!(shown.contains("live: 1800 reads and 600 writes a minute (default)"), "{shown}");
        let (ok, set, err) = admin(dir.path(), &["set-rate-limits", "--org", &org_id, "--environment", "live", "--reads", "1", "--writes", "5"]);
        assert!(ok && set.contains("live: 1 reads and 5 writes a minute"), "{set}{err}");
        let (ok, shown, _) = admin(dir.path(), &["show-org", "--org", &org_id]);
        assert!(
            ok && shown.contains("live: 1 reads and 5 writes a minute") && shown.contains("sandbox: 900 reads and 300 writes a minute (default)"),
            "{shown}"
        );
        let (ok, again, err) = admin(dir.path(), &["create-key", "--org", &org_id, "--environment", "live"]);
        assert!(ok && again.starts_with("sk_live_"), "{err}");
        let limited = client.get(format!("{base}/payouts")).bearer_auth(&again).send().await.unwrap();
        assert_eq!(limited.headers()["x-ratelimit-limit"], "1");
        let refused = client.get(format!("{base}/payouts")).bearer_auth(&again).send().await.unwrap();
        assert_eq!(refused.status().as_u16(), 429);
        assert!(refused.headers().contains_key("retry-after"));
        let (ok, _, err) = admin(dir.path(), &["set-rate-limits", "--org", &org_id, "--environment", "live", "--reads", "0", "--writes", "5"]);
        assert!(!ok && err.contains("the reads limit must be 1 to 60000 a minute, not 0"), "{err}");
        (live, sandbox, id)
    };

    // Restart: same keys work, the intent is still there, no new keys are printed, and the
    // runner says whose data it serves and how to get a key.
    let runner = start_runner(dir.path());
    assert!(key_from(&runner.printed, "live key").is_none(), "keys are printed only on a fresh data dir: {:?}", runner.printed);
    let serving = runner.printed.iter().find(|line| line.starts_with("Serving organization org_")).unwrap_or_else(|| panic!("{:?}", runner.printed));
    let dev_org = serving.split_whitespace().nth(2).unwrap();
    assert!(
        runner.printed.iter().any(|line| line.contains(&format!("payouts-admin -- create-key --org {dev_org} --environment sandbox"))),
        "{:?}",
        runner.printed
    );
    let base = format!("http://127.0.0.1:{}/v1", runner.port);
    let (status, got) = call(&client, reqwest::Method::GET, format!("{base}/payouts/{payout_id}"), &live, None).await;
    assert_eq!((status, got["status"].as_str(), got["amount_atomic"].as_str()), (200, Some("approved"), Some("500000000")));
    let (status, _) = call(&client, reqwest::Method::GET, format!("{base}/payouts"), &sandbox, None).await;
    assert_eq!(status, 200);

    // The reconciliation job runs in-process: its stored summary (a fixed `computed_at`, where an
    // on-demand one would move with the clock) counts the approved intent as unmatched.
    let mut stored = None;
    for _ in 0..40 {
        let (status, first) = call(&client, reqwest::Method::GET, format!("{base}/payouts/reconciliation"), &live, None).await;
        assert_eq!(status, 200, "{first}");
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let (_, second) = call(&client, reqwest::Method::GET, format!("{base}/payouts/reconciliation"), &live, None).await;
        if first["computed_at"] == second["computed_at"] {
            stored = Some(second);
            break;
        }
    }
    let summary = stored.expect("payouts-local stores a reconciliation summary");
    assert_eq!(summary["unmatched_payouts"], json!({"count": 1, "total_amount": 500.0}), "{summary}");
    assert_eq!(summary["environment"], "live");
}

/// `payouts-admin` on DynamoDB (the emulator the test command starts), configured the way an
/// operator would: `PAYOUTS_STORE=dynamodb`, the table name and the standard AWS variables.
#[tokio::test]
async fn admin_works_on_dynamodb() {
    let endpoint = std::env::var("PAYOUTS_TEST_AWS_ENDPOINT").expect("PAYOUTS_TEST_AWS_ENDPOINT: run infra/test.sh");
    let (_, _, table) = payouts_tests::aws::fresh_table().await;
    let admin = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_payouts-admin"))
            .env("PAYOUTS_STORE", "dynamodb")
            .env("PAYOUTS_TABLE_NAME", &table)
            .env("AWS_ENDPOINT_URL", &endpoint)
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .args(args)
            .output()
            .unwrap();
        (output.status.success(), String::from_utf8_lossy(&output.stdout).trim().to_owned(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    let (ok, org, err) = admin(&["create-org", "--name", "Acme", "--plan", "scale"]);
    assert!(ok && org.starts_with("org_"), "{err}");
    let (ok, key, err) = admin(&["create-key", "--org", &org, "--environment", "sandbox"]);
    assert!(ok && key.starts_with("sk_test_"), "{err}");
    let (ok, listed, _) = admin(&["list-keys", "--org", &org]);
    assert!(ok && listed.contains("sandbox") && !listed.contains(&key[8..]));
    let key_id = listed.lines().nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
    let (ok, revoked, err) = admin(&["revoke-key", &key_id]);
    assert!(ok && revoked.starts_with("revoked"), "{err}");
    let (ok, listed, _) = admin(&["list-keys", "--org", &org]);
    assert!(ok && !listed.lines().nth(1).unwrap().trim_end().ends_with('-'), "revocation time listed: {listed}");
    let (ok, _, err) = admin(&["set-tolerance", "--org", &org, "--amount", "5000000"]);
    assert!(!ok && err.contains("tolerance"), "absurd tolerances are refused");
    let (ok, _, err) = admin(&["set-sender-policy", "--org", &org, "--environment", "live", "any"]);
    assert!(ok, "{err}");
    let (ok, shown, err) = admin(&["show-org", "--org", &org]);
    assert!(ok && shown.contains("live: any") && shown.contains("plan            scale"), "{shown}{err}");
}

/// billing.io's Python SDK (PyPI `billingio`, installed by the test command), unchanged, against
/// `payouts-local`: its webhook-endpoint calls (create, list, get, delete) and its error class for
/// 401, 404 and 400. Its payout calls follow a shape the guide contradicts (`amount_usd`,
/// `destination_address`, execute without a tx hash), so they are not part of the contract.
#[tokio::test]
async fn billingio_python_sdk_manages_webhook_endpoints() {
    let python =
        std::env::var("PAYOUTS_TEST_BILLINGIO_PYTHON").expect("PAYOUTS_TEST_BILLINGIO_PYTHON is not set: run infra/test.sh, which installs billing.io's SDK");
    let dir = tempfile::tempdir().unwrap();
    let runner = start_runner(dir.path());
    let sandbox = key_from(&runner.printed, "sandbox key").expect("a sandbox key is printed on a fresh data dir");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/billingio/client_calls.py");
    let receiver_url = "http://127.0.0.1:9/sdk-hooks";
    let output = Command::new(python).arg(script).arg(format!("http://127.0.0.1:{}/v1", runner.port)).arg(&sandbox).arg(receiver_url).output().unwrap();
    assert!(output.status.success(), "the SDK script failed: {}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();

    let created = &report["created"];
    let webhook_id = created["webhook_id"].as_str().unwrap();
    assert!(webhook_id.starts_with("we_"), "{created}");
    assert_eq!((created["url"].as_str(), created["status"].as_str()), (Some(receiver_url), Some("active")));
    assert_eq!((created["events"].clone(), created["description"].clone()), (json!(["payout.settled", "payout.failed"]), json!("from the SDK")));
    assert!(created["secret"].as_str().is_some_and(|secret| secret.starts_with("whsec_")), "the secret is shown at creation: {created}");
    assert!(created["created_at"].as_str().is_some_and(|at| at.ends_with('Z')));
    assert_eq!(report["listed"].as_array().map(Vec::len), Some(1), "{report}");
    assert_eq!(report["listed"][0]["webhook_id"], json!(webhook_id));
    assert_eq!((report["listed"][0]["secret"].clone(), report["has_more"].clone()), (Value::Null, json!(false)), "lists never show secrets");
    assert_eq!((report["got"]["webhook_id"].as_str(), report["got"]["secret"].clone()), (Some(webhook_id), Value::Null));
    for gone in ["after_delete", "delete_again"] {
        let error = &report[gone];
        assert_eq!(
            (error["status_code"].clone(), error["type"].clone(), error["code"].clone()),
            (json!(404), json!("not_found"), json!("webhook_not_found")),
            "{gone}: {error}"
        );
    }
    let unauthenticated = &report["unauthenticated"];
    assert_eq!(
        (unauthenticated["status_code"].clone(), unauthenticated["type"].clone(), unauthenticated["code"].clone()),
        (json!(401), json!("authentication_error"), json!("api_key_invalid")),
        "{unauthenticated}"
    );
    let invalid = &report["invalid"];
    assert_eq!(
        (invalid["status_code"].clone(), invalid["type"].clone(), invalid["param"].clone()),
        (json!(400), json!("invalid_request"), json!("url")),
        "{invalid}"
    );
    assert!(invalid["message"].as_str().is_some_and(|message| message.ends_with('.')), "{invalid}");
}
