//! The OpenAPI 3 document, generated from the code's own types, served at `GET /v1/openapi.json`.
//!
//! The request bodies' schemas are derived from the request types of the services
//! (`service::payouts::CreatePayoutRequest`, …), the same types whose schema the services check
//! bodies against (`JsonObject::conform`): field names, required fields, lengths.

use crate::domain::endpoint::EndpointView;
use crate::domain::payout::PayoutView;
use crate::error::ErrorBody;
use crate::service::pagination::ListBody;
use utoipa::openapi::content::Content;
use utoipa::openapi::link::LinkBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Ref, RefOr, ResponseBuilder, Schema};
use utoipa::{Modify, OpenApi, ToSchema};

#[utoipa::path(post, path = "/v1/payouts", tag = "Payouts", operation_id = "createPayoutIntent",
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = crate::service::payouts::CreatePayoutRequest,
    responses((status = 201, body = PayoutView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[allow(dead_code)]
fn create_payout() {}

#[utoipa::path(get, path = "/v1/payouts", tag = "Payouts", operation_id = "listPayoutIntents",
    params(
        ("status" = Option<String>, Query, pattern = r"^(draft|approved|pending_execution|executed|verifying|settled|failed|canceled)(,(draft|approved|pending_execution|executed|verifying|settled|failed|canceled))*$",
            description = "One status, or several separated by commas (`approved,executed`)"),
        ("chain" = Option<crate::domain::chain::Chain>, Query),
        ("token" = Option<crate::domain::chain::Token>, Query, description = "With `chain`, a token the chain offers: else 400 `unsupported_chain_token`"),
        ("reference_type" = Option<crate::domain::payout::ReferenceType>, Query),
        ("reference_id" = Option<String>, Query, min_length = 1, max_length = 255, description = "The payouts created with this `reference_id` (of `reference_type` when given, else of any type)"),
        ("created_after" = Option<String>, Query, format = DateTime, description = "Exclusive, over `created_at`"),
        ("created_before" = Option<String>, Query, format = DateTime, description = "Exclusive, over `created_at`"),
        ("due_date_before" = Option<String>, Query, format = DateTime, description = "Exclusive; payouts without a due date are left out"),
        ("due_date_after" = Option<String>, Query, format = DateTime, description = "Exclusive; payouts without a due date are left out"),
        ("cursor" = Option<String>, Query),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 100)),
    responses((status = 200, body = ListBody<PayoutView>), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
#[allow(dead_code)]
fn list_payouts() {}

#[utoipa::path(get, path = "/v1/payouts/settlements", tag = "Payouts", operation_id = "listSettlements",
    description = "Newest first. With `Accept: text/csv` or `format=csv`, every settlement of the filter as one RFC 4180 CSV document (columns: id, payout_intent_id, environment, chain, token, tx_hash, log_index, from_address, to_address, amount, amount_atomic, source_wallet_id, block_number, block_hash, block_time, confirmations, confirmed_at, detected_at, created_at; `limit` does not apply).",
    params(
        ("payout_intent_id" = Option<String>, Query, pattern = r"^po_[0-9a-f]{24}$"),
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
    request_body = crate::service::payouts::UpdatePayoutRequest,
    responses((status = 200, body = PayoutView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[allow(dead_code)]
fn update_payout() {}

#[utoipa::path(post, path = "/v1/payouts/{id}/execute", tag = "Payouts", operation_id = "executePayoutIntent",
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = crate::service::payouts::ExecutePayoutRequest,
    responses((status = 200, body = PayoutView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[allow(dead_code)]
fn execute_payout() {}

#[utoipa::path(post, path = "/v1/payouts/wallets", tag = "Payouts", operation_id = "createSourceWallet",
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = crate::service::wallets::CreateWalletRequest,
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
    request_body = crate::service::wallets::VerifyWalletRequest,
    responses((status = 200, body = crate::domain::wallet::WalletView, description = "Verified"), (status = 400, body = ErrorBody, description = "`invalid_signature`: the wallet stays pending"), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody, description = "`wallet_already_claimed`"), (status = 503, body = ErrorBody, description = "`chain_unavailable`: the contract wallet could not be asked")))]
#[allow(dead_code)]
fn verify_wallet() {}

#[utoipa::path(post, path = "/v1/webhooks", tag = "Webhooks", operation_id = "createWebhookEndpoint",
    params(("Idempotency-Key" = Option<String>, Header)),
    request_body = crate::service::webhooks::CreateWebhookRequest,
    responses((status = 201, body = EndpointView, description = "Created; `secret` is shown only here"), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, body = ErrorBody, description = "`endpoint_limit_reached`: the organization has the most endpoints allowed in this environment (20 unless the stack says otherwise); or an idempotency conflict")))]
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

#[utoipa::path(patch, path = "/v1/webhooks/{webhook_id}", tag = "Webhooks", operation_id = "updateWebhookEndpoint",
    description = "Changes the URL, the event types, the description or the status. `active` re-enables an endpoint, also one the receiver disabled with 410 Gone.",
    params(("webhook_id" = String, Path)),
    request_body = crate::service::webhooks::UpdateWebhookRequest,
    responses((status = 200, body = EndpointView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[allow(dead_code)]
fn update_webhook() {}

#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/rotate_secret", tag = "Webhooks", operation_id = "rotateWebhookSecret",
    description = "A new signing secret, shown only in this answer. The previous one keeps signing beside it until `previous_secret_expires_at` (`expires_in` seconds, 24 h by default; `0` ends it at once): `X-Billing-Signature` carries `v1=` for each secret, the previous one last, and `webhook-signature` both, space-separated.",
    params(("webhook_id" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body(content = Option<crate::service::webhooks::RotateSecretRequest>, description = "Optional"),
    responses((status = 200, body = EndpointView, description = "Rotated; `secret` is shown only here"), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
#[allow(dead_code)]
fn rotate_webhook_secret() {}

#[utoipa::path(post, path = "/v1/webhooks/{webhook_id}/test", tag = "Webhooks", operation_id = "testWebhookEndpoint",
    description = "Sends one signed `webhook.test` event (`data`: the endpoint's id and a message) to the endpoint now, active or disabled, with the same headers and address rules as a delivery, and answers with the attempt. The event is neither stored nor retried.",
    params(("webhook_id" = String, Path)),
    responses((status = 200, body = crate::service::webhooks::TestDeliveryView), (status = 404, body = ErrorBody)))]
#[allow(dead_code)]
fn test_webhook() {}

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
    params(("type" = Option<crate::domain::event::EventType>, Query),
        ("payout_intent_id" = Option<String>, Query, pattern = r"^po_[0-9a-f]{24}$", description = "The events of one payout intent, newest first"),
        ("cursor" = Option<String>, Query), ("limit" = Option<u32>, Query, minimum = 1, maximum = 100)),
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

/// The errors every operation shares, in the contract's error body, added where an operation
/// does not describe them itself: SDK generators and fuzzers then know every status the API can
/// answer. 400 (a parameter or body refused), 401 and 403 when the operation needs a key, 404
/// on paths with an id, 409 on writes, 413 and 415 where there is a body, 429 (API Gateway's
/// throttling, its own body) and 500 always.
struct SharedErrors;

fn error_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(ResponseBuilder::new().description(description).content("application/json", Content::new(Some(Ref::from_schema_name("ErrorBody")))).build())
}

impl Modify for SharedErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let has_id = path.contains('{');
            for (writes, operation) in [(false, &mut item.get), (true, &mut item.post), (true, &mut item.patch), (true, &mut item.delete)] {
                let Some(operation) = operation.as_mut() else { continue };
                let public = operation.security.as_ref().is_some_and(|requirements| requirements.contains(&SecurityRequirement::default()));
                let has_body = operation.request_body.is_some();
                let responses = &mut operation.responses.responses;
                let mut add = |status: &str, description: &str| {
                    responses.entry(status.to_owned()).or_insert_with(|| error_response(description));
                };
                add("400", "`invalid_request`: a parameter or the body is refused (`param` names it)");
                if !public {
                    add("401", "`authentication_error`: no API key, or one that is invalid or revoked");
                    add("403", "`permission_error`: the organization's plan or the key's environment does not allow this");
                }
                if has_id {
                    add(
                        "404",
                        "`not_found`: no such resource in this organization and environment (`payout_not_found`, …), or no such path (`route_not_found`)",
                    );
                }
                if writes {
                    add("409", "`conflict`: the resource's state does not allow it; `idempotency_conflict`: the Idempotency-Key was used for another request");
                }
                if has_body {
                    add("413", "`invalid_request` / `body_too_large`: the body is over 64 KiB");
                    add("415", "`invalid_request` / `unsupported_media_type`: the body is not `application/json`");
                }
                add("500", "`internal_error` / `internal_server_error`: an unexpected error; the request id identifies it");
                if public {
                    // API Gateway's stage throttling is the only limit here, and answers itself.
                    responses.entry("429".to_owned()).or_insert_with(|| {
                        RefOr::T(ResponseBuilder::new().description("Too many requests: API Gateway's stage throttling answers, with its own body (`{\"message\":\"Too Many Requests\"}`); retry after a pause").build())
                    });
                    continue;
                }
                add(
                    "429",
                    "`rate_limited` / `too_many_requests`: the organization's reads or writes for this minute are used up in this environment; \
                     wait `Retry-After` seconds. (API Gateway's stage-wide throttle, in front of every organization, answers \
                     `{\"message\":\"Too Many Requests\"}` instead.)",
                );
                for (status, response) in responses.iter_mut() {
                    if let (true, RefOr::T(response)) = (status.starts_with('2') || status == "429", response) {
                        add_rate_limit_headers(response, status == "429");
                    }
                }
            }
        }
    }
}

/// The headers with which a tenant's request learns where it stands (`Retry-After` on a 429).
fn add_rate_limit_headers(response: &mut utoipa::openapi::Response, refused: bool) {
    let integer = || utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::Type::Integer).minimum(Some(0)).build();
    let mut headers = vec![
        ("X-RateLimit-Limit", "Requests of this kind (reads or writes) the organization may make per minute in this environment"),
        ("X-RateLimit-Remaining", "Requests of this kind left in the current minute"),
        ("X-RateLimit-Reset", "Unix time (seconds) at which the current minute's window ends and the count starts again"),
    ];
    if refused {
        headers.push(("Retry-After", "Seconds to wait before retrying: until the window resets"));
    }
    for (name, description) in headers {
        response.headers.insert(name.to_owned(), utoipa::openapi::header::HeaderBuilder::new().schema(integer()).description(Some(description)).build());
    }
}

/// The parameters many operations share, described once: each `cursor` and `Idempotency-Key`
/// gets the pattern the code enforces and what it means.
struct SharedParameters;

impl Modify for SharedParameters {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let shared = [
            ("cursor", r"^[A-Za-z0-9_-]*$", "`next_cursor` of the previous page; empty or absent: the first page"),
            ("Idempotency-Key", r"^[!-~]{1,255}$", "1 to 255 visible ASCII characters; replays the first response for 24 hours"),
        ];
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.patch, &mut item.delete].into_iter().flatten();
            for parameter in operations.flat_map(|operation| operation.parameters.iter_mut().flatten()) {
                let Some((_, pattern, description)) = shared.iter().find(|(name, _, _)| *name == parameter.name) else { continue };
                parameter.description = Some((*description).to_owned());
                if let Some(RefOr::T(Schema::Object(schema))) = parameter.schema.as_mut() {
                    schema.pattern = Some((*pattern).to_owned());
                }
            }
        }
    }
}

/// Links from the operations that create or list a resource to those that take its id, so a
/// client (or a stateful fuzzer) can follow them: OpenAPI's `links`.
struct ResourceLinks;

/// One link: from `method path` answering `status`, to `targets`, their `parameter` taken from
/// the response at `value` (a runtime expression).
struct LinkSpec {
    path: &'static str,
    method: &'static str,
    status: &'static str,
    targets: &'static [&'static str],
    parameter: &'static str,
    value: &'static str,
}

const LINKS: [LinkSpec; 4] = [
    LinkSpec {
        path: "/v1/payouts",
        method: "post",
        status: "201",
        targets: &["getPayoutIntent", "updatePayoutIntent", "executePayoutIntent"],
        parameter: "id",
        value: "$response.body#/id",
    },
    LinkSpec {
        path: "/v1/payouts/wallets",
        method: "post",
        status: "201",
        targets: &["getSourceWallet", "deleteSourceWallet", "verifySourceWallet"],
        parameter: "wallet_id",
        value: "$response.body#/id",
    },
    LinkSpec {
        path: "/v1/webhooks",
        method: "post",
        status: "201",
        targets: &[
            "getWebhookEndpoint",
            "updateWebhookEndpoint",
            "deleteWebhookEndpoint",
            "rotateWebhookSecret",
            "testWebhookEndpoint",
            "listWebhookDeliveries",
        ],
        parameter: "webhook_id",
        value: "$response.body#/webhook_id",
    },
    LinkSpec { path: "/v1/events", method: "get", status: "200", targets: &["getEvent"], parameter: "event_id", value: "$response.body#/data/0/event_id" },
];

impl Modify for ResourceLinks {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for link in &LINKS {
            let Some(item) = openapi.paths.paths.get_mut(link.path) else { continue };
            let operation = if link.method == "post" { item.post.as_mut() } else { item.get.as_mut() };
            let Some(RefOr::T(response)) = operation.and_then(|operation| operation.responses.responses.get_mut(link.status)) else { continue };
            for target in link.targets {
                response.links.insert((*target).to_owned(), RefOr::T(LinkBuilder::new().operation_id(*target).parameter(link.parameter, link.value).build()));
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(title = "payouts", description = "Non-custodial stablecoin payout orchestration (billing.io-compatible Payouts, Webhooks and Events)."),
    paths(create_payout, list_payouts, list_settlements, get_reconciliation, list_reconciliation_items, create_wallet, list_wallets, get_wallet, delete_wallet, verify_wallet, get_payout, update_payout, execute_payout, create_webhook, list_webhooks, get_webhook, update_webhook, delete_webhook, rotate_webhook_secret, test_webhook, list_deliveries, retry_delivery, list_events, get_event, get_account, health, openapi),
    components(schemas(ExportFormat)),
    security(("BearerAuth" = [])),
    modifiers(&BearerAuth, &SharedErrors, &SharedParameters, &ResourceLinks)
)]
struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

pub fn document_json() -> String {
    let Ok(mut document) = serde_json::to_value(document()) else { return "{}".to_owned() };
    name_link_fields_as_openapi_does(&mut document);
    restore_min_properties(&mut document);
    serde_json::to_string(&document).unwrap_or_else(|_| "{}".to_owned())
}

/// utoipa-gen 5.5 writes `#[schema(min_properties = N)]` as `maxProperties: N`
/// (`component/features.rs`, `Feature::MinProperties`). No type here asks for a maximum, so every
/// `maxProperties` of a component schema is a minimum put back (a test checks the PATCH body's).
fn restore_min_properties(document: &mut serde_json::Value) {
    let schemas = document.pointer_mut("/components/schemas").and_then(|schemas| schemas.as_object_mut());
    for schema in schemas.into_iter().flat_map(|schemas| schemas.values_mut()).filter_map(|schema| schema.as_object_mut()) {
        if let Some(count) = schema.remove("maxProperties") {
            schema.insert("minProperties".to_owned(), count);
        }
    }
}

/// utoipa 5 writes a Link object's fields in snake case (`operation_id`); OpenAPI spells them
/// `operationId` and `operationRef`, and SDK generators and validators read only those.
fn name_link_fields_as_openapi_does(document: &mut serde_json::Value) {
    let paths = document.get_mut("paths").and_then(|paths| paths.as_object_mut());
    let operations = paths.into_iter().flat_map(|paths| paths.values_mut()).filter_map(|item| item.as_object_mut());
    for operation in operations.flat_map(|item| item.values_mut()) {
        let responses = operation.get_mut("responses").and_then(|responses| responses.as_object_mut());
        let responses = responses.into_iter().flat_map(|responses| responses.values_mut());
        for link in responses.filter_map(|response| response.get_mut("links")).filter_map(|links| links.as_object_mut()).flat_map(|links| links.values_mut()) {
            let Some(link) = link.as_object_mut() else { continue };
            for (snake, camel) in [("operation_id", "operationId"), ("operation_ref", "operationRef"), ("request_body", "requestBody")] {
                if let Some(value) = link.remove(snake) {
                    link.insert(camel.to_owned(), value);
                }
            }
        }
    }
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

    #[test]
    fn every_operation_documents_the_errors_it_can_answer_and_creates_link_onwards() {
        let doc: serde_json::Value = serde_json::from_str(&document_json()).unwrap_or_default();
        for (path, item) in doc["paths"].as_object().into_iter().flatten() {
            for (method, operation) in item.as_object().into_iter().flatten() {
                let responses = &operation["responses"];
                let public = path == "/v1/health" || path == "/v1/openapi.json";
                let mut expected = vec!["400", "429", "500"];
                if !public {
                    expected.extend(["401", "403"]);
                }
                if path.contains('{') {
                    expected.push("404");
                }
                if method != "get" {
                    expected.push("409");
                }
                for status in expected {
                    assert!(responses[status].is_object(), "{method} {path} does not document {status}");
                    if status != "429" || !public {
                        assert!(responses[status]["content"]["application/json"]["schema"]["$ref"].as_str().is_some_and(|r| r.ends_with("/ErrorBody")));
                    }
                }
                if !public {
                    assert!(responses["429"]["headers"]["Retry-After"].is_object(), "{method} {path}: the 429 says when to retry");
                    for (status, response) in responses.as_object().into_iter().flatten().filter(|(status, _)| status.starts_with('2') || *status == "429") {
                        for header in ["X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"] {
                            assert_eq!(response["headers"][header]["schema"]["type"], "integer", "{method} {path} {status} documents {header}");
                        }
                    }
                }
            }
        }
        for (path, method, name, pattern) in [
            ("/v1/payouts", "get", "cursor", r"^[A-Za-z0-9_-]*$"),
            ("/v1/webhooks/{webhook_id}/deliveries", "get", "cursor", r"^[A-Za-z0-9_-]*$"),
            ("/v1/payouts/{id}/execute", "post", "Idempotency-Key", r"^[!-~]{1,255}$"),
            ("/v1/webhooks", "post", "Idempotency-Key", r"^[!-~]{1,255}$"),
        ] {
            let parameters = doc["paths"][path][method]["parameters"].as_array().cloned().unwrap_or_default();
            let parameter = parameters.iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("{method} {path} has no {name}"));
            assert_eq!(parameter["schema"]["pattern"], pattern, "{method} {path} {name}");
            assert!(parameter["description"].as_str().is_some_and(|d| !d.is_empty()));
        }
        for request in
            ["CreatePayoutRequest", "UpdatePayoutRequest", "ExecutePayoutRequest", "CreateWalletRequest", "VerifyWalletRequest", "CreateWebhookRequest"]
        {
            assert_eq!(doc["components"]["schemas"][request]["additionalProperties"], false, "{request} refuses unknown fields, as the handler does");
        }
        let update = &doc["components"]["schemas"]["UpdatePayoutRequest"];
        assert_eq!((update["minProperties"].clone(), update.get("maxProperties")), (serde_json::json!(1), None), "a PATCH changes something: {update}");
        let created = &doc["paths"]["/v1/payouts"]["post"]["responses"]["201"]["links"];
        assert_eq!(created["executePayoutIntent"]["parameters"]["id"], "$response.body#/id");
        assert_eq!(created["executePayoutIntent"]["operationId"], "executePayoutIntent");
    }
}
