//! The loopback HLS VOD origin.

mod config;
mod content;
mod playlist;
mod server;

pub use config::{Encryption, IvMode, OriginConfig};
pub use server::HlsOrigin;
