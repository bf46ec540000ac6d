//! Issue 6, item 2: `kithara fetch` killed with SIGKILL at random points.
//!
//! Each round starts the real binary on a fresh cache directory against the
//! loopback origin (with a per-segment delay, so the fetch is still running),
//! reads a random number of its progress lines from stderr (plain lines, as
//! stderr is a pipe) and kills it with SIGKILL: the kill point is set by the
//! fetch's own progress, never by a sleep. Then, in one of two orders chosen
//! by the seeded RNG:
//!
//! - repair by use: a new `fetch` completes (its owner open rebuilds the
//!   index and drops temp leftovers), `verify` prints `ok`, and
//!   `read --offline` of each variant equals the origin's bytes;
//! - explicit repair: `verify --repair` exits 0, `verify` then prints `ok`,
//!   and the same fetch / verify / offline read follow.
//!
//! `KITHARA_FETCH_CRASH_ROUNDS` (default 20) and `KITHARA_FETCH_CRASH_SEED`
//! change the number of rounds and the seed.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::kithara;
use kithara_test_utils::{Encryption, HlsOrigin, IvMode, OriginConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const VARIANTS: usize = 2;
const SEGMENTS: usize = 30;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("run kithara")
}

fn ok(cmd: &mut Command, what: &str) -> Output {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{what} failed ({}): stdout {} stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn verify_prints_ok(dir: &Path, what: &str) {
    let out = run(kithara(dir).arg("verify"));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && text.trim() == "ok",
        "{what}: verify said ({}) {text}",
        out.status
    );
}

/// Files whose name ends with the cache's temp suffix, below `dir`.
fn temp_files(dir: &Path) -> usize {
    let mut n = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(t) = e.file_type() else { continue };
            if t.is_dir() {
                stack.push(e.path());
            } else if e.file_name().to_string_lossy().ends_with(".kithara-tmp") {
                n += 1;
            }
        }
    }
    n
}

/// How a round's fetch ended.
enum Killed {
    /// Killed after this many progress lines.
    After(usize),
    /// It finished (or failed) before the chosen line came.
    Finished,
}

/// Start `kithara fetch --variant all`, read `lines` progress lines, kill it.
fn fetch_and_kill(dir: &Path, url: &str, lines: usize) -> Killed {
    let mut child = kithara(dir)
        .args(["fetch", url, "--variant", "all"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn kithara fetch");
    let stderr = child.stderr.take().expect("stderr");
    let mut reader = BufReader::new(stderr);
    let mut seen = 0;
    let mut line = String::new();
    let mut finished = false;
    while seen < lines {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => {
                finished = true;
                break;
            }
            Ok(_) if line.starts_with("fetch v") => seen += 1,
            Ok(_) => {}
        }
    }
    // SIGKILL (std's kill is SIGKILL on Unix); an already-exited child is fine.
    let _ = child.kill();
    let status = child.wait().expect("wait");
    if finished || status.success() {
        Killed::Finished
    } else {
        Killed::After(seen)
    }
}

#[test]
fn kill_9_of_fetch_at_random_points_then_fetch_verify_and_offline_read() {
    let rounds = env_or("KITHARA_FETCH_CRASH_ROUNDS", 20);
    let seed = env_or("KITHARA_FETCH_CRASH_SEED", 0x6b69_7468);
    let mut rng = StdRng::seed_from_u64(seed);
    let origin = HlsOrigin::start(
        OriginConfig::default()
            .variants(VARIANTS)
            .segments(SEGMENTS)
            .segment_size(16 * 1024)
            .init(true)
            .encryption(Encryption::Aes128 {
                iv: IvMode::MediaSequence,
            })
            .segment_delay(Duration::from_millis(10)),
    )
    .expect("origin");
    let url = origin.master_url().to_string();
    let expected: Vec<Vec<u8>> = (0..VARIANTS).map(|v| origin.expected_stream(v)).collect();
    // About 20 progress lines per variant (plus the last of each).
    let max_lines = 20 * VARIANTS + 1;

    let started = Instant::now();
    let (mut killed, mut finished, mut with_temp, mut repaired_first) = (0, 0, 0, 0);
    let mut kill_points = Vec::new();
    for round in 0..rounds {
        let dir = tempfile::tempdir().expect("tempdir");
        let lines = rng.random_range(0..=max_lines);
        match fetch_and_kill(dir.path(), &url, lines) {
            Killed::After(seen) => {
                killed += 1;
                kill_points.push(seen);
            }
            Killed::Finished => finished += 1,
        }
        if temp_files(dir.path()) > 0 {
            with_temp += 1;
        }
        let what = format!("round {round} (seed {seed:#x}, killed after {lines} lines)");

        if rng.random_bool(0.5) {
            repaired_first += 1;
            let out = ok(
                kithara(dir.path()).args(["verify", "--repair"]),
                &format!("{what}: verify --repair"),
            );
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(
                text.lines()
                    .all(|l| l == "ok" || l.starts_with("repaired: ")),
                "{what}: {text}"
            );
            verify_prints_ok(dir.path(), &format!("{what}: verify after --repair"));
            assert_eq!(
                temp_files(dir.path()),
                0,
                "{what}: temp files after --repair"
            );
        }

        ok(
            kithara(dir.path()).args(["fetch", &url, "--variant", "all"]),
            &format!("{what}: fetch after the kill"),
        );
        verify_prints_ok(dir.path(), &format!("{what}: verify after the new fetch"));
        assert_eq!(temp_files(dir.path()), 0, "{what}: temp files after fetch");
        for (v, expected) in expected.iter().enumerate() {
            let out = ok(
                kithara(dir.path()).args(["read", &url, "--offline", "--variant", &v.to_string()]),
                &format!("{what}: offline read of variant {v}"),
            );
            assert!(
                out.stdout == *expected,
                "{what}: offline variant {v} differs from the origin ({} vs {} bytes)",
                out.stdout.len(),
                expected.len()
            );
        }
    }
    eprintln!(
        "crash_fetch: {rounds} rounds (seed {seed:#x}) in {:.1?}: {killed} killed mid-fetch, \
         {finished} finished first, {with_temp} left temp files, \
         {repaired_first} repaired with verify --repair first; killed after \
         {kill_points:?} progress lines",
        started.elapsed()
    );
    assert!(
        rounds < 4 || killed * 2 >= rounds,
        "most rounds must kill a running fetch ({killed} of {rounds})"
    );
}
