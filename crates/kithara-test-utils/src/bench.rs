//! What the benchmarks of several crates share: scratch directories where
//! `KITHARA_BENCH_DIR` says, and the medians criterion wrote in this run.

use std::path::PathBuf;
use std::time::SystemTime;

use tempfile::TempDir;

/// Where benchmark scratch directories go: `KITHARA_BENCH_DIR`, else the
/// system temp dir.
pub fn scratch_base() -> PathBuf {
    std::env::var_os("KITHARA_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
}

/// A fresh scratch directory `kithara-bench-<tag>-*` under [`scratch_base`].
///
/// # Panics
///
/// If the directory cannot be created (a benchmark cannot run without it).
pub fn scratch(tag: &str) -> TempDir {
    let base = scratch_base();
    std::fs::create_dir_all(&base).expect("create bench dir");
    tempfile::Builder::new()
        .prefix(&format!("kithara-bench-{tag}-"))
        .tempdir_in(base)
        .expect("create scratch dir")
}

/// The medians criterion wrote in this run.
pub struct Medians {
    /// Criterion's output directory (its own rule, minus the `cargo
    /// metadata` call): `CRITERION_HOME`, else `$CARGO_TARGET_DIR/criterion`,
    /// else the workspace's `target/criterion`.
    pub home: PathBuf,
    since: SystemTime,
}

impl Medians {
    /// The medians of benchmarks measured since `since` (older estimates
    /// are ignored, so a filtered run shows only what it measured).
    pub fn since(since: SystemTime) -> Self {
        let home = if let Some(home) = std::env::var_os("CRITERION_HOME") {
            PathBuf::from(home)
        } else if let Some(target) = std::env::var_os("CARGO_TARGET_DIR") {
            PathBuf::from(target).join("criterion")
        } else {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/criterion")
        };
        Self { home, since }
    }

    /// Median time of one iteration of `group/id`, in nanoseconds, if it
    /// was measured in this run.
    pub fn ns(&self, group: &str, id: &str) -> Option<f64> {
        let file = self.home.join(group).join(id).join("new/estimates.json");
        let fresh = std::fs::metadata(&file)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= self.since);
        if !fresh {
            return None;
        }
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).ok()?).ok()?;
        json["median"]["point_estimate"].as_f64()
    }
}

/// A ratio as `1.23x`, or `—` when a side was not measured.
pub fn x(r: Option<f64>) -> String {
    r.map_or("—".into(), |r| format!("{r:.2}x"))
}

/// "yes" / "**no**" / "—" for a target met, missed, or not measured.
pub fn met(ok: Option<bool>) -> &'static str {
    match ok {
        Some(true) => "yes",
        Some(false) => "**no**",
        None => "—",
    }
}
