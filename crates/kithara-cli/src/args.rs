//! The command line, as clap derives it.

use std::path::PathBuf;

use clap::{ArgAction, Args, Parser, Subcommand};
use clap_complete::Shell;

use crate::session::{parse_header, parse_query, parse_user_agent, parse_valid_header};
use crate::variant::{FetchVariant, parse_fetch, parse_one};
use kithara_hls::VariantSelect;

/// Download HLS tracks for offline play, replay them, and manage the cache.
///
/// Exit status: 0 success, 1 runtime error, 2 usage error, 3 `verify` found problems.
#[derive(Debug, Parser)]
#[command(
    name = "kithara",
    version,
    about,
    long_about = None,
    after_help = "Exit status: 0 success, 1 runtime error, 2 usage error, 3 `verify` found problems.",
    subcommand_required = true,
    arg_required_else_help = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after the subcommand.
#[derive(Debug, Args)]
pub struct Global {
    /// Cache directory [default: the platform cache dir + kithara]
    #[arg(long, global = true, value_name = "DIR", env = "KITHARA_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Size limit of the cache for this run only, e.g. 512MiB, 2GB or bytes
    /// [default: the stored limit (`kithara config --max-bytes`), else 1GiB]
    #[arg(long, global = true, value_name = "SIZE", value_parser = crate::size::parse)]
    pub max_bytes: Option<u64>,
    /// Size limit of the kept tracks (downloads) for this run only; they are
    /// never evicted by streaming [default: the stored limit (`kithara config
    /// --max-kept-bytes`), else unlimited]
    #[arg(long, global = true, value_name = "SIZE", value_parser = crate::size::parse)]
    pub max_kept_bytes: Option<u64>,
    /// Print only errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more: -v info, -vv debug, -vvv trace (stderr)
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,
    /// The subcommand's name, which an owner writes into the cache's lock
    /// file ("kithara serve"); set after parsing.
    #[arg(skip)]
    pub command: &'static str,
}

/// The subcommands (one is required).
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve a generated HLS track on loopback, cache it, replay it offline, and check the bytes
    Demo,
    /// Download everything needed to play a VOD offline
    Fetch(FetchArgs),
    /// Write a stream's media bytes (init + decrypted segments), reading through the cache
    Read(ReadArgs),
    /// List a playlist's variants and renditions (from the network, or the cache with --offline)
    Info(InfoArgs),
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
    /// Evict least-recently-used streamed assets until they fit --max-bytes (kept ones stay)
    Gc {
        /// Also evict least-recently-used kept assets until they fit --max-kept-bytes
        #[arg(long)]
        include_kept: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
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
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Keep a cached track by URL or id: never evicted by streaming, counted against --max-kept-bytes
    Keep {
        /// Master playlist URL or asset id (a prefix of at least 8 hex digits)
        target: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Make a kept track streamed again (evictable, the most recently used)
    Unkeep {
        /// Master playlist URL or asset id (a prefix of at least 8 hex digits)
        target: String,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Show the stored settings; with --max-bytes / --max-kept-bytes SIZE, store the size limits
    Config,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions {
        /// The shell
        shell: Shell,
    },
    /// Print the man page (roff) to stdout
    Man,
}

impl Command {
    /// The name it is typed as.
    pub fn name(&self) -> &'static str {
        match self {
            Command::Demo => "demo",
            Command::Fetch(_) => "fetch",
            Command::Read(_) => "read",
            Command::Info(_) => "info",
            Command::Ls { .. } => "ls",
            Command::Stats { .. } => "stats",
            Command::Gc { .. } => "gc",
            Command::Verify { .. } => "verify",
            Command::Serve(_) => "serve",
            Command::Rm { .. } => "rm",
            Command::Keep { .. } => "keep",
            Command::Unkeep { .. } => "unkeep",
            Command::Config => "config",
            Command::Completions { .. } => "completions",
            Command::Man => "man",
        }
    }
}

/// `kithara fetch`.
#[derive(Debug, Args)]
pub struct FetchArgs {
    /// Master (or media) playlist URL
    pub url: url::Url,
    /// Variant: an index (0-based, master order), all, highest or lowest
    #[arg(long, default_value = "highest", value_parser = parse_fetch)]
    pub variant: FetchVariant,
    /// Skip variants that list this codec (prefix of a CODECS entry, e.g. avc1; repeatable)
    #[arg(long = "exclude-codec", value_name = "CODEC")]
    pub exclude_codecs: Vec<String>,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub net: NetArgs,
    /// Keep the track: never evicted by streaming, counted against
    /// --max-kept-bytes (kept from the first byte, so a resumed fetch stays kept)
    #[arg(long)]
    pub keep: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
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
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// How the HLS client talks to servers (`fetch`, `read`, `info`).
#[derive(Debug, Args)]
pub struct NetArgs {
    /// Extra header for every request (playlists, segments, keys), 'Name: value' (repeatable)
    #[arg(long = "header", value_name = "'NAME: VALUE'", value_parser = parse_valid_header)]
    pub all_headers: Vec<(String, String)>,
    /// User-Agent of every request [default: kithara-hls/VERSION]
    #[arg(long, value_name = "TEXT", value_parser = parse_user_agent)]
    pub user_agent: Option<String>,
    /// Time limit to connect, e.g. 10s [default: 10s]
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    pub connect_timeout: Option<std::time::Duration>,
    /// Longest wait for the next bytes of an answer, e.g. 30s; a slow but moving download goes on [default: 30s]
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::parse)]
    pub read_timeout: Option<std::time::Duration>,
}

/// `--key-header` and `--key-query`, parsed.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// Extra header for key requests, 'Name: value' (repeatable)
    #[arg(long = "key-header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Extra query parameter for key requests, k=v (repeatable)
    #[arg(long = "key-query", value_name = "K=V", value_parser = parse_query)]
    pub queries: Vec<(String, String)>,
}

/// `kithara read`.
#[derive(Debug, Args)]
pub struct ReadArgs {
    /// Master (or media) playlist URL
    pub url: url::Url,
    /// Variant: an index (0-based, master order), highest or lowest
    #[arg(long, default_value = "highest", value_parser = parse_one)]
    pub variant: VariantSelect,
    /// Skip variants that list this codec (prefix of a CODECS entry, e.g. avc1; repeatable)
    #[arg(long = "exclude-codec", value_name = "CODEC")]
    pub exclude_codecs: Vec<String>,
    /// Never touch the network; a missing resource is an error
    #[arg(long)]
    pub offline: bool,
    /// Write to FILE (`-` for stdout, even a terminal) instead of stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Read the alternate rendition (EXT-X-MEDIA) with this NAME instead of the variant
    #[arg(long, value_name = "NAME")]
    pub rendition: Option<String>,
    /// Start at TIME (90, 90s, 1:30, 1:02:03): at the segment that contains it;
    /// earlier segments are not downloaded
    #[arg(long, value_name = "TIME", value_parser = crate::duration::parse_position)]
    pub start: Option<std::time::Duration>,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub net: NetArgs,
}

/// `kithara info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    /// Master (or media) playlist URL
    pub url: url::Url,
    /// Leave out variants that list this codec (prefix of a CODECS entry, e.g. avc1; repeatable)
    #[arg(long = "exclude-codec", value_name = "CODEC")]
    pub exclude_codecs: Vec<String>,
    /// Read the playlist from the cache only
    #[arg(long)]
    pub offline: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub keys: KeyArgs,
    #[command(flatten)]
    pub net: NetArgs,
}
