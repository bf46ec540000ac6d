//! Faults a test injects into one path's responses: hold back the rest of a
//! body until released (to show a client got the first bytes before the
//! origin sent the last), or cut a body short after announcing its full
//! length (an origin that dies mid-body).

use std::collections::HashMap;
use std::io;
use std::sync::Mutex;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use tokio::sync::watch;

/// Holds back the rest of a body until [`Hold::release`] (or drop).
#[derive(Debug)]
pub struct Hold {
    release: watch::Sender<bool>,
}

impl Hold {
    /// Let the held-back bytes go.
    pub fn release(self) {
        // Drop sends it.
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let _ = self.release.send(true);
    }
}

#[derive(Debug, Default)]
pub(crate) struct Faults {
    holds: Mutex<HashMap<String, (usize, watch::Receiver<bool>)>>,
    cuts: Mutex<HashMap<String, usize>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Faults {
    pub(crate) fn hold(&self, path: String, after: usize) -> Hold {
        let (tx, rx) = watch::channel(false);
        lock(&self.holds).insert(path, (after, rx));
        Hold { release: tx }
    }

    pub(crate) fn cut(&self, path: String, after: Option<usize>) {
        match after {
            Some(n) => lock(&self.cuts).insert(path, n),
            None => lock(&self.cuts).remove(&path),
        };
    }

    /// The faulty response for `body` at `path`, if a fault is set for it.
    pub(crate) fn response(
        &self,
        path: &str,
        body: Bytes,
        content_type: &'static str,
    ) -> Option<Response> {
        let len = body.len();
        let stream: Body = if let Some(after) = lock(&self.cuts).get(path).copied() {
            let first = body.slice(..after.min(len));
            let first = futures_util::stream::once(async move { Ok::<_, io::Error>(first) });
            // One `Pending` first: the server flushes the head and the first
            // bytes to the socket before the body fails and the connection
            // is aborted.
            let die = futures_util::stream::once(async {
                tokio::task::yield_now().await;
                Err::<Bytes, _>(io::Error::other("the origin died mid-body"))
            });
            Body::from_stream(futures_util::StreamExt::chain(first, die))
        } else if let Some((after, mut rx)) = lock(&self.holds).get(path).cloned() {
            let (first, rest) = (body.slice(..after.min(len)), body.slice(after.min(len)..));
            let held = async move {
                let _ = rx.wait_for(|released| *released).await;
                Ok::<_, io::Error>(rest)
            };
            let first = futures_util::stream::once(async move { Ok::<_, io::Error>(first) });
            Body::from_stream(futures_util::StreamExt::chain(
                first,
                futures_util::stream::once(held),
            ))
        } else {
            return None;
        };
        let mut resp = Response::new(stream);
        *resp.status_mut() = StatusCode::OK;
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        Some(resp)
    }
}
