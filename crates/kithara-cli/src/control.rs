//! The write commands (`fetch`, `keep`, `unkeep`, `rm`, `gc`), run here or,
//! while `kithara serve` owns the cache directory, by it.
//!
//! A running `kithara serve` listens on `<dir>/.control`, a unix socket of
//! mode 0600 that answers only its own user (peer credentials checked on
//! both ends). A write command that finds the directory in use connects to
//! it, sends its arguments (`{"argv": [...]}`, one JSON line) and relays
//! what comes back (`{"out": text}`, `{"err": text}`, then `{"exit": n}`):
//! the serve parses them as this process would and runs the same command
//! code against its open cache, so the output and the exit status are
//! those of the command run alone. Any other owner (no socket, a dead
//! socket, another user's) still gives the in-use error.

use std::fs::{self, Permissions};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use clap::Parser;
use kithara_cache::{AssetCache, AssetInfo, CacheError};
use serde_json::{Value, json};

use crate::args::{Cli, Command, Global};
use crate::cache_dir::{owner_options, resolve};
use crate::commands::{fetch, gc, keep, rm};
use crate::console::Console;
use crate::error::{CliError, one_line};

/// The socket's name in the cache directory.
const SOCKET: &str = ".control";
/// The longest request read (the arguments of one command).
const MAX_REQUEST: u64 = 64 << 10;

/// Runs a write command: here if this process can own the cache, else by
/// the `kithara serve` that owns it.
pub fn run(global: &Global, command: &Command) -> Result<ExitCode, CliError> {
    let opened = match command {
        Command::Fetch(args) => {
            fetch::check(args)?;
            // Every cached resource a fetch finds is read and checked
            // against its record, digest included: a rotted one is fetched again.
            AssetCache::open(owner_options(global)?.verify_reads(true))
        }
        _ => AssetCache::open(owner_options(global)?),
    };
    match opened {
        Ok(cache) => {
            // An open with a smaller --max-bytes already evicted to fit it.
            let at_open = cache.recovery().evicted.clone();
            exec(&cache, global, command, at_open, &mut Console::std())?;
            Ok(ExitCode::SUCCESS)
        }
        Err(busy @ CacheError::InUse { .. }) => forward(global, busy),
        Err(e) => Err(e.into()),
    }
}

/// Runs write command `command` against `cache`, writing to `con`.
fn exec(
    cache: &AssetCache,
    global: &Global,
    command: &Command,
    at_open: Vec<AssetInfo>,
    con: &mut Console,
) -> Result<(), CliError> {
    match command {
        Command::Fetch(args) => fetch::exec(cache, global, args, con),
        Command::Rm { target, json } => rm::exec(cache, target, *json, con),
        Command::Gc { include_kept, json } => gc::exec(cache, *include_kept, *json, at_open, con),
        Command::Keep { target, json } => keep::exec(cache, target, true, *json, con),
        Command::Unkeep { target, json } => keep::exec(cache, target, false, *json, con),
        _ => Err(CliError::Usage(
            "kithara serve carries out only fetch, keep, unkeep, rm and gc".into(),
        )),
    }
}

/// Has the `kithara serve` owning the directory run this process's
/// command; `busy` (the in-use error) if there is none to ask.
fn forward(global: &Global, busy: CacheError) -> Result<ExitCode, CliError> {
    // A limit for this run cannot apply to a cache another process opened.
    if global.max_bytes.is_some() || global.max_kept_bytes.is_some() {
        return Err(busy.into());
    }
    let path = resolve(global)?.join(SOCKET);
    let argv: Option<Vec<String>> = std::env::args_os().map(|a| a.into_string().ok()).collect();
    let (Some(stream), Some(argv)) = (connect(&path), argv) else {
        return Err(busy.into());
    };
    let lost = |e| CliError::io("talk to kithara serve at", &path)(e);
    writeln!(&stream, "{}", json!({ "argv": argv })).map_err(lost)?;
    let (mut out, mut err) = (io::stdout().lock(), io::stderr().lock());
    for line in BufReader::new(&stream).lines() {
        let frame: Value = serde_json::from_str(&line.map_err(lost)?)
            .map_err(|e| lost(io::Error::new(io::ErrorKind::InvalidData, e)))?;
        let written = match (frame.get("out"), frame.get("err"), frame.get("exit")) {
            (Some(Value::String(s)), _, _) => {
                out.write_all(s.as_bytes()).and_then(|()| out.flush())
            }
            (_, Some(Value::String(s)), _) => err.write_all(s.as_bytes()),
            (_, _, Some(code)) => {
                let code = code.as_u64().unwrap_or(1).min(255) as u8;
                return Ok(ExitCode::from(code));
            }
            _ => Ok(()),
        };
        written.map_err(CliError::io("write", "stdout"))?;
    }
    Err(lost(io::ErrorKind::UnexpectedEof.into()))
}

/// A connection to the socket at `path` if one of this user's processes
/// listens there. Never through a link: what stands there must be a
/// socket, and whoever answers must be this user (a link swapped in
/// after the check still leads to a peer whose credentials are checked).
fn connect(path: &Path) -> Option<UnixStream> {
    let meta = fs::symlink_metadata(path).ok()?;
    if !meta.file_type().is_socket() {
        return None;
    }
    let stream = UnixStream::connect(path).ok()?;
    same_user(&stream).then_some(stream)
}

/// Whether the process at the other end runs as this user.
fn same_user(stream: &UnixStream) -> bool {
    rustix::net::sockopt::socket_peercred(stream)
        .is_ok_and(|peer| peer.uid == rustix::process::getuid())
}

/// A `kithara serve`'s control socket: it runs the write commands of other
/// `kithara` processes of this user against `cache`. Dropping it stops
/// taking commands and removes the socket.
pub struct Control {
    path: PathBuf,
    /// The listening socket, to wake the thread blocked in accept.
    listener: UnixListener,
    stop: Arc<AtomicBool>,
    accepting: Option<JoinHandle<()>>,
}

impl Control {
    /// Listens at `<root>/.control`; `None` (with a warning) if it cannot,
    /// e.g. a path too long for a socket: the serve runs without it.
    pub fn listen(cache: &AssetCache) -> Option<Self> {
        let root = cache.root()?;
        let path = root.join(SOCKET);
        let listener = match bind(root, &path) {
            Ok(l) => l,
            Err(e) => {
                eprintln!(
                    "kithara: no control socket at {}: {e}; other kithara commands will find the cache in use",
                    path.display()
                );
                return None;
            }
        };
        let waker = match listener.try_clone() {
            Ok(l) => l,
            Err(e) => {
                eprintln!("kithara: no control socket: {e}");
                return None;
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let (cache, stopped) = (cache.clone(), Arc::clone(&stop));
        let accepting = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stopped.load(Ordering::Acquire) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                if !same_user(&conn) {
                    eprintln!("kithara: control socket: refused a connection from another user");
                    continue;
                }
                let cache = cache.clone();
                std::thread::spawn(move || answer(&cache, conn));
            }
        });
        Some(Self {
            path,
            listener: waker,
            stop,
            accepting: Some(accepting),
        })
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        // Wakes the accept (it fails from now on) so the thread sees the
        // flag and lets go of its cache (the last one must drop to persist
        // the index); needs no path, which someone may have removed.
        let _ = rustix::net::shutdown(&self.listener, rustix::net::Shutdown::Read);
        if let Some(t) = self.accepting.take() {
            let _ = t.join();
        }
        let _ = fs::remove_file(&self.path);
    }
}

/// Binds the socket where nobody else can reach it (a fresh 0700 folder
/// in the root), makes it 0600, then renames it to `path`: a socket left
/// by a killed serve is replaced, and a link there is replaced, never
/// followed. The caller owns the directory's lock, so no live serve is
/// listening at `path`.
fn bind(root: &Path, path: &Path) -> io::Result<UnixListener> {
    let private = tempfile::Builder::new()
        .prefix(".control-")
        .tempdir_in(root)?;
    let at = private.path().join("s");
    let listener = UnixListener::bind(&at)?;
    fs::set_permissions(&at, Permissions::from_mode(0o600))?;
    fs::rename(&at, path)?;
    Ok(listener)
}

/// Runs one request and sends back its output and exit status.
fn answer(cache: &AssetCache, conn: UnixStream) {
    let mut line = String::new();
    if BufReader::new((&conn).take(MAX_REQUEST))
        .read_line(&mut line)
        .is_err()
    {
        return;
    }
    let conn = Arc::new(Mutex::new(conn));
    let frames = |stream| Box::new(Frames(Arc::clone(&conn), stream)) as Box<dyn Write + Send>;
    let mut con = Console::new(frames("out"), frames("err"), true);
    let argv: Option<Vec<String>> = serde_json::from_str::<Value>(&line)
        .ok()
        .and_then(|v| serde_json::from_value(v.get("argv")?.clone()).ok());
    let code = match argv.map(Cli::try_parse_from) {
        None => {
            let _ = con.err(format_args!("error: a request kithara serve cannot read"));
            crate::error::USAGE
        }
        Some(Err(e)) => {
            let _ = con.err(format_args!("{}", e.to_string().trim_end()));
            e.exit_code().clamp(0, 255) as u8
        }
        Some(Ok(cli)) => match exec(cache, &cli.global, &cli.command, Vec::new(), &mut con) {
            Ok(()) => 0,
            Err(e) => {
                let _ = con.err(format_args!("error: {}", one_line(&e)));
                e.exit_code()
            }
        },
    };
    let mut conn = conn.lock().unwrap_or_else(|p| p.into_inner());
    let _ = writeln!(conn, "{}", json!({ "exit": code }));
}

/// One output stream of a command run for another process: each write is
/// a JSON line `{"<stream>": text}` on the connection.
struct Frames(Arc<Mutex<UnixStream>>, &'static str);

impl Write for Frames {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let mut conn = self.0.lock().unwrap_or_else(|p| p.into_inner());
        writeln!(conn, "{}", json!({ self.1: text }))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
