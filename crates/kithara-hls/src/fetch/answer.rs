//! What one answer means: its status (a success, a `304`, a refused
//! redirect, a final or a retryable error), the body size it may have, its
//! body read within that bound, and the requested range cut out of it.
//!
//! A `200` to a range request (a server that ignores `Range`) is accepted
//! as the whole resource: it is read up to the range end and the range is
//! cut out of it (a range ending past the size limit is `TooLarge`).

use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use reqwest::StatusCode;
use reqwest::header::{LOCATION, RETRY_AFTER};

use super::http::{Failure, HttpRequest, HttpResponse};
use super::lines::UriLines;
use super::range::check_partial;
use super::retry::{RetryPolicy, retry_after};
use super::validator::Validator;
use crate::error::HlsError;

/// A successful head: what reading the body needs to know.
#[derive(Debug)]
pub(super) struct Head {
    /// A `206`: the body is the requested range alone.
    pub partial: bool,
    /// The answer's validator, if any.
    pub validator: Option<Validator>,
}

/// The head's verdict: `Ok(Ok(head))` to read the body, `Ok(Err(answer))`
/// for a complete answer without one (a `304` to a conditional request),
/// `Err` for a failure.
pub(super) fn check_head(
    req: &HttpRequest<'_>,
    resp: &reqwest::Response,
) -> Result<Result<Head, HttpResponse>, Failure> {
    let status = resp.status();
    let validator = Validator::of(resp.headers());
    if status == StatusCode::NOT_MODIFIED && req.validator.is_some() {
        return Ok(Err(HttpResponse {
            bytes: Bytes::new(),
            final_url: resp.url().clone(),
            validator,
            not_modified: true,
        }));
    }
    if status.is_redirection() {
        return Err(Failure::Fatal(refused_redirect(req, resp)));
    }
    if !status.is_success() {
        return Err(failed_status(req, resp));
    }
    let partial = status == StatusCode::PARTIAL_CONTENT;
    if partial {
        check_partial(req.range.as_ref(), resp.headers(), resp.content_length())
            .map_err(|reason| Failure::Fatal(bad_response(req, reason)))?;
    }
    Ok(Ok(Head { partial, validator }))
}

/// reqwest hands back, unfollowed, a redirect whose target it will not
/// follow (e.g. `Location: file:///etc/passwd`).
fn refused_redirect(req: &HttpRequest<'_>, resp: &reqwest::Response) -> HlsError {
    let target = resp
        .headers()
        .get(LOCATION)
        .and_then(|l| l.to_str().ok())
        .and_then(|l| resp.url().join(l).ok());
    let reason = match target {
        Some(t) if !matches!(t.scheme(), "http" | "https") => format!(
            "redirect to a {}: URL; only http or https are followed",
            t.scheme()
        ),
        _ => format!(
            "HTTP {} redirect without a usable Location",
            resp.status().as_u16()
        ),
    };
    HlsError::Redirect {
        url: req.url.to_string(),
        reason,
    }
}

/// A status that is not a success: retryable (with the server's
/// `Retry-After` of a 429 or 503) or final.
fn failed_status(req: &HttpRequest<'_>, resp: &reqwest::Response) -> Failure {
    let status = resp.status().as_u16();
    let error = HlsError::Http {
        url: req.url.to_string(),
        status,
    };
    if !RetryPolicy::retryable_status(status) {
        return Failure::Fatal(error);
    }
    let after = matches!(status, 429 | 503)
        .then(|| resp.headers().get(RETRY_AFTER)?.to_str().ok())
        .flatten()
        .and_then(|v| retry_after(v, SystemTime::now()));
    Failure::Retry { error, after }
}

fn bad_response(req: &HttpRequest<'_>, reason: String) -> HlsError {
    HlsError::BadResponse {
        url: req.url.to_string(),
        reason,
    }
}

fn too_large(req: &HttpRequest<'_>) -> Failure {
    Failure::Fatal(HlsError::TooLarge {
        url: req.url.to_string(),
        limit: req.max_bytes,
    })
}

/// How many body bytes to read at most. With a range the server ignored
/// (200), only up to the range end. Without a range, one byte past the
/// limit: a body of exactly `max_bytes` is accepted, anything longer is
/// refused (never silently cut).
pub(super) fn body_limit(
    req: &HttpRequest<'_>,
    head: &Head,
    content_length: Option<u64>,
) -> Result<u64, Failure> {
    let want = match (&req.range, head.partial) {
        (Some(r), true) => r.end - r.start,
        (Some(r), false) => r.end,
        (None, _) => req.max_bytes.saturating_add(1),
    };
    let announced_too_large =
        req.range.is_none() && content_length.is_some_and(|len| len > req.max_bytes);
    if (req.range.is_some() && want > req.max_bytes) || announced_too_large {
        return Err(too_large(req));
    }
    Ok(want)
}

/// Read the body, never holding more than `want` bytes whatever the chunk
/// size; a playlist is refused as soon as it has too many URI lines.
pub(super) async fn read_body(
    req: &HttpRequest<'_>,
    mut resp: reqwest::Response,
    want: u64,
    transport: impl Fn(reqwest::Error) -> Failure,
) -> Result<BytesMut, Failure> {
    // Sized once from `Content-Length` (never above what may be kept):
    // grown by doubling, a long playlist's buffer ends up to twice its text.
    let announced = resp
        .content_length()
        .unwrap_or(0)
        .min(want)
        .min(req.max_bytes);
    let mut body = BytesMut::with_capacity(usize::try_from(announced).unwrap_or(0));
    let mut lines = req.max_uri_lines.map(UriLines::new);
    while let Some(chunk) = resp.chunk().await.map_err(&transport)? {
        let room = want.saturating_sub(body.len() as u64);
        let take = chunk.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        body.extend_from_slice(&chunk[..take]);
        if let Some(lines) = &mut lines
            && lines.feed(&chunk[..take])
        {
            return Err(Failure::Fatal(HlsError::Playlist {
                url: req.url.to_string(),
                reason: format!(
                    "more than {} segments or variants (stopped reading at {} bytes)",
                    lines.max,
                    body.len()
                ),
            }));
        }
        if body.len() as u64 >= want {
            break;
        }
    }
    if req.range.is_none() && body.len() as u64 > req.max_bytes {
        return Err(too_large(req));
    }
    Ok(body)
}

/// The requested bytes out of `body`: all of it without a range or for a
/// `206`, the range of a `200`. A body shorter than the range is a
/// retryable bad response (a connection that ended early).
pub(super) fn cut_range(
    req: &HttpRequest<'_>,
    head: &Head,
    body: BytesMut,
) -> Result<Bytes, Failure> {
    let Some(r) = &req.range else {
        return Ok(body.freeze());
    };
    let (start, end) = if head.partial {
        (0, r.end - r.start)
    } else {
        (r.start, r.end)
    };
    if (body.len() as u64) < end {
        let reason = format!(
            "byte range {}-{} requested, {} bytes received",
            r.start,
            r.end - 1,
            body.len()
        );
        return Err(Failure::Retry {
            error: bad_response(req, reason),
            after: None,
        });
    }
    Ok(body.freeze().slice(start as usize..end as usize))
}
