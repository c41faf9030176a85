//! The OpenAPI 3 document, generated from the code's own types, served at `GET /v1/openapi.json`.

use crate::domain::endpoint::EndpointView;
use crate::domain::payout::PayoutView;
use crate::error::ErrorBody;
use crate::service::pagination::ListBody;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// `POST /v1/payouts` body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreatePayoutRequest {
    /// tron: base58check `T…`; arbitrum/base: `0x…` (EIP-55 checksum enforced when mixed case).
    recipient_address: String,
    chain: crate::domain::chain::Chain,
    token: crate::domain::chain::Token,
    /// JSON number, at least 0.01, at most 6 decimals (never rounded).
    #[schema(value_type = f64, minimum = 0.01, example = 500.00)]
    amount: String,
    currency: crate::domain::payout::Currency,
    #[schema(nullable, max_length = 512)]
    description: Option<String>,
    #[schema(nullable)]
    reference_type: Option<crate::domain::payout::ReferenceType>,
    #[schema(nullable, max_length = 255)]
    reference_id: Option<String>,
    #[schema(nullable, format = DateTime)]
    due_date: Option<String>,
}

/// `PATCH /v1/payouts/{id}` body: a status change and/or draft edits.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UpdatePayoutRequest {
    /// `approved` or `canceled` from draft; `pending_execution` from approved.
    #[schema(value_type = Option<String>, example = "approved")]
    status: Option<String>,
    #[schema(nullable, max_length = 512)]
    description: Option<String>,
    #[schema(nullable, format = DateTime)]
    due_date: Option<String>,
}

/// `POST /v1/payouts/{id}/execute` body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ExecutePayoutRequest {
    /// 64 hex characters, with or without `0x`; stored lowercase (`0x…` on EVM chains, bare on tron).
    tx_hash: String,
}

#[utoipa::path(post, path = "/v1/payouts", tag = "Payouts", operation_id = "createPayoutIntent",
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 hours")),
    request_body = CreatePayoutRequest,
    responses((status = 201, body = PayoutView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[allow(dead_code)]
fn create_payout() {}

#[utoipa::path(get, path = "/v1/payouts", tag = "Payouts", operation_id = "listPayoutIntents",
    params(
        ("status" = Option<crate::domain::payout::PayoutStatus>, Query),
        ("due_date_before" = Option<String>, Query, format = DateTime),
        ("due_date_after" = Option<String>, Query, format = DateTime),
        ("chain" = Option<crate::domain::chain::Chain>, Query),
        ("token" = Option<crate::domain::chain::Token>, Query),
        ("cursor" = Option<String>, Query),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = ListBody<PayoutView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[allow(dead_code)]
fn list_payouts() {}

#[utoipa::path(get, path = "/v1/payouts/settlements", tag = "Payouts", operation_id = "listSettlements",
    description = "Newest first. With `Accept: text/csv` or `format=csv`, every settlement of the filter as one RFC 4180 CSV document (columns: id, payout_intent_id, environment, chain, token, tx_hash, log_index, from_address, to_address, amount, amount_atomic, source_wallet_id, block_number, block_hash, block_time, confirmations, confirmed_at, detected_at, created_at; `limit` does not apply).",
    params(
        ("payout_intent_id" = Option<String>, Query),
        ("chain" = Option<crate::domain::chain::Chain>, Query),
        ("format" = Option<ExportFormat>, Query, description = "`csv`: the whole list as CSV"),
        ("cursor" = Option<String>, Query),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, description = "A page of settlements, or the CSV export", content((ListBody<crate::domain::settlement::SettlementView> = "application/json"), (String = "text/csv"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[allow(dead_code)]
fn list_settlements() {}

/// `format` of the list routes that export.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(rename_all = "snake_case")]
pub enum ExportFormat {
    Json,
    Csv,
}

#[utoipa::path(get, path = "/v1/payouts/reconciliation", tag = "Payouts", operation_id = "getReconciliationSummary",
    description = "Payout intents matched against what happened on-chain. Categories (disjoint): **matched** — an intent with a confirmed settlement of exactly its amount; **discrepancy** — an intent with a confirmed settlement of another amount (settled within the organization's tolerance, or failed `amount_mismatch`), never also matched; **unmatched payout** — an intent `approved`, `pending_execution`, `executed` or `verifying` with no confirmed settlement yet; **unexpected settlement** — a confirmed transfer from one of the organization's verified source wallets, on a supported token contract, that backs no intent. Drafts, canceled intents and failures that booked no transfer are in no category. Without filters: the summary the reconciliation job stored last (`computed_at`), or computed now if there is none yet; with filters: computed now. Enterprise plan in live; every plan in sandbox.",
    params(
        ("chain" = Option<crate::domain::chain::Chain>, Query),
        ("token" = Option<crate::domain::chain::Token>, Query),
        ("from" = Option<String>, Query, format = DateTime, description = "Inclusive, over the intent's `created_at` (the settlement's `confirmed_at` for unexpected settlements)"),
        ("to" = Option<String>, Query, format = DateTime, description = "Exclusive, like `from`")),
    responses((status = 200, body = crate::domain::reconciliation::Summary), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody, description = "`plan_upgrade_required`: reconciliation needs the Enterprise plan in live")))]
#[allow(dead_code)]
fn get_reconciliation() {}

#[utoipa::path(get, path = "/v1/payouts/reconciliation/items", tag = "Payouts", operation_id = "listReconciliationItems",
    description = "The items behind the summary's figures, one category at a time, newest first, with the same filters. With `Accept: text/csv` or `format=csv`, every item of the filter as one RFC 4180 CSV document (columns: category, payout_intent_id, settlement_id, environment, chain, token, recipient_address, expected_amount, actual_amount, difference, amount_atomic, tx_hash, log_index, from_address, source_wallet_id, payout_status, failure_reason, overdue, age_seconds, reasons, suggested_payout_intent_id, confirmed_at; `limit` does not apply).",
    params(
        ("category" = crate::domain::reconciliation::Category, Query),
        ("chain" = Option<crate::domain::chain::Chain>, Query),
        ("token" = Option<crate::domain::chain::Token>, Query),
        ("from" = Option<String>, Query, format = DateTime),
        ("to" = Option<String>, Query, format = DateTime),
        ("format" = Option<ExportFormat>, Query, description = "`csv`: the whole list as CSV"),
        ("cursor" = Option<String>, Query),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, description = "A page of items, or the CSV export", content((ListBody<crate::service::reconciliation::ItemView> = "application/json"), (String = "text/csv"))), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[allow(dead_code)]
fn list_reconciliation_items() {}

#[utoipa::path(get, path = "/v1/payouts/{id}", tag = "Payouts", operation_id = "getPayoutIntent",
    params(("id" = String, Path)),
    responses((status = 200, body = PayoutView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[allow(dead_code)]
fn get_payout() {}

#[utoipa::path(patch, path = "/v1/payouts/{id}", tag = "Payouts", operation_id = "updatePayoutIntent",
    params(("id" = String, Path)),
    request_body = UpdatePayoutRequest,
    responses((status = 200, body = PayoutView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[allow(dead_code)]
fn update_payout() {}

#[utoipa::path(post, path = "/v1/payouts/{id}/execute", tag = "Payouts", operation_id = "executePayoutIntent",
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = ExecutePayoutRequest,
    responses((status = 200, body = PayoutView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[allow(dead_code)]
fn execute_payout() {}

/// `POST /v1/payouts/wallets` body: a wallet the organization pays from.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreateWalletRequest {
    chain: crate::domain::chain::Chain,
    /// Validated like a recipient: tron base58check `T…`; arbitrum/base `0x…` (EIP-55 checksum
    /// enforced when mixed case); the zero address and token contracts are refused.
    address: String,
    #[schema(nullable, max_length = 100)]
    label: Option<String>,
    /// Sandbox only: the wallet is verified at once, without a proof (local development).
    #[schema(nullable)]
    skip_proof: Option<bool>,
}

/// `POST /v1/payouts/wallets/{wallet_id}/verify` body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct VerifyWalletRequest {
    /// `0x` + hex: the EIP-191 `personal_sign` signature of `challenge` (EVM account), tron's
    /// signed-message signature of it (TronWeb `signMessageV2`), or a signature the contract
    /// wallet's EIP-1271 `isValidSignature` accepts for the EIP-191 hash of `challenge`.
    #[schema(example = "0x5f1c…1b")]
    signature: String,
}

#[utoipa::path(post, path = "/v1/payouts/wallets", tag = "Payouts", operation_id = "createSourceWallet",
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first response for 24 hours")),
    request_body = CreateWalletRequest,
    responses((status = 201, body = crate::domain::wallet::WalletView, description = "Registered, `pending_verification` (or `verified` with sandbox `skip_proof`)"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[allow(dead_code)]
fn create_wallet() {}

#[utoipa::path(get, path = "/v1/payouts/wallets", tag = "Payouts", operation_id = "listSourceWallets",
    params(
        ("chain" = Option<crate::domain::chain::Chain>, Query),
        ("status" = Option<crate::domain::wallet::WalletStatus>, Query),
        ("cursor" = Option<String>, Query),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = ListBody<crate::domain::wallet::WalletView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[allow(dead_code)]
fn list_wallets() {}

#[utoipa::path(get, path = "/v1/payouts/wallets/{wallet_id}", tag = "Payouts", operation_id = "getSourceWallet",
    params(("wallet_id" = String, Path)),
    responses((status = 200, body = crate::domain::wallet::WalletView), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[allow(dead_code)]
fn get_wallet() {}

#[utoipa::path(delete, path = "/v1/payouts/wallets/{wallet_id}", tag = "Payouts", operation_id = "deleteSourceWallet",
    params(("wallet_id" = String, Path)),
    responses((status = 204, description = "Deleted: its transfers no longer count as the organization's; settlements keep pointing at it"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
#[allow(dead_code)]
fn delete_wallet() {}

#[utoipa::path(post, path = "/v1/payouts/wallets/{wallet_id}/verify", tag = "Payouts", operation_id = "verifySourceWallet",
    params(("wallet_id" = String, Path)),
    request_body = VerifyWalletRequest,
    responses((status = 200, body = crate::domain::wallet::WalletView, description = "Verified"), (status = 400, body = ErrorBody, description = "`invalid_signature`: the wallet stays pending"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`wallet_already_claimed`"), (status = 503, body = ErrorBody, description = "`chain_unavailable`: the contract wallet could not be asked")))]
#[allow(dead_code)]
fn verify_wallet() {}

/// `POST /v1/webhooks` body.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct CreateWebhookRequest {
    /// `https://…` in live; sandbox may use `http://` (local development).
    #[schema(example = "https://example.com/webhooks/billing")]
    url: String,
    /// At least one of the payout event types.
    #[schema(min_items = 1)]
    events: Vec<crate::domain::event::EventType>,
    #[schema(nullable, max_length = 256)]
    description: Option<String>,
}

#[utoipa::path(post, path = "/v1/webhooks", tag = "Webhooks", operation_id = "createWebhookEndpoint",
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateWebhookRequest,
    responses((status = 201, body = EndpointView, description = "Created; `secret` is shown only here"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
#[allow(dead_code)]
fn create_webhook() {}

#[utoipa::path(get, path = "/v1/webhooks", tag = "Webhooks", operation_id = "listWebhookEndpoints",
    params(("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = ListBody<EndpointView>), (status = 401, body = ErrorBody)))]
#[allow(dead_code)]
fn list_webhooks() {}

#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}", tag = "Webhooks", operation_id = "getWebhookEndpoint",
    params(("webhook_id" = String, Path)),
    responses((status = 200, body = EndpointView), (status = 404, body = ErrorBody)))]
#[allow(dead_code)]
fn get_webhook() {}

#[utoipa::path(delete, path = "/v1/webhooks/{webhook_id}", tag = "Webhooks", operation_id = "deleteWebhookEndpoint",
    params(("webhook_id" = String, Path)),
    responses((status = 204, description = "Deleted"), (status = 404, body = ErrorBody)))]
#[allow(dead_code)]
fn delete_webhook() {}

#[utoipa::path(get, path = "/v1/webhooks/{webhook_id}/deliveries", tag = "Webhooks", operation_id = "listWebhookDeliveries",
    params(("webhook_id" = String, Path), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = ListBody<crate::domain::endpoint::DeliveryView>), (status = 404, body = ErrorBody)))]
#[allow(dead_code)]
fn list_deliveries() {}

#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", tag = "Webhooks", operation_id = "retryWebhookDelivery",
    params(("webhook_id" = String, Path), ("delivery_id" = String, Path)),
    responses((status = 200, body = crate::domain::endpoint::DeliveryView, description = "Re-sent now; the delivery with this attempt recorded"), (status = 404, body = ErrorBody)))]
#[allow(dead_code)]
fn retry_delivery() {}

#[utoipa::path(get, path = "/v1/events", tag = "Events", operation_id = "listEvents",
    params(("type" = Option<crate::domain::event::EventType>, Query), ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = ListBody<crate::domain::event::EventView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[allow(dead_code)]
fn list_events() {}

#[utoipa::path(get, path = "/v1/events/{event_id}", tag = "Events", operation_id = "getEvent",
    params(("event_id" = String, Path)),
    responses((status = 200, body = crate::domain::event::EventView), (status = 404, body = ErrorBody)))]
#[allow(dead_code)]
fn get_event() {}

#[utoipa::path(get, path = "/v1/account", tag = "Meta", operation_id = "getAccount",
    description = "The calling key's organization, plan and environment, the features its plan allows there, and per chain the block explorer and the confirmations the watcher waits for.",
    responses((status = 200, body = crate::service::account::AccountView), (status = 401, body = ErrorBody)))]
#[allow(dead_code)]
fn get_account() {}

#[utoipa::path(get, path = "/v1/health", tag = "Meta", operation_id = "getHealth", security(()),
    description = "Unauthenticated. 200 when the service can reach its data store; 503 `store_unavailable` when it cannot.",
    responses((status = 200, body = crate::service::health::HealthView), (status = 503, body = ErrorBody)))]
#[allow(dead_code)]
fn health() {}

#[utoipa::path(get, path = "/v1/openapi.json", tag = "Meta", operation_id = "getOpenApi", security(()),
    responses((status = 200, description = "This document")))]
#[allow(dead_code)]
fn openapi() {}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "BearerAuth",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).description(Some("sk_live_… (live) or sk_test_… (sandbox)")).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "payouts", description = "Non-custodial stablecoin payout orchestration (billing.io-compatible Payouts, Webhooks and Events)."),
    paths(create_payout, list_payouts, list_settlements, get_reconciliation, list_reconciliation_items, create_wallet, list_wallets, get_wallet, delete_wallet, verify_wallet, get_payout, update_payout, execute_payout, create_webhook, list_webhooks, get_webhook, delete_webhook, list_deliveries, retry_delivery, list_events, get_event, get_account, health, openapi),
    components(schemas(ExportFormat)),
    security(("BearerAuth" = [])),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn document_json() -> String {
    document().to_json().unwrap_or_else(|_| "{}".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::routes::Route;

    #[test]
    fn every_route_is_documented_with_its_method() {
        let doc = document();
        for route in Route::ALL {
            let (method, path) = route.spec();
            let item = doc.paths.paths.get(path).unwrap_or_else(|| panic!("{path} missing from the OpenAPI document"));
            let operation = match method.as_str() {
                "GET" => item.get.as_ref(),
                "POST" => item.post.as_ref(),
                "PATCH" => item.patch.as_ref(),
                "DELETE" => item.delete.as_ref(),
                other => panic!("unexpected method {other}"),
            };
            assert!(operation.is_some(), "{method} {path} missing from the OpenAPI document");
        }
    }
}
