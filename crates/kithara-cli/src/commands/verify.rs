//! `kithara verify`: the index against the file system.

use std::process::ExitCode;

use crate::args::Global;
use crate::cache_dir::{open_inspect, open_owner};
use crate::error::CliError;

/// Checks (or with `repair`, fixes) the index against the files.
pub fn run(global: &Global, repair: bool) -> Result<ExitCode, CliError> {
    if repair {
        // Opening as owner repairs: it rebuilds the index from the files and removes temp leftovers.
        let cache = open_owner(global)?;
        cache.flush()?;
        let report = cache.recovery();
        if report.is_clean() {
            println!("ok");
        }
        for p in report.repairs() {
            println!("repaired: {p}");
        }
        for (path, reason) in &report.skipped {
            println!("left alone: {}: {reason}", path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let Some(cache) = open_inspect(global)? else {
        println!("ok");
        return Ok(ExitCode::SUCCESS);
    };
    let problems = cache.recovery().problems();
    if problems.is_empty() {
        println!("ok");
        return Ok(ExitCode::SUCCESS);
    }
    for p in problems {
        println!("problem: {p}");
    }
    Ok(ExitCode::FAILURE)
}
