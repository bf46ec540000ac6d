//! `kithara fetch`: everything needed to play a VOD offline, or with
//! `--live-for` a recording of a live stream.

use std::process::ExitCode;

use kithara_cache::{AssetCache, AssetId};
use kithara_hls::{HlsSession, prefetch_all_variants};
use serde_json::json;

use crate::args::{FetchArgs, Global};
use crate::cache_dir::owner_options;
use crate::error::CliError;
use crate::progress::Progress;
use crate::session::{options, runtime};
use crate::size::human;
use crate::variant::FetchVariant;

/// Downloads everything `args` names into the cache; prints the asset id
/// (or, with `--json`, one JSON object).
pub fn run(global: &Global, args: &FetchArgs) -> Result<ExitCode, CliError> {
    let url = &args.url;
    let variant = args.variant;
    if args.live_for.is_some() && matches!(variant, FetchVariant::All) {
        return Err(CliError::Usage(
            "--live-for records one variant: choose it with --variant".into(),
        ));
    }
    // Every cached resource a fetch finds is read and checked against its
    // integrity record, digest included: a rotted one is fetched again.
    let cache = AssetCache::open(owner_options(global)?.verify_reads(true))?;
    let asset = cache.asset(AssetId::from_url(url)?);
    if args.keep {
        // Before the first byte: every write lands in the kept budget, and
        // a fetch cut short leaves a kept track that the next one completes.
        asset.keep()?;
    }
    let opts = options(cache, &args.keys, &args.net).exclude_codecs(args.exclude_codecs.clone());
    let mut progress = Progress::new(global.quiet);
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
    let id = asset.id();
    if args.json {
        let v = json!({
            "id": id.to_hex(),
            "url": url.as_str(),
            "kept": asset.info().is_some_and(|i| i.kept),
            "downloaded": summary.downloaded,
            "skipped": summary.skipped,
            "bytes": summary.bytes,
        });
        println!("{v}");
        return Ok(ExitCode::SUCCESS);
    }
    if !global.quiet {
        eprintln!(
            "fetched {} resource(s), {}; {} already cached",
            summary.downloaded,
            human(summary.bytes),
            summary.skipped
        );
    }
    println!("{id}");
    Ok(ExitCode::SUCCESS)
}
