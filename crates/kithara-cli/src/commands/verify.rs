//! `kithara verify`: the index against the file system, and every resource
//! against its integrity record (length and digest).
//!
//! Exit status: 0 when nothing is wrong (or `--repair` fixed everything),
//! 3 when problems are found (or remain), 1 when the check could not run.

use std::process::ExitCode;

use kithara_cache::{AssetCache, BadResource, VerifyReport};
use serde_json::{Value, json};

use crate::args::Global;
use crate::cache_dir::{open_inspect, open_owner};
use crate::error::CliError;

/// The exit status of a check that found problems.
const PROBLEMS_FOUND: u8 = 3;

/// Checks (or with `repair`, fixes) the index and every resource.
pub fn run(global: &Global, repair: bool, as_json: bool) -> Result<ExitCode, CliError> {
    let outcome = if repair {
        repaired(global)?
    } else {
        checked(global)?
    };
    if as_json {
        println!("{}", outcome.json());
    } else {
        outcome.print();
    }
    Ok(if outcome.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(PROBLEMS_FOUND)
    })
}

/// What a run found and did.
#[derive(Default)]
struct Outcome {
    /// Index problems found (left as they are: an owner's open repairs them).
    problems: Vec<String>,
    /// Index problems an owner's open repaired.
    repairs: Vec<String>,
    /// Entries that are not the cache's, left alone (`--repair`).
    left_alone: Vec<String>,
    report: VerifyReport,
    /// Bad resources removed (`--repair`).
    removed: Vec<BadResource>,
}

impl Outcome {
    /// Bad resources still in place.
    fn bad(&self) -> impl Iterator<Item = &BadResource> {
        self.report.bad.iter().filter(|b| {
            !self
                .removed
                .iter()
                .any(|r| r.id == b.id && r.path == b.path)
        })
    }

    fn is_ok(&self) -> bool {
        self.problems.is_empty() && self.bad().next().is_none()
    }

    fn print(&self) {
        for p in &self.problems {
            println!("problem: {p}");
        }
        for b in self.bad() {
            println!("bad: {}", line(b));
        }
        for p in &self.repairs {
            println!("repaired: {p}");
        }
        for b in &self.removed {
            println!("repaired: removed {}", line(b));
        }
        for p in &self.left_alone {
            println!("left alone: {p}");
        }
        let nothing_done = self.repairs.is_empty() && self.removed.is_empty();
        if self.is_ok() && nothing_done {
            println!("ok");
        }
        if self.report.unverifiable > 0 {
            println!(
                "unverifiable: {} resource(s) without an integrity record (written by an older version)",
                self.report.unverifiable
            );
        }
    }

    fn json(&self) -> Value {
        let resource = |b: &BadResource| {
            json!({
                "asset": b.id.to_hex(),
                "path": b.path.to_string(),
                "file": b.file.display().to_string(),
                "problem": b.problem.to_string(),
            })
        };
        json!({
            "ok": self.is_ok(),
            "verified": self.report.verified,
            "unverifiable": self.report.unverifiable,
            "problems": self.problems,
            "bad": self.bad().map(resource).collect::<Vec<_>>(),
            "repaired": self.repairs,
            "removed": self.removed.iter().map(resource).collect::<Vec<_>>(),
            "left_alone": self.left_alone,
        })
    }
}

/// `<asset id> <path> (<file>): <problem>`.
fn line(b: &BadResource) -> String {
    format!(
        "{} {} ({}): {}",
        b.id.to_hex(),
        b.path,
        b.file.display(),
        b.problem
    )
}

/// Read-only beside any owner: reports, changes nothing.
fn checked(global: &Global) -> Result<Outcome, CliError> {
    let Some(cache) = open_inspect(global)? else {
        return Ok(Outcome::default());
    };
    Ok(Outcome {
        problems: cache.recovery().problems(),
        report: cache.verify()?,
        ..Outcome::default()
    })
}

/// As owner: the open rebuilds the index from the files, removes temp
/// leftovers and torn resources; then every bad resource is removed.
fn repaired(global: &Global) -> Result<Outcome, CliError> {
    let cache: AssetCache = open_owner(global)?;
    cache.flush()?;
    let recovery = cache.recovery();
    let report = cache.verify()?;
    let removed = cache.repair(&report)?;
    Ok(Outcome {
        repairs: recovery.repairs(),
        left_alone: recovery
            .skipped
            .iter()
            .map(|(path, reason)| format!("{}: {reason}", path.display()))
            .collect(),
        report,
        removed,
        ..Outcome::default()
    })
}
