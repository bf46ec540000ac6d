//! The redirected master ([`OriginConfig::redirect_master`]): `/redir/master.m3u8`
//! answers `302 Found` to `/m/master.m3u8`, and the whole tree is served again
//! under `/m/`, so a client that resolves relative URIs against the URL
//! before the redirect gets 404s.
//!
//! [`OriginConfig::redirect_master`]: crate::OriginConfig::redirect_master

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use url::Url;

use crate::config::OriginConfig;
use crate::response::status_response;
use crate::server::HlsOrigin;

/// The path that redirects.
pub(crate) const REDIRECT_PATH: &str = "/redir/master.m3u8";
/// Where it redirects to.
const TARGET_PATH: &str = "/m/master.m3u8";
/// The prefix the tree is served under again.
const PREFIX: &str = "/m/";

/// Splits a request path into the root the tree is served under (for
/// absolute URIs in playlists), the path inside the tree, and whether it
/// was under the prefix.
pub(crate) fn split<'a>(config: &OriginConfig, base: &Url, path: &'a str) -> (Url, &'a str, bool) {
    if config.redirect_master && path.starts_with(PREFIX) {
        let prefixed = base.join(&PREFIX[1..]).unwrap_or_else(|_| base.clone());
        // Keep the slash that ends the prefix: `/m/v0/x` -> `/v0/x`.
        return (prefixed, &path[PREFIX.len() - 1..], true);
    }
    (base.clone(), path, false)
}

/// `302 Found`, `Location: /m/master.m3u8`.
pub(crate) fn response() -> Response {
    let mut response = status_response(StatusCode::FOUND);
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static(TARGET_PATH));
    response
}

impl HlsOrigin {
    /// `http://127.0.0.1:PORT/redir/master.m3u8`, which answers `302 Found`
    /// to `/m/master.m3u8` with [`OriginConfig::redirect_master`] (404
    /// without).
    ///
    /// [`OriginConfig::redirect_master`]: crate::OriginConfig::redirect_master
    pub fn redirecting_master_url(&self) -> Url {
        self.shared.common.url(REDIRECT_PATH)
    }

    /// `http://127.0.0.1:PORT/m/master.m3u8`: where
    /// [`redirecting_master_url`](Self::redirecting_master_url) redirects
    /// to (404 without [`OriginConfig::redirect_master`]).
    ///
    /// [`OriginConfig::redirect_master`]: crate::OriginConfig::redirect_master
    pub fn redirected_master_url(&self) -> Url {
        self.shared.common.url(TARGET_PATH)
    }
}
