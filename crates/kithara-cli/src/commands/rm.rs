//! `kithara rm`: remove one asset by URL or id prefix.

use kithara_cache::{AssetCache, AssetId};
use serde_json::json;
use url::Url;

use crate::console::Console;
use crate::error::CliError;

const MIN_PREFIX: usize = 8;

/// Removes the asset named by `target`; prints its id (or, with `--json`,
/// one JSON object).
pub fn exec(
    cache: &AssetCache,
    target: &str,
    as_json: bool,
    con: &mut Console,
) -> Result<(), CliError> {
    let id = find(cache, target)?;
    let info = cache.asset(id).info();
    cache.remove(id)?;
    if as_json {
        let v = json!({
            "removed": id.to_hex(),
            "source_url": info.as_ref().and_then(|i| i.source_url.clone()),
            "bytes": info.as_ref().map_or(0, |i| i.bytes),
        });
        con.out(format_args!("{v}"))
    } else {
        con.out(format_args!("removed {id}"))
    }
}

/// The cached asset `target` names: an http(s) URL, or an id prefix of
/// at least 8 hex digits that matches one asset (`rm`, `keep`, `unkeep`).
pub fn find(cache: &AssetCache, target: &str) -> Result<AssetId, CliError> {
    if let Ok(url) = Url::parse(target)
        && matches!(url.scheme(), "http" | "https")
    {
        let id = AssetId::from_url(&url)?;
        return match cache.asset(id).info() {
            Some(_) => Ok(id),
            None => Err(CliError::NotFound(format!("no cached asset for {url}"))),
        };
    }
    let prefix = target.to_ascii_lowercase();
    if prefix.len() < MIN_PREFIX || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(CliError::Usage(format!(
            "{target:?} is neither an http(s) URL nor an asset id (at least {MIN_PREFIX} hex digits)"
        )));
    }
    let matches: Vec<AssetId> = cache
        .assets()?
        .into_iter()
        .map(|a| a.id)
        .filter(|id| id.to_hex().starts_with(&prefix))
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => Err(CliError::NotFound(format!(
            "no cached asset with id {target}"
        ))),
        many => Err(CliError::Usage(format!(
            "id prefix {target} is ambiguous: it matches {} assets",
            many.len()
        ))),
    }
}
