//! Building responses: plain statuses, and bodies that honour a single
//! `Range: bytes=...` request (206 / 416) and the path's fault.

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use crate::faults::Fault;
use crate::range::{RangeRequest, parse_range};

/// Content type of playlists.
pub(crate) const MPEGURL: &str = "application/vnd.apple.mpegurl";

/// A short text body `"{code} {reason}\n"` with `status`.
pub(crate) fn status_response(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("status");
    (status, format!("{} {reason}\n", status.as_u16())).into_response()
}

/// Serves `body`, honouring a single `Range: bytes=...` request; `fault`
/// (see [`Fault`]) is applied to the body of a 200 or 206 response.
pub(crate) fn bytes_response(
    body: Bytes,
    content_type: &'static str,
    headers: &HeaderMap,
    fault: Option<Fault>,
) -> Response {
    let len = body.len() as u64;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|v| parse_range(v, len));
    let (status, body, content_range) = match range {
        None | Some(RangeRequest::Ignore) => (StatusCode::OK, body, None),
        Some(RangeRequest::Unsatisfiable) => {
            let mut response = status_response(StatusCode::RANGE_NOT_SATISFIABLE);
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{len}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return response;
        }
        Some(RangeRequest::Satisfiable(r)) => {
            let content_range = format!("bytes {}-{}/{len}", r.start, r.end - 1);
            let slice = body.slice(r.start as usize..r.end as usize);
            (StatusCode::PARTIAL_CONTENT, slice, Some(content_range))
        }
    };
    let body_len = body.len();
    let mut response = match fault {
        None => Response::new(Body::from(body)),
        Some(fault) => {
            let mut response = Response::new(fault.body(body));
            // A streamed body has no known length: announce the full one.
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
            response
        }
    };
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Some(value) = content_range.and_then(|v| HeaderValue::from_str(&v).ok()) {
        headers.insert(header::CONTENT_RANGE, value);
    }
    response
}
