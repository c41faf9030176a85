//! Port implementations: the real ones (AWS) and the embedded ones (local runs, unit tests).

pub mod dynamodb;
pub mod embedded_store;
pub mod memory_queue;
pub mod sqs;
