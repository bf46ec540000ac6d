//! The servers under test, each a child process: the proxy (this bench
//! binary run again in serve mode, set up as `kithara serve` sets it up) and
//! nginx (Debian's, with a generated config in a temp dir).

use std::io::{BufRead, BufReader, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use crate::sys;

/// The environment variable that makes this binary a proxy: its value is
/// the cache directory.
pub const SERVE_ENV: &str = "KITHARA_PROXY_BENCH_SERVE";

/// The proxy, running in a child process.
pub struct ProxyChild {
    child: Child,
    stdin: Option<ChildStdin>,
    pub addr: SocketAddr,
    /// `/<token>/`: every path of the proxy starts with it.
    pub prefix: String,
}

impl ProxyChild {
    /// Start a proxy over the cache at `cache_dir`; its log (one line per
    /// request, as `kithara serve` writes) goes to `log`.
    pub fn start(cache_dir: &Path, log: &Path) -> Self {
        let exe = std::env::current_exe().expect("current exe");
        let log = std::fs::File::create(log).expect("proxy log");
        let mut child = Command::new(exe)
            .env(SERVE_ENV, cache_dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn the proxy");
        let stdin = child.stdin.take();
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("proxy stdout"))
            .read_line(&mut line)
            .expect("proxy base URL");
        let base = url::Url::parse(line.trim()).expect("proxy base URL");
        let addr = base
            .socket_addrs(|| None)
            .expect("proxy address")
            .into_iter()
            .next()
            .expect("proxy address");
        Self {
            child,
            stdin,
            addr,
            prefix: base.path().to_owned(),
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn cpu_seconds(&self) -> f64 {
        sys::cpu_seconds(self.pid())
    }

    /// `play?url=<upstream>`, as `Proxy::url_for` makes it.
    pub fn play_path(&self, upstream: &url::Url) -> String {
        let q: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("url", upstream.as_str())
            .finish();
        format!("{}play?{q}", self.prefix)
    }

    /// Peak and current RSS (`VmHWM`, `VmRSS`), bytes.
    pub fn rss(&self) -> (u64, u64) {
        (
            sys::status_bytes(self.pid(), "VmHWM").unwrap_or(0),
            sys::status_bytes(self.pid(), "VmRSS").unwrap_or(0),
        )
    }

    /// Graceful stop: closing stdin makes the child shut the proxy down.
    pub fn stop(mut self) {
        self.stop_inner();
    }

    fn stop_inner(&mut self) {
        drop(self.stdin.take());
        reap(&mut self.child);
    }
}

impl Drop for ProxyChild {
    fn drop(&mut self) {
        self.stop_inner();
    }
}

/// Where Debian installs nginx; else the PATH.
fn nginx_binary() -> Option<PathBuf> {
    let debian = PathBuf::from("/usr/sbin/nginx");
    if debian.is_file() {
        return Some(debian);
    }
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("nginx"))
            .find(|f| f.is_file())
    })
}

/// What an nginx serves.
pub enum Serve<'a> {
    /// The files under `root` (`sendfile` off: a copy through user space).
    Files { root: &'a Path, sendfile: bool },
    /// A caching reverse proxy of `origin` (`proxy_cache`).
    CachingProxy { origin: SocketAddr },
    /// A reverse proxy of `origin` that caches nothing: what the extra hop
    /// alone costs any proxy on this machine.
    Relay { origin: SocketAddr },
    /// `origin` behind a link of `rate` bytes/s per response (a relay
    /// with `limit_rate`): an origin as a player meets it over a network.
    Link { origin: SocketAddr, rate: u64 },
}

/// nginx on 127.0.0.1.
pub struct Nginx {
    child: Child,
    pub addr: SocketAddr,
}

impl Nginx {
    /// Fail with a clear message when nginx is not installed: the bench
    /// installs nothing itself.
    pub fn check_installed() {
        if nginx_binary().is_none() {
            eprintln!(
                "error: nginx not found (looked in /usr/sbin and PATH).\n\
                 The warm workload compares the proxy with nginx serving the same files, and the\n\
                 cold one shows nginx's own caching proxy beside it; install the Debian package:\n\
                 apt-get install nginx (or run only: cargo bench -p kithara-proxy -- memory)"
            );
            std::process::exit(2);
        }
    }

    /// Start nginx (master + `worker_processes auto`, Debian's default
    /// settings: `sendfile on`, `tcp_nopush on` (but see below), an access
    /// log, and keep-alive without a request limit) on a free
    /// loopback port, serving `what`. Its files go to `dir`.
    pub fn start(dir: &Path, what: &Serve<'_>) -> Self {
        let bin = nginx_binary().expect("nginx (checked before)");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        std::fs::create_dir_all(dir).expect("nginx dir");
        let d = dir.display();
        let user = if sys::is_root() { "user root;\n" } else { "" };
        let (sendfile, server) = match what {
            Serve::Files { root, sendfile } => (
                *sendfile,
                format!(
                    "server {{\n listen {addr};\n root {};\n location / {{ }}\n}}\n",
                    root.display()
                ),
            ),
            // nginx's own caching proxy, set up as its documentation shows:
            // keep-alive to the origin, responses cached on disk.
            Serve::CachingProxy { origin } => (
                true,
                format!(
                    "upstream origin {{ server {origin}; keepalive 16; }}\n\
                     proxy_cache_path {d}/cache levels=1:2 keys_zone=kithara:10m \
                     max_size=4g inactive=1h use_temp_path=off;\n\
                     server {{\n listen {addr};\n location / {{\n\
                       proxy_pass http://origin;\n\
                       proxy_http_version 1.1;\n\
                       proxy_set_header Connection \"\";\n\
                       proxy_cache kithara;\n\
                       proxy_cache_valid 200 1h;\n\
                     }}\n}}\n"
                ),
            ),
            // The same without the cache; responses are not buffered to
            // disk either (`proxy_buffering off`: bytes are relayed as they
            // come). A link is a relay with a rate limit.
            Serve::Relay { origin } | Serve::Link { origin, .. } => {
                let limit = match what {
                    Serve::Link { rate, .. } => format!("limit_rate {rate};\n"),
                    _ => String::new(),
                };
                (
                    true,
                    format!(
                        "upstream origin {{ server {origin}; keepalive 16; }}\n\
                         server {{\n listen {addr};\n location / {{\n\
                           proxy_pass http://origin;\n\
                           proxy_http_version 1.1;\n\
                           proxy_set_header Connection \"\";\n\
                           proxy_buffering off;\n\
                           {limit}\
                         }}\n}}\n"
                    ),
                )
            }
        };
        // Debian's `tcp_nopush on`, except for the caching proxy: there
        // it held back the last piece of each 64 KiB response until the
        // client's delayed ACK (a 64 KiB cold stream at 2 MB/s instead of
        // 67-113 MB/s with it off, in a trial run).
        let nopush = if matches!(
            what,
            Serve::CachingProxy { .. } | Serve::Relay { .. } | Serve::Link { .. }
        ) {
            "off"
        } else {
            "on"
        };
        let sendfile = if sendfile { "on" } else { "off" };
        let conf = format!(
            "{user}daemon off;\n\
             master_process on;\n\
             worker_processes auto;\n\
             pid {d}/nginx.pid;\n\
             error_log {d}/error.log warn;\n\
             events {{ worker_connections 1024; }}\n\
             http {{\n\
               sendfile {sendfile};\n\
               tcp_nopush {nopush};\n\
               keepalive_timeout 65;\n\
               keepalive_requests 100000000;\n\
               access_log {d}/access.log;\n\
               client_body_temp_path {d}/body;\n\
               proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fastcgi;\n\
               uwsgi_temp_path {d}/uwsgi;\n\
               scgi_temp_path {d}/scgi;\n\
               types {{ video/mp2t ts; application/vnd.apple.mpegurl m3u8; }}\n\
               default_type application/octet-stream;\n\
               {server}\
             }}\n"
        );
        let conf_path = dir.join("nginx.conf");
        std::fs::File::create(&conf_path)
            .and_then(|mut f| f.write_all(conf.as_bytes()))
            .expect("write nginx.conf");
        let child = Command::new(bin)
            .arg("-p")
            .arg(dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn nginx");
        let mut nginx = Self { child, addr };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(addr).is_err() {
            if let Ok(Some(status)) = nginx.child.try_wait() {
                panic!(
                    "nginx exited ({status}); see {}",
                    dir.join("error.log").display()
                );
            }
            assert!(Instant::now() < deadline, "nginx did not start listening");
            std::thread::sleep(Duration::from_millis(20));
        }
        // The workers as well as the master.
        while sys::children(nginx.child.id()).is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    /// CPU seconds of the master and its workers.
    pub fn cpu_seconds(&self) -> f64 {
        let master = self.child.id();
        sys::cpu_seconds(master)
            + sys::children(master)
                .into_iter()
                .map(sys::cpu_seconds)
                .sum::<f64>()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // TERM to the master: it stops its workers (a SIGKILL would
        // orphan them).
        sys::signal(self.child.id(), "TERM");
        reap(&mut self.child);
    }
}

/// Wait up to 10 s for `child`, asked to stop, to exit; kill it after.
fn reap(child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}
