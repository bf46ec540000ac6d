//! What the proxy tests share: a loopback origin, a cache in a temp dir, a
//! proxy over it, and a small HLS "player" that reads playlists as a
//! player does (line by line, its own parsing) and fetches every resource
//! through the proxy.
#![allow(dead_code)]

use std::time::Duration;

use bytes::Bytes;
use kithara_cache::{AssetCache, CacheOptions, Durability};
use kithara_proxy::{Proxy, ProxyOptions};
use kithara_test_utils::{HlsOrigin, OriginConfig};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use tempfile::TempDir;
use url::Url;

pub struct Setup {
    pub origin: HlsOrigin,
    pub dir: TempDir,
    pub cache: AssetCache,
    pub proxy: Proxy,
}

pub fn open_cache(dir: &std::path::Path, max: u64) -> AssetCache {
    AssetCache::open(
        CacheOptions::new(dir)
            .max_bytes(max)
            .durability(Durability::Buffered),
    )
    .unwrap()
}

/// An origin serving `config`, a 64 MiB cache, and a proxy set up by `opts`.
pub async fn start(config: OriginConfig, opts: impl FnOnce(ProxyOptions) -> ProxyOptions) -> Setup {
    let origin = HlsOrigin::start(config).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path(), 64 << 20);
    let proxy = Proxy::start(opts(ProxyOptions::new(cache.clone())))
        .await
        .unwrap();
    Setup {
        origin,
        dir,
        cache,
        proxy,
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

pub struct Got {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Got {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.to_vec()).unwrap()
    }
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    }
}

pub async fn get(url: &Url) -> Got {
    get_with(url, &[]).await
}

pub async fn get_with(url: &Url, headers: &[(&str, &str)]) -> Got {
    let mut req = client().get(url.clone());
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let resp = req.send().await.unwrap();
    Got {
        status: resp.status(),
        headers: resp.headers().clone(),
        body: resp.bytes().await.unwrap(),
    }
}

/// The proxy URL of segment `i` of variant 0, once the playlists are loaded.
pub async fn segment_url(s: &Setup, i: usize) -> Url {
    let master = s.proxy.url_for(&s.origin.master_url());
    let media = master.join(&uris(&get(&master).await.text())[0]).unwrap();
    media.join(&uris(&get(&media).await.text())[i]).unwrap()
}

/// The URIs of a playlist (URI lines and `URI="..."` attributes), in order.
pub fn uris(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() {
            continue;
        }
        if !line.starts_with('#') {
            out.push(line.to_owned());
        } else if let Some(i) = line.find("URI=\"") {
            let rest = &line[i + 5..];
            out.push(rest[..rest.find('"').unwrap()].to_owned());
        }
    }
    out
}

/// What a player got from one variant through the proxy.
pub struct Played {
    /// The media playlist as served.
    pub playlist: String,
    /// Init segment (if any), then every segment, as served (ciphertext
    /// when encrypted).
    pub media: Vec<Bytes>,
    /// The key as served, if the variant is encrypted.
    pub key: Option<Bytes>,
}

/// Play variant `v` of the master at `master` (a proxy URL): the master,
/// its `v`-th variant playlist, then the init segment, key and segments in
/// order. Panics on any status but 200.
pub async fn play(master: &Url, v: usize) -> Played {
    let m = get(master).await;
    assert_eq!(m.status, 200, "{}", m.text());
    let text = m.text();
    let variants: Vec<String> = text
        .lines()
        .scan(false, |after_inf, l| {
            let is_uri = *after_inf && !l.starts_with('#') && !l.trim().is_empty();
            *after_inf = l.starts_with("#EXT-X-STREAM-INF") || (*after_inf && !is_uri);
            Some(is_uri.then(|| l.trim().to_owned()))
        })
        .flatten()
        .collect();
    let media_url = master.join(&variants[v]).unwrap();
    play_media(&media_url).await
}

/// Play the media playlist at `url` (a proxy URL).
pub async fn play_media(url: &Url) -> Played {
    let p = get(url).await;
    assert_eq!(p.status, 200, "{}", p.text());
    let playlist = p.text();
    let mut media = Vec::new();
    let mut key = None;
    for line in playlist.lines().map(str::trim) {
        let uri = if let Some(i) = line.find("URI=\"") {
            let rest = &line[i + 5..];
            rest[..rest.find('"').unwrap()].to_owned()
        } else if !line.starts_with('#') && !line.is_empty() {
            line.to_owned()
        } else {
            continue;
        };
        let got = get(&url.join(&uri).unwrap()).await;
        assert_eq!(
            got.status,
            200,
            "{uri}: {}",
            String::from_utf8_lossy(&got.body)
        );
        if line.starts_with("#EXT-X-KEY") {
            key = Some(got.body);
        } else {
            media.push(got.body);
        }
    }
    Played {
        playlist,
        media,
        key,
    }
}

/// Every byte variant `v` of `origin` serves, in the order a player reads
/// them (init, then each segment as served).
pub fn served(origin: &HlsOrigin, v: usize, segments: usize) -> Vec<Bytes> {
    origin
        .init_bytes(v)
        .into_iter()
        .chain((0..segments).map(|i| origin.segment_served_bytes(v, i)))
        .map(Bytes::from)
        .collect()
}

/// Wait (bounded) until `f` holds; panics after 10 s. For conditions that
/// another task brings about (a request reaching the origin).
pub async fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// [`until`] for a condition that needs requests: `f` is awaited each turn.
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The token of a proxy (its base URL's path).
pub fn token(p: &kithara_proxy::Proxy) -> String {
    p.base_url().path().trim_matches('/').to_owned()
}
