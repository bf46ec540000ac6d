//! `kithara fetch`: everything needed to play a VOD offline, or with
//! `--live-for` a recording of a live stream.

use std::process::ExitCode;

use kithara_cache::AssetId;
use kithara_hls::{HlsSession, prefetch_all_variants};
use url::Url;

use crate::args::{FetchArgs, Global};
use crate::cache_dir::open_owner;
use crate::error::CliError;
use crate::progress::Progress;
use crate::session::{options, runtime};
use crate::size::human;
use crate::variant::{FetchVariant, parse_fetch};

/// Downloads everything `args` names into the cache; prints the asset id.
pub fn run(global: &Global, args: &FetchArgs) -> Result<ExitCode, CliError> {
    let url = Url::parse(&args.url)
        .map_err(|e| CliError::Usage(format!("invalid URL {}: {e}", args.url)))?;
    let variant = parse_fetch(&args.variant)?;
    if args.live_for.is_some() && matches!(variant, FetchVariant::All) {
        return Err(CliError::Usage(
            "--live-for records one variant: choose it with --variant".into(),
        ));
    }
    let cache = open_owner(global)?;
    let opts = options(cache, &args.key_headers, &args.key_queries)?;
    let mut progress = Progress::new();
    let summary = runtime()?.block_on(async {
        Ok::<_, CliError>(match variant {
            FetchVariant::All => {
                prefetch_all_variants(url.as_str(), opts, |p| progress.update(p)).await?
            }
            FetchVariant::One(select) => {
                let mut session = HlsSession::open(url.as_str(), opts.variant(select)).await?;
                let done = match args.live_for {
                    None => session.prefetch_all(|p| progress.update(p)).await,
                    Some(duration) => session.record_live(duration, |p| progress.update(p)).await,
                };
                session.close().await;
                done?
            }
        })
    });
    progress.finish();
    let summary = summary?;
    eprintln!(
        "fetched {} resource(s), {}; {} already cached",
        summary.downloaded,
        human(summary.bytes),
        summary.skipped
    );
    println!("{}", AssetId::from_url(&url)?);
    Ok(ExitCode::SUCCESS)
}
