//! `kithara info`: the variants and renditions of a playlist, from the
//! network or (`--offline`) the cache, as text or JSON.

use std::process::ExitCode;

use kithara_hls::{PlaylistInfo, playlist_info};
use serde_json::json;

use crate::args::{Global, InfoArgs};
use crate::cache_dir::open_owner;
use crate::error::CliError;
use crate::session::{options, runtime};

/// Prints what the playlist offers; caches nothing.
pub fn run(global: &Global, args: &InfoArgs) -> Result<ExitCode, CliError> {
    let cache = open_owner(global)?;
    let opts = options(cache, &args.keys, &args.net)
        .exclude_codecs(args.exclude_codecs.clone())
        .offline(args.offline);
    let info = runtime()?.block_on(playlist_info(args.url.as_str(), opts))?;
    if args.json {
        println!("{}", to_json(&info));
    } else {
        print!("{}", to_text(&info));
    }
    Ok(ExitCode::SUCCESS)
}

fn or_dash(v: Option<&str>) -> &str {
    v.unwrap_or("-")
}

/// One line per variant, then one per rendition.
fn to_text(info: &PlaylistInfo) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    if !info.master {
        let _ = writeln!(out, "media playlist: {} (no variants)", info.url);
    }
    for v in &info.variants {
        let _ = writeln!(
            out,
            "variant {}  bandwidth={}  codecs={}  resolution={}  audio={}",
            v.index,
            v.bandwidth,
            or_dash(v.codecs.as_deref()),
            or_dash(v.resolution.as_deref()),
            or_dash(v.audio.as_deref()),
        );
    }
    for r in &info.renditions {
        let _ = writeln!(
            out,
            "rendition {}  type={}  group={}  name={}  language={}  default={}",
            r.index,
            r.kind,
            r.group,
            r.name,
            or_dash(r.language.as_deref()),
            if r.default { "yes" } else { "no" },
        );
    }
    out
}

fn to_json(info: &PlaylistInfo) -> serde_json::Value {
    json!({
        "url": info.url.as_str(),
        "master": info.master,
        "variants": info.variants.iter().map(|v| json!({
            "index": v.index,
            "bandwidth": v.bandwidth,
            "codecs": v.codecs,
            "resolution": v.resolution,
            "audio": v.audio,
            "subtitles": v.subtitles,
        })).collect::<Vec<_>>(),
        "renditions": info.renditions.iter().map(|r| json!({
            "index": r.index,
            "type": r.kind,
            "group": r.group,
            "name": r.name,
            "language": r.language,
            "default": r.default,
        })).collect::<Vec<_>>(),
    })
}
