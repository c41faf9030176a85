//! Every route of the API: its method and path, its name (the Lambda function serving it) and
//! the handler that extracts the request's parts and calls the service.

use super::{ApiRequest, ApiResponse, MAX_BODY_BYTES};
use crate::domain::org::ApiKeySecret;
use crate::domain::rate_limit::LimitClass;
use crate::error::ApiError;
use crate::service::auth::presented_key;
use crate::service::payouts;
use crate::service::rate_limit::Charge;
use crate::service::reply::Reply;
use crate::service::{App, reconciliation, wallets, webhooks};
use http::{Method, StatusCode};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Route {
    CreatePayout,
    ListPayouts,
    ListSettlements,
    GetReconciliation,
    ListReconciliationItems,
    CreateWallet,
    ListWallets,
    GetWallet,
    DeleteWallet,
    VerifyWallet,
    GetPayout,
    UpdatePayout,
    ExecutePayout,
    CreateWebhook,
    ListWebhooks,
    GetWebhook,
    UpdateWebhook,
    DeleteWebhook,
    RotateWebhookSecret,
    TestWebhook,
    ListDeliveries,
    RetryDelivery,
    ListEvents,
    GetEvent,
    GetAccount,
    Health,
    OpenApi,
    /// The operator dashboard's static files (`/dashboard/…`); not an API route, so not in
    /// [`Route::ALL`] nor in the OpenAPI document.
    Dashboard,
    /// What API Gateway's `$default` route sends here: requests no route matched. Answers
    /// 404 `route_not_found` or 405 `method_not_allowed`, never runs a route. Not in [`Route::ALL`].
    Fallback,
}

impl Route {
    /// A literal path segment wins over a `{…}` one: `/v1/payouts/settlements` and
    /// `/v1/payouts/wallets` are never read as a payout id.
    pub const ALL: [Route; 27] = [
        Route::CreatePayout,
        Route::ListPayouts,
        Route::ListSettlements,
        Route::GetReconciliation,
        Route::ListReconciliationItems,
        Route::CreateWallet,
        Route::ListWallets,
        Route::GetWallet,
        Route::DeleteWallet,
        Route::VerifyWallet,
        Route::GetPayout,
        Route::UpdatePayout,
        Route::ExecutePayout,
        Route::CreateWebhook,
        Route::ListWebhooks,
        Route::GetWebhook,
        Route::UpdateWebhook,
        Route::DeleteWebhook,
        Route::RotateWebhookSecret,
        Route::TestWebhook,
        Route::ListDeliveries,
        Route::RetryDelivery,
        Route::ListEvents,
        Route::GetEvent,
        Route::GetAccount,
        Route::Health,
        Route::OpenApi,
    ];

    /// Method and path template, as in the OpenAPI document and `template.yaml`.
    pub fn spec(self) -> (Method, &'static str) {
        match self {
            Route::CreatePayout => (Method::POST, "/v1/payouts"),
            Route::ListPayouts => (Method::GET, "/v1/payouts"),
            Route::ListSettlements => (Method::GET, "/v1/payouts/settlements"),
            Route::GetReconciliation => (Method::GET, "/v1/payouts/reconciliation"),
            Route::ListReconciliationItems => (Method::GET, "/v1/payouts/reconciliation/items"),
            Route::CreateWallet => (Method::POST, "/v1/payouts/wallets"),
            Route::ListWallets => (Method::GET, "/v1/payouts/wallets"),
            Route::GetWallet => (Method::GET, "/v1/payouts/wallets/{wallet_id}"),
            Route::DeleteWallet => (Method::DELETE, "/v1/payouts/wallets/{wallet_id}"),
            Route::VerifyWallet => (Method::POST, "/v1/payouts/wallets/{wallet_id}/verify"),
            Route::GetPayout => (Method::GET, "/v1/payouts/{id}"),
            Route::UpdatePayout => (Method::PATCH, "/v1/payouts/{id}"),
            Route::ExecutePayout => (Method::POST, "/v1/payouts/{id}/execute"),
            Route::CreateWebhook => (Method::POST, "/v1/webhooks"),
            Route::ListWebhooks => (Method::GET, "/v1/webhooks"),
            Route::GetWebhook => (Method::GET, "/v1/webhooks/{webhook_id}"),
            Route::UpdateWebhook => (Method::PATCH, "/v1/webhooks/{webhook_id}"),
            Route::DeleteWebhook => (Method::DELETE, "/v1/webhooks/{webhook_id}"),
            Route::RotateWebhookSecret => (Method::POST, "/v1/webhooks/{webhook_id}/rotate_secret"),
            Route::TestWebhook => (Method::POST, "/v1/webhooks/{webhook_id}/test"),
            Route::ListDeliveries => (Method::GET, "/v1/webhooks/{webhook_id}/deliveries"),
            Route::RetryDelivery => (Method::POST, "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry"),
            Route::ListEvents => (Method::GET, "/v1/events"),
            Route::GetEvent => (Method::GET, "/v1/events/{event_id}"),
            Route::GetAccount => (Method::GET, "/v1/account"),
            Route::Health => (Method::GET, "/v1/health"),
            Route::OpenApi => (Method::GET, "/v1/openapi.json"),
            Route::Dashboard => (Method::GET, "/dashboard/{proxy+}"),
            Route::Fallback => (Method::GET, "$default"),
        }
    }

    /// Whether the route answers pages with a `cursor` (and so needs the cursor key).
    pub fn pages(self) -> bool {
        match self {
            Route::ListPayouts
            | Route::ListSettlements
            | Route::ListReconciliationItems
            | Route::ListWallets
            | Route::ListWebhooks
            | Route::ListDeliveries
            | Route::ListEvents => true,
            Route::CreatePayout
            | Route::GetReconciliation
            | Route::CreateWallet
            | Route::GetWallet
            | Route::DeleteWallet
            | Route::VerifyWallet
            | Route::GetPayout
            | Route::UpdatePayout
            | Route::ExecutePayout
            | Route::CreateWebhook
            | Route::GetWebhook
            | Route::UpdateWebhook
            | Route::DeleteWebhook
            | Route::RotateWebhookSecret
            | Route::TestWebhook
            | Route::RetryDelivery
            | Route::GetEvent
            | Route::GetAccount
            | Route::Health
            | Route::OpenApi
            | Route::Dashboard
            | Route::Fallback => false,
        }
    }

    /// Which rate limit a request to the route counts against, and when: GETs are reads,
    /// counted before they run; mutations are writes, counted in their commit. Sending a test
    /// webhook or re-sending a delivery is counted first, as the request goes out at once.
    /// `None`: the route is not metered (it has no tenant).
    pub fn rate_class(self) -> Option<(LimitClass, Charge)> {
        match self {
            Route::Health | Route::OpenApi | Route::Dashboard | Route::Fallback => None,
            Route::TestWebhook | Route::RetryDelivery => Some((LimitClass::Writes, Charge::Upfront)),
            Route::CreatePayout
            | Route::CreateWallet
            | Route::DeleteWallet
            | Route::VerifyWallet
            | Route::UpdatePayout
            | Route::ExecutePayout
            | Route::CreateWebhook
            | Route::UpdateWebhook
            | Route::DeleteWebhook
            | Route::RotateWebhookSecret => Some((LimitClass::Writes, Charge::InCommit)),
            Route::ListPayouts
            | Route::ListSettlements
            | Route::GetReconciliation
            | Route::ListReconciliationItems
            | Route::ListWallets
            | Route::GetWallet
            | Route::GetPayout
            | Route::ListWebhooks
            | Route::GetWebhook
            | Route::ListDeliveries
            | Route::ListEvents
            | Route::GetEvent
            | Route::GetAccount => Some((LimitClass::Reads, Charge::Upfront)),
        }
    }

    /// Stable name, used in logs and as the Lambda binary's suffix.
    pub fn name(self) -> &'static str {
        match self {
            Route::CreatePayout => "create_payout",
            Route::ListPayouts => "list_payouts",
            Route::ListSettlements => "list_settlements",
            Route::GetReconciliation => "get_reconciliation",
            Route::ListReconciliationItems => "list_reconciliation_items",
            Route::CreateWallet => "create_wallet",
            Route::ListWallets => "list_wallets",
            Route::GetWallet => "get_wallet",
            Route::DeleteWallet => "delete_wallet",
            Route::VerifyWallet => "verify_wallet",
            Route::GetPayout => "get_payout",
            Route::UpdatePayout => "update_payout",
            Route::ExecutePayout => "execute_payout",
            Route::CreateWebhook => "create_webhook",
            Route::ListWebhooks => "list_webhooks",
            Route::GetWebhook => "get_webhook",
            Route::UpdateWebhook => "update_webhook",
            Route::DeleteWebhook => "delete_webhook",
            Route::RotateWebhookSecret => "rotate_webhook_secret",
            Route::TestWebhook => "test_webhook",
            Route::ListDeliveries => "list_deliveries",
            Route::RetryDelivery => "retry_delivery",
            Route::ListEvents => "list_events",
            Route::GetEvent => "get_event",
            Route::GetAccount => "get_account",
            Route::Health => "health",
            Route::OpenApi => "openapi",
            Route::Dashboard => "dashboard",
            Route::Fallback => "fallback",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch {
    pub route: Route,
    /// The `{…}` path parameters, in path order.
    pub params: Vec<String>,
}

impl RouteMatch {
    /// The first path parameter (the resource id), or "".
    pub fn id(&self) -> &str {
        self.params.first().map(String::as_str).unwrap_or("")
    }
}

/// Matches a template like `/v1/payouts/{id}/execute` against a path, capturing the `{…}` parts.
fn match_template(template: &str, path: &str) -> Option<Vec<String>> {
    let path = path.strip_suffix('/').filter(|p| !p.is_empty()).unwrap_or(path);
    let mut template_parts = template.split('/');
    let mut path_parts = path.split('/');
    let mut params = Vec::new();
    loop {
        match (template_parts.next(), path_parts.next()) {
            (None, None) => return Some(params),
            (Some(expected), Some(part)) if expected.starts_with('{') && !part.is_empty() => params.push(part.to_owned()),
            (Some(expected), Some(part)) if expected == part => {}
            _ => return None,
        }
    }
}

pub fn match_route(method: &Method, path: &str) -> Result<RouteMatch, ApiError> {
    let matching: Vec<(Route, Vec<String>)> = Route::ALL.into_iter().filter_map(|route| Some((route, match_template(route.spec().1, path)?))).collect();
    // The most literal templates own the path: `PATCH /v1/payouts/wallets` is a 405 on the
    // wallets collection, not an update of a payout named "wallets".
    let Some(fewest_params) = matching.iter().map(|(_, params)| params.len()).min() else {
        return Err(ApiError::route_not_found(method.as_str(), path));
    };
    let mut owners: Vec<(Route, Vec<String>)> = matching.into_iter().filter(|(_, params)| params.len() == fewest_params).collect();
    let allowed: Vec<String> = owners.iter().map(|(route, _)| route.spec().0.to_string()).collect();
    match owners.iter().position(|(route, _)| route.spec().0 == *method) {
        Some(index) => {
            let (route, params) = owners.swap_remove(index);
            Ok(RouteMatch { route, params })
        }
        None => Err(ApiError::method_not_allowed(method.as_str(), path, &allowed.iter().map(String::as_str).collect::<Vec<_>>())),
    }
}

/// The `Idempotency-Key` of a request that honours one. A key that is not visible ASCII is a
/// 400, never ignored: ignoring it would turn retries into duplicates.
fn idempotency_key(request: &ApiRequest) -> Result<Option<&str>, ApiError> {
    match request.headers.get("idempotency-key") {
        None => Ok(None),
        Some(value) => value.to_str().map(Some).map_err(|_| ApiError::invalid_idempotency_key("Idempotency-Key must be 1 to 255 visible ASCII characters.")),
    }
}

fn secret(request: &ApiRequest) -> Result<ApiKeySecret, ApiError> {
    presented_key(request.header("authorization"))
}

/// Body checks shared by every route that takes one: size, then media type.
fn body(request: &ApiRequest) -> Result<&[u8], ApiError> {
    if request.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::body_too_large(MAX_BODY_BYTES));
    }
    if let Some(content_type) = request.header("content-type") {
        let media_type = content_type.split(';').next().unwrap_or("").trim();
        if !media_type.eq_ignore_ascii_case("application/json") {
            return Err(ApiError::unsupported_media_type());
        }
    }
    Ok(&request.body)
}

fn reply(reply: Reply) -> ApiResponse {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::OK);
    if reply.body.is_empty() {
        return ApiResponse::empty(status);
    }
    if let Some(file_name) = reply.csv_file {
        let mut response = ApiResponse::json(status, reply.body);
        response.headers =
            vec![("content-type", "text/csv; charset=utf-8".to_owned()), ("content-disposition", format!("attachment; filename=\"{file_name}\""))];
        return response;
    }
    let mut response = ApiResponse::json(status, reply.body);
    if reply.replayed {
        response.headers.push(("idempotent-replayed", "true".to_owned()));
    }
    response
}

pub async fn handle(app: &App, matched: &RouteMatch, request: &ApiRequest) -> Result<ApiResponse, ApiError> {
    let idempotency_key = || idempotency_key(request);
    let result = match matched.route {
        Route::OpenApi => return Ok(ApiResponse::json(StatusCode::OK, super::openapi::document_json())),
        Route::Dashboard => return Ok(super::dashboard::serve(request)),
        Route::Fallback => return Err(ApiError::route_not_found(request.method.as_str(), &request.path)),
        Route::GetAccount => crate::service::account::get(app, &secret(request)?).await?,
        Route::Health => crate::service::health::get(app).await?,
        Route::CreatePayout => payouts::create(app, &secret(request)?, idempotency_key()?, body(request)?).await?,
        Route::ListPayouts => payouts::list(app, &secret(request)?, &request.query).await?,
        Route::ListSettlements => crate::service::settlements::list(app, &secret(request)?, &request.query, request.header("accept")).await?,
        Route::GetReconciliation => reconciliation::summary(app, &secret(request)?, &request.query).await?,
        Route::ListReconciliationItems => reconciliation::items(app, &secret(request)?, &request.query, request.header("accept")).await?,
        Route::CreateWallet => wallets::create(app, &secret(request)?, idempotency_key()?, body(request)?).await?,
        Route::ListWallets => wallets::list(app, &secret(request)?, &request.query).await?,
        Route::GetWallet => wallets::get(app, &secret(request)?, matched.id()).await?,
        Route::DeleteWallet => wallets::delete(app, &secret(request)?, matched.id()).await?,
        Route::VerifyWallet => wallets::verify(app, &secret(request)?, matched.id(), body(request)?).await?,
        Route::GetPayout => payouts::get(app, &secret(request)?, matched.id()).await?,
        Route::UpdatePayout => payouts::update(app, &secret(request)?, matched.id(), body(request)?).await?,
        Route::ExecutePayout => payouts::execute(app, &secret(request)?, idempotency_key()?, matched.id(), body(request)?).await?,
        Route::CreateWebhook => webhooks::create_endpoint(app, &secret(request)?, idempotency_key()?, body(request)?).await?,
        Route::ListWebhooks => webhooks::list_endpoints(app, &secret(request)?, &request.query).await?,
        Route::GetWebhook => webhooks::get_endpoint(app, &secret(request)?, matched.id()).await?,
        Route::UpdateWebhook => webhooks::update_endpoint(app, &secret(request)?, matched.id(), body(request)?).await?,
        Route::DeleteWebhook => webhooks::delete_endpoint(app, &secret(request)?, matched.id()).await?,
        Route::RotateWebhookSecret => webhooks::rotate_secret(app, &secret(request)?, idempotency_key()?, matched.id(), body(request)?).await?,
        Route::TestWebhook => {
            let dispatcher = crate::runtime::api_dispatcher(app).map_err(ApiError::internal)?;
            webhooks::send_test(app, &dispatcher, &secret(request)?, matched.id()).await?
        }
        Route::ListDeliveries => webhooks::list_deliveries(app, &secret(request)?, matched.id(), &request.query).await?,
        Route::RetryDelivery => {
            let dispatcher = crate::runtime::api_dispatcher(app).map_err(ApiError::internal)?;
            let delivery_id = matched.params.get(1).map(String::as_str).unwrap_or("");
            webhooks::retry_delivery(app, &dispatcher, &secret(request)?, matched.id(), delivery_id).await?
        }
        Route::ListEvents => webhooks::list_events(app, &secret(request)?, &request.query).await?,
        Route::GetEvent => webhooks::get_event(app, &secret(request)?, matched.id()).await?,
    };
    Ok(reply(result))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_match_their_own_paths() {
        for route in Route::ALL {
            let (method, template) = route.spec();
            let path = template
                .replace("{id}", "po_e5f6a7b8c9d0e1f2a3b4c5d6")
                .replace("{webhook_id}", "we_1")
                .replace("{delivery_id}", "del_1")
                .replace("{wallet_id}", "wal_1")
                .replace("{event_id}", "evt_1");
            let matched = match_route(&method, &path).unwrap_or_else(|e| panic!("{path}: {e}"));
            assert_eq!(matched.route, route);
        }
        let matched = match_route(&Method::POST, "/v1/payouts/po_1/execute").ok();
        assert_eq!(matched.map(|m| m.id().to_owned()), Some("po_1".to_owned()));
        let matched = match_route(&Method::POST, "/v1/webhooks/we_1/deliveries/del_2/retry").ok();
        assert_eq!(matched.map(|m| m.params), Some(vec!["we_1".to_owned(), "del_2".to_owned()]));
        assert_eq!(match_route(&Method::GET, "/v1/payouts/").ok().map(|m| m.route), Some(Route::ListPayouts));
    }

    #[test]
    fn unknown_paths_and_methods_are_distinguished() {
        assert_eq!(match_route(&Method::GET, "/v1/nothing").err().map(|e| e.code), Some("route_not_found"));
        assert_eq!(match_route(&Method::DELETE, "/v1/payouts/po_1").err().map(|e| e.code), Some("method_not_allowed"));
        assert_eq!(match_route(&Method::PUT, "/v1/webhooks/we_1").err().map(|e| e.code), Some("method_not_allowed"));
        assert_eq!(match_route(&Method::GET, "/v1/payouts//execute").err().map(|e| e.code), Some("route_not_found"));
        // A literal segment is never taken for an id.
        assert_eq!(match_route(&Method::PATCH, "/v1/payouts/wallets").err().map(|e| e.code), Some("method_not_allowed"));
        assert_eq!(match_route(&Method::PATCH, "/v1/payouts/settlements").err().map(|e| e.code), Some("method_not_allowed"));
        assert_eq!(match_route(&Method::GET, "/v1/payouts/wallets").ok().map(|m| m.route), Some(Route::ListWallets));
        assert_eq!(match_route(&Method::GET, "/v1/payouts/po_1").ok().map(|m| m.route), Some(Route::GetPayout));
        assert_eq!(match_route(&Method::GET, "/v1/payouts/reconciliation").ok().map(|m| m.route), Some(Route::GetReconciliation));
        assert_eq!(match_route(&Method::GET, "/v1/payouts/reconciliation/items").ok().map(|m| m.route), Some(Route::ListReconciliationItems));
        assert_eq!(match_route(&Method::POST, "/v1/payouts/reconciliation").err().map(|e| e.code), Some("method_not_allowed"));
    }

    #[test]
    fn a_405_names_the_methods_the_path_takes() {
        let allow = |method: Method, path: &str| match_route(&method, path).err().and_then(|e| e.allow);
        assert_eq!(allow(Method::PUT, "/v1/payouts"), Some("POST, GET".to_owned()));
        assert_eq!(allow(Method::TRACE, "/v1/payouts/po_1"), Some("GET, PATCH".to_owned()));
        assert_eq!(allow(Method::DELETE, "/v1/payouts/wallets"), Some("POST, GET".to_owned()));
        assert_eq!(allow(Method::GET, "/v1/payouts/po_1/execute"), Some("POST".to_owned()));
        let error = match_route(&Method::PUT, "/v1/account").err().map(|e| e.message);
        assert_eq!(error.as_deref(), Some("PUT is not allowed on /v1/account; it takes GET."));
    }
}
