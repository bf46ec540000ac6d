//! What the bench reads from `/proc`: CPU time and peak RSS of a process
//! (all its threads), and the children of a process.

use std::path::Path;
use std::sync::OnceLock;

/// Clock ticks per second (`getconf CLK_TCK`; 100 on Linux as built).
fn ticks_per_second() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        std::process::Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

/// The fields of `/proc/<pid>/stat` after the command name: index 0 is
/// the state (field 3 of proc(5)).
fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let text = std::fs::read_to_string(Path::new("/proc").join(pid).join("stat")).ok()?;
    let rest = &text[text.rfind(')')? + 1..];
    Some(rest.split_whitespace().map(str::to_owned).collect())
}

/// User + system CPU seconds of process `pid` (every thread, live or
/// ended), or 0 if it is gone.
pub fn cpu_seconds(pid: u32) -> f64 {
    cpu_of(&pid.to_string())
}

fn cpu_of(pid: &str) -> f64 {
    stat_fields(pid).map_or(0.0, |f| {
        let t = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
        (t(11) + t(12)) / ticks_per_second()
    })
}

/// CPU seconds of this process.
pub fn self_cpu_seconds() -> f64 {
    cpu_of("self")
}

/// The processes whose parent is `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    let parent = pid.to_string();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| stat_fields(&p.to_string()).is_some_and(|f| f.get(1) == Some(&parent)))
        .collect()
}

/// A `kB` line of `/proc/<pid>/status` (`VmHWM`, `VmRSS`), in bytes.
pub fn status_bytes(pid: u32, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    let kb: u64 = line[field.len()..]
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb * 1024)
}

/// Whether this process runs as root (nginx then needs `user root;` to
/// read files in a 0700 temp dir).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// Send `signal` (`TERM`, `QUIT`) to `pid` with kill(1).
pub fn signal(pid: u32, signal: &str) {
    let _ = std::process::Command::new("kill")
        .args(["-s", signal, &pid.to_string()])
        .status();
}

/// `sync`: write back dirty pages, outside any measurement.
pub fn settle() {
    if let Err(e) = std::process::Command::new("sync").status() {
        eprintln!("cannot run sync: {e}");
    }
}
