//! Where each resource of an asset lives in the cache: the one naming rule
//! that the client, `kithara fetch` and the proxy share, so that a track
//! fetched by one plays offline through the others.
//!
//! ```text
//! master.m3u8 | media.m3u8        the playlist the asset was opened with
//! v{n}/playlist.m3u8              variant n's media playlist
//! r{n}/playlist.m3u8              rendition n's (EXT-X-MEDIA with a URI)
//! i{n}/playlist.m3u8              I-frame playlist n's
//! {dir}/init.{ext}, init-{k}.ext  init segments, by first use
//! {dir}/seg/{sequence:06}.{ext}   media segments, by media sequence number
//! keys/{sha256(url)}.key          processed keys
//! {playlist}.url                  a redirected playlist's final URL
//! ```
//!
//! A top media playlist (no master) keeps its media under `v0`.

use kithara_cache::CachePath;
use sha2::{Digest, Sha256};
use url::Url;

use crate::error::HlsError;
use crate::playlist::extension_of;

/// The cache path of the top playlist: `master.m3u8` or `media.m3u8`.
pub fn top(master: bool) -> CachePath {
    path(if master { "master.m3u8" } else { "media.m3u8" })
}

/// The directory of variant `n`'s media (also of a top media playlist, `v0`).
pub fn variant_dir(n: usize) -> String {
    format!("v{n}")
}

/// The directory of rendition `n`'s media.
pub fn rendition_dir(n: usize) -> String {
    format!("r{n}")
}

/// The directory of I-frame playlist `n`'s media.
pub fn iframe_dir(n: usize) -> String {
    format!("i{n}")
}

/// The media playlist of the media in `dir`.
pub fn playlist(dir: &str) -> Result<CachePath, HlsError> {
    Ok(CachePath::parse(&format!("{dir}/playlist.m3u8"))?)
}

/// Init segment `k` (in order of first use) of the media in `dir`.
pub fn init(dir: &str, k: usize, url: &Url) -> Result<CachePath, HlsError> {
    let ext = extension_of(url, "mp4");
    Ok(CachePath::parse(&if k == 0 {
        format!("{dir}/init.{ext}")
    } else {
        format!("{dir}/init-{k}.{ext}")
    })?)
}

/// The media segment of media sequence number `sequence` in `dir`. Named by
/// sequence, not position, so that a live window that slides, or a playlist
/// fetched again with new URLs, names the same segment the same way.
pub fn segment(dir: &str, sequence: u64, url: &Url) -> Result<CachePath, HlsError> {
    let ext = extension_of(url, "ts");
    Ok(CachePath::parse(&format!("{dir}/seg/{sequence:06}.{ext}"))?)
}

/// The processed key of `url`: `keys/<sha256(url)>.key`.
pub fn key(url: &Url) -> Result<CachePath, HlsError> {
    let digest = Sha256::digest(url.as_str().as_bytes());
    Ok(CachePath::parse(&format!(
        "keys/{}.key",
        hex::encode(digest)
    ))?)
}

/// Where a redirected playlist's final URL (the base of its relative URIs)
/// is recorded.
pub fn final_url(playlist: &CachePath) -> Result<CachePath, HlsError> {
    Ok(CachePath::parse(&format!("{playlist}.url"))?)
}

/// A fixed, valid name.
fn path(s: &'static str) -> CachePath {
    // Both names are plain file names that `CachePath` accepts.
    CachePath::parse(s).unwrap_or_else(|_| unreachable!("{s} is a valid cache path"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let u = |s: &str| Url::parse(s).unwrap();
        assert_eq!(top(true).to_string(), "master.m3u8");
        assert_eq!(top(false).to_string(), "media.m3u8");
        assert_eq!(
            playlist(&rendition_dir(2)).unwrap().to_string(),
            "r2/playlist.m3u8"
        );
        assert_eq!(
            segment("v1", 42, &u("http://h/a/x.AAC?t=1"))
                .unwrap()
                .to_string(),
            "v1/seg/000042.aac"
        );
        assert_eq!(
            segment("v1", 12_345_678, &u("http://h/a/x"))
                .unwrap()
                .to_string(),
            "v1/seg/12345678.ts"
        );
        assert_eq!(
            init("v0", 0, &u("http://h/i.m4s")).unwrap().to_string(),
            "v0/init.m4s"
        );
        assert_eq!(
            init("v0", 2, &u("http://h/i")).unwrap().to_string(),
            "v0/init-2.mp4"
        );
        let k = key(&u("https://k.example/key?id=1")).unwrap().to_string();
        assert_eq!(k.len(), "keys/".len() + 64 + ".key".len());
        assert_ne!(
            k,
            key(&u("https://k.example/key?id=2")).unwrap().to_string()
        );
        assert_eq!(
            final_url(&top(true)).unwrap().to_string(),
            "master.m3u8.url"
        );
    }
}
