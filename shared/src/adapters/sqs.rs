//! SQS adapter of the tx queue port: one `SendMessage` per enqueue, the body being the
//! [`TxMessage`] as JSON (what the chain-watcher's SQS event handler decodes).

use super::dynamodb::CallCounter;
use crate::ports::queue::{QueueError, TxMessage, TxQueue};
use async_trait::async_trait;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};

pub struct SqsTxQueue {
    client: Client,
    queue_url: String,
}

impl SqsTxQueue {
    pub fn new(client: Client, queue_url: impl Into<String>) -> SqsTxQueue {
        SqsTxQueue { client, queue_url: queue_url.into() }
    }

    pub fn queue_url(&self) -> &str {
        &self.queue_url
    }
}

impl std::fmt::Debug for SqsTxQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqsTxQueue").field("queue_url", &self.queue_url).finish()
    }
}

#[async_trait]
impl TxQueue for SqsTxQueue {
    async fn enqueue(&self, message: &TxMessage) -> Result<(), QueueError> {
        let body = serde_json::to_string(message).map_err(|e| QueueError(format!("cannot encode the tx message: {e}")))?;
        self.client.send_message().queue_url(&self.queue_url).message_body(body).send().await.map_err(|error| {
            QueueError(match error.as_service_error() {
                Some(service) => format!("SQS SendMessage: {}: {}", service.code().unwrap_or("unknown error"), service.message().unwrap_or("no message")),
                None => format!("SQS SendMessage: {}", DisplayErrorContext(&error)),
            })
        })?;
        Ok(())
    }
}

/// An SQS client from `sdk_config` whose calls `counter` records.
pub fn counted_client(sdk_config: &aws_config::SdkConfig, counter: &CallCounter) -> Client {
    Client::from_conf(aws_sdk_sqs::config::Builder::from(sdk_config).interceptor(counter.clone()).build())
}

/// The webhook retry queue on SQS: each message waits `DelaySeconds` (at most 15 minutes; longer
/// waits are re-enqueued on arrival by the dispatcher).
pub struct SqsRetryQueue {
    client: Client,
    queue_url: String,
}

impl SqsRetryQueue {
    pub fn new(client: Client, queue_url: String) -> SqsRetryQueue {
        SqsRetryQueue { client, queue_url }
    }
}

#[async_trait::async_trait]
impl crate::service::dispatcher::RetryQueue for SqsRetryQueue {
    async fn schedule(&self, message: &crate::service::dispatcher::RetryMessage, delay_seconds: i64) -> Result<(), String> {
        let body = serde_json::to_string(message).map_err(|e| e.to_string())?;
        let delay = i32::try_from(delay_seconds.clamp(0, crate::service::dispatcher::MAX_QUEUE_DELAY_SECONDS)).unwrap_or(0);
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .delay_seconds(delay)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("SQS SendMessage: {}", aws_sdk_sqs::error::DisplayErrorContext(&e)))
    }
}
