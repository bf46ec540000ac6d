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
            if attempt.previous().len() >= MAX_REDIRECTS {
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
        let want = match (&req.range, partial) {
            (Some(r), true) => r.end - r.start,
            (Some(r), false) => r.end,
            (None, _) => req.max_bytes,
        };
        if want > req.max_bytes {
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
        while let Some(chunk) = resp.chunk().await.map_err(network)? {
            body.extend_from_slice(&chunk);
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
