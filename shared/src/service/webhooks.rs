//! The webhook endpoints API, the events API and the deliveries API (list, replay one now).

use super::App;
use super::auth::{Principal, authenticate};
use super::dispatcher::Dispatcher;
use super::idempotency::IdempotencyGuard;
use super::input::{JsonObject, check_length};
use super::pagination::{fetch_page, parse_limit};
use super::payouts::Reply;
use super::records::{self, decode};
use crate::domain::endpoint::{Delivery, EndpointStatus, EndpointView, WebhookEndpoint};
use crate::domain::event::{Event, EventType, EventView};
use crate::domain::ids::{DeliveryId, EventId, WebhookId};
use crate::domain::org::{ApiKeySecret, Feature};
use crate::domain::webhook::{WebhookSecret, validate_endpoint_url};
use crate::error::ApiError;
use crate::ports::store::{Condition, IndexName, IndexQuery, StoreError, WriteOp};
use serde::Serialize;

const DESCRIPTION_MAX: usize = 256;

#[derive(Serialize, utoipa::ToSchema)]
pub struct EndpointList {
    pub data: Vec<EndpointView>,
    pub has_more: bool,
    #[schema(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct EventList {
    pub data: Vec<EventView>,
    pub has_more: bool,
    #[schema(nullable)]
    pub next_cursor: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct DeliveryList {
    pub data: Vec<crate::domain::endpoint::DeliveryView>,
    pub has_more: bool,
    #[schema(nullable)]
    pub next_cursor: Option<String>,
}

fn json(status: u16, value: &impl Serialize) -> Result<Reply, ApiError> {
    Ok(Reply { status, body: serde_json::to_string(value).map_err(ApiError::internal)?, replayed: false })
}

fn webhook_not_found(id: &str) -> ApiError {
    ApiError::not_found("webhook_not_found", "webhook endpoint", id, "webhook_id")
}

fn only_known_params(params: &[(String, String)], allowed: &[&str]) -> Result<(), ApiError> {
    match params.iter().find(|(name, _)| !allowed.contains(&name.as_str())) {
        Some((name, _)) => Err(ApiError::unknown_parameter(name)),
        None => Ok(()),
    }
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

async fn webhook_principal(app: &App, secret: &ApiKeySecret) -> Result<Principal, ApiError> {
    let (principal, _) = authenticate(app, secret, &[]).await?;
    principal.require(Feature::Webhooks)?;
    Ok(principal)
}

/// The endpoint if it exists and belongs to the caller.
async fn owned_endpoint(app: &App, principal: &Principal, id_text: &str) -> Result<(WebhookEndpoint, u64), ApiError> {
    let id = WebhookId::parse(id_text).ok_or_else(|| webhook_not_found(id_text))?;
    let item = app.store.get(&[records::endpoint_key(&id)]).await.map_err(ApiError::internal)?.pop().flatten().ok_or_else(|| webhook_not_found(id_text))?;
    let endpoint: WebhookEndpoint = decode(&item).map_err(ApiError::internal)?;
    if !principal.owns(&endpoint.org_id, endpoint.environment) {
        return Err(webhook_not_found(id_text));
    }
    Ok((endpoint, item.version))
}

pub fn parse_event_types(body: &JsonObject) -> Result<Vec<EventType>, ApiError> {
    let raw = body.required_raw("events")?;
    let names: Vec<String> =
        serde_json::from_str(raw.get()).map_err(|_| ApiError::invalid_field("events", "The 'events' field must be an array of event type names."))?;
    if names.is_empty() {
        return Err(ApiError::invalid_field("events", "Subscribe to at least one event type."));
    }
    let mut types = Vec::new();
    for name in names {
        let event_type = EventType::parse(&name).ok_or_else(|| {
            let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
            ApiError::invalid_field("events", format!("Unknown event type {name:?}: use any of {}.", known.join(", ")))
        })?;
        if !types.contains(&event_type) {
            types.push(event_type);
        }
    }
    Ok(types)
}

pub async fn create_endpoint(app: &App, secret: &ApiKeySecret, idempotency_key: Option<&str>, body: &[u8]) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let body = JsonObject::parse(body)?;
    let guard = IdempotencyGuard::from_header(&principal, idempotency_key, "POST /v1/webhooks", &body.fingerprint())?;
    body.deny_unknown(&["url", "events", "description"])?;
    let url_text = body.required_string("url")?;
    let url = validate_endpoint_url(&url_text, principal.environment).map_err(|reason| ApiError::invalid_field("url", format!("The url {reason}.")))?;
    let events = parse_event_types(&body)?;
    let description = body.nullable_string("description")?.flatten();
    if let Some(description) = &description {
        check_length("description", description, DESCRIPTION_MAX)?;
    }
    let now = app.now();
    let endpoint = WebhookEndpoint {
        id: WebhookId::generate(),
        org_id: principal.org_id.clone(),
        environment: principal.environment,
        url,
        events,
        description,
        secret: WebhookSecret::generate(),
        status: EndpointStatus::Active,
        disabled_reason: None,
        created_at: now,
    };
    let reply = json(201, &endpoint.view(true))?;
    let mut ops = vec![WriteOp::Put {
        item: records::endpoint_item(&endpoint, 1).map_err(ApiError::internal)?,
        condition: Some(Condition::Absent { now_unix: now.timestamp() }),
    }];
    if let Some(guard) = &guard {
        ops.push(guard.record_op(reply.status, &reply.body, now)?);
    }
    match app.store.write(ops).await {
        Ok(()) => Ok(reply),
        Err(error @ StoreError::ConditionFailed { .. }) if guard.is_some() && error.failed_at(1) => {
            let stored = guard.as_ref().ok_or_else(|| ApiError::internal("guard vanished"))?.replay_after_conflict(app).await?;
            Ok(Reply { status: stored.status, body: stored.body, replayed: true })
        }
        Err(error) => Err(ApiError::internal(error)),
    }
}

pub async fn list_endpoints(app: &App, secret: &ApiKeySecret, params: &[(String, String)]) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    only_known_params(params, &["cursor", "limit"])?;
    let limit = parse_limit(param(params, "limit"))?;
    let query = IndexQuery {
        index: IndexName::Gsi1,
        pk: records::endpoints_of(&principal.org_id, principal.environment),
        sk_at_most: None,
        after: None,
        filters: vec![],
        descending: true,
        limit,
        now_unix: app.now().timestamp(),
    };
    let page = fetch_page(app.store.as_ref(), query, param(params, "cursor"), limit).await?;
    let data =
        page.items.iter().map(|item| decode::<WebhookEndpoint>(item).map(|e| e.view(false))).collect::<Result<Vec<_>, _>>().map_err(ApiError::internal)?;
    json(200, &EndpointList { data, has_more: page.has_more, next_cursor: page.next_cursor })
}

pub async fn get_endpoint(app: &App, secret: &ApiKeySecret, id: &str) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let (endpoint, _) = owned_endpoint(app, &principal, id).await?;
    json(200, &endpoint.view(false))
}

/// 204. Deliveries already made stay listed; pending ones end as failed.
pub async fn delete_endpoint(app: &App, secret: &ApiKeySecret, id: &str) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let (endpoint, version) = owned_endpoint(app, &principal, id).await?;
    match app.store.write(vec![WriteOp::Delete { key: records::endpoint_key(&endpoint.id), condition: Some(Condition::Version(version)) }]).await {
        Ok(()) => Ok(Reply { status: 204, body: String::new(), replayed: false }),
        Err(StoreError::ConditionFailed { .. }) => Err(ApiError::concurrent_update()),
        Err(error) => Err(ApiError::internal(error)),
    }
}

pub async fn list_deliveries(app: &App, secret: &ApiKeySecret, webhook_id: &str, params: &[(String, String)]) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    only_known_params(params, &["cursor", "limit"])?;
    let (endpoint, _) = owned_endpoint(app, &principal, webhook_id).await?;
    let limit = parse_limit(param(params, "limit"))?;
    let query = IndexQuery {
        index: IndexName::Gsi1,
        pk: records::deliveries_of(&endpoint.id),
        sk_at_most: None,
        after: None,
        filters: vec![],
        descending: true,
        limit,
        now_unix: app.now().timestamp(),
    };
    let page = fetch_page(app.store.as_ref(), query, param(params, "cursor"), limit).await?;
    let data = page.items.iter().map(|item| decode::<Delivery>(item).map(|d| d.view())).collect::<Result<Vec<_>, _>>().map_err(ApiError::internal)?;
    json(200, &DeliveryList { data, has_more: page.has_more, next_cursor: page.next_cursor })
}

/// Re-sends one delivery now, whatever its status, and answers with the delivery after it.
pub async fn retry_delivery(app: &App, dispatcher: &Dispatcher, secret: &ApiKeySecret, webhook_id: &str, delivery_id: &str) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let (endpoint, _) = owned_endpoint(app, &principal, webhook_id).await?;
    let not_found = || ApiError::not_found("delivery_not_found", "delivery", delivery_id, "delivery_id");
    let id = DeliveryId::parse(delivery_id).ok_or_else(not_found)?;
    let query = IndexQuery {
        index: IndexName::Gsi2,
        pk: records::delivery_by_id(&id),
        sk_at_most: None,
        after: None,
        filters: vec![],
        descending: false,
        limit: 1,
        now_unix: app.now().timestamp(),
    };
    let item = app.store.query(&query).await.map_err(ApiError::internal)?.pop().ok_or_else(not_found)?;
    let delivery: Delivery = decode(&item).map_err(ApiError::internal)?;
    if delivery.webhook_id != endpoint.id {
        return Err(not_found());
    }
    let delivery =
        dispatcher.attempt_now(&delivery.webhook_id, &delivery.event_id).await.map_err(ApiError::internal)?.ok_or_else(ApiError::concurrent_update)?;
    json(200, &delivery.view())
}

fn event_not_found(id: &str) -> ApiError {
    ApiError::not_found("event_not_found", "event", id, "event_id")
}

pub async fn list_events(app: &App, secret: &ApiKeySecret, params: &[(String, String)]) -> Result<Reply, ApiError> {
    let (principal, _) = authenticate(app, secret, &[]).await?;
    only_known_params(params, &["type", "cursor", "limit"])?;
    let limit = parse_limit(param(params, "limit"))?;
    let pk = match param(params, "type") {
        None => records::events_of(&principal.org_id, principal.environment),
        Some(text) => {
            let event_type = EventType::parse(text).ok_or_else(|| ApiError::invalid_parameter("type", format!("Unknown event type {text:?}.")))?;
            records::events_of_type(&principal.org_id, principal.environment, event_type)
        }
    };
    let index = if param(params, "type").is_some() { IndexName::Gsi2 } else { IndexName::Gsi1 };
    let query = IndexQuery { index, pk, sk_at_most: None, after: None, filters: vec![], descending: true, limit, now_unix: app.now().timestamp() };
    let page = fetch_page(app.store.as_ref(), query, param(params, "cursor"), limit).await?;
    let data = page.items.iter().map(|item| decode::<Event>(item).map(|e| e.view())).collect::<Result<Vec<_>, _>>().map_err(ApiError::internal)?;
    json(200, &EventList { data, has_more: page.has_more, next_cursor: page.next_cursor })
}

pub async fn get_event(app: &App, secret: &ApiKeySecret, id_text: &str) -> Result<Reply, ApiError> {
    let Some(id) = EventId::parse(id_text) else {
        authenticate(app, secret, &[]).await?;
        return Err(event_not_found(id_text));
    };
    let (principal, mut items) = authenticate(app, secret, &[records::event_key(&id)]).await?;
    let item = items.pop().flatten().ok_or_else(|| event_not_found(id_text))?;
    let event: Event = decode(&item).map_err(ApiError::internal)?;
    if !principal.owns(&event.org_id, event.environment) {
        return Err(event_not_found(id_text));
    }
    json(200, &event.view())
}
