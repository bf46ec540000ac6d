//! What every loopback origin keeps besides its content: its base URL, the
//! request counters, the forced statuses and the faults.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use axum::http::{Method, StatusCode};
use axum::response::Response;
use url::Url;

use crate::faults::Fault;
#[cfg(feature = "faults")]
use crate::faults::{Faults, Hold};
use crate::response::status_response;

/// Counters, status overrides and faults of one origin.
#[derive(Debug)]
pub(crate) struct Common {
    pub(crate) base: Url,
    total: AtomicUsize,
    stats: Mutex<Stats>,
    #[cfg(feature = "faults")]
    statuses: Mutex<HashMap<String, u16>>,
    #[cfg(feature = "faults")]
    faults: Faults,
}

#[derive(Debug, Default)]
struct Stats {
    per_path: HashMap<String, usize>,
    log: Vec<String>,
}

impl Common {
    pub(crate) fn new(base: Url) -> Self {
        Self {
            base,
            total: AtomicUsize::new(0),
            stats: Mutex::new(Stats::default()),
            #[cfg(feature = "faults")]
            statuses: Mutex::new(HashMap::new()),
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

    /// What every request goes through first: it is counted, then refused
    /// if its method is not `GET`/`HEAD` (405) or a status is forced for
    /// its path. `None`: go on.
    pub(crate) fn admit(&self, method: &Method, path: &str) -> Option<Response> {
        self.record(path);
        if method != Method::GET && method != Method::HEAD {
            return Some(status_response(StatusCode::METHOD_NOT_ALLOWED));
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

    fn record(&self, path: &str) {
        self.total.fetch_add(1, Ordering::SeqCst);
        let mut stats = lock(&self.stats);
        *stats.per_path.entry(path.to_owned()).or_default() += 1;
        stats.log.push(path.to_owned());
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
