//! Structured JSON logs (one object per line), level from `RUST_LOG` (default `info`).
//! Nothing logs keys, secrets or bodies: those types do not even `Debug`-print them.

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        // Every line logged while serving a request carries its span's request id.
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}
