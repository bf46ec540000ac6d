//! The table of ratios, computed from the estimates criterion wrote in this
//! run (files older than the run are ignored, so a filtered run shows only
//! what it measured). Medians are used: the machine is shared.

use std::fmt::Write as _;
use std::time::SystemTime;

use kithara_test_utils::bench::{Medians, met, x};

use crate::Cfg;
use crate::evict::VICTIMS;
use crate::put::{SIZES, SLOTS, group_name};

fn time(ns: Option<f64>) -> String {
    match ns {
        None => "—".into(),
        Some(ns) if ns >= 1e9 => format!("{:.2} s", ns / 1e9),
        Some(ns) if ns >= 1e6 => format!("{:.2} ms", ns / 1e6),
        Some(ns) if ns >= 1e3 => format!("{:.1} µs", ns / 1e3),
        Some(ns) => format!("{ns:.0} ns"),
    }
}

/// (durability, raw variant, kithara variant) of each put row; cacache is
/// compared with the Buffered one only (it does not sync).
const PUT_PAIRS: [(&str, &str, &str); 3] = [
    ("Buffered", "raw_buffered", "kithara_buffered"),
    ("Sync", "raw_sync", "kithara_sync"),
    (
        "Sync (raw also syncs the dir)",
        "raw_sync_dirsync",
        "kithara_sync",
    ),
];

/// (kind, size, group name) of every put group, in table order.
fn put_groups() -> impl Iterator<Item = (&'static str, &'static str, String)> {
    SIZES.into_iter().flat_map(|(size, _)| {
        [
            ("replaces", size, group_name(size, false)),
            ("new", size, group_name(size, true)),
        ]
    })
}

/// The "kithara/raw | target | met?" cells of a put row: the ratio is a
/// target (≥ 0.90x) unless the raw side also syncs the directory.
fn vs_raw(dur: &str, thr: Option<f64>) -> String {
    if dur.contains("dir") {
        format!("{} | (info) | ", x(thr))
    } else {
        format!("{} | ≥ 0.90x | {}", x(thr), met(thr.map(|t| t >= 0.9)))
    }
}

fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(a? / b?)
}

fn count(n: usize) -> String {
    match n {
        n if n >= 1000 && n % 1000 == 0 => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}

/// `rotated`: (group, variant, ns per put) of [`crate::put::rotation`], if it ran.
pub fn print(cfg: &Cfg, since: SystemTime, rotated: &[(String, &str, f64)]) {
    let r = Medians::since(since);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# kithara-cache benchmark summary{}",
        if cfg.quick {
            " (KITHARA_BENCH_QUICK)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        s,
        "\nMedians of this run. A throughput ratio is baseline time / kithara time (higher is better); a latency ratio is kithara time / baseline time (lower is better).\n"
    );

    let _ = writeln!(
        s,
        "## 1. Put (throughput ratio vs raw temp+rename; speedup vs cacache::write_sync)\n"
    );
    let _ = writeln!(
        s,
        "| put | size | durability | raw baseline | kithara | cacache | kithara/raw throughput | target | met? | speedup vs cacache | target | met? |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (kind, size, g) in put_groups() {
        let cc = r.ns(&g, "cacache_write_sync");
        for (dur, raw, kit) in PUT_PAIRS {
            let (tr, tk) = (r.ns(&g, raw), r.ns(&g, kit));
            let with_cc = dur == "Buffered";
            let speed = if with_cc { ratio(cc, tk) } else { None };
            let _ = writeln!(
                s,
                "| {kind} | {size} | {dur} | {} | {} | {} | {} | {} | {} | {} |",
                time(tr),
                time(tk),
                if with_cc { time(cc) } else { "".into() },
                vs_raw(dur, ratio(tr, tk)),
                if with_cc { x(speed) } else { "".into() },
                if with_cc { "≥ 1.5x" } else { "" },
                if with_cc {
                    met(speed.map(|t| t >= 1.5))
                } else {
                    ""
                },
            );
        }
    }
    if !rotated.is_empty() {
        let _ = writeln!(
            s,
            "\nThe same puts again, {} rounds of {} puts per variant in rotation (medians per put):\n",
            cfg.rotation_rounds, SLOTS
        );
        let _ = writeln!(
            s,
            "| put | size | durability | raw baseline | kithara | kithara/raw throughput | target | met? |"
        );
        let _ = writeln!(s, "|---|---|---|---|---|---|---|---|");
        let ns = |group: &str, id: &str| {
            rotated
                .iter()
                .find(|(g, v, _)| g == group && *v == id)
                .map(|(_, _, t)| *t)
        };
        for (kind, size, g) in put_groups() {
            for (dur, raw, kit) in PUT_PAIRS {
                let (tr, tk) = (ns(&g, raw), ns(&g, kit));
                let _ = writeln!(
                    s,
                    "| {kind} | {size} | {dur} | {} | {} | {} |",
                    time(tr),
                    time(tk),
                    vs_raw(dur, ratio(tr, tk)),
                );
            }
        }
    }

    let _ = writeln!(
        s,
        "\n## 2. Hit read of 64 KiB (latency ratio vs raw File::open + read_to_end; speedup vs cacache::read_sync)\n"
    );
    let _ = writeln!(
        s,
        "| kithara call | raw baseline | kithara | cacache | kithara/raw latency | target | met? | speedup vs cacache | target | met? |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|");
    let g = "hit_64KiB";
    let (tr, cc) = (r.ns(g, "raw_read"), r.ns(g, "cacache_read_sync"));
    for kit in ["kithara_read", "kithara_open_read_to_end"] {
        let tk = r.ns(g, kit);
        let lat = ratio(tk, tr);
        let speed = ratio(cc, tk);
        let _ = writeln!(
            s,
            "| {kit} | {} | {} | {} | {} | ≤ 1.10x | {} | {} | ≥ 1.5x | {} |",
            time(tr),
            time(tk),
            time(cc),
            x(lat),
            met(lat.map(|l| l <= 1.1)),
            x(speed),
            met(speed.map(|t| t >= 1.5)),
        );
    }

    let [small, mid, large] = cfg.scale_sizes;
    let _ = writeln!(
        s,
        "\n## 3. Scaling with assets already present (64 KiB resource)\n"
    );
    let _ = writeln!(
        s,
        "| op | raw @{0} | raw @{1} | raw @{2} | kithara @{0} | kithara @{1} | kithara @{2} | kithara/raw @{2} | kithara {2}/{0} | target | met? | raw {2}/{0} |",
        count(small),
        count(mid),
        count(large)
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (op, g) in [("put", "scale_put_64KiB"), ("hit", "scale_hit_64KiB")] {
        let raw: Vec<_> = cfg
            .scale_sizes
            .iter()
            .map(|n| r.ns(g, &format!("raw/{n}")))
            .collect();
        let kit: Vec<_> = cfg
            .scale_sizes
            .iter()
            .map(|n| r.ns(g, &format!("kithara/{n}")))
            .collect();
        let growth = ratio(kit[2], kit[0]);
        let _ = writeln!(
            s,
            "| {op} | {} | {} | {} | {} | {} | {} | {} | {} | ≤ 1.30x | {} | {} |",
            time(raw[0]),
            time(raw[1]),
            time(raw[2]),
            time(kit[0]),
            time(kit[1]),
            time(kit[2]),
            x(ratio(kit[2], raw[2])),
            x(growth),
            met(growth.map(|g| g <= 1.3)),
            x(ratio(raw[2], raw[0])),
        );
    }

    let _ = writeln!(s, "\n## 4. Put of 64 KiB that must evict k assets\n");
    let _ = writeln!(
        s,
        "Marginal cost per victim = (t(k) - t(0)) / k. Target \"dominated by the unlinks\": kithara's marginal cost per victim at most 1.5x the raw one (the raw baseline only removes the directories).\n"
    );
    let _ = writeln!(
        s,
        "| k | raw baseline | kithara | kithara/raw | raw per victim | kithara per victim | per-victim ratio | target | met? |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|---|---|---|");
    let g = "evict_put_64KiB";
    let (r0, k0) = (r.ns(g, "raw/0"), r.ns(g, "kithara/0"));
    for k in VICTIMS {
        let (tr, tk) = (
            r.ns(g, &format!("raw/{k}")),
            r.ns(g, &format!("kithara/{k}")),
        );
        let per = |t: Option<f64>, t0: Option<f64>| -> Option<f64> {
            if k == 0 {
                None
            } else {
                Some((t? - t0?) / k as f64)
            }
        };
        let (pr, pk) = (per(tr, r0), per(tk, k0));
        let pratio = ratio(pk, pr);
        let _ = writeln!(
            s,
            "| {k} | {} | {} | {} | {} | {} | {} | {} | {} |",
            time(tr),
            time(tk),
            x(ratio(tk, tr)),
            time(pr),
            time(pk),
            x(pratio),
            if k == 0 { "" } else { "≤ 1.5x" },
            if k == 0 {
                ""
            } else {
                met(pratio.map(|p| p <= 1.5))
            },
        );
    }

    let files = cfg.open_assets * cfg.open_files_per_asset;
    let g = format!("open_{}_assets_{files}_files", cfg.open_assets);
    let _ = writeln!(
        s,
        "\n## 5. Open with {} assets / {} files (warm page cache)\n",
        count(cfg.open_assets),
        count(files)
    );
    let _ = writeln!(
        s,
        "| variant | raw walk (readdir + stat all) | kithara | kithara/walk | target | met? |"
    );
    let _ = writeln!(s, "|---|---|---|---|---|---|");
    let walk = r.ns(&g, "raw_walk");
    for (variant, id, limit) in [
        ("open, good index", "kithara_open_indexed", Some(1e9)),
        ("open_read_only, good index", "kithara_open_read_only", None),
        (
            "open, index deleted (rebuild)",
            "kithara_open_rebuild",
            Some(3e9),
        ),
    ] {
        let tk = r.ns(&g, id);
        let _ = writeln!(
            s,
            "| {variant} | {} | {} | {} | {} | {} |",
            time(walk),
            time(tk),
            x(ratio(tk, walk)),
            limit.map_or("(info)".into(), |l| format!("< {}", time(Some(l)))),
            limit.map_or("", |l| met(tk.map(|t| t < l))),
        );
    }

    println!("\n{s}");
    let out = r.home.join("kithara-summary.md");
    if std::fs::create_dir_all(&r.home)
        .and_then(|()| std::fs::write(&out, &s))
        .is_ok()
    {
        println!("(saved as {})", out.display());
    }
}
