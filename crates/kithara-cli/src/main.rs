//! `kithara`: download HLS tracks for offline play, replay them, and manage the cache.

#![forbid(unsafe_code)]

mod args;
mod cache_dir;
mod commands;
mod console;
mod control;
mod duration;
mod error;
mod progress;
mod session;
mod size;
mod variant;

use std::io::{IsTerminal, stderr};
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command};
use crate::error::one_line;

fn main() -> ExitCode {
    let mut cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; a usage error (or help
            // shown for a missing subcommand) goes to stderr in full, with
            // clap's tips and usage, and exits 2.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    init_logging(&cli);
    cli.global.command = cli.command.name();
    let g = &cli.global;
    let result = match cli.command {
        Command::Demo => commands::demo::run(g),
        Command::Fetch(_)
        | Command::Rm { .. }
        | Command::Gc { .. }
        | Command::Keep { .. }
        | Command::Unkeep { .. } => control::run(g, &cli.command),
        Command::Read(args) => commands::read::run(g, &args),
        Command::Info(args) => commands::info::run(g, &args),
        Command::Ls { json } => commands::ls::run(g, json),
        Command::Stats { json } => commands::stats::run(g, json),
        Command::Verify { repair, json } => commands::verify::run(g, repair, json),
        Command::Serve(args) => commands::serve::run(g, &args),
        Command::Config => commands::config::run(g),
        Command::Completions { shell } => commands::docs::completions(shell),
        Command::Man => commands::docs::man(),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::from(e.exit_code())
        }
    }
}

/// Logs to stderr. Warnings (such as inconsistencies the cache recovered
/// from) show by default; `-q` leaves only errors, each `-v` adds a level;
/// `RUST_LOG` overrides all of it. A server also logs its requests.
fn init_logging(cli: &Cli) {
    let g = &cli.global;
    let level = match (g.quiet, g.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    let default = if matches!(cli.command, Command::Serve(_)) && g.verbose == 0 && !g.quiet {
        "warn,kithara_proxy=info".to_owned()
    } else {
        level.to_owned()
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(stderr)
        .with_ansi(stderr().is_terminal())
        .init();
}
