//! Key bytes never reach the logs: every event of every crate, at TRACE
//! level, is captured while an encrypted VOD with a wrapped key plays cold,
//! warm, offline and through a corrupt-cached-key recovery; the captured text
//! holds no form of the raw, wrapped or processed key, nor the key header's
//! secret value.
//!
//! One test in this binary: it installs the process-wide subscriber (the
//! session's tasks run on the runtime's worker and blocking threads, which a
//! thread-local subscriber would not see).

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::{encrypted_vod, files_named, open_cache, persistent, read_vod, unwrap_xor};
use kithara_hls::HlsError;
use kithara_test_utils::HlsOrigin;

const TOKEN: (&str, &str) = ("token", "t0ps3cret");
const HEADER: (&str, &str) = ("x-key-auth", "letmein-0a1b2c");

/// A writer appending to a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The forms a key could take in a log line.
fn forms(key: &[u8]) -> Vec<Vec<u8>> {
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let decimal_list = key
        .iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join(", ");
    let hex_list = key
        .iter()
        .map(|b| format!("{b:#04x}"))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        key.to_vec(),
        hex.clone().into_bytes(),
        hex.to_uppercase().into_bytes(),
        decimal_list.into_bytes(),
        hex_list.into_bytes(),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_bytes_never_appear_in_trace_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");

    let origin = HlsOrigin::start(
        encrypted_vod()
            .key_query(TOKEN.0, TOKEN.1)
            .key_header(HEADER.0, HEADER.1),
    )
    .expect("origin");
    let url = origin.master_url().to_string();
    let raw = origin.raw_key();
    let wrapped: Vec<u8> = raw.iter().map(|b| b ^ 0xFF).collect();
    let expected = origin.expected_stream(1);
    let dir = tempfile::tempdir().unwrap();
    let cache = open_cache(dir.path());
    let opts = persistent(&cache)
        .key_processor(unwrap_xor())
        .key_header(HEADER.0, HEADER.1);

    // Cold (the wrapped key is downloaded and processed), warm, offline.
    assert!(read_vod(&url, opts.clone()).await.expect("cold") == expected);
    assert!(read_vod(&url, opts.clone()).await.expect("warm") == expected);
    assert!(
        read_vod(&url, opts.clone().offline(true))
            .await
            .expect("offline")
            == expected
    );
    // A corrupt cached key: named offline, replaced online.
    let corrupt: Vec<u8> = raw.iter().map(|b| b ^ 0x5A).collect();
    let key_file = files_named(dir.path(), ".key").remove(0);
    std::fs::write(&key_file, &corrupt).unwrap();
    let err = read_vod(&url, opts.clone().offline(true))
        .await
        .expect_err("corrupt key offline");
    assert!(matches!(err, HlsError::CachedKey { .. }), "{err:?}");
    tracing::error!(error = %err, debug = ?err, "the error, logged as a caller would");
    assert!(read_vod(&url, opts.clone()).await.expect("repaired") == expected);

    let logs = capture.0.lock().unwrap().clone();
    let text = String::from_utf8_lossy(&logs);
    assert!(
        text.contains("key fetched, processed and cached"),
        "the capture saw the key path: {text}"
    );
    assert!(text.contains("cached key unusable"), "{text}");
    for (what, key) in [
        ("raw", &raw[..]),
        ("wrapped", &wrapped[..]),
        ("corrupt", &corrupt[..]),
    ] {
        for form in forms(key) {
            assert!(
                !contains(&logs, &form),
                "the {what} key appears in the logs as {:?}",
                String::from_utf8_lossy(&form)
            );
        }
    }
    assert!(
        !text.contains(HEADER.1),
        "the key header's value appears in the logs"
    );
}
