//! The HTTPS client under the Lambda functions' AWS SDK clients.
//!
//! The SDK's default client loads and parses the machine's whole root store (every file under
//! `/etc/ssl/certs`, about 150 certificates) when a service client is built, which is most of a
//! function's init. AWS service endpoints (DynamoDB, SQS, EventBridge, KMS, SSM, their FIPS and
//! VPC endpoints too) present Amazon Trust Services certificates, so the functions trust exactly
//! those roots, compiled in: Amazon Root CA 1–4 and Starfield Services Root CA G2, which
//! cross-signs them (AWS's published trust requirements). No file is read at start, and a
//! certificate misissued by any other CA is not accepted for our AWS calls.
//!
//! The webhook and JSON-RPC clients talk to merchants' and providers' servers, so they keep the
//! full web PKI (`webhook_sender`, `rpc_chain`). Processes outside Lambda (the local runner,
//! `payouts-admin`) keep the SDK's default client: a developer's machine may sit behind a proxy
//! with its own root.

use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The PEM roots, as Debian's `ca-certificates` ships them.
const AMAZON_TRUST_SERVICES_ROOTS: &[u8] = include_bytes!("aws_http/amazon-trust-services-roots.pem");

/// An HTTPS client (rustls on aws-lc, as the SDK's default) trusting only
/// [`AMAZON_TRUST_SERVICES_ROOTS`].
pub fn amazon_roots_client() -> Result<SharedHttpClient, String> {
    let trust_store = TrustStore::empty().with_native_roots(false).with_pem_certificate(AMAZON_TRUST_SERVICES_ROOTS);
    let context = TlsContext::builder().with_trust_store(trust_store).build().map_err(|e| format!("the AWS clients' TLS set-up: {e}"))?;
    Ok(aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc)).tls_context(context).build_https())
}

#[cfg(test)]
mod tests;
