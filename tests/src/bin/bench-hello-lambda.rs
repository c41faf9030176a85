//! The cold-start benchmark's baseline (`bench-cold-start`): a hello-world `lambda_http`
//! function, with the same runtime flavour and release profile as the service's functions.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    lambda_http::run(lambda_http::service_fn(|_request: lambda_http::Request| async {
        Ok::<_, std::convert::Infallible>(lambda_http::Response::new(lambda_http::Body::from("hello")))
    }))
    .await
}
