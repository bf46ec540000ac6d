//! Network access: one HTTP client with timeouts, size limits, byte ranges
//! and retries with backoff.

mod http;
mod retry;

pub(crate) use http::{HttpClient, HttpRequest, HttpResponse};
pub(crate) use retry::RetryPolicy;
