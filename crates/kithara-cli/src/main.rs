//! `kithara`: download HLS tracks for offline play, replay them, and manage the cache.

#![forbid(unsafe_code)]

mod args;
mod cache_dir;
mod commands;
mod duration;
mod error;
mod progress;
mod session;
mod size;
mod variant;

use std::io::{IsTerminal, stderr};
use std::process::ExitCode;

use clap::Parser;
use kithara_hls::HlsError;
use tracing_subscriber::EnvFilter;

use crate::args::{Cli, Command};
use crate::error::CliError;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version print as clap formats them.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("error: {}", first.trim_start_matches("error: "));
            return ExitCode::from(2);
        }
    };
    // Silent unless RUST_LOG asks: errors reach the user as one `error:`
    // line. A server logs its requests and warnings to stderr.
    let quiet = if matches!(cli.command, Some(Command::Serve(_))) {
        "kithara_proxy=info"
    } else {
        "off"
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(quiet));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(stderr)
        .with_ansi(stderr().is_terminal())
        .init();
    let g = &cli.global;
    let result = match cli.command.unwrap_or(Command::Demo) {
        Command::Demo => commands::demo::run(g),
        Command::Fetch(args) => commands::fetch::run(g, &args),
        Command::Read(args) => commands::read::run(g, &args),
        Command::Ls { json } => commands::ls::run(g, json),
        Command::Stats { json } => commands::stats::run(g, json),
        Command::Gc => commands::gc::run(g),
        Command::Verify { repair, json } => commands::verify::run(g, repair, json),
        Command::Rm { target } => commands::rm::run(g, &target),
        Command::Serve(args) => commands::serve::run(g, &args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", one_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line.
fn one_line(e: &CliError) -> String {
    if let CliError::Hls(HlsError::OfflineMiss { url }) = e {
        return format!("offline miss: {url}");
    }
    let mut line = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let text = s.to_string();
        if !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = s.source();
    }
    line.replace('\n', " ")
}
