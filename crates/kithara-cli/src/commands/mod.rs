//! One module per subcommand.

pub mod config;
pub mod demo;
pub mod docs;
pub mod fetch;
pub mod gc;
pub mod info;
pub mod keep;
pub mod ls;
pub mod read;
pub mod rm;
pub mod serve;
pub mod stats;
pub mod verify;
