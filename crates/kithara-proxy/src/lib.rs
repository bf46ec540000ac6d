//! # kithara-proxy
//!
//! A loopback caching HLS proxy: a player (ffmpeg, mpv, AVPlayer,
//! ExoPlayer, hls.js) opens `http://127.0.0.1:PORT/<token>/play?url=<HLS
//! URL>` and streams through a [`kithara_cache::AssetCache`]: a track
//! played once plays again offline, the cache stays under its limit, and
//! the track playing is never evicted.
//!
//! ```no_run
//! use kithara_cache::{AssetCache, CacheOptions};
//! use kithara_proxy::{Proxy, ProxyOptions};
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let cache = AssetCache::open(CacheOptions::new("/tmp/kithara").max_bytes(1 << 30))?;
//! let proxy = Proxy::start(ProxyOptions::new(cache)).await?;
//! let url = proxy.url_for(&"https://cdn.example.com/t/master.m3u8".parse()?);
//! // Hand `url` to the player; later:
//! proxy.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! ## What it does
//!
//! - Playlists are served with every URI pointing back at the proxy, under
//!   the cache layout of [`kithara_hls::layout`] (so `kithara fetch` and the
//!   proxy share files); everything else in them passes through.
//! - A miss is a streaming tee: the origin's bytes reach the player as they
//!   arrive, while they are written to the cache; the resource is committed
//!   only when whole. One upstream fetch per resource, however many
//!   players ask.
//! - Live playlists are fetched again once older than half their target
//!   duration; VOD playlists come from the cache. An expired signed URL
//!   (403/404/410) makes the proxy fetch its playlist again once.
//! - Offline (or with the origin down) everything cached plays; a miss is a
//!   504.
//! - An asset being served is pinned until 30 s after its last request.
//! - Closed to everyone but the app that started it: loopback only, a
//!   random 128-bit token in every path, the `Host` pinned, only URLs that
//!   came through `play?url=` or a playlist it served are ever fetched.
//!
//! ## Not a goal
//!
//! Low-latency HLS parts (their tags are dropped; players fall back to
//! whole segments); HTTP/2 to players; caching anything but HLS.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod asset;
mod conn;
mod error;
mod flight;
mod guard;
mod handler;
mod keys;
mod live;
mod loops;
mod media;
mod options;
mod playlist;
mod respond;
mod route;
mod server;
mod stats;
mod tee;
mod upstream;

pub use error::ProxyError;
pub use options::{Limits, ProxyOptions};
pub use server::Proxy;
pub use stats::ProxyStats;
