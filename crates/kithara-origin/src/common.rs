//! What every loopback origin keeps besides its content: its base URL, the
//! request counters and headers, the forced statuses and the faults, and
//! what is added to answers (compression, a cookie).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use tokio::sync::watch;
use url::Url;

use crate::encoding::{Compression, compress};

use crate::faults::Fault;
#[cfg(feature = "faults")]
use crate::faults::{Faults, Hold};
use crate::response::status_response;

/// Counters, status overrides and faults of one origin.
#[derive(Debug)]
pub(crate) struct Common {
    pub(crate) base: Url,
    total: AtomicUsize,
    /// Bumped after each request is recorded, for waiters (no polling).
    arrivals: watch::Sender<usize>,
    stats: Mutex<Stats>,
    dress: Mutex<Dress>,
    #[cfg(feature = "faults")]
    statuses: Mutex<HashMap<String, u16>>,
    /// A status (and `Retry-After`) for the next request of a path only.
    #[cfg(feature = "faults")]
    once: Mutex<HashMap<String, (u16, Option<String>)>>,
    #[cfg(feature = "faults")]
    faults: Faults,
}

#[derive(Debug, Default)]
struct Stats {
    per_path: HashMap<String, usize>,
    log: Vec<String>,
    /// The headers of every request, with its path, in arrival order.
    heads: Vec<(String, HeaderMap)>,
    /// The method of every request, with its path, in arrival order.
    methods: Vec<(String, String)>,
}

/// What is added to answers.
#[derive(Debug, Default)]
struct Dress {
    compression: Option<Compression>,
    cookie: Option<HeaderValue>,
}

impl Common {
    pub(crate) fn new(base: Url) -> Self {
        Self {
            base,
            total: AtomicUsize::new(0),
            arrivals: watch::channel(0).0,
            stats: Mutex::new(Stats::default()),
            dress: Mutex::new(Dress::default()),
            #[cfg(feature = "faults")]
            statuses: Mutex::new(HashMap::new()),
            #[cfg(feature = "faults")]
            once: Mutex::new(HashMap::new()),
            #[cfg(feature = "faults")]
            faults: Faults::default(),
        }
    }

    /// `path` (absolute, or relative to the root) as a URL of this origin.
    pub(crate) fn url(&self, path: &str) -> Url {
        self.base
            .join(path.trim_start_matches('/'))
            .unwrap_or_else(|_| self.base.clone())
    }

    /// What every request goes through first: it is counted (with its
    /// headers), then refused if its method is not `GET`/`HEAD` (405) or a
    /// status is forced for its path. `None`: go on.
    pub(crate) fn admit(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Option<Response> {
        self.record(method, path, headers);
        if method != Method::GET && method != Method::HEAD {
            return Some(status_response(StatusCode::METHOD_NOT_ALLOWED));
        }
        #[cfg(feature = "faults")]
        if let Some((code, retry_after)) = lock(&self.once).remove(path) {
            let mut response = status_response(
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            );
            if let Some(value) = retry_after.and_then(|v| HeaderValue::from_str(&v).ok()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return Some(response);
        }
        #[cfg(feature = "faults")]
        if let Some(code) = lock(&self.statuses).get(path).copied() {
            return Some(status_response(
                StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            ));
        }
        None
    }

    /// The fault to apply to a successful response body for `path`; never
    /// for `HEAD`.
    pub(crate) fn fault(&self, method: &Method, path: &str) -> Option<Fault> {
        if method == Method::HEAD {
            return None;
        }
        #[cfg(feature = "faults")]
        return self.faults.get(path);
        #[cfg(not(feature = "faults"))]
        {
            let _ = path;
            None
        }
    }

    fn record(&self, method: &Method, path: &str, headers: &HeaderMap) {
        self.total.fetch_add(1, Ordering::SeqCst);
        let mut stats = lock(&self.stats);
        *stats.per_path.entry(path.to_owned()).or_default() += 1;
        stats.log.push(path.to_owned());
        stats.heads.push((path.to_owned(), headers.clone()));
        stats.methods.push((path.to_owned(), method.to_string()));
        drop(stats);
        self.arrivals.send_modify(|n| *n += 1);
    }

    /// Waits until `done` holds, testing it again after each request
    /// recorded from now on.
    pub(crate) async fn wait_until(&self, mut done: impl FnMut() -> bool) {
        // Subscribed before the first test: no request slips between the two.
        let mut arrivals = self.arrivals.subscribe();
        while !done() {
            // The sender lives as long as `self`: `changed` cannot fail.
            if arrivals.changed().await.is_err() {
                return;
            }
        }
    }

    /// For each request of `path` so far, in order, its header `name`
    /// (several values joined with `", "`), `None` where it had none.
    pub(crate) fn request_headers(&self, path: &str, name: &str) -> Vec<Option<String>> {
        let key = normalize_path(path);
        lock(&self.stats)
            .heads
            .iter()
            .filter(|(p, _)| *p == key)
            .map(|(_, headers)| {
                let values: Vec<_> = headers
                    .get_all(name)
                    .iter()
                    .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                    .collect();
                (!values.is_empty()).then(|| values.join(", "))
            })
            .collect()
    }

    /// The method of each request of `path` so far, in order.
    pub(crate) fn request_methods(&self, path: &str) -> Vec<String> {
        let key = normalize_path(path);
        lock(&self.stats)
            .methods
            .iter()
            .filter(|(p, _)| *p == key)
            .map(|(_, m)| m.clone())
            .collect()
    }

    pub(crate) fn compress(&self, coding: Option<Compression>) {
        lock(&self.dress).compression = coding;
    }

    /// Sets the `Set-Cookie` of playlist answers; an invalid value is none.
    pub(crate) fn set_cookie(&self, cookie: Option<&str>) {
        lock(&self.dress).cookie = cookie.and_then(|c| HeaderValue::from_str(c).ok());
    }

    /// `response` as sent: with the cookie when it answers a `playlist`
    /// successfully, compressed when the request accepts the coding.
    pub(crate) async fn dress(
        &self,
        mut response: Response,
        request: &HeaderMap,
        playlist: bool,
    ) -> Response {
        let (compression, cookie) = {
            let dress = lock(&self.dress);
            (dress.compression, dress.cookie.clone())
        };
        if let Some(cookie) = cookie.filter(|_| playlist && response.status().is_success()) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
        match compression {
            Some(coding) => compress(response, request, coding).await,
            None => response,
        }
    }

    pub(crate) fn requests(&self, path: &str) -> usize {
        let key = normalize_path(path);
        lock(&self.stats).per_path.get(&key).copied().unwrap_or(0)
    }

    pub(crate) fn total_requests(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }

    pub(crate) fn request_log(&self) -> Vec<String> {
        lock(&self.stats).log.clone()
    }

    pub(crate) fn reset_requests(&self) {
        let mut stats = lock(&self.stats);
        stats.per_path.clear();
        stats.log.clear();
        stats.heads.clear();
        stats.methods.clear();
        self.total.store(0, Ordering::SeqCst);
    }

    #[cfg(feature = "faults")]
    pub(crate) fn set_status(&self, path: &str, status: Option<u16>) {
        let key = normalize_path(path);
        let mut statuses = lock(&self.statuses);
        match status {
            Some(code) => statuses.insert(key, code),
            None => statuses.remove(&key),
        };
    }

    #[cfg(feature = "faults")]
    pub(crate) fn fail_next(&self, path: &str, status: u16, retry_after: Option<&str>) {
        lock(&self.once).insert(
            normalize_path(path),
            (status, retry_after.map(str::to_owned)),
        );
    }

    #[cfg(feature = "faults")]
    pub(crate) fn trickle(&self, path: &str, chunk: usize, every: std::time::Duration) {
        self.faults.trickle(normalize_path(path), chunk, every);
    }

    #[cfg(feature = "faults")]
    pub(crate) fn hold(&self, path: &str, after: usize) -> Hold {
        self.faults.hold(normalize_path(path), after)
    }

    #[cfg(feature = "faults")]
    pub(crate) fn cut(&self, path: &str, after: Option<usize>) {
        self.faults.cut(normalize_path(path), after);
    }
}

/// Reduces a path or full URL to the counter key: the path without query.
pub(crate) fn normalize_path(path: &str) -> String {
    if let Ok(url) = Url::parse(path)
        && url.has_host()
    {
        return url.path().to_owned();
    }
    let path = path.split(['?', '#']).next().unwrap_or(path);
    if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_normalization() {
        assert_eq!(normalize_path("/key.bin?token=1"), "/key.bin");
        assert_eq!(normalize_path("v0/seg/1.ts"), "/v0/seg/1.ts");
        assert_eq!(
            normalize_path("http://127.0.0.1:1/v0/all.ts?x"),
            "/v0/all.ts"
        );
    }
}
