//! The HTTP client: `reqwest` with rustls, bounded bodies, byte ranges,
//! retries for 5xx, timeouts and connection errors; a clear error naming the
//! URL for everything else.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use reqwest::header::{HeaderMap, HeaderValue, RANGE};
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
                source: source.without_url(),
            };
            if retryable {
                Failure::Retry(e)
            } else {
                Failure::Fatal(e)
            }
        };
        let mut resp = builder.send().await.map_err(network)?;
        let status = resp.status();
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
        Ok(HttpResponse { bytes, final_url })
    }
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
    use super::UriLines;

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
