//! The HTTP client: `reqwest` with rustls, bounded bodies, byte ranges,
//! retries for 5xx, timeouts and connection errors; a clear error naming the
//! URL for everything else.
//!
//! Answers to a byte-range request: a `206` must carry a `Content-Range`
//! naming exactly the requested bytes (and a matching `Content-Length`, if
//! any), else it is `HlsError::BadResponse`; a `206` to a request without a
//! range is refused the same way. A `200` (a server that ignores `Range`) is
//! accepted as the whole resource: it is read up to the range end and the
//! range is cut out of it (a range ending past the size limit is `TooLarge`).

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{CONTENT_RANGE, ETAG, HeaderMap, HeaderValue, IF_NONE_MATCH, RANGE};
use reqwest::{StatusCode, redirect};
use url::Url;

use super::retry::RetryPolicy;
use crate::error::HlsError;
use crate::source::StatsCounters;

/// The most redirects followed for one request.
const MAX_REDIRECTS: usize = 10;

/// One GET request.
#[derive(Debug)]
pub(crate) struct HttpRequest<'a> {
    /// The resource (this is the URL errors name).
    pub url: &'a Url,
    /// A byte range to request (`Range: bytes=start-(end-1)`).
    pub range: Option<Range<u64>>,
    /// Extra query parameters (key requests); never part of error messages.
    pub query: &'a [(String, String)],
    /// Extra headers (key requests); never logged.
    pub headers: Option<&'a HeaderMap>,
    /// The largest body accepted.
    pub max_bytes: u64,
    /// An `ETag` from an earlier answer (`If-None-Match`): a `304` is then
    /// an answer with `not_modified` and no body.
    pub if_none_match: Option<&'a str>,
    /// For playlists: the most URI lines (segments or variants) accepted,
    /// counted while the body streams in, so a playlist of a million
    /// segments is refused after reading a little more than the bound.
    pub max_uri_lines: Option<usize>,
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    /// The body (exactly the requested range when one was asked for).
    pub bytes: Bytes,
    /// The URL after redirects (base for relative URIs of a playlist).
    pub final_url: Url,
    /// The answer's `ETag`, if any (for a conditional request next time).
    pub etag: Option<String>,
    /// A `304 Not Modified` to a conditional request: `bytes` is empty.
    pub not_modified: bool,
}

/// A cheap-to-clone HTTP client.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    client: reqwest::Client,
    policy: RetryPolicy,
    stats: Arc<StatsCounters>,
}

enum Failure {
    Retry(HlsError),
    Fatal(HlsError),
}

impl HttpClient {
    /// A client with the given timeouts and retry policy. Redirects are
    /// followed (at most 10) only to `http`/`https` URLs.
    pub(crate) fn new(
        request_timeout: Duration,
        connect_timeout: Duration,
        policy: RetryPolicy,
        stats: Arc<StatsCounters>,
    ) -> Result<Self, HlsError> {
        let redirects = redirect::Policy::custom(|attempt| {
            // `previous()` holds the URLs visited so far (the first one
            // included): refuse the redirect that would be the 11th.
            if attempt.previous().len() > MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if matches!(attempt.url().scheme(), "http" | "https") {
                attempt.follow()
            } else {
                attempt.error("redirect to a scheme other than http or https")
            }
        });
        let client = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(connect_timeout)
            .redirect(redirects)
            .user_agent(concat!("kithara-hls/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HlsError::ClientSetup {
                reason: e.to_string(),
            })?;
        Ok(Self {
            client,
            policy,
            stats,
        })
    }

    /// GET with retries. 4xx is final at once; 5xx, 408, 429, timeouts and
    /// connection errors are retried with backoff.
    pub(crate) async fn get(&self, req: &HttpRequest<'_>) -> Result<HttpResponse, HlsError> {
        let mut retry = 0;
        loop {
            match self.try_once(req).await {
                Ok(r) => return Ok(r),
                Err(Failure::Fatal(e)) => return Err(e),
                Err(Failure::Retry(e)) if retry < self.policy.retries => {
                    let delay = self.policy.delay(retry);
                    tracing::debug!(url = %req.url, error = %e, retry, ?delay, "retrying request");
                    self.stats.retry();
                    retry += 1;
                    tokio::time::sleep(delay).await;
                }
                Err(Failure::Retry(e)) => {
                    tracing::warn!(url = %req.url, error = %e, "request failed after retries");
                    return Err(e);
                }
            }
        }
    }

    async fn try_once(&self, req: &HttpRequest<'_>) -> Result<HttpResponse, Failure> {
        let url_text = req.url.to_string();
        let mut target = req.url.clone();
        if !req.query.is_empty() {
            let mut pairs = target.query_pairs_mut();
            for (k, v) in req.query {
                pairs.append_pair(k, v);
            }
        }
        let mut builder = self.client.get(target);
        if let Some(headers) = req.headers {
            builder = builder.headers(headers.clone());
        }
        if let Some(r) = &req.range {
            let value = format!("bytes={}-{}", r.start, r.end.saturating_sub(1));
            let value = HeaderValue::from_str(&value).map_err(|e| {
                Failure::Fatal(HlsError::BadResponse {
                    url: url_text.clone(),
                    reason: e.to_string(),
                })
            })?;
            builder = builder.header(RANGE, value);
        }
        let network = |source: reqwest::Error| {
            if source.is_redirect() {
                return Failure::Fatal(HlsError::Redirect {
                    url: url_text.clone(),
                    reason: innermost_message(&source),
                });
            }
            let retryable = RetryPolicy::retryable_error(&source);
            let e = HlsError::Network {
                url: url_text.clone(),
                source: Arc::new(source.without_url()),
            };
            if retryable {
                Failure::Retry(e)
            } else {
                Failure::Fatal(e)
            }
        };
        if let Some(tag) = req.if_none_match
            && let Ok(value) = HeaderValue::from_str(tag)
        {
            builder = builder.header(IF_NONE_MATCH, value);
        }
        let mut resp = builder.send().await.map_err(network)?;
        let status = resp.status();
        let etag = resp
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if status == StatusCode::NOT_MODIFIED && req.if_none_match.is_some() {
            return Ok(HttpResponse {
                bytes: Bytes::new(),
                final_url: resp.url().clone(),
                etag,
                not_modified: true,
            });
        }
        if status.is_redirection() {
            // reqwest hands back, unfollowed, a redirect whose target it will
            // not follow (e.g. `Location: file:///etc/passwd`).
            let target = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| resp.url().join(l).ok());
            let reason = match target {
                Some(t) if !matches!(t.scheme(), "http" | "https") => format!(
                    "redirect to a {}: URL; only http or https are followed",
                    t.scheme()
                ),
                _ => format!(
                    "HTTP {} redirect without a usable Location",
                    status.as_u16()
                ),
            };
            return Err(Failure::Fatal(HlsError::Redirect {
                url: url_text,
                reason,
            }));
        }
        if !status.is_success() {
            let e = HlsError::Http {
                url: url_text.clone(),
                status: status.as_u16(),
            };
            return Err(if RetryPolicy::retryable_status(status.as_u16()) {
                Failure::Retry(e)
            } else {
                Failure::Fatal(e)
            });
        }
        let final_url = resp.url().clone();
        let partial = status == StatusCode::PARTIAL_CONTENT;
        if partial {
            // A 206 must be exactly the bytes asked for; anything else would
            // be cached and played as if it were.
            check_partial(req.range.as_ref(), resp.headers(), resp.content_length()).map_err(
                |reason| {
                    Failure::Fatal(HlsError::BadResponse {
                        url: url_text.clone(),
                        reason,
                    })
                },
            )?;
        }
        // With a range the server ignored (200), read only up to the range end.
        // Without a range, read one byte past the limit at most: a body of
        // exactly `max_bytes` is accepted, anything longer is refused (never
        // silently cut).
        let want = match (&req.range, partial) {
            (Some(r), true) => r.end - r.start,
            (Some(r), false) => r.end,
            (None, _) => req.max_bytes.saturating_add(1),
        };
        if req.range.is_some() && want > req.max_bytes {
            return Err(Failure::Fatal(HlsError::TooLarge {
                url: url_text,
                limit: req.max_bytes,
            }));
        }
        if let Some(len) = resp.content_length()
            && req.range.is_none()
            && len > req.max_bytes
        {
            return Err(Failure::Fatal(HlsError::TooLarge {
                url: url_text,
                limit: req.max_bytes,
            }));
        }
        let mut body = BytesMut::new();
        let mut lines = req.max_uri_lines.map(UriLines::new);
        while let Some(chunk) = resp.chunk().await.map_err(network)? {
            // Never hold more than `want` bytes, whatever the chunk size.
            let room = want.saturating_sub(body.len() as u64);
            let take = chunk.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            body.extend_from_slice(&chunk[..take]);
            if let Some(lines) = &mut lines
                && lines.feed(&chunk[..take])
            {
                return Err(Failure::Fatal(HlsError::Playlist {
                    url: url_text,
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
            return Err(Failure::Fatal(HlsError::TooLarge {
                url: url_text,
                limit: req.max_bytes,
            }));
        }
        let bytes = match &req.range {
            None => body.freeze(),
            Some(r) => {
                let (start, end) = if partial {
                    (0, r.end - r.start)
                } else {
                    (r.start, r.end)
                };
                if (body.len() as u64) < end {
                    return Err(Failure::Retry(HlsError::BadResponse {
                        url: url_text,
                        reason: format!(
                            "byte range {}-{} requested, {} bytes received",
                            r.start,
                            r.end - 1,
                            body.len()
                        ),
                    }));
                }
                body.freeze().slice(start as usize..end as usize)
            }
        };
        Ok(HttpResponse {
            bytes,
            final_url,
            etag,
            not_modified: false,
        })
    }
}

/// `bytes START-END/TOTAL` (TOTAL may be `*`): the inclusive start and end.
fn parse_content_range(value: &str) -> Option<(u64, u64)> {
    let rest = value.trim().strip_prefix("bytes")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let (range, total) = rest.trim_start().split_once('/')?;
    let (start, end) = range.split_once('-')?;
    let digits = |s: &str| {
        let s = s.trim();
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().ok())
            .flatten()
    };
    let (start, end) = (digits(start)?, digits(end)?);
    let total = total.trim();
    if total != "*" {
        let total = digits(total)?;
        if end >= total {
            return None;
        }
    }
    (start <= end).then_some((start, end))
}

/// Check a `206 Partial Content` against the request: a range was asked for,
/// and `Content-Range` names exactly it (and `Content-Length`, if given, is
/// its length). Returns why not.
fn check_partial(
    range: Option<&Range<u64>>,
    headers: &HeaderMap,
    content_length: Option<u64>,
) -> Result<(), String> {
    let Some(r) = range else {
        return Err("206 partial content to a request without a byte range".into());
    };
    let (want_start, want_end) = (r.start, r.end.saturating_sub(1));
    let value = headers.get(CONTENT_RANGE).ok_or_else(|| {
        format!("206 without Content-Range for byte range {want_start}-{want_end}")
    })?;
    let text = value.to_str().unwrap_or("");
    let (start, end) = parse_content_range(text).ok_or_else(|| {
        format!(
            "206 with an unreadable Content-Range {text:?} for byte range {want_start}-{want_end}"
        )
    })?;
    if (start, end) != (want_start, want_end) {
        return Err(format!(
            "byte range {want_start}-{want_end} requested, {start}-{end} received"
        ));
    }
    if let Some(len) = content_length
        && len != r.end - r.start
    {
        return Err(format!(
            "byte range {want_start}-{want_end} requested, Content-Length {len}"
        ));
    }
    Ok(())
}

/// The message of the innermost error of a chain (for a refused redirect:
/// the redirect policy's reason, without the URL reqwest adds).
fn innermost_message(e: &(dyn std::error::Error + 'static)) -> String {
    let mut last: &(dyn std::error::Error + 'static) = e;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// Counts the URI lines of a playlist as it streams in: a line whose first
/// non-blank byte is ASCII and not `#`. A line starting with a non-ASCII byte
/// is not counted, so the count never exceeds what the parser's own bound
/// (`parse_media`) counts; this only makes the refusal early.
#[derive(Debug)]
struct UriLines {
    max: usize,
    count: usize,
    /// No non-blank byte seen yet on the current line.
    undecided: bool,
}

impl UriLines {
    fn new(max: usize) -> Self {
        Self {
            max,
            count: 0,
            undecided: true,
        }
    }

    /// Feed the next bytes; true once more than `max` URI lines were seen.
    fn feed(&mut self, bytes: &[u8]) -> bool {
        for &b in bytes {
            if b == b'\n' {
                self.undecided = true;
            } else if self.undecided && !b.is_ascii_whitespace() {
                self.undecided = false;
                if b.is_ascii() && b != b'#' {
                    self.count += 1;
                }
            }
        }
        self.count > self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_ranges_are_parsed_strictly() {
        assert_eq!(parse_content_range("bytes 50-149/1000"), Some((50, 149)));
        assert_eq!(parse_content_range("bytes 0-0/*"), Some((0, 0)));
        for bad in [
            "",
            "bytes",
            "bytes 50-149",
            "bytes=50-149/1000",
            "bytes50-149/1000",
            "bytes -149/1000",
            "bytes 50-/1000",
            "bytes +5-149/1000",
            "bytes 149-50/1000",
            "bytes 50-149/100",
            "bytes */1000",
            "items 50-149/1000",
            "bytes 50-18446744073709551616/*",
        ] {
            assert_eq!(parse_content_range(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_206_must_be_the_requested_range() {
        let headers = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_RANGE, HeaderValue::from_str(v).unwrap());
            h
        };
        let r = 50..150;
        assert!(check_partial(Some(&r), &headers("bytes 50-149/1000"), Some(100)).is_ok());
        assert!(check_partial(Some(&r), &headers("bytes 50-149/1000"), None).is_ok());
        assert!(check_partial(Some(&r), &headers("bytes 50-149/1000"), Some(99)).is_err());
        assert!(check_partial(Some(&r), &headers("bytes 0-99/1000"), Some(100)).is_err());
        assert!(check_partial(Some(&r), &headers("bytes 50-150/1000"), None).is_err());
        assert!(check_partial(Some(&r), &HeaderMap::new(), Some(100)).is_err());
        assert!(check_partial(None, &headers("bytes 0-9/10"), Some(10)).is_err());
    }

    #[test]
    fn uri_lines_are_counted_across_chunks() {
        let text =
            b"#EXTM3U\n#EXTINF:4,\nseg/0.ts\n\n  \r\n#EXTINF:4,\r\n  seg/1.ts\r\n#X\nseg/2.ts";
        for split in 0..text.len() {
            let mut c = UriLines::new(3);
            assert!(!c.feed(&text[..split]));
            assert!(!c.feed(&text[split..]));
            assert_eq!(c.count, 3, "split at {split}");
            let mut c = UriLines::new(2);
            let over = c.feed(&text[..split]) | c.feed(&text[split..]);
            assert!(over, "split at {split}");
        }
    }

    #[test]
    fn non_ascii_first_bytes_are_not_counted() {
        let mut c = UriLines::new(0);
        assert!(!c.feed("\u{a0}\n\u{feff}#EXTM3U\n".as_bytes()));
        assert!(c.feed(b"x\n"));
    }
}
