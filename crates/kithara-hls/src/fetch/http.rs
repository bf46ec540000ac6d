//! The HTTP client: `reqwest` with rustls and HTTP/2 (ALPN), a cookie jar,
//! session-wide headers, a connect and an idle-read timeout, bounded
//! bodies, byte ranges, retries (honouring `Retry-After`) for 5xx, 408,
//! 429, timeouts and connection errors; a clear error naming the URL for
//! everything else.
//!
//! Playlists may come compressed (`gzip`, `br`: decoded as they stream in,
//! the size bound applies to the decoded text). Every other resource is
//! asked for as `identity`: byte ranges name bytes of the stored
//! representation, and the cache keeps exactly the bytes a range names.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT_ENCODING, HeaderMap, HeaderValue, RANGE};
use reqwest::{RequestBuilder, redirect};
use url::Url;

use super::answer::{body_limit, check_head, cut_range, read_body};
use super::retry::RetryPolicy;
use super::validator::Validator;
use crate::error::HlsError;

/// The most redirects followed for one request.
const MAX_REDIRECTS: usize = 10;

/// How the client of a session talks to servers (from the session options).
#[derive(Clone, Debug)]
pub(crate) struct ClientSettings {
    /// The time limit to connect.
    pub connect_timeout: Duration,
    /// The longest wait for the next bytes (head or body).
    pub read_timeout: Duration,
    /// The limit on one whole request, body included.
    pub request_timeout: Duration,
    /// Headers sent with every request.
    pub headers: HeaderMap,
    /// The `User-Agent` (default `kithara-hls/VERSION`).
    pub user_agent: Option<HeaderValue>,
    /// Certificates (PEM) trusted besides the built-in web roots.
    pub roots: Vec<Vec<u8>>,
    /// When to try again.
    pub policy: RetryPolicy,
}

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
    /// The validator of an earlier answer (`If-None-Match` or
    /// `If-Modified-Since`): a `304` is then an answer with `not_modified`
    /// and no body.
    pub validator: Option<&'a Validator>,
    /// For playlists: the most URI lines (segments or variants) accepted,
    /// counted while the body streams in, so a playlist of a million
    /// segments is refused after reading a little more than the bound.
    pub max_uri_lines: Option<usize>,
    /// A compressed body (`gzip`, `br`) is welcome (playlists); else the
    /// request asks for `identity`.
    pub compressed: bool,
}

/// A successful answer.
#[derive(Debug)]
pub(crate) struct HttpResponse {
    /// The body (exactly the requested range when one was asked for).
    pub bytes: bytes::Bytes,
    /// The URL after redirects (base for relative URIs of a playlist).
    pub final_url: Url,
    /// The answer's validator, if any (for a conditional request next time).
    pub validator: Option<Validator>,
    /// A `304 Not Modified` to a conditional request: `bytes` is empty.
    pub not_modified: bool,
}

/// What a [`HttpClient::get`] did: its result and the retries it took, for
/// the caller to count (the client keeps no statistics).
#[derive(Debug)]
pub(crate) struct Attempts {
    /// The answer, or the error of the last try.
    pub result: Result<HttpResponse, HlsError>,
    /// Tries after the first.
    pub retries: u32,
    /// Time spent waiting between tries.
    pub waited: Duration,
}

/// A cheap-to-clone HTTP client.
#[derive(Clone, Debug)]
pub(crate) struct HttpClient {
    client: reqwest::Client,
    policy: RetryPolicy,
    read_timeout: Duration,
    request_timeout: Duration,
}

/// Why one try failed.
pub(super) enum Failure {
    /// Worth another try, after at least `after` if the server said so.
    Retry {
        error: HlsError,
        after: Option<Duration>,
    },
    /// Final.
    Fatal(HlsError),
}

impl Failure {
    fn into_error(self) -> HlsError {
        match self {
            Failure::Retry { error, .. } | Failure::Fatal(error) => error,
        }
    }
}

impl HttpClient {
    /// A client as `settings` say, with its own cookie jar. Redirects are
    /// followed (at most 10) only to `http`/`https` URLs.
    pub(crate) fn new(settings: ClientSettings) -> Result<Self, HlsError> {
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
        let user_agent = settings
            .user_agent
            .unwrap_or(HeaderValue::from_static(concat!(
                "kithara-hls/",
                env!("CARGO_PKG_VERSION")
            )));
        let mut builder = reqwest::Client::builder();
        for pem in &settings.roots {
            let cert = reqwest::Certificate::from_pem(pem).map_err(|e| HlsError::ClientSetup {
                reason: format!("invalid root certificate: {e}"),
            })?;
            builder = builder.add_root_certificate(cert);
        }
        let client = builder
            .connect_timeout(settings.connect_timeout)
            .read_timeout(settings.read_timeout)
            .redirect(redirects)
            .user_agent(user_agent)
            .default_headers(settings.headers)
            .cookie_store(true)
            .build()
            .map_err(|e| HlsError::ClientSetup {
                reason: e.to_string(),
            })?;
        Ok(Self {
            client,
            policy: settings.policy,
            read_timeout: settings.read_timeout,
            request_timeout: settings.request_timeout,
        })
    }

    /// GET with retries. 4xx is final at once; 5xx, 408, 429, timeouts and
    /// connection errors are retried with backoff (longer if a 429 or 503
    /// says `Retry-After`).
    pub(crate) async fn get(&self, req: &HttpRequest<'_>) -> Attempts {
        let (mut retries, mut waited) = (0, Duration::ZERO);
        loop {
            let (error, after) = match self.try_within_limit(req).await {
                Ok(r) => {
                    return Attempts {
                        result: Ok(r),
                        retries,
                        waited,
                    };
                }
                Err(Failure::Retry { error, after }) if retries < self.policy.retries => {
                    (error, after)
                }
                Err(Failure::Retry { error, .. } | Failure::Fatal(error)) => {
                    tracing::debug!(url = %req.url, %error, retries, "request failed");
                    return Attempts {
                        result: Err(error),
                        retries,
                        waited,
                    };
                }
            };
            let delay = self.policy.delay(retries, after);
            tracing::debug!(url = %req.url, %error, retries, ?delay, "retrying request");
            retries += 1;
            waited += delay;
            tokio::time::sleep(delay).await;
        }
    }

    /// The length of the resource at `url` as a `HEAD` answers it
    /// (`Content-Length`, asked for as `identity`); `None` when it has none.
    /// One try: a caller that needs the bytes can still download them.
    pub(crate) async fn content_length(&self, url: &Url) -> Result<Option<u64>, HlsError> {
        let head = self
            .client
            .head(url.clone())
            .header(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        let sent = tokio::time::timeout(self.request_timeout, head.send()).await;
        let resp = match sent {
            Err(_) => {
                return Err(HlsError::TimedOut {
                    url: url.to_string(),
                    limit: self.request_timeout,
                });
            }
            Ok(Err(e)) => return Err(self.transport_failure(url, e).into_error()),
            Ok(Ok(resp)) => resp,
        };
        if !resp.status().is_success() {
            return Err(HlsError::Http {
                url: url.to_string(),
                status: resp.status().as_u16(),
            });
        }
        // reqwest's `content_length()` is the body's size hint, empty for a
        // HEAD answer: read the header itself.
        Ok(resp
            .headers()
            .get(reqwest::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok()))
    }

    /// One try, within the whole-request limit.
    async fn try_within_limit(&self, req: &HttpRequest<'_>) -> Result<HttpResponse, Failure> {
        let limit = self.request_timeout;
        tokio::time::timeout(limit, self.try_once(req))
            .await
            .unwrap_or_else(|_| {
                Err(Failure::Retry {
                    error: HlsError::TimedOut {
                        url: req.url.to_string(),
                        limit,
                    },
                    after: None,
                })
            })
    }

    async fn try_once(&self, req: &HttpRequest<'_>) -> Result<HttpResponse, Failure> {
        let transport = |e| self.transport_failure(req.url, e);
        let resp = self.request(req)?.send().await.map_err(transport)?;
        let final_url = resp.url().clone();
        let head = match check_head(req, &resp)? {
            Ok(head) => head,
            Err(complete) => return Ok(complete),
        };
        let want = body_limit(req, &head, resp.content_length())?;
        let body = read_body(req, resp, want, transport).await?;
        Ok(HttpResponse {
            bytes: cut_range(req, &head, body)?,
            final_url,
            validator: head.validator,
            not_modified: false,
        })
    }

    /// The request as `req` describes it.
    fn request(&self, req: &HttpRequest<'_>) -> Result<RequestBuilder, Failure> {
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
        if !req.compressed {
            builder = builder.header(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
        }
        if let Some(r) = &req.range {
            let value = format!("bytes={}-{}", r.start, r.end.saturating_sub(1));
            let value = HeaderValue::from_str(&value).map_err(|e| {
                Failure::Fatal(HlsError::BadResponse {
                    url: req.url.to_string(),
                    reason: e.to_string(),
                })
            })?;
            builder = builder.header(RANGE, value);
        }
        if let Some((name, value)) = req.validator.map(Validator::condition)
            && let Ok(value) = HeaderValue::from_str(value)
        {
            builder = builder.header(name, value);
        }
        Ok(builder)
    }

    /// A failure to connect, send or read: a refused redirect is final, no
    /// bytes for the read timeout is [`HlsError::Stalled`], the rest is a
    /// network error, retried unless reqwest says it cannot succeed.
    fn transport_failure(&self, url: &Url, source: reqwest::Error) -> Failure {
        let url = url.to_string();
        if source.is_redirect() {
            return Failure::Fatal(HlsError::Redirect {
                url,
                reason: innermost_message(&source),
            });
        }
        // A connect timeout is a connection error; with no whole-request
        // timeout in reqwest, any other timeout is the idle one.
        if source.is_timeout() && !source.is_connect() {
            let error = HlsError::Stalled {
                url,
                idle: self.read_timeout,
            };
            return Failure::Retry { error, after: None };
        }
        let retryable = RetryPolicy::retryable_error(&source);
        let error = HlsError::Network {
            url,
            source: Arc::new(source.without_url()),
        };
        if retryable {
            Failure::Retry { error, after: None }
        } else {
            Failure::Fatal(error)
        }
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
