//! `kithara fetch`: everything needed to play a VOD offline, or with
//! `--live-for` a recording of a live stream.

use kithara_cache::{AssetCache, AssetId};
use kithara_hls::{HlsSession, prefetch_all_variants};
use serde_json::json;

use crate::args::{FetchArgs, Global};
use crate::console::Console;
use crate::error::CliError;
use crate::progress::Progress;
use crate::session::{options, runtime};
use crate::size::human;
use crate::variant::FetchVariant;

/// Refuses what no cache can do, before one is opened.
pub fn check(args: &FetchArgs) -> Result<(), CliError> {
    if args.live_for.is_some() && matches!(args.variant, FetchVariant::All) {
        return Err(CliError::Usage(
            "--live-for records one variant: choose it with --variant".into(),
        ));
    }
    Ok(())
}

/// Downloads everything `args` names into `cache`; prints the asset id
/// (or, with `--json`, one JSON object).
pub fn exec(
    cache: &AssetCache,
    global: &Global,
    args: &FetchArgs,
    con: &mut Console,
) -> Result<(), CliError> {
    check(args)?;
    let url = &args.url;
    let variant = args.variant;
    let asset = cache.asset(AssetId::from_url(url)?);
    // An asset this fetch made by keeping it, before anything was stored.
    let mut made = false;
    if args.keep {
        // Before the first byte: every write lands in the kept budget, and
        // a fetch cut short leaves a kept track that the next one completes.
        made = asset.info().is_none();
        asset.keep()?;
    }
    let opts =
        options(cache.clone(), &args.keys, &args.net).exclude_codecs(args.exclude_codecs.clone());
    let mut progress = Progress::new(global.quiet, con);
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
    drop(progress);
    if summary.is_err() && made && asset.info().is_some_and(|i| i.bytes == 0) {
        // Nothing arrived: no empty kept track is left behind.
        let _ = cache.remove(asset.id());
    }
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
        return con.out(format_args!("{v}"));
    }
    if !global.quiet {
        con.err(format_args!(
            "fetched {} resource(s), {}; {} already cached",
            summary.downloaded,
            human(summary.bytes),
            summary.skipped
        ))?;
    }
    con.out(format_args!("{id}"))
}
