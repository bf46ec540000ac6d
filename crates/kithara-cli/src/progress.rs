//! Download progress: a bar on a terminal, plain lines otherwise.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};
use kithara_hls::{PrefetchProgress, Source};

use crate::console::Console;
use crate::size::human;

/// Reports prefetch progress on the console's stderr.
pub struct Progress<'a> {
    con: &'a mut Console,
    bar: Option<ProgressBar>,
    started: Instant,
    bytes: u64,
    variant: Option<usize>,
    last_line: usize,
    quiet: bool,
}

impl<'a> Progress<'a> {
    /// A bar when stderr is this process's terminal, plain lines
    /// otherwise; nothing when `quiet` (`-q`).
    pub fn new(quiet: bool, con: &'a mut Console) -> Self {
        let bar = (!quiet && !con.remote && std::io::stderr().is_terminal()).then(|| {
            let style = ProgressStyle::with_template(
                "{spinner} v{prefix} [{bar:30}] {pos}/{len} resources  {msg}  eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            let bar = ProgressBar::new(0).with_style(style);
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        Self {
            con,
            bar,
            started: Instant::now(),
            bytes: 0,
            variant: None,
            last_line: 0,
            quiet,
        }
    }

    /// Records one finished resource.
    pub fn update(&mut self, p: &PrefetchProgress) {
        if p.source == Source::Network {
            self.bytes += p.bytes;
        }
        let rate = self.bytes as f64 / self.started.elapsed().as_secs_f64().max(0.001);
        let msg = format!("{}  {}/s", human(self.bytes), human(rate as u64));
        if self.variant != Some(p.variant) {
            self.variant = Some(p.variant);
            self.last_line = 0;
        }
        match &self.bar {
            Some(bar) => {
                bar.set_prefix(p.variant.to_string());
                bar.set_length(p.total as u64);
                bar.set_position(p.done as u64);
                bar.set_message(msg);
            }
            None if self.quiet => {}
            None => {
                // About twenty lines per variant, plus the last.
                let step = (p.total / 20).max(1);
                if p.done >= self.last_line + step || p.done == p.total {
                    self.last_line = p.done;
                    // A line lost (a closed stderr) is no reason to stop.
                    let _ = self.con.err(format_args!(
                        "fetch v{} {}/{} resources  {msg}",
                        p.variant, p.done, p.total
                    ));
                }
            }
        }
    }

    /// Clears the bar.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
