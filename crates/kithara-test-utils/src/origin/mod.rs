//! The loopback HLS VOD origin.

mod config;
mod content;
mod playlist;
mod range;
mod server;

pub use config::{Encryption, IvMode, OriginConfig};
pub use server::HlsOrigin;
