//! The command line, as clap derives it.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Download HLS tracks for offline play, replay them, and manage the cache.
#[derive(Debug, Parser)]
#[command(name = "kithara", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options every command takes, before or after the subcommand.
#[derive(Debug, Args)]
pub struct Global {
    /// Cache directory [default: $KITHARA_CACHE_DIR, else the platform cache dir + kithara]
    #[arg(long, global = true, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Size limit of the whole cache, e.g. 512MiB, 2GB or bytes [default: the stored value, else 1GiB]
    #[arg(long, global = true, value_name = "SIZE", value_parser = crate::size::parse)]
    pub max_bytes: Option<u64>,
}

/// The subcommands; none means `demo`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a generated HLS track on loopback, cache it, replay it offline, and check the bytes
    Demo,
    /// Download everything needed to play a VOD offline
    Fetch(FetchArgs),
    /// Write a stream's media bytes (init + decrypted segments), reading through the cache
    Read(ReadArgs),
    /// List cached assets
    Ls {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Print cache totals
    Stats {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Evict least-recently-used assets until the cache fits its limit
    Gc,
    /// Check the index against the file system and every resource against its length and digest (exit 3: problems found)
    Verify {
        /// Fix what is wrong: rebuild the index, remove exactly the bad resources
        #[arg(long)]
        repair: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Run a local caching HLS proxy that players stream through; prints its base URL
    Serve(ServeArgs),
    /// Remove one asset by URL or id (a prefix of at least 8 hex digits)
    Rm {
        /// Master playlist URL or asset id
        target: String,
    },
}

/// `kithara fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Master (or media) playlist URL
    pub url: String,
    /// Variant: an index (0-based, master order), all, highest or lowest
    #[arg(long, default_value = "highest")]
    pub variant: String,
    /// Extra header for key requests, 'Name: value' (repeatable)
    #[arg(long = "key-header", value_name = "'NAME: VALUE'")]
    pub key_headers: Vec<String>,
    /// Extra query parameter for key requests, k=v (repeatable)
    #[arg(long = "key-query", value_name = "K=V")]
    pub key_queries: Vec<String>,
    /// Record a live playlist for DURATION (90s, 5m, 1h) instead of refusing
    /// it; the recording plays with `read --offline` (a VOD is fetched whole)
    #[arg(long = "live-for", value_name = "DURATION", value_parser = crate::duration::parse)]
    pub live_for: Option<std::time::Duration>,
}

/// `kithara serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; a non-loopback address also needs --allow-remote
    #[arg(long, default_value = "127.0.0.1:0", value_name = "ADDR")]
    pub listen: std::net::SocketAddr,
    /// Allow listening on a non-loopback address (every path still needs the token)
    #[arg(long)]
    pub allow_remote: bool,
    /// Never contact an origin: serve what is cached, 504 for the rest
    #[arg(long)]
    pub offline: bool,
    /// Extra header for key requests, 'Name: value' (repeatable)
    #[arg(long = "key-header", value_name = "'NAME: VALUE'")]
    pub key_headers: Vec<String>,
    /// Extra query parameter for key requests, k=v (repeatable)
    #[arg(long = "key-query", value_name = "K=V")]
    pub key_queries: Vec<String>,
}

/// `kithara read`.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Master (or media) playlist URL
    pub url: String,
    /// Variant: an index (0-based, master order), highest or lowest
    #[arg(long, default_value = "highest")]
    pub variant: String,
    /// Never touch the network; a missing resource is an error
    #[arg(long)]
    pub offline: bool,
    /// Write to FILE instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Extra header for key requests, 'Name: value' (repeatable)
    #[arg(long = "key-header", value_name = "'NAME: VALUE'")]
    pub key_headers: Vec<String>,
    /// Extra query parameter for key requests, k=v (repeatable)
    #[arg(long = "key-query", value_name = "K=V")]
    pub key_queries: Vec<String>,
}
