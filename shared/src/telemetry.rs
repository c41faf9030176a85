//! Structured JSON logs (one object per line), level from `RUST_LOG` (default `info`).
//! Nothing logs keys, secrets or bodies: those types do not even `Debug`-print them.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_target(false)
        .try_init();
}
