//! A tour of kithara-cache: open, put, evict, pin, reopen, keep.
//!
//! `cargo run --release -p kithara-cache --example tour [DIR]` (a temp dir by default).

use std::error::Error;
use std::io::Write;

use kithara_cache::{AssetCache, AssetId, CacheOptions, CachePath};
use url::Url;

fn track(n: u32) -> Result<AssetId, Box<dyn Error>> {
    let url = Url::parse(&format!(
        "https://cdn.example.com/album/track{n}/master.m3u8"
    ))?;
    Ok(AssetId::from_url(&url)?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let temp = tempfile::tempdir()?;
    let root = std::env::args()
        .nth(1)
        .map_or_else(|| temp.path().to_path_buf(), Into::into);
    let max = 4 * 1024 * 1024;
    println!("cache at {} (max {} bytes)", root.display(), max);

    let cache = AssetCache::open(CacheOptions::new(&root).max_bytes(max))?;
    let segment = vec![0x47u8; 512 * 1024];
    for n in 1..=3 {
        let asset = cache.asset(track(n)?);
        asset.set_source_url(&Url::parse(&format!(
            "https://cdn.example.com/album/track{n}/master.m3u8"
        ))?)?;
        asset.put_atomic(&CachePath::parse("master.m3u8")?, b"#EXTM3U\n")?;
        for i in 0..2 {
            asset.put_atomic(&CachePath::parse(&format!("v0/seg/{i:06}.ts"))?, &segment)?;
        }
        println!(
            "cached track {n}: cache holds {} bytes",
            cache.stats()?.total_bytes
        );
    }

    // Track 1 is playing: pin it, and read it (a hit makes it recent too).
    let playing = cache.pin(track(1)?)?;
    let first = cache
        .asset(track(1)?)
        .read(&CachePath::parse("v0/seg/000000.ts")?)?;
    println!(
        "track 1 segment 0 from cache: {} bytes",
        first.map_or(0, |b| b.len())
    );

    // Track 4 streams in through the writer; the cache evicts the oldest unpinned track.
    let mut w = cache
        .asset(track(4)?)
        .writer(&CachePath::parse("v0/seg/000000.ts")?)?;
    for chunk in segment.chunks(64 * 1024).chain(segment.chunks(64 * 1024)) {
        w.write_all(chunk)?;
    }
    let put = w.commit()?;
    let track2 = track(2)?;
    println!("track 4 written, evicted: {:?}", put.evicted);
    assert!(
        put.evicted.contains(&track2),
        "the least recently used track goes first"
    );

    // With everything else pinned, a write that cannot fit fails cleanly.
    let _also = cache.pin(track(3)?)?;
    let _and = cache.pin(track(4)?)?;
    let huge = cache
        .asset(track(5)?)
        .put_atomic(&CachePath::parse("big")?, &vec![0; 2 * 1024 * 1024]);
    println!(
        "write with everything pinned: {}",
        huge.map_or_else(|e| e.to_string(), |_| "ok".into())
    );
    drop((playing, _also, _and));

    let stats = cache.stats()?;
    println!(
        "stats: {} bytes in {} assets, {} pinned",
        stats.total_bytes, stats.asset_count, stats.pinned_assets
    );
    drop(cache);

    // Reopen: the files are the truth; nothing is pinned any more.
    let cache = AssetCache::open(CacheOptions::new(&root))?;
    println!("reopened: index clean = {}", cache.recovery().is_clean());

    // Track 1 is a download: kept, streaming never evicts it, and its bytes
    // count against max_kept_bytes (unlimited here) instead of max_bytes.
    cache.asset(track(1)?).keep()?;
    let stats = cache.stats()?;
    println!(
        "kept track 1: {} of {} bytes kept",
        stats.kept_bytes, stats.total_bytes
    );
    for a in cache.assets()? {
        println!(
            "  {}  {:>8} bytes  {} files  {}  {}",
            &a.id.to_hex()[..16],
            a.bytes,
            a.files,
            if a.kept { "kept" } else { "streamed" },
            a.source_url.unwrap_or_default()
        );
    }
    Ok(())
}
