//! The loopback HLS origins: [`HlsOrigin`] (generated content) and
//! [`DirOrigin`] (the files of a directory).

mod common;
mod config;
mod content;
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
pub use faults::Hold;
pub use server::HlsOrigin;
pub use static_dir::DirOrigin;
