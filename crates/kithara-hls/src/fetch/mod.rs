//! Network access: one HTTP client per session with timeouts, size limits,
//! byte ranges and retries with backoff.
//!
//! `http.rs` holds the client and one try's steps, `answer.rs` what an
//! answer means (status, body bound, body, range), `range.rs` the checks of
//! a `206`, `lines.rs` the early bound on a playlist's entries, `retry.rs`
//! when to try again, `headers.rs` extra headers, `validator.rs` the
//! `ETag` or `Last-Modified` of a conditional request.

mod answer;
mod headers;
mod http;
mod lines;
mod range;
mod retry;
mod validator;

pub use headers::header_map;
pub(crate) use http::{ClientSettings, HttpClient, HttpRequest, HttpResponse};
pub(crate) use retry::RetryPolicy;
pub(crate) use validator::Validator;
