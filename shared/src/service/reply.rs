//! What a service answers: a status and a JSON body (stored as is for idempotent replays), or a
//! CSV export.

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
    /// `Some(file name)`: the body is a CSV document, offered for download under that name.
    pub csv_file: Option<String>,
}

impl Reply {
    pub fn json(status: u16, value: &impl Serialize) -> Result<Reply, ApiError> {
        Ok(Reply { status, body: serde_json::to_string(value).map_err(ApiError::internal)?, replayed: false, csv_file: None })
    }

    /// JSON text already serialized (a stored document).
    pub fn stored_json(status: u16, body: String) -> Reply {
        Reply { status, body, replayed: false, csv_file: None }
    }

    pub fn no_content() -> Reply {
        Reply { status: 204, body: String::new(), replayed: false, csv_file: None }
    }

    pub fn replay(stored: StoredResponse) -> Reply {
        Reply { status: stored.status, body: stored.body, replayed: true, csv_file: None }
    }

    pub fn csv(body: String, file_name: &str) -> Reply {
        Reply { status: 200, body, replayed: false, csv_file: Some(file_name.to_owned()) }
    }
}
