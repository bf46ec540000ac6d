//! `kithara serve`: a local caching HLS proxy over the cache directory.

use std::io::Write;
use std::process::ExitCode;

use kithara_proxy::{Proxy, ProxyOptions};

use crate::args::{Global, ServeArgs};
use crate::cache_dir::open_owner;
use crate::control::Control;
use crate::error::CliError;
use crate::session::runtime;

/// Serve until SIGINT or SIGTERM; the base URL is the one line on stdout.
pub fn run(global: &Global, args: &ServeArgs) -> Result<ExitCode, CliError> {
    let cache = open_owner(global)?;
    // Before the address is printed: whoever waits for it can use the socket.
    let control = Control::listen(&cache);
    let mut opts = ProxyOptions::new(cache)
        .listen(args.listen)
        .allow_remote(args.allow_remote)
        .offline(args.offline);
    for (name, value) in &args.keys.headers {
        opts = opts.key_header(name.clone(), value.clone());
    }
    for (k, v) in &args.keys.queries {
        opts = opts.key_query(k.clone(), v.clone());
    }
    runtime()?.block_on(async {
        let proxy = Proxy::start(opts).await?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "{}", proxy.base_url()).map_err(CliError::io("write", "stdout"))?;
        out.flush().map_err(CliError::io("write", "stdout"))?;
        drop(out);
        eprintln!(
            "kithara: serving; a player opens {}play?url=<percent-encoded HLS URL>",
            proxy.base_url()
        );
        stopped().await;
        eprintln!("kithara: stopping");
        proxy.shutdown().await;
        drop(control);
        Ok(ExitCode::SUCCESS)
    })
}

/// SIGINT or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
