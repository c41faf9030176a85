//! The operator dashboard: static files compiled into the binary (`shared/dashboard/`), served
//! on the API's own origin under `/dashboard/`, so the page calls the API with no CORS and works
//! with the network unplugged. The page signs in with an API key and uses the public API only.

use super::{ApiRequest, ApiResponse};
use bytes::Bytes;
use http::{Method, StatusCode};

/// The page's files: (path under `/dashboard/`, media type, contents).
const ASSETS: [(&str, &str, &str); 4] = [
    ("index.html", "text/html; charset=utf-8", include_str!("../../dashboard/index.html")),
    ("app.js", "text/javascript; charset=utf-8", include_str!("../../dashboard/app.js")),
    ("style.css", "text/css; charset=utf-8", include_str!("../../dashboard/style.css")),
    ("favicon.svg", "image/svg+xml", include_str!("../../dashboard/favicon.svg")),
];

/// Scripts, styles, images and API calls from this origin only; no inline script or style, no
/// framing, no plugins, forms post nowhere else.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Whether a path is the dashboard's.
pub fn owns(path: &str) -> bool {
    path == "/dashboard" || path.starts_with("/dashboard/")
}

fn with_security_headers(mut response: ApiResponse) -> ApiResponse {
    response.headers.extend([
        ("content-security-policy", CONTENT_SECURITY_POLICY.to_owned()),
        ("x-content-type-options", "nosniff".to_owned()),
        ("referrer-policy", "no-referrer".to_owned()),
        ("x-frame-options", "DENY".to_owned()),
        ("cache-control", "no-cache".to_owned()),
    ]);
    response
}

/// Serves one dashboard path: a file, the page itself for the folder, or a 404.
pub fn serve(request: &ApiRequest) -> ApiResponse {
    if request.method != Method::GET && request.method != Method::HEAD {
        let mut response = ApiResponse { status: StatusCode::METHOD_NOT_ALLOWED, headers: vec![("allow", "GET, HEAD".to_owned())], body: Bytes::new() };
        response.headers.push(("content-type", "text/plain; charset=utf-8".to_owned()));
        return with_security_headers(response);
    }
    if request.path == "/dashboard" {
        // Relative to the folder from here on.
        return with_security_headers(ApiResponse { status: StatusCode::FOUND, headers: vec![("location", "/dashboard/".to_owned())], body: Bytes::new() });
    }
    let file = request.path.trim_start_matches("/dashboard/");
    let file = if file.is_empty() { "index.html" } else { file };
    let response = match ASSETS.iter().find(|(name, _, _)| *name == file) {
        Some((_, media_type, contents)) => {
            let body = if request.method == Method::HEAD { Bytes::new() } else { Bytes::from_static(contents.as_bytes()) };
            ApiResponse { status: StatusCode::OK, headers: vec![("content-type", (*media_type).to_owned())], body }
        }
        None => ApiResponse {
            status: StatusCode::NOT_FOUND,
            headers: vec![("content-type", "text/plain; charset=utf-8".to_owned())],
            body: Bytes::from_static(b"Not found\n"),
        },
    };
    with_security_headers(response)
}
