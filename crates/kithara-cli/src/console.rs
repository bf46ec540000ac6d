//! Where a command's output goes: this process's stdout and stderr, or,
//! for a command `kithara serve` runs for another process, that process's
//! (through the control socket, `control.rs`).

use std::fmt;
use std::io::{self, Write};

use crate::error::CliError;

/// A command's two output streams.
pub struct Console {
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    /// Whether the streams are another process's: no progress bar.
    pub remote: bool,
}

impl Console {
    /// This process's stdout and stderr.
    pub fn std() -> Self {
        Self::new(Box::new(io::stdout()), Box::new(io::stderr()), false)
    }

    /// Any two writers; `remote` if they lead to another process.
    pub fn new(out: Box<dyn Write + Send>, err: Box<dyn Write + Send>, remote: bool) -> Self {
        Self { out, err, remote }
    }

    /// One line on stdout.
    pub fn out(&mut self, line: fmt::Arguments<'_>) -> Result<(), CliError> {
        writeln!(self.out, "{line}")
            .and_then(|()| self.out.flush())
            .map_err(CliError::io("write", "stdout"))
    }

    /// One line on stderr.
    pub fn err(&mut self, line: fmt::Arguments<'_>) -> Result<(), CliError> {
        writeln!(self.err, "{line}")
            .and_then(|()| self.err.flush())
            .map_err(CliError::io("write", "stderr"))
    }
}
