//! Network access: one HTTP client with timeouts, size limits, byte ranges
//! and retries with backoff.

mod headers;
mod http;
mod retry;

pub use headers::header_map;
pub(crate) use http::{HttpClient, HttpRequest, HttpResponse};
pub(crate) use retry::RetryPolicy;
