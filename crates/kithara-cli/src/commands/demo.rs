//! `kithara demo`: the whole story on loopback, checked.
//!
//! Serves a generated VOD (several variants, init segments, AES-128 with a
//! wrapped key that needs a query parameter and a header), caches the whole
//! track through a key processor, stops the origin, replays offline, and
//! checks that both runs gave exactly the bytes the origin encoded.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kithara_cache::{AssetCache, CacheOptions};
use kithara_hls::{
    CacheMode, HlsOptions, HlsSession, KeyContext, KeyProcessorError, SessionStats, VariantSelect,
};
use kithara_test_utils::{Encryption, HlsOrigin, IvMode, OriginConfig, count_files_recursive};

use crate::args::Global;
use crate::error::CliError;
use crate::hls::runtime;
use crate::size::human;

const VARIANTS: usize = 3;
const SEGMENTS: usize = 24;
const SEGMENT_BYTES: usize = 64 * 1024;

struct Run {
    bytes: Vec<u8>,
    stats: SessionStats,
    took: Duration,
}

/// The demo key server wraps keys as `raw ^ 0xFF`; this unwraps them.
fn unwrap_key(wrapped: &[u8], _: &KeyContext) -> Result<Vec<u8>, KeyProcessorError> {
    if wrapped.len() != 16 {
        return Err(format!("wrapped key has {} bytes, expected 16", wrapped.len()).into());
    }
    Ok(wrapped.iter().map(|b| b ^ 0xFF).collect())
}

pub fn run(global: &Global) -> Result<ExitCode, CliError> {
    let temp =
        tempfile::tempdir().map_err(CliError::io("create temp dir", std::env::temp_dir()))?;
    let root = global
        .cache_dir
        .clone()
        .unwrap_or_else(|| temp.path().join("cache"));
    let mut opts = CacheOptions::new(&root);
    if let Some(max) = global.max_bytes {
        opts = opts.max_bytes(max);
    }
    let cache = AssetCache::open(opts)?;

    let config = OriginConfig::default()
        .variants(VARIANTS)
        .segments(SEGMENTS)
        .segment_size(SEGMENT_BYTES)
        .init(true)
        .encryption(Encryption::Aes128 {
            iv: IvMode::MediaSequence,
        })
        .wrapped_key(true)
        .key_query("token", "demo")
        .key_header("X-Demo-Auth", "kithara");
    let origin =
        HlsOrigin::start(config).map_err(CliError::io("start the demo origin", "127.0.0.1:0"))?;
    let url = origin.master_url();
    let expected = origin.expected_stream(VARIANTS - 1);
    println!(
        "demo origin   {url} ({VARIANTS} variants x {SEGMENTS} segments, init, AES-128, wrapped key)"
    );
    println!("cache dir     {}", root.display());

    let session_opts = HlsOptions::new()
        .cache(CacheMode::Persistent(cache.clone()))
        .variant(VariantSelect::Highest)
        .key_processor(Arc::new(unwrap_key))
        .key_query("token", "demo")
        .key_header("X-Demo-Auth", "kithara");
    let rt = runtime()?;
    let online = rt.block_on(read_all(url.as_str(), session_opts.clone()))?;
    let origin_requests = origin.total_requests();
    origin.stop();
    let offline = rt.block_on(read_all(url.as_str(), session_opts.offline(true)))?;

    let files = count_files_recursive(&root);
    let stats = cache.stats()?;
    report("online run ", &online);
    report("offline run", &offline);
    println!(
        "origin        {origin_requests} requests served, then stopped before the offline run"
    );
    println!(
        "on disk       {files} files, {} in {} asset(s)",
        human(stats.total_bytes),
        stats.asset_count
    );

    let checks = [
        (
            "online bytes equal the origin's decrypted stream",
            online.bytes == expected,
        ),
        (
            "offline bytes equal the origin's decrypted stream",
            offline.bytes == expected,
        ),
        (
            "offline run used no network",
            offline.stats.network_fetches == 0,
        ),
        (
            "offline run had no cache misses",
            offline.stats.cache_misses == 0,
        ),
        ("the cache holds files", files > 0),
    ];
    let mut ok = true;
    for (what, passed) in checks {
        println!("{}  {what}", if passed { "ok  " } else { "FAIL" });
        ok &= passed;
    }
    // The cache persists its index on drop, so it must go before its directory.
    drop(cache);
    drop(temp);
    if ok {
        println!(
            "demo passed: {} of media replayed offline, byte for byte",
            human(expected.len() as u64)
        );
        Ok(ExitCode::SUCCESS)
    } else {
        Err(CliError::Check("demo failed: see the checks above".into()))
    }
}

async fn read_all(url: &str, opts: HlsOptions) -> Result<Run, CliError> {
    let started = Instant::now();
    let mut session = HlsSession::open(url, opts).await?;
    let mut bytes = Vec::new();
    session.read_to_end(&mut bytes).await?;
    let stats = session.stats();
    session.close().await;
    Ok(Run {
        bytes,
        stats,
        took: started.elapsed(),
    })
}

fn report(label: &str, run: &Run) {
    let s = &run.stats;
    println!(
        "{label}   {} in {:.1?}: {} network fetches ({}), {} cache hits ({}), {} misses",
        human(run.bytes.len() as u64),
        run.took,
        s.network_fetches,
        human(s.bytes_from_network),
        s.cache_hits,
        human(s.bytes_from_cache),
        s.cache_misses,
    );
}
