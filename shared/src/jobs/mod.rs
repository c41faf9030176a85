//! Non-HTTP Lambda handlers: each takes the platform's event JSON and hands it to a service.

pub mod reconciliation;
pub mod watcher;
pub mod webhooks;

use crate::ports::chain::ChainError;
use crate::ports::store::StoreError;
use crate::service::watcher::WatchError;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse};

/// Whether running the same invocation again can succeed: what an operator (or an alarm on the
/// error type) needs to know first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retry {
    /// A dependency was unavailable or a write lost a race; the trigger's retry, or the next
    /// scheduled run, may well succeed.
    Retryable,
    /// Retrying the same input gives the same failure (a corrupt record, for one).
    Permanent,
}

/// What went wrong in a job, as Lambda records it (`errorType` and `errorMessage`). The
/// message is short and fixed per cause, never an RPC URL, key or record body; the details
/// go to the function's log, where they were logged with their context.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{cause}: {message}")]
pub struct JobError {
    pub retry: Retry,
    /// A stable name for the cause (`StoreUnavailable`, `ChainUnavailable`, …).
    pub cause: &'static str,
    pub message: String,
}

impl JobError {
    /// `Retryable.StoreUnavailable`, `Permanent.CorruptRecord`: the `errorType` Lambda reports.
    pub fn error_type(&self) -> String {
        let retry = match self.retry {
            Retry::Retryable => "Retryable",
            Retry::Permanent => "Permanent",
        };
        format!("{retry}.{}", self.cause)
    }
}

impl From<StoreError> for JobError {
    fn from(error: StoreError) -> Self {
        tracing::error!(error = %error, "store error");
        let (retry, cause, message) = match error {
            StoreError::ConditionFailed { .. } | StoreError::Contention => (Retry::Retryable, "StoreContention", "a concurrent write won; nothing was lost"),
            // Jobs are never metered; should one ever be, waiting for the next window is right.
            StoreError::Unavailable(_) | StoreError::LimitReached => (Retry::Retryable, "StoreUnavailable", "the table could not be read or written"),
            StoreError::Corrupt(_) => (Retry::Permanent, "CorruptRecord", "a record in the table does not decode"),
        };
        JobError { retry, cause, message: message.to_owned() }
    }
}

impl From<ChainError> for JobError {
    fn from(error: ChainError) -> Self {
        tracing::error!(error = %error, "chain error");
        JobError { retry: Retry::Retryable, cause: "ChainUnavailable", message: "a chain's JSON-RPC endpoint did not answer usefully".to_owned() }
    }
}

impl From<WatchError> for JobError {
    fn from(error: WatchError) -> Self {
        match error {
            WatchError::Store(error) => error.into(),
            WatchError::Chain(error) => error.into(),
        }
    }
}

impl From<JobError> for lambda_runtime::Diagnostic {
    fn from(error: JobError) -> Self {
        lambda_runtime::Diagnostic { error_type: error.error_type(), error_message: error.message }
    }
}

#[cfg(test)]
mod tests;

/// An SQS consumer's answer: the messages that failed, which SQS redelivers (partial batch
/// responses; every other message of the batch is acknowledged).
pub(crate) fn batch_response(failed_message_ids: Vec<String>) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed_message_ids
        .into_iter()
        .map(|message_id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = message_id;
            failure
        })
        .collect();
    response
}
