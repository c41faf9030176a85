//! Source-wallet test helpers: signatures made by independent implementations (foundry's `cast`
//! for EIP-191, TronWeb's `signMessageV2` for tron, both from `infra/devnet`'s npm packages),
//! anvil's default dev keys, the devnet's EIP-1271 contract wallet, and the wallet API calls.

use crate::anvil::{Anvil, address_word, devnet_dir, from_hex, parse_address, to_hex};
use crate::{Harness, Response};
use http::Method;
use serde_json::{Value, json};
use std::process::Command;

/// The private keys of anvil's default accounts 0–9 (the public test mnemonic).
pub const DEV_KEYS: [&str; 10] = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
    "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a",
    "0x8b3a350cf5c34c9194ca85829a2df0ec3153be0318b5e2d3348e872092edffba",
    "0x92db14e403b83dfe3df233f83dfa3a0d7096f21ca9b0d6d6b8d88b2b4ec1564e",
    "0x4bbbf85ce3377467afe5d46f804f221813b2bb87f24d81f60f1fcdbf7cbf4356",
    "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97",
    "0x2a871d0798f97d79848a013d4936a73bf4cc922c825d33c1cf7073dff6d409c6",
];

fn devnet_bin(name: &str) -> std::path::PathBuf {
    crate::anvil::anvil_binary();
    devnet_dir().join("node_modules").join(".bin").join(name)
}

fn run(command: &mut Command) -> String {
    let output = command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(output.status.success(), "{command:?} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// `cast wallet sign`: the EIP-191 `personal_sign` signature of `message` by `private_key`.
pub fn cast_sign(private_key: &str, message: &str) -> String {
    run(Command::new(devnet_bin("cast")).args(["wallet", "sign", "--private-key", private_key, message]))
}

/// `cast calldata SIG ARGS…`: ABI-encoded calldata.
pub fn cast_calldata(signature: &str, args: &[&str]) -> Vec<u8> {
    from_hex(&run(Command::new(devnet_bin("cast")).arg("calldata").arg(signature).args(args)))
}

/// TronWeb's offline `signMessageV2` of `message` by `private_key`: (its tron address, the signature).
pub fn tron_sign(private_key: &str, message: &str) -> (String, String) {
    let script = devnet_dir().join("tron-sign.js");
    let line = run(Command::new("node").arg(script).arg(private_key.trim_start_matches("0x")).arg(message));
    let answer: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("tron-sign.js printed {line:?}: {e}"));
    (answer["address"].as_str().unwrap().to_owned(), answer["signature"].as_str().unwrap().to_owned())
}

/// Deploys the devnet's EIP-1271 test wallet owned by `owner` (from account 0); its address.
pub async fn deploy_contract_wallet(anvil: &Anvil, owner: [u8; 20]) -> [u8; 20] {
    let path = devnet_dir().join("contracts").join("TestContractWallet.json");
    let artifact: Value = serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap();
    let mut data = from_hex(artifact["bytecode"].as_str().unwrap());
    data.extend_from_slice(&address_word(owner));
    let hash = anvil.send(anvil.accounts()[0], None, &data, None).await;
    let receipt = anvil.wait_receipt(&hash).await;
    assert_eq!(receipt["status"], "0x1", "deploy: {receipt}");
    parse_address(receipt["contractAddress"].as_str().unwrap())
}

/// The contract wallet pays `amount` of `token` to `to` (its owner sends the call); the tx hash.
pub async fn contract_wallet_pay(anvil: &Anvil, owner: [u8; 20], wallet: [u8; 20], token: [u8; 20], to: [u8; 20], amount: u128) -> String {
    let data = cast_calldata("transferToken(address,address,uint256)", &[&to_hex(&token), &to_hex(&to), &amount.to_string()]);
    anvil.send(owner, Some(wallet), &data, None).await
}

/// `POST /v1/payouts/wallets`.
pub async fn register(h: &Harness, key: &str, body: Value) -> Response {
    h.call(Method::POST, "/v1/payouts/wallets", Some(key), Some(&body.to_string())).await
}

/// `POST /v1/payouts/wallets/{id}/verify`.
pub async fn verify(h: &Harness, key: &str, id: &str, signature: &str) -> Response {
    h.call(Method::POST, &format!("/v1/payouts/wallets/{id}/verify"), Some(key), Some(&json!({ "signature": signature }).to_string())).await
}

/// Registers `address` on `chain` and proves it with the signature `sign` makes of the challenge;
/// the verified wallet.
pub async fn registered_and_verified(h: &Harness, key: &str, chain: &str, address: &str, sign: impl Fn(&str) -> String) -> Value {
    let created = register(h, key, json!({ "chain": chain, "address": address, "label": "treasury" })).await;
    assert_eq!(created.status, 201, "register: {}", created.json);
    assert_eq!(created.json["status"], "pending_verification");
    let signature = sign(created.json["challenge"].as_str().unwrap());
    let verified = verify(h, key, &created.id(), &signature).await;
    assert_eq!(verified.status, 200, "verify: {}", verified.json);
    assert_eq!(verified.json["status"], "verified");
    verified.json
}
