//! The webhook endpoints API, the events API and the deliveries API (list, replay one now).

use super::auth::{Principal, authenticate};
use super::dispatcher::Dispatcher;
use super::idempotency::IdempotencyGuard;
use super::input::{JsonObject, request_body};
use super::pagination::{ListParams, list_page};
use super::records::{self, decode};
use super::reply::Reply;
use super::{App, COMMIT_ATTEMPTS};
use crate::domain::endpoint::{Delivery, EndpointStatus, WebhookEndpoint};
use crate::domain::event::{Event, EventType};
use crate::domain::ids::{DeliveryId, EventId, WebhookId};
use crate::domain::org::{ApiKeySecret, Feature};
use crate::domain::webhook::{WebhookSecret, validate_endpoint_url};
use crate::error::ApiError;
use crate::ports::store::{Condition, IndexName, IndexQuery, StoreError, WriteOp};

/// `POST /v1/webhooks` body. Its schema is the document's and what [`create_endpoint`] checks
/// the body against.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct CreateWebhookRequest {
    /// `https://…` in live; sandbox may use `http://` (local development). At most 2048
    /// characters; no user name or password; a live endpoint's host must be public.
    #[schema(format = "uri", max_length = 2048, example = "https://example.com/webhooks/billing")]
    url: String,
    /// At least one of the payout event types.
    #[schema(min_items = 1)]
    events: Vec<EventType>,
    #[schema(nullable, max_length = 256)]
    description: Option<String>,
}
request_body!(CreateWebhookRequest);

fn webhook_not_found(id: &str) -> ApiError {
    ApiError::not_found("webhook_not_found", "webhook endpoint", id, "webhook_id")
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
        let event_type = EventType::parse(&name)
            .ok_or_else(|| ApiError::invalid_field("events", format!("Unknown event type {name:?}: use any of {}.", event_type_names())))?;
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
    body.conform::<CreateWebhookRequest>()?;
    let url_text = body.required_string("url")?;
    let url = validate_endpoint_url(&url_text, principal.environment).map_err(|reason| ApiError::invalid_field("url", sentence(&reason)))?;
    let events = parse_event_types(&body)?;
    let description = body.nullable_string("description")?.flatten();
    let now = app.now();
    let id = WebhookId::generate();
    let secret = WebhookSecret::generate();
    let stored_secret = app.vault.seal_endpoint_secret(&id, &secret).await.map_err(ApiError::internal)?;
    let endpoint = WebhookEndpoint {
        id,
        org_id: principal.org_id.clone(),
        environment: principal.environment,
        url,
        events,
        description,
        secret: stored_secret,
        status: EndpointStatus::Active,
        disabled_reason: None,
        created_at: now,
    };
    let reply = Reply::json(201, &endpoint.view(Some(&secret)))?;
    let mut ops = vec![WriteOp::Put {
        item: records::endpoint_item(&endpoint, 1).map_err(ApiError::internal)?,
        condition: Some(Condition::Absent { now_unix: now.timestamp() }),
    }];
    if let Some(guard) = &guard {
        // The response shows the secret: the idempotency record keeps it sealed.
        ops.push(guard.record_sealed_op(app, reply.status, &reply.body, now).await?);
    }
    for _ in 0..COMMIT_ATTEMPTS {
        match app.store.write(ops.clone()).await {
            Ok(()) => return Ok(reply),
            // The endpoint has a fresh id: only a concurrent duplicate (same idempotency key) can
            // win. Replay it once committed; else try again.
            Err(error) if error.lost_race() => {
                if let Some(stored) = IdempotencyGuard::after_lost_race(guard.as_ref(), app).await? {
                    return Ok(Reply::replay(stored));
                }
            }
            Err(error) => return Err(ApiError::internal(error)),
        }
    }
    Err(IdempotencyGuard::gave_up(guard.as_ref()))
}

pub async fn list_endpoints(app: &App, secret: &ApiKeySecret, params: &[(String, String)]) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let params = ListParams::parse(params, &[])?;
    let query = IndexQuery::partition(IndexName::Gsi1, records::endpoints_of(&principal.org_id, principal.environment), true, app.now().timestamp());
    let list = list_page(app, query, &params, |endpoint: WebhookEndpoint| Some(endpoint.view(None))).await?;
    Reply::json(200, &list)
}

pub async fn get_endpoint(app: &App, secret: &ApiKeySecret, id: &str) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let (endpoint, _) = owned_endpoint(app, &principal, id).await?;
    Reply::json(200, &endpoint.view(None))
}

/// 204. Deliveries already made stay listed; pending ones end as failed.
pub async fn delete_endpoint(app: &App, secret: &ApiKeySecret, id: &str) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let (endpoint, version) = owned_endpoint(app, &principal, id).await?;
    match app.store.write(vec![WriteOp::Delete { key: records::endpoint_key(&endpoint.id), condition: Some(Condition::Version(version)) }]).await {
        Ok(()) => Ok(Reply::no_content()),
        Err(StoreError::ConditionFailed { .. }) => Err(ApiError::concurrent_update()),
        Err(error) => Err(ApiError::internal(error)),
    }
}

pub async fn list_deliveries(app: &App, secret: &ApiKeySecret, webhook_id: &str, params: &[(String, String)]) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let params = ListParams::parse(params, &[])?;
    let (endpoint, _) = owned_endpoint(app, &principal, webhook_id).await?;
    let query = IndexQuery::partition(IndexName::Gsi1, records::deliveries_of(&endpoint.id), true, app.now().timestamp());
    let list = list_page(app, query, &params, |delivery: Delivery| Some(delivery.view())).await?;
    Reply::json(200, &list)
}

/// Re-sends one delivery now, whatever its status, and answers with the delivery after it.
pub async fn retry_delivery(app: &App, dispatcher: &Dispatcher, secret: &ApiKeySecret, webhook_id: &str, delivery_id: &str) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let (endpoint, _) = owned_endpoint(app, &principal, webhook_id).await?;
    let not_found = || ApiError::not_found("delivery_not_found", "delivery", delivery_id, "delivery_id");
    let id = DeliveryId::parse(delivery_id).ok_or_else(not_found)?;
    let query = IndexQuery { limit: 1, ..IndexQuery::partition(IndexName::Gsi2, records::delivery_by_id(&id), false, app.now().timestamp()) };
    let item = app.store.query(&query).await.map_err(ApiError::internal)?.pop().ok_or_else(not_found)?;
    let delivery: Delivery = decode(&item).map_err(ApiError::internal)?;
    if delivery.webhook_id != endpoint.id {
        return Err(not_found());
    }
    let delivery =
        dispatcher.attempt_now(&delivery.webhook_id, &delivery.event_id).await.map_err(ApiError::internal)?.ok_or_else(ApiError::concurrent_update)?;
    Reply::json(200, &delivery.view())
}

fn event_not_found(id: &str) -> ApiError {
    ApiError::not_found("event_not_found", "event", id, "event_id")
}

/// Every event type's name, for the errors that refuse an unknown one.
fn event_type_names() -> String {
    EventType::ALL.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")
}

/// A reason such as "the URL must use https" as the sentence an error message is.
fn sentence(reason: &str) -> String {
    let mut chars = reason.chars();
    match chars.next() {
        Some(first) => format!("{}{}.", first.to_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

pub async fn list_events(app: &App, secret: &ApiKeySecret, params: &[(String, String)]) -> Result<Reply, ApiError> {
    let (principal, _) = authenticate(app, secret, &[]).await?;
    // Events are gated like the resources they carry: every list needs the payouts feature; a
    // list of one type needs that type's; an unfiltered list leaves out the types the plan
    // cannot read.
    principal.require(Feature::Payouts)?;
    let params = ListParams::parse(params, &["type"])?;
    let (index, pk) = match params.get("type") {
        None => (IndexName::Gsi1, records::events_of(&principal.org_id, principal.environment)),
        Some(text) => {
            let event_type = EventType::parse(text)
                .ok_or_else(|| ApiError::invalid_parameter("type", format!("Unknown event type {text:?}: use one of {}.", event_type_names())))?;
            principal.require(event_type.feature())?;
            (IndexName::Gsi2, records::events_of_type(&principal.org_id, principal.environment, event_type))
        }
    };
    let query = IndexQuery::partition(index, pk, true, app.now().timestamp());
    let readable = |event: &Event| principal.require(event.event_type.feature()).is_ok();
    let list = list_page(app, query, &params, |event: Event| readable(&event).then(|| event.view())).await?;
    Reply::json(200, &list)
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
    principal.require(event.event_type.feature())?;
    Reply::json(200, &event.view())
}
