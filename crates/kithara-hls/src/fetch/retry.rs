//! When and how long to wait before trying a request again.

use std::time::Duration;

/// Exponential backoff: `base`, `2 * base`, `4 * base`, ... capped at `MAX_DELAY`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RetryPolicy {
    /// Retries after the first try.
    pub retries: u32,
    /// The first delay.
    pub base: Duration,
}

const MAX_DELAY: Duration = Duration::from_secs(5);

impl RetryPolicy {
    /// The delay before retry number `retry` (0-based).
    pub(crate) fn delay(&self, retry: u32) -> Duration {
        let factor = 1u32.checked_shl(retry.min(16)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(MAX_DELAY)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_is_capped() {
        let p = RetryPolicy {
            retries: 3,
            base: Duration::from_millis(100),
        };
        assert_eq!(p.delay(0), Duration::from_millis(100));
        assert_eq!(p.delay(1), Duration::from_millis(200));
        assert_eq!(p.delay(2), Duration::from_millis(400));
        assert_eq!(p.delay(10), MAX_DELAY);
        assert_eq!(p.delay(u32::MAX), MAX_DELAY);
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
