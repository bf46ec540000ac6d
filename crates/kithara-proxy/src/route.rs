//! What a request asks for: the token, then `play?url=` or an asset's
//! resource. Anything else is 404, decided before any other work.

use kithara_cache::{AssetId, CachePath};
use subtle::ConstantTimeEq;
use url::form_urlencoded;

use crate::error::Refusal;

/// A request the proxy serves.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `<base>play?url=<upstream top playlist>`.
    Play(String),
    /// `<base>a/<asset id>/<cache path>`: a resource of an asset.
    Asset { id: AssetId, path: CachePath },
}

/// The route of `path` (`/<token>/...`) and `query`, for a proxy whose
/// token is `token`.
pub(crate) fn route(path: &str, query: Option<&str>, token: &str) -> Result<Route, Refusal> {
    let rest = path.strip_prefix('/').ok_or(Refusal::NotFound)?;
    let (given, rest) = rest.split_once('/').ok_or(Refusal::NotFound)?;
    // Constant time: a page probing the port learns nothing from timing.
    if !bool::from(given.as_bytes().ct_eq(token.as_bytes())) {
        return Err(Refusal::NotFound);
    }
    if rest == "play" {
        let url = form_urlencoded::parse(query.unwrap_or("").as_bytes())
            .find(|(k, _)| k == "url")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| Refusal::BadRequest("play needs ?url=<playlist URL>".into()))?;
        return Ok(Route::Play(url));
    }
    let rest = rest.strip_prefix("a/").ok_or(Refusal::NotFound)?;
    let (id, path) = rest.split_once('/').ok_or(Refusal::NotFound)?;
    let id: AssetId = id.parse().map_err(|_| Refusal::NotFound)?;
    // Only the names the proxy writes into playlists exist; anything that
    // is not even a valid cache path cannot be one of them.
    let path = CachePath::parse(path).map_err(|_| Refusal::Forbidden("not a resource path"))?;
    Ok(Route::Asset { id, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "0123456789abcdef0123456789abcdef";

    fn id() -> AssetId {
        AssetId::from_key(b"x")
    }

    #[test]
    fn routes() {
        assert_eq!(
            route(
                &format!("/{T}/play"),
                Some("url=https%3A%2F%2Fh%2Fm.m3u8%3Fa%3D1"),
                T
            ),
            Ok(Route::Play("https://h/m.m3u8?a=1".into()))
        );
        let path = format!("/{T}/a/{}/v0/seg/000001.ts", id().to_hex());
        assert_eq!(
            route(&path, None, T),
            Ok(Route::Asset {
                id: id(),
                path: CachePath::parse("v0/seg/000001.ts").unwrap()
            })
        );
    }

    #[test]
    fn everything_else_is_not_found() {
        let other = "f".repeat(32);
        let a = id().to_hex();
        for path in [
            "/".to_owned(),
            format!("/{T}"),
            format!("/{T}/"),
            format!("/{other}/play"),
            format!("/{T}x/play"),
            format!("/{T}/playx"),
            format!("/{T}/a/{a}"),
            format!("/{T}/a/1234/v0/playlist.m3u8"),
            format!("/{T}/b/{a}/v0/playlist.m3u8"),
            format!("/x/../{T}/play"),
        ] {
            assert_eq!(
                route(&path, Some("url=x"), T),
                Err(Refusal::NotFound),
                "{path}"
            );
        }
        for path in [
            format!("/{T}/a/{a}/../../etc/passwd"),
            format!("/{T}/a/{a}/v0//x"),
            format!("/{T}/a/{a}/"),
        ] {
            assert!(
                matches!(route(&path, None, T), Err(Refusal::Forbidden(_))),
                "{path}"
            );
        }
        assert!(matches!(
            route(&format!("/{T}/play"), None, T),
            Err(Refusal::BadRequest(_))
        ));
    }
}
