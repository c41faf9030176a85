//! payouts: non-custodial stablecoin payout orchestration.
//!
//! Layout (find any behaviour here):
//! - [`domain`]: pure types and rules — ids, money, chains and addresses, the payout state machine, events.
//! - [`ports`]: the small traits the domain talks through (store, tx queue, clock).
//! - [`adapters`]: real implementations of the ports (DynamoDB, SQS) and embedded ones (SQLite file, in-process queue).
//! - [`service`]: one pipeline per operation: validate → load → decide → persist conditionally → publish.
//! - [`http`]: request/response types, the router, the error mapping, the Lambda and local-server glue.
//! - [`config`]: configuration read from the environment, once, at start.

pub mod adapters;
pub mod admin_cli;
pub mod config;
pub mod domain;
pub mod error;
pub mod http;
pub mod jobs;
pub mod local_runner;
pub mod metrics;
pub mod ports;
pub mod runtime;
pub mod service;
pub mod telemetry;
