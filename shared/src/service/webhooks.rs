//! The webhook endpoints API, the events API and the deliveries API (list, replay one now).

use super::auth::{Principal, authenticate};
use super::dispatcher::Dispatcher;
use super::idempotency::IdempotencyGuard;
use super::input::{JsonObject, request_body};
use super::pagination::{ListParams, list_page};
use super::records::{self, EndpointDirectory, decode};
use super::reply::Reply;
use super::{App, COMMIT_ATTEMPTS};
use crate::domain::endpoint::{Attempt, Backfill, Delivery, EndpointStatus, RetiringSecret, WebhookEndpoint};
use crate::domain::event::{Event, EventType};
use crate::domain::ids::{DeliveryId, EventId, PayoutId, WebhookId};
use crate::domain::org::{ApiKeySecret, Feature};
use crate::domain::time::parse_rfc3339;
use crate::domain::webhook::{WebhookSecret, validate_endpoint_url};
use crate::error::ApiError;
use crate::ports::store::{Condition, IndexName, IndexQuery, WriteOp, read_all};

/// `PATCH /v1/webhooks/{webhook_id}` body: what to change, at least one field.
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[schema(min_properties = 1)]
#[allow(dead_code)]
pub struct UpdateWebhookRequest {
    /// Checked like a new endpoint's URL.
    #[schema(nullable = false, format = "uri", max_length = 2048)]
    url: Option<String>,
    /// Replaces the subscribed event types (at least one).
    #[schema(nullable = false, min_items = 1)]
    events: Option<Vec<EventType>>,
    /// `null` clears it.
    #[schema(nullable, max_length = 256)]
    description: Option<String>,
    /// `disabled` stops deliveries (pending ones end as failed when due); `active` resumes them,
    /// also after the receiver answered 410 Gone.
    #[schema(nullable = false)]
    status: Option<EndpointStatus>,
}
request_body!(UpdateWebhookRequest);

/// `POST /v1/webhooks/{webhook_id}/rotate_secret` body (may be absent or `null`).
#[derive(utoipa::ToSchema, serde::Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct RotateSecretRequest {
    /// Seconds the previous secret keeps signing beside the new one: default 86400 (24 h),
    /// at most 604800 (7 days); `0` ends the overlap at once.
    #[schema(nullable = false, minimum = 0, maximum = 604800)]
    expires_in: Option<u32>,
}
request_body!(RotateSecretRequest);

/// The default overlap of a rotated secret, and the longest one asked for.
pub const ROTATION_OVERLAP_DEFAULT_SECONDS: u32 = 86_400;
pub const ROTATION_OVERLAP_MAX_SECONDS: u32 = 604_800;

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
    /// Also send the past events of the subscribed types created since then (RFC 3339; at most
    /// 7 days back, at most 10,000 events), oldest first, so an endpoint set up after the first
    /// payouts misses none. The due sweep replays them within minutes; `backfill` shows progress.
    // No example: no fixed instant stays within the last 7 days.
    #[schema(nullable, format = DateTime)]
    backfill_since: Option<String>,
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
    let backfill = match body.nullable_string("backfill_since")?.flatten() {
        Some(text) => {
            let since = parse_rfc3339(&text)
                .ok_or_else(|| ApiError::invalid_field("backfill_since", "backfill_since must be an RFC 3339 date-time such as 2026-01-01T00:00:00Z."))?;
            Some(Backfill::starting(since, now).map_err(|reason| ApiError::invalid_field("backfill_since", sentence(&reason)))?)
        }
        None => None,
    };
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
        retiring_secret: None,
        backfill,
        created_at: now,
    };
    let reply = Reply::json(201, &endpoint.view(Some(&secret), now))?;
    let mut ops = vec![WriteOp::Put {
        item: records::endpoint_item(&endpoint, 1).map_err(ApiError::internal)?,
        condition: Some(Condition::Absent { now_unix: now.timestamp() }),
    }];
    if let Some(guard) = &guard {
        // The response shows the secret: the idempotency record keeps it sealed.
        ops.push(guard.record_sealed_op(app, reply.status, &reply.body, now).await?);
    }
    for _ in 0..COMMIT_ATTEMPTS {
        // The directory gains the endpoint in the same write, on its version: two creates racing
        // for the last slot cannot both commit.
        let (mut directory, version) = endpoint_directory(app, &principal).await?;
        if directory.endpoints.len() >= app.limits.webhook_endpoints as usize {
            return Err(ApiError::limit_reached(
                "endpoint_limit_reached",
                format!(
                    "This organization has {} webhook endpoints in {}, the most allowed: delete one (DELETE /v1/webhooks/{{webhook_id}}) before adding another.",
                    directory.endpoints.len(),
                    principal.environment
                ),
            ));
        }
        directory.endpoints.push(endpoint.id.clone());
        let mut ops = ops.clone();
        ops.push(directory_op(&principal, &directory, version, now)?);
        match app.store.write(ops).await {
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

/// The organization's endpoint directory in the principal's environment, and its version (0: not
/// written yet). An organization whose endpoints predate the directory has it started from its
/// endpoints as listed.
async fn endpoint_directory(app: &App, principal: &Principal) -> Result<(EndpointDirectory, u64), ApiError> {
    let key = records::endpoint_directory_key(&principal.org_id, principal.environment);
    if let Some(item) = app.store.get(std::slice::from_ref(&key)).await.map_err(ApiError::internal)?.pop().flatten() {
        return Ok((decode(&item).map_err(ApiError::internal)?, item.version));
    }
    let query = IndexQuery::partition(IndexName::Gsi1, records::endpoints_of(&principal.org_id, principal.environment), false, app.now().timestamp());
    let mut endpoints = Vec::new();
    for item in read_all(app.store.as_ref(), query).await.map_err(ApiError::internal)? {
        endpoints.push(decode::<WebhookEndpoint>(&item).map_err(ApiError::internal)?.id);
    }
    Ok((EndpointDirectory { endpoints }, 0))
}

/// The write of a new directory over the one read at `version` (absent when 0).
fn directory_op(principal: &Principal, directory: &EndpointDirectory, version: u64, now: crate::domain::time::Timestamp) -> Result<WriteOp, ApiError> {
    let condition = if version == 0 { Condition::Absent { now_unix: now.timestamp() } } else { Condition::Version(version) };
    Ok(WriteOp::Put {
        item: records::endpoint_directory_item(&principal.org_id, principal.environment, directory, version + 1).map_err(ApiError::internal)?,
        condition: Some(condition),
    })
}

pub async fn list_endpoints(app: &App, secret: &ApiKeySecret, params: &[(String, String)]) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let params = ListParams::parse(params, &[])?;
    let query = IndexQuery::partition(IndexName::Gsi1, records::endpoints_of(&principal.org_id, principal.environment), true, app.now().timestamp());
    let now = app.now();
    let list = list_page(app, query, &params, |endpoint: WebhookEndpoint| Some(endpoint.view(None, now))).await?;
    Reply::json(200, &list)
}

pub async fn get_endpoint(app: &App, secret: &ApiKeySecret, id: &str) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let (endpoint, _) = owned_endpoint(app, &principal, id).await?;
    Reply::json(200, &endpoint.view(None, app.now()))
}

pub async fn update_endpoint(app: &App, secret: &ApiKeySecret, id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let body = JsonObject::parse(body)?;
    body.conform::<UpdateWebhookRequest>()?;
    if body.is_empty() {
        return Err(ApiError::invalid_field("url", "Nothing to update: give url, events, description or status."));
    }
    let not_null = |name: &str| ApiError::invalid_field(name, format!("The '{name}' field must not be null."));
    let url = match body.nullable_string("url")? {
        None => None,
        Some(None) => return Err(not_null("url")),
        Some(Some(text)) => Some(validate_endpoint_url(&text, principal.environment).map_err(|reason| ApiError::invalid_field("url", sentence(&reason)))?),
    };
    let events = if body.contains("events") { Some(parse_event_types(&body)?) } else { None };
    let description = body.nullable_string("description")?;
    let status = match body.nullable_string("status")? {
        None => None,
        Some(None) => return Err(not_null("status")),
        Some(Some(text)) => Some(match text.as_str() {
            "active" => EndpointStatus::Active,
            "disabled" => EndpointStatus::Disabled,
            _ => return Err(ApiError::invalid_field("status", format!("Unknown status {text:?}: use active or disabled."))),
        }),
    };
    for _ in 0..COMMIT_ATTEMPTS {
        let (mut endpoint, version) = owned_endpoint(app, &principal, id).await?;
        if let Some(url) = &url {
            endpoint.url.clone_from(url);
        }
        if let Some(events) = &events {
            endpoint.events.clone_from(events);
        }
        if let Some(description) = &description {
            endpoint.description.clone_from(description);
        }
        match status {
            Some(EndpointStatus::Active) => {
                endpoint.status = EndpointStatus::Active;
                endpoint.disabled_reason = None;
            }
            Some(EndpointStatus::Disabled) if endpoint.status == EndpointStatus::Active => {
                endpoint.status = EndpointStatus::Disabled;
                endpoint.disabled_reason = Some("disabled through the API".to_owned());
            }
            Some(EndpointStatus::Disabled) | None => {}
        }
        let op =
            WriteOp::Put { item: records::endpoint_item(&endpoint, version + 1).map_err(ApiError::internal)?, condition: Some(Condition::Version(version)) };
        match app.store.write(vec![op]).await {
            Ok(()) => return Reply::json(200, &endpoint.view(None, app.now())),
            // Changed meanwhile (a 410 disabled it, another PATCH): apply this change to that.
            Err(error) if error.lost_race() => continue,
            Err(error) => return Err(ApiError::internal(error)),
        }
    }
    Err(ApiError::concurrent_update())
}

/// A new signing secret, shown once. The replaced one keeps signing beside it for `expires_in`
/// seconds (deliveries carry both signatures, the old one last), so receivers can switch
/// without a window of failed verifications.
pub async fn rotate_secret(app: &App, secret: &ApiKeySecret, idempotency_key: Option<&str>, id: &str, body: &[u8]) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    // The body is optional: none, or `null`, asks for the defaults.
    let no_options = body.iter().all(u8::is_ascii_whitespace) || body.trim_ascii() == b"null";
    let body = JsonObject::parse(if no_options { b"{}" } else { body })?;
    let guard = IdempotencyGuard::from_header(&principal, idempotency_key, &format!("POST /v1/webhooks/{id}/rotate_secret"), &body.fingerprint())?;
    body.conform::<RotateSecretRequest>()?;
    let expires_in = if body.contains("expires_in") {
        // Any JSON number of whole seconds (`3600`, `3600.0`, `3.6e3`), as JSON Schema's integer.
        let raw = body.required_raw("expires_in")?;
        serde_json::from_str::<f64>(raw.get())
            .ok()
            .filter(|seconds| seconds.fract() == 0.0 && (0.0..=f64::from(ROTATION_OVERLAP_MAX_SECONDS)).contains(seconds))
            .map(|seconds| seconds as u32)
            .ok_or_else(|| {
                ApiError::invalid_field(
                    "expires_in",
                    format!("The 'expires_in' field must be a whole number of seconds from 0 to {ROTATION_OVERLAP_MAX_SECONDS}."),
                )
            })?
    } else {
        ROTATION_OVERLAP_DEFAULT_SECONDS
    };
    // A retry of a rotation that went through answers as it did, with the same new secret.
    if let Some(guard) = &guard
        && let Some(stored) = guard.prior_response(app).await?
    {
        return Ok(Reply::replay(stored));
    }
    for _ in 0..COMMIT_ATTEMPTS {
        let (mut endpoint, version) = owned_endpoint(app, &principal, id).await?;
        let now = app.now();
        let new_secret = WebhookSecret::generate();
        let sealed = app.vault.seal_endpoint_secret(&endpoint.id, &new_secret).await.map_err(ApiError::internal)?;
        let replaced = std::mem::replace(&mut endpoint.secret, sealed);
        // One overlap at a time: a secret replaced before its overlap ended stops signing now.
        endpoint.retiring_secret = (expires_in > 0).then(|| RetiringSecret { secret: replaced, until: now + chrono::Duration::seconds(i64::from(expires_in)) });
        let reply = Reply::json(200, &endpoint.view(Some(&new_secret), now))?;
        let mut ops = vec![WriteOp::Put {
            item: records::endpoint_item(&endpoint, version + 1).map_err(ApiError::internal)?,
            condition: Some(Condition::Version(version)),
        }];
        if let Some(guard) = &guard {
            // The response shows the secret: the idempotency record keeps it sealed.
            ops.push(guard.record_sealed_op(app, reply.status, &reply.body, now).await?);
        }
        match app.store.write(ops).await {
            Ok(()) => {
                tracing::info!(webhook_id = %endpoint.id, overlap_seconds = expires_in, "webhook secret rotated");
                return Ok(reply);
            }
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

/// The answer of `POST /v1/webhooks/{webhook_id}/test`.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct TestDeliveryView {
    pub webhook_id: String,
    /// The test event's id (the `webhook-id` header); it is not stored.
    pub event_id: String,
    /// Whether the endpoint answered 2xx.
    pub succeeded: bool,
    pub attempt: Attempt,
}

/// Sends one signed `webhook.test` event to the endpoint now (active or disabled), with the
/// same headers, signatures and address rules as a delivery, and answers with the attempt. The
/// event is not stored and retried: it is a check of the receiver.
pub async fn send_test(app: &App, dispatcher: &Dispatcher, secret: &ApiKeySecret, id: &str) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let (endpoint, _) = owned_endpoint(app, &principal, id).await?;
    let event_id = EventId::generate();
    let now = app.now();
    let event = serde_json::json!({
        "event_id": event_id.to_string(),
        "type": "webhook.test",
        "data": {"webhook_id": endpoint.id.to_string(), "message": "A test event sent with POST /v1/webhooks/{webhook_id}/test; it changes nothing."},
        "created_at": crate::domain::time::to_rfc3339(&crate::domain::time::whole_seconds(now)),
    });
    let body = serde_json::to_vec(&event).map_err(ApiError::internal)?;
    let request = dispatcher.signed_request(&endpoint, event_id.as_str(), body).await.map_err(ApiError::internal)?;
    let outcome = dispatcher.sender.send(&request).await;
    let attempt = Attempt {
        at: app.now(),
        status_code: outcome.status,
        latency_ms: u64::try_from(outcome.latency.as_millis()).unwrap_or(u64::MAX),
        error: outcome.error.clone(),
    };
    tracing::info!(webhook_id = %endpoint.id, event_id = %event_id, status_code = outcome.status.map(u64::from), detail = outcome.detail.as_deref().unwrap_or(""), "webhook test sent");
    Reply::json(200, &TestDeliveryView { webhook_id: endpoint.id.to_string(), event_id: event_id.to_string(), succeeded: outcome.succeeded(), attempt })
}

/// 204. Deliveries already made stay listed; pending ones end as failed.
pub async fn delete_endpoint(app: &App, secret: &ApiKeySecret, id: &str) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    // A change that got in between the read and the delete (the dispatcher disabling it after a
    // 410, say) does not make the merchant's delete fail: read it again and delete that.
    for _ in 0..COMMIT_ATTEMPTS {
        let (endpoint, version) = owned_endpoint(app, &principal, id).await?;
        let (mut directory, directory_version) = endpoint_directory(app, &principal).await?;
        directory.endpoints.retain(|id| *id != endpoint.id);
        let ops = vec![
            WriteOp::Delete { key: records::endpoint_key(&endpoint.id), condition: Some(Condition::Version(version)) },
            directory_op(&principal, &directory, directory_version, app.now())?,
        ];
        match app.store.write(ops).await {
            Ok(()) => return Ok(Reply::no_content()),
            Err(error) if error.lost_race() => continue,
            Err(error) => return Err(ApiError::internal(error)),
        }
    }
    Err(ApiError::concurrent_update())
}

pub async fn list_deliveries(app: &App, secret: &ApiKeySecret, webhook_id: &str, params: &[(String, String)]) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let params = ListParams::parse(params, &[])?;
    let (endpoint, _) = owned_endpoint(app, &principal, webhook_id).await?;
    let query = IndexQuery::partition(IndexName::Gsi1, records::deliveries_of(&endpoint.id), true, app.now().timestamp());
    let list = list_page(app, query, &params, |delivery: Delivery| Some(delivery.view())).await?;
    Reply::json(200, &list)
}

/// How long a DynamoDB index may take to show an item just written (typically well under it).
const INDEX_LAG: std::time::Duration = std::time::Duration::from_secs(1);

/// Re-sends one delivery now, whatever its status, and answers with the delivery after it.
pub async fn retry_delivery(app: &App, dispatcher: &Dispatcher, secret: &ApiKeySecret, webhook_id: &str, delivery_id: &str) -> Result<Reply, ApiError> {
    let principal = webhook_principal(app, secret).await?;
    let (endpoint, _) = owned_endpoint(app, &principal, webhook_id).await?;
    let not_found = || ApiError::not_found("delivery_not_found", "delivery", delivery_id, "delivery_id");
    let id = DeliveryId::parse(delivery_id).ok_or_else(not_found)?;
    let query = IndexQuery { limit: 1, ..IndexQuery::partition(IndexName::Gsi2, records::delivery_by_id(&id), false, app.now().timestamp()) };
    // The id index is eventually consistent: a delivery made a moment ago may not be in it yet,
    // so a miss is asked again once before it is a 404. (What it finds, the attempt reads again
    // by key.)
    let mut found = app.store.query(&query).await.map_err(ApiError::internal)?.pop();
    if found.is_none() {
        tokio::time::sleep(INDEX_LAG).await;
        found = app.store.query(&query).await.map_err(ApiError::internal)?.pop();
    }
    let delivery: Delivery = decode(&found.ok_or_else(not_found)?).map_err(ApiError::internal)?;
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
    let params = ListParams::parse(params, &["type", "payout_intent_id"])?;
    let event_type = match params.get("type") {
        None => None,
        Some(text) => {
            let event_type = EventType::parse(text)
                .ok_or_else(|| ApiError::invalid_parameter("type", format!("Unknown event type {text:?}: use one of {}.", event_type_names())))?;
            principal.require(event_type.feature())?;
            Some(event_type)
        }
    };
    let payout = params
        .get("payout_intent_id")
        .map(|text| {
            PayoutId::parse(text).ok_or_else(|| {
                ApiError::invalid_parameter("payout_intent_id", format!("{text:?} is not a payout intent id: those look like po_ and 24 hex digits."))
            })
        })
        .transpose()?;
    let (org, environment) = (&principal.org_id, principal.environment);
    // One payout's events are a partition of their own (a handful of records), so a type given
    // with it is a filter over that handful.
    let (index, pk) = match (&payout, event_type) {
        (Some(payout), _) => (IndexName::Gsi4, records::events_of_payout(org, environment, payout)),
        (None, Some(event_type)) => (IndexName::Gsi2, records::events_of_type(org, environment, event_type)),
        (None, None) => (IndexName::Gsi1, records::events_of(org, environment)),
    };
    let query = IndexQuery::partition(index, pk, true, app.now().timestamp());
    let wanted = |event: &Event| event_type.is_none_or(|wanted| wanted == event.event_type) && principal.require(event.event_type.feature()).is_ok();
    let list = list_page(app, query, &params, |event: Event| wanted(&event).then(|| event.view())).await?;
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
