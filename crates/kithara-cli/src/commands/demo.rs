//! `kithara demo`: the whole story on loopback, checked.
//!
//! Serves a generated VOD (several variants, init segments, AES-128 with a
//! wrapped key that needs a query parameter and a header), fetches every
//! variant through a key processor, stops the origin, replays each variant
//! offline, and checks the bytes against what the origin encoded and the
//! key on disk against the processed key.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kithara_cache::{AssetCache, CacheOptions};
use kithara_hls::{
    CacheMode, HlsOptions, HlsSession, KeyContext, KeyProcessorError, SessionStats, VariantSelect,
    prefetch_all_variants,
};
use kithara_origin::{Encryption, HlsOrigin, IvMode, OriginConfig};

use crate::args::Global;
use crate::error::CliError;
use crate::session::runtime;
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

/// Runs the demo; exits 0 only if every check passed.
pub fn run(global: &Global) -> Result<ExitCode, CliError> {
    let temp = tempfile::tempdir().map_err(CliError::io("create temp dir", env::temp_dir()))?;
    let root = global
        .cache_dir
        .clone()
        .unwrap_or_else(|| temp.path().join("cache"));
    let mut opts = CacheOptions::new(&root);
    if let Some(max) = global.max_bytes {
        opts = opts.run_max_bytes(max);
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
    let origin = HlsOrigin::start(config)
        .map_err(CliError::io("start the demo origin on", "127.0.0.1:0"))?;
    let url = origin.master_url();
    let expected: Vec<Vec<u8>> = (0..VARIANTS).map(|v| origin.expected_stream(v)).collect();
    let raw_key = origin.raw_key();
    println!(
        "demo origin   {url} ({VARIANTS} variants x {SEGMENTS} segments, init, AES-128, wrapped key)"
    );
    println!("cache dir     {}", root.display());

    let session_opts = HlsOptions::new()
        .cache(CacheMode::Persistent(cache.clone()))
        .key_processor(Arc::new(unwrap_key))
        .key_query("token", "demo")
        .key_header("X-Demo-Auth", "kithara");
    let rt = runtime()?;
    let started = Instant::now();
    let fetched = rt.block_on(prefetch_all_variants(
        url.as_str(),
        session_opts.clone(),
        |_| {},
    ))?;
    let fetch_took = started.elapsed();
    let origin_requests = origin.total_requests();
    origin.stop();
    println!(
        "online fetch  {} resources, {} in {fetch_took:.1?} ({origin_requests} requests to the origin, then it stopped)",
        fetched.downloaded,
        human(fetched.bytes),
    );

    let mut checks = Vec::new();
    for (v, want) in expected.iter().enumerate() {
        let opts = session_opts
            .clone()
            .offline(true)
            .variant(VariantSelect::Index(v));
        let run = rt.block_on(read_all(url.as_str(), opts))?;
        report(&format!("offline v{v}  "), &run);
        checks.push((
            format!("offline variant {v} equals the origin's decrypted stream"),
            run.bytes == *want,
        ));
        checks.push((
            format!("offline variant {v} had no cache misses"),
            run.stats.cache_misses == 0,
        ));
    }

    let files = files_recursive(&root);
    let keys: Vec<_> = files
        .iter()
        .filter(|f| f.extension().is_some_and(|e| e == "key"))
        .collect();
    let wrapped: Vec<u8> = raw_key.iter().map(|b| b ^ 0xFF).collect();
    let holds_wrapped = files
        .iter()
        .any(|f| fs::read(f).is_ok_and(|b| b.windows(16).any(|w| w == wrapped)));
    let stats = cache.stats()?;
    println!(
        "on disk       {} files, {} in {} asset(s)",
        files.len(),
        human(stats.total_bytes),
        stats.asset_count
    );
    checks.push((
        "the cached key is the processed (unwrapped) key".into(),
        keys.len() == 1 && fs::read(keys[0]).is_ok_and(|k| k == raw_key),
    ));
    checks.push(("the wrapped key is nowhere on disk".into(), !holds_wrapped));

    let mut ok = true;
    for (what, passed) in &checks {
        println!("{}  {what}", if *passed { "ok  " } else { "FAIL" });
        ok &= passed;
    }
    // The cache persists its index on drop, so every clone goes before its directory.
    drop((cache, session_opts));
    drop(temp);
    if ok {
        let total: usize = expected.iter().map(Vec::len).sum();
        println!(
            "demo passed: {} of media replayed offline, byte for byte",
            human(total as u64)
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

/// Every regular file below `dir`, recursively (symlinks not followed).
fn files_recursive(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            match entry.file_type() {
                Ok(t) if t.is_file() => files.push(entry.path()),
                Ok(t) if t.is_dir() => dirs.push(entry.path()),
                _ => {}
            }
        }
    }
    files
}
