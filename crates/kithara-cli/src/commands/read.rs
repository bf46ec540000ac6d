//! `kithara read`: the media bytes a decoder consumes, through the cache.

use std::fs;
use std::io::{self, BufWriter, IsTerminal, Write};
#[cfg(unix)]
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::ExitCode;

use kithara_hls::{HlsOptions, HlsSession};

use crate::args::{Global, ReadArgs};
use crate::cache_dir::open_owner;
use crate::error::CliError;
use crate::session::{options, runtime};

const CHUNK: usize = 256 * 1024;

/// Streams the track to `-o FILE` or stdout (`-o -` is stdout too).
pub fn run(global: &Global, args: &ReadArgs) -> Result<ExitCode, CliError> {
    let to_stdout = args.output.as_ref().is_none_or(|p| p.as_os_str() == "-");
    if refuse_terminal(args.output.as_deref(), io::stdout().is_terminal()) {
        return Err(CliError::Usage(
            "refusing to write binary media to a terminal: redirect stdout, \
             use -o FILE, or -o - to write it here anyway"
                .into(),
        ));
    }
    let cache = open_owner(global)?;
    let mut opts = options(cache, &args.keys, &args.net)
        .variant(args.variant)
        .exclude_codecs(args.exclude_codecs.clone())
        .offline(args.offline);
    if let Some(name) = &args.rendition {
        opts = opts.rendition(name.clone());
    }
    let path = match &args.output {
        Some(path) if !to_stdout => path,
        _ => {
            let mut out = BufWriter::new(io::stdout().lock());
            return match stream(args, opts, &mut out, Path::new("<stdout>")) {
                // A closed pipe (`| head`) is the reader's choice, not an error.
                Err(CliError::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
                    Ok(ExitCode::SUCCESS)
                }
                other => other,
            };
        }
    };
    let special = fs::metadata(path).is_ok_and(|m| !m.is_file());
    if special {
        // /dev/null, a FIFO: nothing to replace atomically.
        let file = fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(CliError::io("open", path))?;
        return stream(args, opts, &mut BufWriter::new(file), path);
    }
    to_file(args, opts, path)
}

/// Writes to a temp file beside FILE, syncs it and renames it over FILE, so
/// a failed or interrupted read never leaves a partial FILE.
fn to_file(args: &ReadArgs, opts: HlsOptions, path: &Path) -> Result<ExitCode, CliError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // Mode 0666 minus the umask, as any file a shell redirect creates
    // (tempfile's own default is 0600).
    let temp = tempfile::Builder::new()
        .prefix(".kithara-read-")
        .suffix(".part")
        .permissions(std::fs::Permissions::from_mode(0o666))
        .tempfile_in(dir)
        .map_err(CliError::io("create a temp file in", dir))?;
    let mut out = BufWriter::new(temp);
    let code = stream(args, opts, &mut out, path)?;
    let temp = out
        .into_inner()
        .map_err(|e| CliError::io("write", path)(e.into_error()))?;
    temp.as_file()
        .sync_all()
        .map_err(CliError::io("sync", path))?;
    temp.persist(path)
        .map_err(|e| CliError::io("rename into place", path)(e.error))?;
    Ok(code)
}

/// Writes the track (from `--start` on) to `out`.
fn stream(
    args: &ReadArgs,
    opts: HlsOptions,
    out: &mut impl Write,
    target: &Path,
) -> Result<ExitCode, CliError> {
    runtime()?.block_on(async {
        let mut session = HlsSession::open(args.url.as_str(), opts).await?;
        if let Some(start) = args.start {
            session.seek_time(start).await?;
        }
        let mut buf = vec![0u8; CHUNK];
        loop {
            let n = session.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])
                .map_err(CliError::io("write", target))?;
        }
        out.flush().map_err(CliError::io("write", target))?;
        // The cache writes behind the reader finish before the process ends.
        session.close().await;
        Ok(ExitCode::SUCCESS)
    })
}

/// Whether to refuse: media bytes would go to a terminal without `-o -`
/// asking for it (as `curl` does).
fn refuse_terminal(output: Option<&Path>, stdout_is_terminal: bool) -> bool {
    output.is_none() && stdout_is_terminal
}
