//! `kithara read`: the media bytes a decoder consumes, through the cache.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use kithara_hls::HlsSession;

use crate::args::{Global, ReadArgs};
use crate::cache_dir::open_owner;
use crate::error::CliError;
use crate::hls::{VariantArg, options, parse_variant, runtime};

const CHUNK: usize = 256 * 1024;

pub fn run(global: &Global, args: &ReadArgs) -> Result<ExitCode, CliError> {
    let VariantArg::One(select) = parse_variant(&args.variant, false)? else {
        unreachable!("parse_variant refuses 'all' here")
    };
    let cache = open_owner(global)?;
    let opts = options(cache, &args.key_headers, &args.key_queries)?
        .variant(select)
        .offline(args.offline);
    match &args.output {
        Some(path) => to_file(&args.url, opts, path),
        None => {
            let stdout = io::stdout().lock();
            match stream(
                &args.url,
                opts,
                &mut BufWriter::new(stdout),
                Path::new("<stdout>"),
            ) {
                // A closed pipe (`| head`) is the reader's choice, not an error.
                Err(CliError::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
                    Ok(ExitCode::SUCCESS)
                }
                other => other,
            }
        }
    }
}

/// Writes to `FILE.part` and renames it, so a failed read never leaves a partial FILE.
fn to_file(url: &str, opts: kithara_hls::HlsOptions, path: &Path) -> Result<ExitCode, CliError> {
    let mut part = PathBuf::from(path);
    part.as_mut_os_string().push(".part");
    let file = File::create(&part).map_err(CliError::io("create", &part))?;
    let result = stream(url, opts, &mut BufWriter::new(file), &part);
    match result {
        Ok(code) => {
            fs::rename(&part, path).map_err(CliError::io("rename into place", path))?;
            Ok(code)
        }
        Err(e) => {
            let _ = fs::remove_file(&part);
            Err(e)
        }
    }
}

fn stream(
    url: &str,
    opts: kithara_hls::HlsOptions,
    out: &mut impl Write,
    target: &Path,
) -> Result<ExitCode, CliError> {
    runtime()?.block_on(async {
        let mut session = HlsSession::open(url, opts).await?;
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
        Ok(ExitCode::SUCCESS)
    })
}
