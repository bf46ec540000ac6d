//! Test helpers for the kithara workspace.
//!
//! * [`HlsOrigin`]: a real HTTP origin on `127.0.0.1` that serves a
//!   deterministic HLS VOD (master playlist, media playlists, optional init
//!   segments, media segments, optional AES-128 keys), with request counters
//!   and fault injection. It runs on its own thread with its own tokio
//!   runtime, so it can be used from plain `#[test]`s, from `#[tokio::test]`s
//!   and from binaries.
//! * [`count_files_recursive`], [`dir_nonempty_recursive`],
//!   [`assert_dir_not_empty`]: small file-system assertions for cache tests.
//! * [`bench`]: scratch directories and criterion medians for the benchmarks.
//!
//! See [`HlsOrigin`] for the URL scheme and the crate `README.md` for more.
//!
//! ```
//! use kithara_test_utils::{Encryption, HlsOrigin, IvMode, OriginConfig};
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

pub mod bench;
mod fs;
mod origin;

pub use fs::{
    assert_dir_not_empty, corpus, count_files_recursive, dir_nonempty_recursive, files_recursive,
    panic_message,
};
pub use origin::{Encryption, HlsOrigin, Hold, IvMode, OriginConfig};
