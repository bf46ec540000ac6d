//! Issue test 5: key processing. The processed key is what lands in the cache,
//! the raw (wrapped) key appears nowhere under the root, and a warm run asks
//! the key server at most once more.

mod common;

use std::sync::{Arc, Mutex};

use common::{
    all_files, encrypted_vod, files_containing, files_named, open_cache, persistent, read_vod,
};
use kithara_hls::{HlsError, KeyContext, KeyProcessor};
use kithara_test_utils::HlsOrigin;

const TOKEN: (&str, &str) = ("token", "t0ps3cret");
const HEADER: (&str, &str) = ("x-key-auth", "letmein");

fn origin() -> HlsOrigin {
    HlsOrigin::start(
        encrypted_vod()
            .key_query(TOKEN.0, TOKEN.1)
            .key_header(HEADER.0, HEADER.1),
    )
    .expect("origin")
}

/// What a recording processor saw: the bytes it got and the context.
type Seen = Arc<Mutex<Vec<(Vec<u8>, KeyContext)>>>;

/// Unwraps `raw ^ 0xFF` and records what it was given.
fn recording_processor(seen: Seen) -> KeyProcessor {
    Arc::new(move |raw: &[u8], ctx: &KeyContext| {
        seen.lock().unwrap().push((raw.to_vec(), ctx.clone()));
        Ok(raw.iter().map(|b| b ^ 0xFF).collect())
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processed_key_is_cached_raw_key_never() {
    let origin = origin();
    let url = origin.master_url().to_string();
    let raw_key = origin.raw_key();
    let wrapped: Vec<u8> = raw_key.iter().map(|b| b ^ 0xFF).collect();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let seen = Arc::new(Mutex::new(Vec::new()));
    // The origin requires the key query (already in the playlist's key URI)
    // and the header, which only the options add.
    let opts = persistent(&cache)
        .key_processor(recording_processor(Arc::clone(&seen)))
        .key_header(HEADER.0, HEADER.1);

    let got = read_vod(&url, opts.clone()).await.expect("cold read");
    assert!(got == origin.expected_stream(1));
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "the key is processed once per session");
        assert_eq!(seen[0].0, wrapped, "the processor gets the served bytes");
        assert_eq!(seen[0].1.key_url, origin.key_url());
        assert!(seen[0].1.iv.is_some());
    }

    // The cached key file holds exactly the processor's output.
    let keys = files_named(dir.path(), ".key");
    assert_eq!(keys.len(), 1, "{:?}", all_files(dir.path()));
    assert!(keys[0].parent().unwrap().ends_with("keys"));
    assert_eq!(std::fs::read(&keys[0]).unwrap(), raw_key.to_vec());
    // The raw (wrapped) key is in no file under the root.
    assert!(files_containing(dir.path(), &wrapped).is_empty());

    // A warm run asks the key server at most once more (here: not at all).
    let key_requests = origin.requests("/key.bin");
    let warm = read_vod(&url, opts).await.expect("warm read");
    assert!(warm == got);
    assert!(origin.requests("/key.bin") <= key_requests + 1);
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "the cached key is not processed again"
    );
    assert!(files_containing(dir.path(), &wrapped).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_request_without_required_header_fails_clearly() {
    let origin = origin();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache).key_processor(recording_processor(Default::default()));
    let err = read_vod(origin.master_url().as_str(), opts)
        .await
        .expect_err("the key server refuses");
    match &err {
        HlsError::Http { url, status } => {
            assert!(url.contains("/key.bin"), "{url}");
            assert!((400..500).contains(status), "{status}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(files_named(dir.path(), ".key").is_empty());
    // The option values never show up in the error.
    assert!(!format!("{err} {err:?}").contains(HEADER.1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_processor_or_bad_key_length_is_a_key_error_without_key_bytes() {
    let origin = origin();
    let raw_key = origin.raw_key();
    let hex_key: String = raw_key.iter().map(|b| format!("{b:02x}")).collect();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let failing: KeyProcessor =
        Arc::new(|_raw: &[u8], _ctx: &KeyContext| Err("hsm offline".into()));
    let short: KeyProcessor = Arc::new(|raw: &[u8], _ctx: &KeyContext| Ok(raw[..8].to_vec()));
    for (p, what) in [(failing, "hsm offline"), (short, "8 bytes")] {
        let opts = persistent(&cache)
            .key_processor(p)
            .key_header(HEADER.0, HEADER.1);
        let err = read_vod(origin.master_url().as_str(), opts)
            .await
            .expect_err("key error");
        assert!(matches!(err, HlsError::Key { .. }), "{err:?}");
        let text = format!("{err} {err:?}");
        assert!(text.contains(what), "{text}");
        assert!(!text.to_lowercase().contains(&hex_key[..8]));
    }
    assert!(files_named(dir.path(), ".key").is_empty());
}

/// Overwrite the one cached key file with `bytes` (the cache stays open:
/// the file is what a later read returns).
fn corrupt_cached_key(root: &std::path::Path, bytes: &[u8]) {
    let keys = files_named(root, ".key");
    assert_eq!(keys.len(), 1, "{:?}", all_files(root));
    std::fs::write(&keys[0], bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_cached_key_is_refetched_online_and_named_offline() {
    let origin = origin();
    let url = origin.master_url().to_string();
    let raw_key = origin.raw_key();
    let hex_key = hex_of(&raw_key);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache)
        .key_processor(common::unwrap_xor())
        .key_header(HEADER.0, HEADER.1);
    let expected = origin.expected_stream(1);
    assert!(read_vod(&url, opts.clone()).await.expect("warm-up") == expected);

    let wrong_bytes: Vec<u8> = raw_key.iter().map(|b| b ^ 0x5A).collect();
    for (what, bad) in [
        ("wrong length", raw_key[..15].to_vec()),
        ("wrong bytes", wrong_bytes.clone()),
    ] {
        corrupt_cached_key(dir.path(), &bad);

        // Offline: a typed error naming the key, without key bytes. A file
        // of another length than the cache recorded is a miss already (the
        // cache drops it): `OfflineMiss`; one of the right length that does
        // not decrypt is `CachedKey`.
        let before = origin.requests("/key.bin");
        let err = read_vod(&url, opts.clone().offline(true))
            .await
            .expect_err("a corrupt key cannot play offline");
        match (&err, what) {
            (HlsError::CachedKey { url, reason }, "wrong bytes") => {
                assert_eq!(url, origin.key_url().as_str(), "{what}");
                assert!(!reason.is_empty());
            }
            (HlsError::OfflineMiss { url }, "wrong length") => {
                assert_eq!(url, origin.key_url().as_str(), "{what}");
            }
            (other, _) => panic!("{what}: unexpected {other:?}"),
        }
        let text = format!("{err} {err:?}").to_lowercase();
        for key in [&raw_key[..], &bad[..]] {
            assert!(!text.contains(&hex_of(key)[..8]), "{what}: {text}");
        }
        assert!(!text.contains(&hex_key[..8]), "{what}: {text}");
        assert_eq!(
            origin.requests("/key.bin"),
            before,
            "offline used the network"
        );

        // Online: the key is fetched again, the right bytes play, and the
        // cached key is repaired for the next (offline) run.
        let got = read_vod(&url, opts.clone())
            .await
            .unwrap_or_else(|e| panic!("{what}: online run did not recover: {e}"));
        assert!(got == expected, "{what}: wrong bytes");
        assert_eq!(
            origin.requests("/key.bin"),
            before + 1,
            "{what}: the key is fetched once more"
        );
        let keys = files_named(dir.path(), ".key");
        assert_eq!(std::fs::read(&keys[0]).unwrap(), raw_key.to_vec(), "{what}");
        let offline = read_vod(&url, opts.clone().offline(true))
            .await
            .expect("repaired key plays offline");
        assert!(offline == expected, "{what}");
    }
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The key processor may block (DRM, HSM): it runs on the blocking pool, so
/// even a single-threaded runtime keeps running tasks while it blocks. Here
/// the processor, once started, waits for a message that only a task of that
/// runtime sends; on the runtime's own thread it would wait forever (bounded:
/// it gives up and the read fails).
#[tokio::test(flavor = "current_thread")]
async fn the_key_processor_runs_off_the_async_workers() {
    let origin = origin();
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let started_tx = Mutex::new(Some(started_tx));
    let go_rx = Mutex::new(go_rx);
    let processor: KeyProcessor = Arc::new(move |raw: &[u8], _ctx: &KeyContext| {
        if let Some(tx) = started_tx.lock().unwrap().take() {
            let _ = tx.send(());
        }
        go_rx
            .lock()
            .unwrap()
            .recv_timeout(common::LIMIT / 6)
            .map_err(|_| "the processor blocked the runtime's only thread")?;
        Ok(raw.iter().map(|b| b ^ 0xFF).collect())
    });
    let signal = tokio::spawn(async move {
        if started_rx.await.is_ok() {
            let _ = go_tx.send(());
        }
    });
    let opts = persistent(&cache)
        .key_processor(processor)
        .key_header(HEADER.0, HEADER.1);
    let got = read_vod(origin.master_url().as_str(), opts)
        .await
        .expect("read with a blocking processor");
    assert!(got == origin.expected_stream(1));
    signal.await.unwrap();
}
