//! Test helpers for the kithara workspace.
//!
//! * [`HlsOrigin`], [`DirOrigin`] and the rest of `kithara-origin`,
//!   re-exported with its `faults` feature on (forced statuses, failing,
//!   delayed, held and cut bodies), so tests write `kithara_test_utils::HlsOrigin`.
//! * [`count_files_recursive`], [`dir_nonempty_recursive`],
//!   [`assert_dir_not_empty`]: small file-system assertions for cache tests.
//! * [`bench`](mod@bench): scratch directories and criterion medians for the benchmarks.
//!
//! See `kithara-origin` for the URL scheme and the content.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod bench;
mod fs;

pub use fs::{
    assert_dir_not_empty, corpus, count_files_recursive, dir_nonempty_recursive, files_recursive,
    panic_message,
};
pub use kithara_origin::{
    Compression, DirOrigin, Encryption, HlsOrigin, Hold, IvMode, OriginConfig,
};
