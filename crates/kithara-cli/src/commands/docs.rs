//! `kithara completions SHELL` and `kithara man`: generated from the same
//! clap definition as the parser, so they never drift from it.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::CommandFactory;
use clap_complete::Shell;

use crate::args::Cli;
use crate::error::CliError;

/// Prints the completion script of `shell` to stdout.
pub fn completions(shell: Shell) -> Result<ExitCode, CliError> {
    let mut cmd = Cli::command();
    let mut out = io::stdout().lock();
    clap_complete::generate(shell, &mut cmd, "kithara", &mut out);
    out.flush().map_err(CliError::io("write", "stdout"))?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the man page (roff) to stdout: `kithara man > kithara.1`.
pub fn man() -> Result<ExitCode, CliError> {
    let mut out = io::stdout().lock();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(CliError::io("write", "stdout"))?;
    out.flush().map_err(CliError::io("write", "stdout"))?;
    Ok(ExitCode::SUCCESS)
}
