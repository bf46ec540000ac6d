//! Talking to origins: one HTTP client, the configured headers, the key
//! request extras, a bound on fetches at once, and one error type whose
//! variants decide the status a player sees.

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, RANGE};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use crate::error::{ProxyError, Refusal};
use crate::options::ProxyOptions;
use crate::stats::Counters;

/// Why an upstream fetch failed.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// Offline, or the origin cannot be reached (connect failure, timeout).
    #[error("{0}")]
    Unreachable(String),
    /// The origin answered with this status.
    #[error("origin answered {0}")]
    Status(u16),
    /// The body failed or was unusable part-way.
    #[error("{0}")]
    Body(String),
}

impl UpstreamError {
    /// The refusal a player sees for a fetch of `what` that failed so.
    pub(crate) fn refusal(&self, what: &str) -> Refusal {
        match self {
            Self::Unreachable(_) => Refusal::Offline(what.to_owned()),
            other => Refusal::Upstream(format!("{what}: {other}")),
        }
    }

    /// Whether the origin said the URL is no good (403, 404, 410): a signed
    /// URL that expired, worth a fresh playlist.
    pub(crate) fn expired(&self) -> bool {
        matches!(self, Self::Status(403 | 404 | 410))
    }
}

/// A response head and its body, holding an upstream permit until dropped.
pub(crate) struct Response {
    pub inner: reqwest::Response,
    /// The body's length as announced (for a range: the range's).
    pub len: Option<u64>,
    /// Bytes to skip at the start: an origin that answered a range request
    /// with the whole resource.
    pub skip: u64,
    _permit: OwnedSemaphorePermit,
}

/// A whole small resource (a playlist or a key).
pub(crate) struct Whole {
    pub bytes: Bytes,
    /// The URL after redirects: the base of a playlist's relative URIs.
    pub final_url: Url,
}

/// What a request is for: keys get the key extras; every request may get
/// the extra headers, but only if it goes to a host in scope (the asset's
/// top playlist's, or one the app allowed).
#[derive(Clone, Copy)]
pub(crate) struct Ask<'a> {
    pub key: bool,
    /// The asset's top playlist URL.
    pub home: &'a Url,
}

pub(crate) struct Upstream {
    /// The clients of the runtime that started the proxy (first), then of
    /// each event loop. A client's connections are driven by tasks on the
    /// runtime that opened them: with one shared client, a miss on one
    /// loop could fetch over a connection driven by the other, and every
    /// request and every piece of the body would cross between threads (a
    /// wake-up each way on the first byte's path). Each loop fetches over
    /// connections of its own instead.
    pools: Box<[Clients]>,
    headers: HeaderMap,
    key_headers: HeaderMap,
    key_query: Vec<(String, String)>,
    extras_hosts: Vec<String>,
    permits: Arc<Semaphore>,
    /// For the response head, and between two pieces of a body.
    timeout: Duration,
    offline: bool,
    stats: Arc<Counters>,
}

/// `pairs` as headers, by kithara-hls's rule (values sensitive, never
/// echoed).
fn header_map(pairs: &[(String, String)], what: &str) -> Result<HeaderMap, ProxyError> {
    kithara_hls::header_map(pairs, what).map_err(|e| ProxyError::Setup {
        reason: e.to_string(),
    })
}

/// `host` or `host:port` of `url`, as the app names hosts.
fn authority(url: &Url) -> Option<String> {
    let host = url.host_str()?;
    Some(match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    })
}

/// One runtime's HTTP clients.
struct Clients {
    /// For requests that carry no extras: redirects followed anywhere.
    client: reqwest::Client,
    /// For requests that carry extras: redirects followed by
    /// [`Upstream::send`], with the extras only on hosts in scope.
    scoped: reqwest::Client,
}

impl Upstream {
    pub(crate) fn new(opts: &ProxyOptions, stats: Arc<Counters>) -> Result<Self, ProxyError> {
        let build = |policy: reqwest::redirect::Policy| {
            reqwest::Client::builder()
                .redirect(policy)
                .connect_timeout(opts.connect_timeout)
                .user_agent(concat!("kithara-proxy/", env!("CARGO_PKG_VERSION")))
                // Ask for the origin's bytes as they are: what is cached and
                // served (with its length and ranges) is what the origin
                // stores, never a body decoded to another length.
                .no_gzip()
                .no_brotli()
                .build()
                .map_err(|e| ProxyError::Setup {
                    reason: e.to_string(),
                })
        };
        let pools = (0..=opts.event_loops)
            .map(|_| {
                Ok(Clients {
                    client: build(reqwest::redirect::Policy::limited(10))?,
                    scoped: build(reqwest::redirect::Policy::none())?,
                })
            })
            .collect::<Result<_, ProxyError>>()?;
        Ok(Self {
            pools,
            headers: header_map(&opts.headers, "header")?,
            key_headers: header_map(&opts.key_headers, "key header")?,
            key_query: opts.key_query.clone(),
            extras_hosts: opts.extras_hosts.clone(),
            permits: Arc::new(Semaphore::new(opts.limits.max_upstream.max(1))),
            timeout: opts.request_timeout,
            offline: opts.offline,
            stats,
        })
    }

    /// The clients of the calling thread's loop (those of the proxy's own
    /// runtime off the loops).
    fn pool(&self) -> &Clients {
        let at = crate::loops::current().map_or(0, |i| i + 1);
        self.pools.get(at).unwrap_or(&self.pools[0])
    }

    /// Whether `url` may receive the extras of a request for `ask`.
    fn in_scope(&self, url: &Url, ask: Ask<'_>) -> bool {
        let Some(host) = authority(url) else {
            return false;
        };
        authority(ask.home).as_deref() == Some(host.as_str())
            || self
                .extras_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(&host))
    }

    /// GET `url` (a byte `range` of it, if given): the response head, once
    /// a permit is free and the origin answered 200 (or 206 for a range).
    pub(crate) async fn get(
        &self,
        url: &Url,
        range: Option<Range<u64>>,
        ask: Ask<'_>,
    ) -> Result<Response, UpstreamError> {
        if self.offline {
            return Err(UpstreamError::Unreachable("offline".into()));
        }
        // A turn among `max_upstream`, within the request timeout: fetches
        // that hog every turn answer the others with a 504, never a hang.
        let permit = tokio::time::timeout(self.timeout, Arc::clone(&self.permits).acquire_owned())
            .await
            .map_err(|_| UpstreamError::Unreachable("every upstream turn is taken".into()))?
            .map_err(|_| UpstreamError::Unreachable("shutting down".into()))?;
        let mut url = url.clone();
        let extras = self.in_scope(&url, ask)
            && (!self.headers.is_empty()
                || (ask.key && !(self.key_headers.is_empty() && self.key_query.is_empty())));
        let mut headers = HeaderMap::new();
        if extras {
            headers.extend(self.headers.clone());
            if ask.key {
                url.query_pairs_mut().extend_pairs(&self.key_query);
                headers.extend(self.key_headers.clone());
            }
        }
        let resp = self
            .send(url.clone(), headers, extras, ask, range.as_ref())
            .await?;
        let status = resp.status();
        let (len, skip) = match (&range, status) {
            (None, StatusCode::OK) => (resp.content_length(), 0),
            (Some(r), StatusCode::PARTIAL_CONTENT) => (Some(r.end - r.start), 0),
            // An origin that ignores ranges: the range is inside the whole.
            (Some(r), StatusCode::OK) => (Some(r.end - r.start), r.start),
            _ => return Err(UpstreamError::Status(status.as_u16())),
        };
        Ok(Response {
            inner: resp,
            len,
            skip,
            _permit: permit,
        })
    }

    /// Send the GET. A request with extras goes out without following
    /// redirects: one to the same host (or another in scope) is followed
    /// with them, one elsewhere without them, so credentials never leave
    /// their hosts.
    async fn send(
        &self,
        mut url: Url,
        headers: HeaderMap,
        mut extras: bool,
        ask: Ask<'_>,
        range: Option<&Range<u64>>,
    ) -> Result<reqwest::Response, UpstreamError> {
        let pool = self.pool();
        for _ in 0..10 {
            let client = if extras { &pool.scoped } else { &pool.client };
            let mut req = client.get(url.clone());
            if extras {
                req = req.headers(headers.clone());
            }
            if let Some(r) = range {
                req = req.header(RANGE, format!("bytes={}-{}", r.start, r.end - 1));
            }
            self.stats.upstream();
            let resp = tokio::time::timeout(self.timeout, req.send())
                .await
                .map_err(|_| {
                    UpstreamError::Unreachable(format!("no answer from {} in time", host(&url)))
                })?
                .map_err(|e| {
                    if e.is_connect() || e.is_timeout() {
                        UpstreamError::Unreachable(format!("cannot reach {}", host(&url)))
                    } else {
                        UpstreamError::Body(format!("request failed: {}", e.without_url()))
                    }
                })?;
            let next = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .and_then(|l| url.join(l).ok());
            match next {
                Some(next) if extras && resp.status().is_redirection() => {
                    if !matches!(next.scheme(), "http" | "https") {
                        return Err(UpstreamError::Body("a redirect to a non-http URL".into()));
                    }
                    extras = self.in_scope(&next, ask);
                    url = next;
                }
                _ => return Ok(resp),
            }
        }
        Err(UpstreamError::Body("too many redirects".into()))
    }

    /// GET a whole small resource of at most `max` bytes.
    pub(crate) async fn get_whole(
        &self,
        url: &Url,
        ask: Ask<'_>,
        max: u64,
    ) -> Result<Whole, UpstreamError> {
        let resp = self.get(url, None, ask).await?;
        if resp.len.is_some_and(|l| l > max) {
            return Err(UpstreamError::Body(format!("larger than {max} bytes")));
        }
        let final_url = resp.inner.url().clone();
        let mut body = BytesMut::new();
        let mut chunks = std::pin::pin!(self.chunks(resp));
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk?;
            if body.len() as u64 + chunk.len() as u64 > max {
                return Err(UpstreamError::Body(format!("larger than {max} bytes")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Whole {
            bytes: body.freeze(),
            final_url,
        })
    }

    /// The body of `resp` as it arrives: exactly its range (skipping what
    /// an origin that ignored the range sent first), every piece within the
    /// timeout, and an error for a body shorter than announced.
    pub(crate) fn chunks(
        &self,
        resp: Response,
    ) -> impl futures_util::Stream<Item = Result<Bytes, UpstreamError>> + Send + use<> {
        let timeout = self.timeout;
        let stats = Arc::clone(&self.stats);
        let Response {
            inner,
            len,
            skip,
            _permit: permit,
        } = resp;
        let state = (inner.bytes_stream(), skip, 0u64, len, permit);
        futures_util::stream::unfold(Some(state), move |state| {
            let stats = Arc::clone(&stats);
            async move {
                let (mut body, mut skip, mut got, len, permit) = state?;
                loop {
                    if len.is_some_and(|l| got >= l) {
                        return None;
                    }
                    let next = match tokio::time::timeout(timeout, body.next()).await {
                        Err(_) => Some(Err(UpstreamError::Body("the origin stalled".into()))),
                        Ok(None) if len.is_some_and(|l| got < l) => Some(Err(UpstreamError::Body(
                            format!("the origin sent {got} of {} bytes", len.unwrap_or(0)),
                        ))),
                        Ok(None) => None,
                        Ok(Some(Err(e))) => Some(Err(UpstreamError::Body(format!(
                            "the origin's body failed: {}",
                            e.without_url()
                        )))),
                        Ok(Some(Ok(mut chunk))) => {
                            if skip > 0 {
                                let n = (skip as usize).min(chunk.len());
                                let _ = chunk.split_to(n);
                                skip -= n as u64;
                                if chunk.is_empty() {
                                    continue;
                                }
                            }
                            if let Some(l) = len {
                                chunk.truncate(
                                    usize::try_from(l - got)
                                        .unwrap_or(usize::MAX)
                                        .min(chunk.len()),
                                );
                            }
                            got += chunk.len() as u64;
                            stats.upstream_bytes(chunk.len());
                            Some(Ok(chunk))
                        }
                    };
                    return match next {
                        Some(Ok(chunk)) => Some((Ok(chunk), Some((body, skip, got, len, permit)))),
                        Some(Err(e)) => Some((Err(e), None)),
                        None => None,
                    };
                }
            }
        })
    }
}

/// The host of `url`, for messages (never the path or query: signed URLs
/// carry secrets there).
fn host(url: &Url) -> String {
    url.host_str().unwrap_or("the origin").to_owned()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kithara_cache::{AssetCache, CacheOptions};
    use tokio::task::JoinSet;

    use super::Upstream;
    use crate::loops::{self, Loops};
    use crate::options::ProxyOptions;

    /// What runs on a loop fetches with that loop's clients (whose
    /// connections that loop drives), what runs off the loops with the
    /// proxy runtime's: never another loop's.
    #[tokio::test]
    async fn each_event_loop_fetches_with_clients_of_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let cache = AssetCache::open(CacheOptions::new(dir.path())).unwrap();
        let up = Arc::new(
            Upstream::new(&ProxyOptions::new(cache).event_loops(2), Arc::default()).unwrap(),
        );
        assert_eq!(up.pools.len(), 3);
        let addr = |up: &Upstream| std::ptr::from_ref(up.pool()) as usize;
        let pool = |i: usize| std::ptr::from_ref(&up.pools[i]) as usize;
        assert_eq!(addr(&up), pool(0), "off the loops");
        let mut loops = Loops::start(2, 0).unwrap();
        let mut set = JoinSet::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..4 {
            let (up, tx) = (Arc::clone(&up), tx.clone());
            loops.spawn(&mut set, async move {
                let _ = tx.send((loops::current(), addr(&up)));
            });
        }
        drop(tx);
        let mut seen = Vec::new();
        while let Some(got) = rx.recv().await {
            seen.push(got);
        }
        seen.sort_unstable();
        assert_eq!(
            seen,
            vec![
                (Some(0), pool(1)),
                (Some(0), pool(1)),
                (Some(1), pool(2)),
                (Some(1), pool(2)),
            ]
        );
        while set.join_next().await.is_some() {}
        tokio::task::spawn_blocking(move || loops.join())
            .await
            .unwrap();
    }
}
