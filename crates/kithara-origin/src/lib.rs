//! A loopback HLS origin: serves a generated (or on-disk) HLS VOD or live
//! stream on `127.0.0.1:<ephemeral port>`, for `kithara demo`, the tests
//! and the benchmarks.
//!
//! * [`HlsOrigin`]: a real HTTP origin that serves a deterministic HLS
//!   stream (master playlist, media playlists, optional init segments,
//!   media segments, optional AES-128 keys) with request counters. It runs
//!   on its own thread with its own tokio runtime, so it can be used from
//!   plain `#[test]`s, from `#[tokio::test]`s and from binaries. Live
//!   playlists, signed segment URLs, a redirected master and alternate
//!   audio renditions are opt-in.
//! * [`DirOrigin`]: the same kind of server for the files of a directory.
//!
//! # Features
//!
//! * `faults` (off by default): fault injection for tests — forced
//!   statuses ([`HlsOrigin::set_status`]), failing segments after a budget
//!   ([`HlsOrigin::set_fail_after`]), a delay before every segment
//!   ([`OriginConfig::segment_delay`]), held bodies ([`HlsOrigin::hold`],
//!   [`Hold`]) and bodies cut short ([`HlsOrigin::cut`]). Without it none of
//!   this is compiled, so a product that serves the origin (the `kithara`
//!   binary's `demo`) cannot break it.
//!
//! The public handles are in `server.rs` ([`HlsOrigin`]) and
//! `static_dir.rs` ([`DirOrigin`]); request handling is in `handler.rs`,
//! `response.rs` and `range.rs`. See the crate `README.md` for the URL
//! scheme and the content.
//!
//! ```
//! use kithara_origin::{Encryption, HlsOrigin, IvMode, OriginConfig};
//!
//! let origin = HlsOrigin::start(
//!     OriginConfig::default()
//!         .variants(2)
//!         .segments(8)
//!         .encryption(Encryption::Aes128 { iv: IvMode::MediaSequence }),
//! )?;
//! assert_eq!(origin.master_url().path(), "/master.m3u8");
//! assert!(origin.expected_stream(0).starts_with(b"V0-SEG-0:"));
//! origin.stop();
//! # Ok::<(), std::io::Error>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod common;
mod config;
mod content;
mod encoding;
#[cfg_attr(not(feature = "faults"), path = "no_faults.rs")]
mod faults;
mod handler;
mod live;
mod playlist;
mod range;
mod redirect;
mod renditions;
mod response;
mod runtime;
mod server;
mod signing;
mod static_dir;

pub use config::{Encryption, IvMode, OriginConfig};
pub use encoding::Compression;
#[cfg(feature = "faults")]
pub use faults::Hold;
pub use runtime::Stopped;
pub use server::HlsOrigin;
pub use static_dir::DirOrigin;
