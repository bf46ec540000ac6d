//! The log line format of `kithara serve`: one line per event on stderr,
//! laid out as `tracing-subscriber`'s default (`Full`) format,
//! `2026-11-29T01:26:44.123456Z  INFO kithara_proxy::request: request
//! method=GET path="…" status=200 ms=0.2`, but written without its
//! per-event work: the date and time of day are formatted once a second
//! (per thread), and fields go straight into the line. The proxy logs
//! every request, so this is on the path of every hit (perf: tracing's
//! formatting was about 4 % of the proxy's CPU per warm 64 KiB hit).
//!
//! ```no_run
//! tracing_subscriber::fmt()
//!     .event_format(kithara_proxy::LogFormat)
//!     .with_writer(std::io::stderr)
//!     .init();
//! ```

use std::cell::Cell;
use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

/// The event format `kithara serve` logs with (see the module docs): the
/// layout of `tracing-subscriber`'s default format (timestamp in UTC with
/// microseconds, level, span names, target, message, `name=value` fields;
/// strings quoted and escaped, so a request path cannot forge a line),
/// with the level coloured when the writer takes ANSI colours.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogFormat;

impl<S, N> FormatEvent<S, N> for LogFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        write_now(&mut w)?;
        let meta = event.metadata();
        let level = level_name(*meta.level());
        if w.has_ansi_escapes() {
            write!(w, " \x1b[{}m{level}\x1b[0m ", level_colour(*meta.level()))?;
        } else {
            w.write_char(' ')?;
            w.write_str(level)?;
            w.write_char(' ')?;
        }
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                w.write_str(span.name())?;
                let ext = span.extensions();
                if let Some(fields) = ext.get::<FormattedFields<N>>()
                    && !fields.is_empty()
                {
                    write!(w, "{{{fields}}}")?;
                }
                w.write_char(':')?;
            }
            w.write_char(' ')?;
        }
        w.write_str(meta.target())?;
        w.write_str(": ")?;
        let mut fields = Fields {
            w: &mut w,
            first: true,
            result: Ok(()),
        };
        event.record(&mut fields);
        fields.result?;
        w.write_char('\n')
    }
}

/// The level as the default format pads it (five wide, right-aligned).
fn level_name(level: Level) -> &'static str {
    match level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

/// The default format's ANSI colour of a level.
fn level_colour(level: Level) -> &'static str {
    match level {
        Level::TRACE => "35",
        Level::DEBUG => "34",
        Level::INFO => "32",
        Level::WARN => "33",
        Level::ERROR => "31",
    }
}

thread_local! {
    /// The second the cached prefix is of, and `YYYY-MM-DDTHH:MM:SS`.
    static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// Now, in UTC with microseconds: `2026-11-29T01:26:44.123456Z`.
fn write_now(w: &mut Writer<'_>) -> fmt::Result {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (cached, mut prefix) = SECOND.get();
    if cached != secs {
        prefix = civil(secs);
        SECOND.set((secs, prefix));
    }
    // ASCII digits and separators only (`civil`).
    w.write_str(std::str::from_utf8(&prefix).map_err(|_| fmt::Error)?)?;
    let mut frac = *b".000000Z";
    let mut us = now.subsec_micros();
    for d in frac[1..7].iter_mut().rev() {
        *d = b'0' + (us % 10) as u8;
        us /= 10;
    }
    w.write_str(std::str::from_utf8(&frac).map_err(|_| fmt::Error)?)
}

/// `YYYY-MM-DDTHH:MM:SS` of `secs` since the Unix epoch, in UTC (the
/// civil-from-days algorithm of Howard Hinnant's `chrono`-compatible
/// date library; years 0000–9999).
fn civil(secs: u64) -> [u8; 19] {
    let days = (secs / 86_400) as i64;
    let tod = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, width: usize, mut v: u64| {
        for i in (at..at + width).rev() {
            out[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, year.clamp(0, 9999) as u64);
    put(5, 2, month as u64);
    put(8, 2, day as u64);
    put(11, 2, tod / 3600);
    put(14, 2, tod / 60 % 60);
    put(17, 2, tod % 60);
    out
}

/// Writes an event's fields as the default format does: the message bare,
/// the others `name=value` (strings `Debug`-quoted), space-separated.
struct Fields<'a, 'w> {
    w: &'a mut Writer<'w>,
    first: bool,
    result: fmt::Result,
}

impl Fields<'_, '_> {
    /// The separator and `name=` before a field's value; `false` for a
    /// field the default format leaves out (`log.` metadata of bridged
    /// `log` records).
    fn name(&mut self, field: &Field) -> bool {
        let name = field.name();
        if name.starts_with("log.") {
            return false;
        }
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.result = self.sep().and_then(|()| {
            if name == "message" {
                return Ok(());
            }
            self.w.write_str(name)?;
            self.w.write_char('=')
        });
        self.result.is_ok()
    }

    fn sep(&mut self) -> fmt::Result {
        if std::mem::take(&mut self.first) {
            Ok(())
        } else {
            self.w.write_char(' ')
        }
    }
}

impl Visit for Fields<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_err() || !self.name(field) {
            return;
        }
        self.result = if field.name() == "message" {
            self.w.write_str(value)
        } else if value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            // What `Debug` would write, without its escaping pass.
            self.w.write_char('"').and_then(|()| {
                self.w.write_str(value)?;
                self.w.write_char('"')
            })
        } else {
            write!(self.w, "{value:?}")
        };
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.result.is_err() || !self.name(field) {
            return;
        }
        self.result = write!(self.w, "{value}");
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.result.is_err() || !self.name(field) {
            return;
        }
        self.result = write!(self.w, "{value}");
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_err() || !self.name(field) {
            return;
        }
        self.result = write!(self.w, "{value:?}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_time() {
        assert_eq!(&civil(0), b"1970-01-01T00:00:00");
        // 2000-02-29 (a leap day of a century year), 23:59:59.
        assert_eq!(&civil(951_868_799), b"2000-02-29T23:59:59");
        assert_eq!(&civil(1_795_915_604), b"2026-11-29T01:26:44");
    }
}
