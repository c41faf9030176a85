//! Port implementations: the real ones (AWS) and the embedded ones (local runs, unit tests).

pub mod aws_http;
pub mod dynamodb;
pub mod embedded_store;
pub mod eventbridge;
pub mod kms;
pub mod local_keys;
pub mod memory_bus;
pub mod memory_queue;
pub mod notifying_store;
pub mod rpc_chain;
pub mod sqs;
pub mod ssm;
pub mod webhook_sender;
