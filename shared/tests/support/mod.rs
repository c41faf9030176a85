//! Helpers shared by the integration tests. Each test crate uses a different subset of them,
//! hence the dead-code allowance on the module tree.
#![allow(dead_code)]

pub mod moto;
