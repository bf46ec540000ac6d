//! Writing: a write is staged (a temp file beside its destination, or a
//! buffer in memory), finished without any lock, then committed through the
//! `Store` layers; in-flight writes are registered so that they count
//! against `max_bytes` and hold their asset for a while.

mod in_flight;
pub(crate) mod staged;
mod view;
mod writer;

pub(crate) use in_flight::{InFlight, Share};
pub(crate) use staged::Staged;
pub use view::WriterView;
pub use writer::AssetWriter;
