//! What a service answers: a status and a JSON body (stored as is for idempotent replays).

use super::idempotency::StoredResponse;
use crate::error::ApiError;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    /// The JSON body; empty for 204.
    pub body: String,
    /// True when replayed from an idempotency record.
    pub replayed: bool,
}

impl Reply {
    pub fn json(status: u16, value: &impl Serialize) -> Result<Reply, ApiError> {
        Ok(Reply { status, body: serde_json::to_string(value).map_err(ApiError::internal)?, replayed: false })
    }

    pub fn no_content() -> Reply {
        Reply { status: 204, body: String::new(), replayed: false }
    }

    pub fn replay(stored: StoredResponse) -> Reply {
        Reply { status: stored.status, body: stored.body, replayed: true }
    }
}
