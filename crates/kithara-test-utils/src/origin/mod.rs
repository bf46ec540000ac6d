//! The loopback HLS VOD origin.

mod config;
mod content;
mod faults;
mod playlist;
mod range;
mod server;

pub use config::{Encryption, IvMode, OriginConfig};
pub use faults::Hold;
pub use server::HlsOrigin;
