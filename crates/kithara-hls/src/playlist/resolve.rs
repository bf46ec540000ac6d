//! URL resolution and the URL policy: only `http` and `https` are ever fetched.

use url::Url;

use crate::error::HlsError;

/// Accept `url` only if it is `http` or `https` with a host.
pub(crate) fn check_scheme(url: &Url) -> Result<(), HlsError> {
    match url.scheme() {
        "http" | "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(HlsError::UnsupportedScheme {
            url: url.to_string(),
        }),
    }
}

/// Parse the URL a caller gave and apply the policy.
pub(crate) fn parse_session_url(url: &str) -> Result<Url, HlsError> {
    let parsed = Url::parse(url).map_err(|e| HlsError::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    check_scheme(&parsed)?;
    Ok(parsed)
}

/// Resolve a URI written in a playlist against the playlist's (final) URL and
/// apply the policy: a remote playlist may never point at a local file or any
/// other scheme.
pub(crate) fn resolve(base: &Url, uri: &str) -> Result<Url, HlsError> {
    let trimmed = uri.trim();
    if trimmed.is_empty() {
        return Err(HlsError::InvalidUrl {
            url: uri.to_owned(),
            reason: "empty URI".to_owned(),
        });
    }
    let url = base.join(trimmed).map_err(|e| HlsError::InvalidUrl {
        url: uri.to_owned(),
        reason: e.to_string(),
    })?;
    check_scheme(&url)?;
    Ok(url)
}

/// A key URI: like [`resolve`], and also an inline `data:` URI (RFC 2397;
/// the key is in the playlist itself).
pub(crate) fn resolve_key(base: &Url, uri: &str) -> Result<Url, HlsError> {
    let trimmed = uri.trim();
    if trimmed
        .get(..5)
        .is_some_and(|s| s.eq_ignore_ascii_case("data:"))
    {
        return Url::parse(trimmed).map_err(|e| HlsError::InvalidUrl {
            url: "data: URI".to_owned(),
            reason: e.to_string(),
        });
    }
    resolve(base, uri)
}

/// The extension of the last path segment of `url` when it is a short
/// alphanumeric word (used to name cached files), else `default`.
pub(crate) fn extension_of(url: &Url, default: &'static str) -> String {
    let last = url
        .path_segments()
        .and_then(|mut s| s.next_back())
        .unwrap_or("");
    match last.rsplit_once('.') {
        Some((stem, ext))
            if !stem.is_empty()
                && !ext.is_empty()
                && ext.len() <= 8
                && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            ext.to_ascii_lowercase()
        }
        _ => default.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://cdn.example.com/a/b/master.m3u8?tok=1").unwrap()
    }

    #[test]
    fn relative_absolute_and_root_relative_uris_resolve() {
        assert_eq!(
            resolve(&base(), "v0/seg1.ts").unwrap().as_str(),
            "https://cdn.example.com/a/b/v0/seg1.ts"
        );
        assert_eq!(
            resolve(&base(), "/x/y.ts").unwrap().as_str(),
            "https://cdn.example.com/x/y.ts"
        );
        assert_eq!(
            resolve(&base(), "../k.key").unwrap().as_str(),
            "https://cdn.example.com/a/k.key"
        );
        assert_eq!(
            resolve(&base(), "http://other.example/z.ts")
                .unwrap()
                .as_str(),
            "http://other.example/z.ts"
        );
        assert_eq!(
            resolve(&base(), "//other.example/z.ts").unwrap().as_str(),
            "https://other.example/z.ts"
        );
    }

    #[test]
    fn non_http_schemes_are_rejected() {
        for uri in [
            "file:///etc/passwd",
            "FILE:///etc/passwd",
            "data:text/plain,hi",
            "ftp://h/x.ts",
            "javascript:alert(1)",
            "skd://key",
        ] {
            let err = resolve(&base(), uri).unwrap_err();
            assert!(
                matches!(err, HlsError::UnsupportedScheme { .. }),
                "{uri}: {err}"
            );
        }
        assert!(matches!(
            parse_session_url("file:///tmp/master.m3u8"),
            Err(HlsError::UnsupportedScheme { .. })
        ));
        assert!(matches!(
            parse_session_url("not a url"),
            Err(HlsError::InvalidUrl { .. })
        ));
        assert!(matches!(
            resolve(&base(), "  "),
            Err(HlsError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn extensions_are_sanitised() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(extension_of(&u("http://h/a/seg.TS?x=1"), "ts"), "ts");
        assert_eq!(extension_of(&u("http://h/a/init.mp4"), "mp4"), "mp4");
        assert_eq!(extension_of(&u("http://h/a/seg"), "ts"), "ts");
        assert_eq!(extension_of(&u("http://h/a/.hidden"), "ts"), "ts");
        assert_eq!(extension_of(&u("http://h/a/x.a%2Fb"), "ts"), "ts");
        assert_eq!(extension_of(&u("http://h/a/x.verylongext"), "m4s"), "m4s");
        assert_eq!(extension_of(&u("http://h/"), "ts"), "ts");
    }
}
