//! Request handling of the generated HLS origin: its state, what a path
//! names, and the response to every request.

use std::sync::Arc;
#[cfg(feature = "faults")]
use std::sync::Mutex;

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use bytes::Bytes;

use crate::common::Common;
#[cfg(feature = "faults")]
use crate::common::lock;
use crate::config::OriginConfig;
use crate::content::{self, TrackContent};
use crate::faults::Fault;
use crate::live::{self, Live};
use crate::playlist::{self, IFRAMES_PATH, KEY_PATH, MASTER_PATH, Track};
use crate::redirect::{self, REDIRECT_PATH};
use crate::response::{MPEGURL, bytes_response, status_response};
use crate::signing::Tokens;

/// State shared by the [`HlsOrigin`](crate::server::HlsOrigin) handle and
/// the request handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: OriginConfig,
    pub(crate) common: Common,
    pub(crate) variants: Vec<TrackContent>,
    pub(crate) audio: Vec<TrackContent>,
    pub(crate) live: Live,
    pub(crate) tokens: Tokens,
    #[cfg(feature = "faults")]
    pub(crate) fail_after: Mutex<Option<usize>>,
}

/// What a request path names (inside the tree, after the `/m/` prefix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resource {
    Redirect,
    Master,
    Media(Track),
    IFrames,
    Init(Track),
    Segment(Track, usize),
    Packed(Track),
    Key,
}

impl Shared {
    pub(crate) fn new(config: OriginConfig, base: url::Url) -> Self {
        let variants = (0..config.variants)
            .map(|v| TrackContent::build(&config, Track::Variant(v)))
            .collect();
        let audio = (0..config.alternate_audio)
            .map(|k| TrackContent::build(&config, Track::Audio(k)))
            .collect();
        Self {
            live: Live::new(&config),
            tokens: Tokens::new(config.signed_uris),
            common: Common::new(base),
            variants,
            audio,
            config,
            #[cfg(feature = "faults")]
            fail_after: Mutex::new(None),
        }
    }

    /// The content of `track`, `None` if it is not configured.
    pub(crate) fn track(&self, track: Track) -> Option<&TrackContent> {
        match track {
            Track::Variant(v) => self.variants.get(v),
            Track::Audio(k) => self.audio.get(k),
        }
    }

    /// Consumes one unit of the segment budget; `false` means fail.
    #[cfg(feature = "faults")]
    fn take_segment_budget(&self) -> bool {
        let mut budget = lock(&self.fail_after);
        match *budget {
            None => true,
            Some(0) => false,
            Some(n) => {
                *budget = Some(n - 1);
                true
            }
        }
    }

    fn resolve(&self, path: &str, prefixed: bool) -> Option<Resource> {
        let config = &self.config;
        if path == MASTER_PATH {
            return Some(Resource::Master);
        }
        if path == KEY_PATH {
            return config.encrypted().then_some(Resource::Key);
        }
        if path == REDIRECT_PATH {
            return (config.redirect_master && !prefixed).then_some(Resource::Redirect);
        }
        if path == IFRAMES_PATH && config.alternate_audio > 0 {
            return Some(Resource::IFrames);
        }
        let (track, rest) = parse_track(path)?;
        self.track(track)?;
        match rest {
            "playlist.m3u8" => Some(Resource::Media(track)),
            "init.mp4" if config.init => Some(Resource::Init(track)),
            "all.ts" if config.byte_ranges => Some(Resource::Packed(track)),
            _ if !config.byte_ranges => {
                let i = parse_index(rest.strip_prefix("seg/")?.strip_suffix(".ts")?)?;
                (i < config.segments).then_some(Resource::Segment(track, i))
            }
            _ => None,
        }
    }

    fn key_authorized(&self, uri: &Uri, headers: &HeaderMap) -> bool {
        let query_ok = self.config.key_queries.iter().all(|(name, value)| {
            let query = uri.query().unwrap_or("");
            url::form_urlencoded::parse(query.as_bytes()).any(|(n, v)| n == *name && v == *value)
        });
        let headers_ok = self.config.key_headers.iter().all(|(name, value)| {
            headers
                .get_all(name.as_str())
                .iter()
                .any(|v| v.as_bytes() == value.as_bytes())
        });
        query_ok && headers_ok
    }
}

/// The axum handler of every request.
pub(crate) async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    tracing::trace!(%method, %uri, "HLS origin request");
    if let Some(refused) = shared.common.admit(&method, uri.path(), &headers) {
        return refused;
    }
    let response = respond(&shared, &method, &uri, &headers).await;
    let playlist = uri.path().ends_with(".m3u8");
    shared.common.dress(response, &headers, playlist).await
}

/// The answer to an admitted request.
async fn respond(shared: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    let path = uri.path();
    let config = &shared.config;
    let (base, inner, prefixed) = redirect::split(config, &shared.common.base, path);
    let Some(resource) = shared.resolve(inner, prefixed) else {
        return status_response(StatusCode::NOT_FOUND);
    };
    let fault = shared.common.fault(method, path);
    let token = shared.tokens.current();
    match resource {
        Resource::Redirect => redirect::response(),
        Resource::Master => {
            let text = playlist::master(config, &base);
            bytes_response(Bytes::from(text), MPEGURL, headers, fault)
        }
        Resource::Media(track) => {
            let Some(content) = shared.track(track) else {
                return status_response(StatusCode::NOT_FOUND);
            };
            let view = shared.live.view(token);
            let text = playlist::media(config, track, &base, content, view);
            live::playlist_response(text, headers, fault, config.etags)
        }
        Resource::IFrames => {
            let text = playlist::iframes(config, &base, &shared.variants[0], token);
            live::playlist_response(text, headers, fault, config.etags)
        }
        Resource::Init(track) => {
            if !shared.tokens.authorized(uri) {
                return status_response(StatusCode::FORBIDDEN);
            }
            match shared.track(track).and_then(|c| c.init.clone()) {
                Some(init) => bytes_response(init, "video/mp4", headers, fault),
                None => status_response(StatusCode::NOT_FOUND),
            }
        }
        Resource::Key => {
            if !shared.key_authorized(uri, headers) {
                return status_response(StatusCode::FORBIDDEN);
            }
            let key = content::served_key(config.wrapped_key);
            bytes_response(
                Bytes::copy_from_slice(&key),
                "application/octet-stream",
                headers,
                fault,
            )
        }
        Resource::Segment(track, i) => {
            let Some(content) = shared.track(track) else {
                return status_response(StatusCode::NOT_FOUND);
            };
            if !shared.live.published(i) {
                return status_response(StatusCode::NOT_FOUND);
            }
            if !shared.tokens.authorized(uri) {
                return status_response(StatusCode::FORBIDDEN);
            }
            let body = content.served[i].clone();
            segment_response(shared, body, headers, fault).await
        }
        Resource::Packed(track) => {
            let Some(content) = shared.track(track) else {
                return status_response(StatusCode::NOT_FOUND);
            };
            if !shared.tokens.authorized(uri) {
                return status_response(StatusCode::FORBIDDEN);
            }
            // Live: only the published segments are in the file so far.
            let head = shared.live.head();
            let end = head
                .checked_sub(1)
                .and_then(|last| content.ranges.get(last))
                .map_or(0, |range| range.end as usize);
            let body = content.packed.slice(..end);
            segment_response(shared, body, headers, fault).await
        }
    }
}

async fn segment_response(
    shared: &Shared,
    body: Bytes,
    headers: &HeaderMap,
    fault: Option<Fault>,
) -> Response {
    #[cfg(feature = "faults")]
    {
        if !shared.take_segment_budget() {
            return status_response(StatusCode::INTERNAL_SERVER_ERROR);
        }
        if let Some(delay) = shared.config.segment_delay {
            tokio::time::sleep(delay).await;
        }
    }
    #[cfg(not(feature = "faults"))]
    let _ = shared;
    bytes_response(body, "video/mp2t", headers, fault)
}

/// Splits `/v{v}/rest` or `/a{k}/rest` into the track and `rest`.
fn parse_track(path: &str) -> Option<(Track, &str)> {
    let rest = path.strip_prefix('/')?;
    let (dir, rest) = rest.split_once('/')?;
    let track = if let Some(v) = dir.strip_prefix('v') {
        Track::Variant(parse_index(v)?)
    } else {
        Track::Audio(parse_index(dir.strip_prefix('a')?)?)
    };
    Some((track, rest))
}

/// Parses a canonical decimal index (no sign, no leading zeros).
fn parse_index(s: &str) -> Option<usize> {
    let n = s.parse::<usize>().ok()?;
    (n.to_string() == s).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_and_track_parsing() {
        assert_eq!(parse_index("03"), None);
        assert_eq!(parse_index("3"), Some(3));
        assert_eq!(
            parse_track("/v2/seg/1.ts"),
            Some((Track::Variant(2), "seg/1.ts"))
        );
        assert_eq!(
            parse_track("/a0/playlist.m3u8"),
            Some((Track::Audio(0), "playlist.m3u8"))
        );
        assert_eq!(parse_track("/x0/playlist.m3u8"), None);
        assert_eq!(parse_track("/v01/playlist.m3u8"), None);
    }
}
