//! Signed, expiring segment URLs: `?token=<generation>` on segment and init
//! URIs, 403 for any other token, and a rotation that expires the old ones.

use std::sync::atomic::{AtomicU64, Ordering};

use axum::http::Uri;

use crate::server::HlsOrigin;

/// The token generation, when signing is on.
#[derive(Debug)]
pub(crate) struct Tokens {
    enabled: bool,
    generation: AtomicU64,
}

impl Tokens {
    pub(crate) fn new(enabled: bool) -> Self {
        Self {
            enabled,
            generation: AtomicU64::new(1),
        }
    }

    /// The token playlists carry now, `None` when not signing.
    pub(crate) fn current(&self) -> Option<u64> {
        self.enabled.then(|| self.generation.load(Ordering::SeqCst))
    }

    /// Whether a segment or init request may be served: always when not
    /// signing, else only with `token=<current generation>` in its query.
    pub(crate) fn authorized(&self, uri: &Uri) -> bool {
        let Some(current) = self.current() else {
            return true;
        };
        let current = current.to_string();
        let query = uri.query().unwrap_or("");
        url::form_urlencoded::parse(query.as_bytes()).any(|(n, v)| n == "token" && v == current)
    }
}

impl HlsOrigin {
    /// With [`OriginConfig::signed_uris`](crate::OriginConfig::signed_uris):
    /// moves to the next token generation. URIs of playlists fetched before
    /// now get 403; a freshly fetched media playlist carries the new token.
    /// Does nothing when not signing.
    pub fn rotate_tokens(&self) {
        if self.shared.tokens.enabled {
            self.shared.tokens.generation.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The current token generation (starts at 1), `None` when not signing.
    pub fn token_generation(&self) -> Option<u64> {
        self.shared.tokens.current()
    }
}
