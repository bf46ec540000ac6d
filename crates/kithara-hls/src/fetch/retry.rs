//! When and how long to wait before trying a request again.

use std::time::{Duration, SystemTime};

/// Exponential backoff: `base`, `2 * base`, `4 * base`, ... capped at
/// `MAX_DELAY`; a server's `Retry-After` on a 429 or 503 wins when longer,
/// up to `MAX_RETRY_AFTER`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RetryPolicy {
    /// Retries after the first try.
    pub retries: u32,
    /// The first delay.
    pub base: Duration,
}

const MAX_DELAY: Duration = Duration::from_secs(5);

/// The longest a `Retry-After` is honoured: a server asking for an hour
/// would otherwise hold a player (or a `kithara fetch`) that long.
pub(crate) const MAX_RETRY_AFTER: Duration = Duration::from_secs(30);

impl RetryPolicy {
    /// The delay before retry number `retry` (0-based), given the server's
    /// `Retry-After` (already parsed, see [`retry_after`]): the longer of
    /// the backoff and the server's wish, the latter capped at
    /// `MAX_RETRY_AFTER`.
    pub(crate) fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let factor = 1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX);
        let backoff = self.base.saturating_mul(factor).min(MAX_DELAY);
        match retry_after {
            Some(wish) => wish.min(MAX_RETRY_AFTER).max(backoff),
            None => backoff,
        }
    }

    /// Whether a response status is worth another try: server errors,
    /// request timeout and rate limiting. Other 4xx are final.
    pub(crate) fn retryable_status(status: u16) -> bool {
        status >= 500 || status == 408 || status == 429
    }

    /// Whether a transport error is worth another try.
    pub(crate) fn retryable_error(e: &reqwest::Error) -> bool {
        !e.is_redirect() && !e.is_builder() && !e.is_status()
    }
}

/// A `Retry-After` value (RFC 9110 §10.2.3) as a delay from `now`: delay
/// seconds, or an HTTP-date (one in the past is no delay). `None` when it is
/// neither. Only 429 and 503 answers are asked for it.
pub(crate) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // More digits than a u64 holds is "a very long time".
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> RetryPolicy {
        RetryPolicy {
            retries: 3,
            base: Duration::from_millis(100),
        }
    }

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = policy();
        assert_eq!(p.delay(0, None), Duration::from_millis(100));
        assert_eq!(p.delay(1, None), Duration::from_millis(200));
        assert_eq!(p.delay(2, None), Duration::from_millis(400));
        assert_eq!(p.delay(10, None), MAX_DELAY);
        assert_eq!(p.delay(u32::MAX, None), MAX_DELAY);
    }

    #[test]
    fn retry_after_wins_when_longer_and_is_capped() {
        let p = policy();
        let secs = Duration::from_secs;
        assert_eq!(p.delay(0, Some(secs(1))), secs(1));
        assert_eq!(p.delay(0, Some(Duration::ZERO)), Duration::from_millis(100));
        assert_eq!(p.delay(10, Some(secs(2))), MAX_DELAY);
        assert_eq!(p.delay(0, Some(secs(3600))), MAX_RETRY_AFTER);
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        let now = httpdate::parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        let secs = Duration::from_secs;
        assert_eq!(retry_after("1", now), Some(secs(1)));
        assert_eq!(retry_after(" 120 ", now), Some(secs(120)));
        assert_eq!(
            retry_after("99999999999999999999999", now),
            Some(secs(u64::MAX))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now),
            Some(secs(10))
        );
        assert_eq!(
            retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now),
            Some(Duration::ZERO)
        );
        for bad in ["", "-1", "1.5", "soon", "Sun, 06 Nov 1994"] {
            assert_eq!(retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn only_server_side_statuses_are_retried() {
        for s in [500, 502, 503, 504, 408, 429] {
            assert!(RetryPolicy::retryable_status(s), "{s}");
        }
        for s in [400, 401, 403, 404, 410, 416] {
            assert!(!RetryPolicy::retryable_status(s), "{s}");
        }
    }
}
